"""Job identity (issue 23 item 5): a checkpoint belongs to the model's operators, not to its name.

Before: the key was built from a hand-written list of model fields, which missed ``spin_k``: two custom models
differing only in their k-dependent spin resumed each other's checkpoint and gave a mixed number silently."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import properspin as ps
from properspin import fingerprint, mesh, models
from properspin.chunk import Job
from properspin.model import SPIN_HALF
from properspin.sweep import Sweep

FERMI = [0.1]
DISK = mesh.disk(1.0, 30, 16)
BASE = models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))


def _spin_k_model(scale: float) -> ps.Model:
    """Rashba with its spin given as ``spin_k`` (k-independent), times ``scale``: a "custom" model either way."""
    def spin_k(k):
        return scale * np.broadcast_to(SPIN_HALF[:, None], (3, len(k), 2, 2)).copy()

    return ps.Model(lambda k: BASE.hamiltonian(k), BASE.gradient, None, 2, spin_k=spin_k)


def _interrupting(model: ps.Model, chunks: int) -> ps.Model:
    count = {"n": 0}

    def h(k):
        if len(k) > 8:
            count["n"] += 1
            if count["n"] > chunks:
                raise KeyboardInterrupt
        return model.hamiltonian(k)

    return replace(model, hamiltonian=h)


def _proper(model: ps.Model, ckpt) -> float:
    res = ps.conductivity(model, "proper_spin", fermi=FERMI, mesh=DISK,
                          engine=ps.Engine(chunk_size=60, workers=1, checkpoint=ckpt))
    return res.sel(spin="z", current="x", field="y").item()


def test_models_differing_only_in_spin_k_do_not_share_a_checkpoint(tmp_path):
    """Σ^z of Eq. (2) is linear in the spin: the model with spin_k = 2 s gives twice the proper spin current.  Its
    run must refuse the checkpoint of the s model (before: resumed it, a mix of the two numbers)."""
    ckpt = tmp_path / "run.ckpt"
    one, two = _proper(_spin_k_model(1.0), None), _proper(_spin_k_model(2.0), None)
    assert two == pytest.approx(2 * one, rel=1e-10) and abs(one) > 1e-3
    with pytest.raises(KeyboardInterrupt):
        _proper(_interrupting(_spin_k_model(1.0), 2), ckpt)
    assert ckpt.exists()
    with pytest.raises(ValueError, match="different calculation.*spin_k"):
        _proper(_spin_k_model(2.0), ckpt)
    assert _proper(_spin_k_model(1.0), ckpt) == one  # its own model resumes to the bit


def _probe(model: ps.Model, grid=DISK) -> np.ndarray:
    return fingerprint.probe(model, grid, 1e-6)


def test_probe_sees_every_operator_and_ignores_the_eigensolver_gauge(monkeypatch):
    """Each k-function changes the probe: H, ∂H, spin_k, position, spin current; a pure rephasing of the
    eigenvectors (the spin current is compared in the orbital basis) does not."""
    grid = mesh.grid((4, 4))
    base = models.qwz(1.0)
    p0 = _probe(base, grid)
    assert not np.allclose(p0, _probe(replace(base, gradient=lambda k: 1.01 * models.qwz(1.0).gradient(k)), grid))
    s1, s2 = _probe(_spin_k_model(1.0)), _probe(_spin_k_model(1.0 + 1e-6))
    assert s1.shape == s2.shape and not np.allclose(s1, s2, rtol=1e-9, atol=1e-9)
    pos = replace(base, position=lambda k: np.zeros((2, len(k), 2, 2), complex))
    pos2 = replace(base, position=lambda k: np.full((2, len(k), 2, 2), 0.1 + 0j))
    assert not np.allclose(_probe(pos, grid), _probe(pos2, grid))

    def current(scale):
        def sc(k, energies, u, dh_bar, tol):
            ud = u.conj().transpose(0, 2, 1)
            dh = u @ dh_bar @ ud  # back to the orbital basis: ½{s, ∂H} there, then into the band basis
            return scale * np.stack([np.stack([ud @ (SPIN_HALF[l] @ dh[a] + dh[a] @ SPIN_HALF[l]) @ u
                                               for a in range(2)]) for l in range(3)]) / 2
        return sc

    rashba = models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))
    c1, c2 = replace(rashba, spin_current=current(1.0)), replace(rashba, spin_current=current(1.5))
    assert not np.allclose(_probe(c1), _probe(c2))
    reference = _probe(c1)
    eigh = np.linalg.eigh

    def rephased(h):  # another, equally valid gauge: every eigenvector times its own phase
        e, u = eigh(h)
        return e, u * np.exp(1j * np.arange(1, u.shape[-1] + 1) * 0.7)

    monkeypatch.setattr(np.linalg, "eigh", rephased)
    np.testing.assert_allclose(_probe(c1), reference, rtol=0, atol=1e-12)


def test_fingerprint_key_covers_response_mesh_and_fermi():
    model = models.qwz(1.0)
    resp = ps.responses.get("charge")

    def key(grid=None, fermi=(0.0,), response=resp):
        grid = mesh.grid(4) if grid is None else grid
        job = Job(model, mesh.resolve(grid, model, response), response, (Sweep(np.array(fermi), 0.0),), 1e-6)
        return fingerprint.fingerprint(job, [(0, job.mesh.size)]).key

    assert len({key(), key(grid=mesh.grid(6)), key(fermi=(0.1,)), key(response=ps.responses.get("proper_spin"))}) == 4
    assert key() == key()
