"""Job identity: what a checkpoint belongs to.

A :class:`Fingerprint` is built from the job's *content*, not from a hand-written list of model fields:

* a key (SHA-256 of a JSON description): the response (name, parameters, the formula's bytecode, and its companion
  sums' when it has any: the layout of the partial sums), the mesh
  (description, every point of an explicit mesh), Fermi energies, temperatures, degeneracy tolerance, chunk
  layout, the model's description and the SHA-256 of every file it names;
* a probe: every k-function of the model sampled at fixed k-points (a few of the mesh's own and a few fixed
  pseudo-random ones): H, ∂H/∂k, the spin (constant ``spin`` or ``spin_k(k)``), the Wannier position matrix and
  its curl, and the model's ab-initio spin current rotated back to the orbital basis (so that it does not
  depend on the eigensolver's phases).  Two models with the same name and parameters that differ in any of
  these (e.g. only in ``spin_k``) have different probes.

The engine only stores and compares fingerprints (:mod:`properspin.engine`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .chunk import Job
    from .mesh import Mesh
    from .model import Model

#: Relative (and, times the probe's largest entry, absolute) tolerance when two probes are compared.
PROBE_RTOL = 1e-9
_SEED, _NRANDOM = 20231, 3  # the fixed pseudo-random probe points


@dataclass(frozen=True)
class Fingerprint:
    """Identity of a calculation: ``key`` (hash of ``text``, the JSON description) and ``probe`` (sampled operators)."""

    key: str
    text: str
    probe: np.ndarray

    def matches(self, probe: np.ndarray) -> bool:
        """Whether a stored probe is this one (to :data:`PROBE_RTOL`)."""
        scale = max(1.0, float(np.max(np.abs(self.probe), initial=0.0)))
        return probe.shape == self.probe.shape and bool(
            np.allclose(probe, self.probe, rtol=PROBE_RTOL, atol=PROBE_RTOL * scale))

    def difference(self, stored_text: str) -> str:
        """Names of the description entries that differ from a stored description (for the refusal message)."""
        try:
            old, new = json.loads(stored_text), json.loads(self.text)
            keys = [k for k in new if old.get(k) != new[k]]
        except (TypeError, ValueError, AttributeError):
            keys = []
        return ", ".join(keys) if keys else "model, mesh, response, Fermi energies, temperature or chunk size"


def fingerprint(job: Job, ranges: list[tuple[int, int]]) -> Fingerprint:
    """The fingerprint of ``job`` run in chunks ``ranges``."""
    from ._version import __version__

    resp = job.response
    entry: list[Any] = [resp.name, resp.params, code_id(resp.formula)]
    if resp.companions:  # their columns follow the response's: a checkpoint without them is another layout
        entry.append([[c.name, c.params, code_id(c.formula)] for c in resp.companion_responses])
    desc = {
        "response": entry,
        "model": job.model.describe(), "model files": file_hashes(job.model),
        "mesh": [job.mesh.describe(), points_hash(job.mesh)],
        "Fermi energies": [s.fermi.tolist() for s in job.sweeps],
        "temperatures": [s.temperature for s in job.sweeps],
        "degeneracy_tol": job.degeneracy_tol,
        "chunk layout": hashlib.sha256(np.asarray(ranges, dtype=np.int64).tobytes()).hexdigest(),
        "properspin version": __version__,
    }
    try:
        text = json.dumps(desc, sort_keys=True, default=str)
    except (RecursionError, ValueError) as exc:
        raise ValueError(f"checkpoint: the model's parameters or info cannot be described ({exc})") from None
    return Fingerprint(hashlib.sha256(text.encode()).hexdigest(), text, probe(job.model, job.mesh, job.degeneracy_tol))


def probe_points(model: Model, mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """A few mesh points (and weights) and :data:`_NRANDOM` fixed pseudo-random k-points in the mesh's range."""
    k, w = mesh.sample(model)
    frac = np.random.default_rng(_SEED).uniform(-0.5, 0.5, size=(_NRANDOM, model.dim))
    if model.periodic:
        extra = frac @ model.reciprocal
    else:  # a continuum model: inside the cutoff spanned by the sampled mesh points
        extra = frac * max(float(np.max(np.abs(k), initial=0.0)), 1e-3)
    return np.concatenate([k, extra]), w


def probe(model: Model, mesh: Mesh, degeneracy_tol: float) -> np.ndarray:
    """Every k-function of ``model`` at :func:`probe_points`, flattened (complex): k, w, H, ∂H/∂k, spin (constant
    or ``spin_k``), position matrix and its curl, and the orbital-basis ab-initio spin current."""
    k, w = probe_points(model, mesh)
    h = model.h(k)
    parts: list[Any] = [k, w, h, model.dh(k)]
    if model.has_spin:
        parts.append(model.spin_at(k))
    if model.position is not None:
        parts += [model.berry_connection_orbital(k), model.berry_connection_orbital_curl(k)]
    if model.spin_current is not None:
        energies, u = np.linalg.eigh(h)
        ud = u.conj().transpose(0, 2, 1)
        current = np.asarray(model.spin_current(k, energies, u, ud @ model.dh(k) @ u, degeneracy_tol))
        parts.append(u @ current @ ud)  # back to the orbital basis: independent of the eigenvectors' phases
    return np.concatenate([np.asarray(p, dtype=complex).ravel() for p in parts])


def code_id(func: Any) -> str:
    """Module, name and bytecode hash of a response formula (a custom formula under a built-in name differs)."""
    code = getattr(func, "__code__", None)
    digest = hashlib.sha256(code.co_code + repr(code.co_names).encode()).hexdigest()[:16] if code else ""
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', type(func).__name__)}:{digest}"


def file_hashes(model: Model) -> dict[str, str]:
    """SHA-256 of every existing file named by a string in the model's parameters or info (its source files)."""
    out: dict[str, str] = {}
    stack: list[Any] = [model.parameters, model.info]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (str, os.PathLike)) and len(str(item)) < 4096 and "\0" not in str(item):
            try:
                path = Path(item)
                if str(path) not in out and path.is_file():
                    digest = hashlib.sha256()
                    with open(path, "rb") as fh:
                        for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                            digest.update(block)
                    out[str(path)] = digest.hexdigest()
            except OSError:
                continue
    return out


def points_hash(mesh: Mesh) -> str:
    """Hash of an explicit mesh's points and weights (its description holds only a label and a size)."""
    from .mesh import Explicit

    if not isinstance(mesh, Explicit):
        return ""
    return hashlib.sha256(np.ascontiguousarray(mesh.k).tobytes() + np.ascontiguousarray(mesh.w).tobytes()).hexdigest()


def sums_digest(key: str, done: int, partials: list[np.ndarray], kpoints: int, bands: np.ndarray) -> str:
    """SHA-256 tying a checkpoint's running sums, ``done`` count and diagnostics to its key: a hand-edited count or
    sum no longer matches."""
    digest = hashlib.sha256(key.encode())
    digest.update(np.int64(done).tobytes() + np.int64(kpoints).tobytes())
    digest.update(np.ascontiguousarray(bands, dtype=np.int64).tobytes())
    for p in partials:
        digest.update(np.asarray(p.shape, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(p, dtype=np.float64).tobytes())
    return digest.hexdigest()
