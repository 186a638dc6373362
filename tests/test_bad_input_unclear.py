"""Unclear errors (issue 25, second hostile round), one test per rule over its cases: the size budget, where a
non-finite number came from, the right file and problem, conversion errors naming the argument, no bare
exception, output errors naming the file, a killed worker.  Each message is asserted, and next to the refusals
a physical number that the accepted input gives."""

from __future__ import annotations

import errno
import math
import os
import shutil
import signal
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import properspin as ps
from properspin import bands, io, kpath, mesh, models
from properspin.cli import main
from properspin.config import ConfigError, run_config
from properspin.models import wannier
from properspin.models.tight_binding import haldane_model
from properspin.models.wannier.native import read_chk, write_chk_unformatted

from .w90files import copy_run, write_run

ROOT = Path(__file__).resolve().parents[1]
QWZ = models.qwz(1.0)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("syn"))


def _cubic(k):
    """A 3D two-band model (QWZ in k_x, k_y plus a k_z hopping), for 3D meshes."""
    return QWZ.hamiltonian(k[:, :2]) + np.cos(k[:, 2])[:, None, None] * np.diag([1.0, -1.0])


# ------------------------------------------------------------------------------------------ rule 1: size
def test_size_budget_refuses_every_user_size_at_once(synthetic, tmp_path):
    """Before: a 3D grid(10**5) ended in MemoryError after 41 s, n = 2**31 after 24 s, others in integer wrap-around
    messages.  Now each size is checked against properspin.validate.SIZE_LIMITS before anything is allocated."""
    cube = ps.Model(_cubic, None, None, 3, reciprocal=2 * np.pi * np.eye(3))
    start = time.time()
    with pytest.raises(ValueError, match=r"grid n = \[100000, 100000, 100000\] asks for 1e\+15 k-points, more than"):
        ps.conductivity(cube, "charge", fermi=0.0, mesh=mesh.grid(10**5))
    with pytest.raises(ValueError, match="asks for 4.612e\\+18 k-points"):
        mesh.grid((2**31, 2**31))
    with pytest.raises(ValueError, match=r"nphi = 100000000 asks for 1e\+08 azimuthal points"):
        mesh.disk(1.0, 10, 10**8)
    with pytest.raises(ValueError, match=r"sphere nk × ntheta × nphi .* k-points"):
        mesh.sphere(1.0, 10**5, 10**5, 10**3)
    with pytest.raises(ValueError, match=r"nbasis = 100000 asks for 1e\+05 basis functions"):
        models.hole_quantum_well("GaAs", method="full", nbasis=10**5)
    with pytest.raises(ValueError, match=r"fermi asks for 2e\+06 Fermi energies"):
        ps.conductivity(QWZ, "charge", fermi=np.arange(2 * 10**6) * 1e-6, mesh=mesh.grid(4))
    with pytest.raises(ValueError, match=r"npoints asks for 1e\+07 path points"):
        bands.bands(QWZ, npoints=10**7)
    assert time.time() - start < 5
    for extra, message in (("berry_kmesh = 100000", r"berry_kmesh = \[100000, 100000, 100000\] asks for 1e\+15"),
                           ("fermi_energy_min = 0\nfermi_energy_max = 10\nfermi_energy_step = 1e-9",
                            r"fermi_energy_min/max/step asks for 1e\+10 Fermi energies")):
        seed = copy_run(synthetic, tmp_path / str(len(extra)))
        win = Path(seed + ".win")
        win.write_text(win.read_text().replace("berry_kmesh = 6", extra).replace("fermi_energy = 0.1", ""))
        with pytest.raises(ValueError, match=message):
            ps.models.wannier90_run(seed)
    # within the budget: the QWZ Chern number on the 3D model's k_z = π/2 plane is not needed; QWZ itself is 1
    assert ps.conductivity(QWZ, "charge", fermi=0.0, mesh=mesh.grid(24)).sel(
        current="x", field="y").item() == pytest.approx(1.0, abs=1e-3)


# ------------------------------------------------------------------------------------------ rule 2: non-finite
def test_non_finite_data_names_file_and_line_or_function_and_k(synthetic, tmp_path):
    wh = wannier.random_wannier_hamiltonian(2, 3.0 * np.eye(3), seed=3)
    hr = tmp_path / "x_hr.dat"
    wannier.write_hr(hr, wh)
    lines = hr.read_text().splitlines()
    lines[10] = lines[10].rsplit(maxsplit=1)[0] + "   nan"
    hr.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"x_hr\.dat, line 11: NaN or inf"):
        wannier.wannier90(hr, lattice=3.0 * np.eye(3))
    seed = copy_run(synthetic, tmp_path / "eig")
    eig = Path(seed + ".eig")
    rows = eig.read_text().splitlines()
    rows[6] = rows[6][:10] + "   NaN"
    eig.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"syn\.eig, line 7: 'NaN' is NaN or inf"):
        ps.models.wannier90_run(seed)
    base = models.rashba(1.0, 1.0)

    def spin_k(k):
        s = np.broadcast_to(base.spin[:, None], (3, len(k), 2, 2)).copy()
        s[:, k[:, 0] > 0.5] = np.nan
        return s

    model = ps.Model(base.hamiltonian, base.gradient, None, 2, spin_k=spin_k)
    with pytest.raises(ValueError, match=r"spin_k\(k\) contains NaN or inf \(first at k = \[0\.7"):
        model.spin_at(np.array([[0.1, 0.0], [0.7, 0.0]]))
    seed = copy_run(synthetic, tmp_path / "centre")  # rule 5 as well: before, a bare error from the WS table
    chk = read_chk(seed + ".chk.fmt")
    centres = chk.wannier_centres.copy()
    centres[1, 2] = np.nan
    write_chk_unformatted(replace(chk, wannier_centres=centres), seed + ".chk")
    with pytest.raises(ValueError, match=r"syn\.chk: record \d+ \(wannier_centres\): value 6 is NaN or inf"):
        ps.models.wannier90_run(seed, use_ws_distance=True)


def test_hr_dat_errors_give_the_bad_line_not_the_first_of_its_block(tmp_path):
    """Before: a bad orbital index on line 12 was reported at line 10, the first line of its R block."""
    wh = wannier.random_wannier_hamiltonian(2, 3.0 * np.eye(3), seed=3)
    hr = tmp_path / "x_hr.dat"
    wannier.write_hr(hr, wh)
    good = hr.read_text().splitlines()
    for edit, message in ((lambda s: s[:20] + "    7" + s[25:], "line 12: orbital index out of range"),
                          (lambda s: s[:20] + "  1.5" + s[25:], "line 12: non-integer orbital index"),
                          (lambda s: s[:20] + "    1" + s[25:], r"line 12: each \(m, n\) must appear exactly once "
                                                                   r"per R \(H\): \(m, n\) = \(1, 1\) repeats")):
        lines = list(good)
        lines[11] = edit(lines[11])
        hr.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match=rf"x_hr\.dat, {message}"):
            wannier.wannier90(hr, lattice=3.0 * np.eye(3))


# ------------------------------------------------------------------------------------------ rule 3: right file
def test_errors_blame_the_right_file_and_problem(synthetic, tmp_path, capsys):
    seed = copy_run(synthetic, tmp_path / "win")
    win = Path(seed + ".win")
    win.write_text(win.read_text().replace("berry_kmesh = 6", "berry_kmesh = six"))
    run = tmp_path / "win" / "run.toml"
    run.write_text('[model.wannier90_run]\nseedname = "syn"\n[calculation]\nresponses = ["charge"]\n')
    with pytest.raises(ValueError, match=r"^\S*syn\.win: berry_kmesh = 'six'.*the run file itself is fine") as err:
        run_config(run)
    assert not isinstance(err.value, ConfigError)  # before: "run.toml: model.wannier90_run...: ..."
    seed = copy_run(synthetic, tmp_path / "nntot")  # a checkpoint whose nntot record is damaged
    chk = read_chk(seed + ".chk.fmt")
    write_chk_unformatted(replace(chk, nntot=5, m_matrix=chk.m_matrix[:, :5]), seed + ".chk")
    with pytest.raises(ValueError, match=r"syn\.chk and \S*syn\.mmn disagree on nntot \(5 in the checkpoint, 6"):
        ps.models.wannier90_run(seed)
    wh = wannier.random_wannier_hamiltonian(2, 3.0 * np.eye(3), seed=3)
    hr = tmp_path / "x_hr.dat"
    wannier.write_hr(hr, replace(wh, ham=np.zeros((27, 3, 3), complex) + np.eye(3), pos=None))  # a 3-orbital file
    lines = hr.read_text().splitlines()
    hr.write_text("\n".join(lines[:1] + ["2"] + lines[2:]) + "\n")  # ... whose header says num_wann = 2
    with pytest.raises(ValueError, match=r"x_hr\.dat, line 2: 243 matrix-element lines fit nrpts = 27 blocks of 3² "
                                         r"elements, but the header says num_wann = 2 .*not a truncated file"):
        wannier.wannier90(hr, lattice=3.0 * np.eye(3))
    with pytest.raises(ValueError, match=r"fermi is missing \(None\)"):  # before: "fermi contains NaN or inf"
        ps.conductivity(QWZ, "charge", fermi=None, mesh=mesh.grid(4))


# ------------------------------------------------------------------------------------------ rule 4: conversion
@pytest.mark.parametrize("call, message", [
    (lambda: mesh.grid(math.nan), "grid n must be a positive integer, got nan"),
    (lambda: mesh.grid("8"), "grid n must be a positive integer, got str '8'"),
    (lambda: mesh.grid(n for n in (4, 4)), "grid n must be a positive integer, got generator"),
    (lambda: mesh.disk(1.0, 10, math.inf), "nphi must be a positive integer, got inf"),
    (lambda: mesh.disk("one", 10, 8), "disk radius must be a real number, got str 'one'"),
    (lambda: ps.Engine(chunk_size=math.inf), "chunk_size must be a positive integer, got inf"),
    (lambda: ps.Engine(workers="2"), "workers \\(or None\\) must be a positive integer, got str '2'"),
    (lambda: QWZ.energies(iter([[0.1, 0.2]])), "k must be an array or a list of numbers, not a list_iterator"),
    (lambda: QWZ.energies([["a", "b"]]), "k must hold numbers"),
    (lambda: kpath.from_corners([("G", (0, 0)), ("X", (math.nan, 0))]), "k path corner 'X' contains NaN"),
    (lambda: haldane_model(phi=math.inf), "phi must be a finite number, got inf"),
    (lambda: ps.conductivity(QWZ, "charge", fermi=0.0, mesh=mesh.grid(4), temperature="hot"),
     "temperature must hold numbers"),
    (lambda: ps.conductivity(QWZ, "charge", fermi=0.0, mesh=mesh.grid(4), broadening="0.1"),
     "broadening \\(eV\\) must be a real number, got str '0.1'"),
    (lambda: ps.conductivity(QWZ, "charge", fermi=[0.1j], mesh=mesh.grid(4)), "fermi must be real, got complex"),
])
def test_conversion_errors_name_the_argument(call, message):
    """Before: Python's own messages ("cannot convert float NaN to integer", OverflowError, ComplexWarning)."""
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------------------ rule 5: no bare errors
def test_no_bare_exceptions(synthetic, tmp_path, capsys):
    with pytest.raises(ValueError, match="explicit mesh has no k-points"):
        mesh.explicit(np.zeros((0, 2)), np.zeros(0), periodic=True)
    with pytest.raises(ValueError, match="the k path has zero length"):
        bands.bands(QWZ, path=[("G", (0.0, 0.0)), ("G", (0.0, 0.0))])
    with pytest.raises(ValueError, match="npoints must be a positive integer, got 0"):
        bands.bands(QWZ, npoints=0)
    seed = copy_run(synthetic, tmp_path / "bz2")
    import bz2

    data = bz2.compress(Path(seed + ".mmn").read_bytes())
    Path(seed + ".mmn").unlink()
    Path(seed + ".mmn.bz2").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"syn\.mmn\.bz2: truncated: the compressed stream ends"):
        ps.models.wannier90_run(seed)  # before: EOFError
    cfg = tmp_path / "qwz.toml"
    shutil.copy(ROOT / "examples" / "qwz.toml", cfg)
    assert main(["bands", str(cfg), "-n", "8", "-o", str(tmp_path)]) != 0  # before: a bare IsADirectoryError
    err = capsys.readouterr().err
    assert f"must name a .png file (the .nc goes beside it), got {str(tmp_path)!r}: a directory" in err
    assert "Traceback" not in err and not list(tmp_path.parent.glob(tmp_path.name + ".*"))


# ------------------------------------------------------------------------------------------ rule 6: output
def test_output_errors_name_the_file_and_reproduce_checks_space_first(tmp_path, monkeypatch, capsys):
    from properspin.paper import reproduce

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    monkeypatch.setattr(reproduce, "figure1", lambda *a, **k: pytest.fail("computed before checking the space"))
    with pytest.raises(OSError, match=r"paper: 1000 bytes free on its disk, but the reproduction .* needs") as err:
        reproduce.run(tmp_path / "paper", quick=True, progress=False)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.undo()
    res = ps.conductivity(QWZ, "charge", fermi=[0.0], mesh=mesh.grid(8))
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot write \S*taken: a directory is in the way"):
        io.to_csv(res, tmp_path / "taken")


def test_run_files_refuse_empty_formats_and_honour_the_checkpoint_key(tmp_path):
    base = (ROOT / "examples" / "qwz.toml").read_text().replace("n = 48", "n = 8").replace("num = 71", "num = 3")
    empty = tmp_path / "empty.toml"
    empty.write_text(base.replace('formats = ["netcdf", "csv", "png"]', "formats = []"))
    with pytest.raises(ConfigError, match="output.formats: .*formats is empty"):  # before: wrote nothing, exit 0
        run_config(empty)
    with pytest.raises(ValueError, match=r"formats=\[\] writes nothing"):
        run_config(_ok(tmp_path, base), formats=[])
    cfg = tmp_path / "ckpt.toml"
    cfg.write_text(base.replace("[calculation]", '[calculation]\ncheckpoint = "stop"'))
    foreign = tmp_path / "stop.charge"
    foreign.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match=r"checkpoint \S*stop\.charge is corrupt"):  # the key reaches the engine
        run_config(cfg)
    foreign.unlink()
    out = run_config(cfg)
    assert out["charge"].sel(current="x", field="y").values[1] == pytest.approx(1.0, abs=0.05)  # E_F = 0: C = 1
    assert not list(tmp_path.glob("stop.*"))  # removed once the run completes


def _ok(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ rule 7: killed worker
def test_killed_worker_names_its_chunk_and_how_to_resume(tmp_path):
    """Before: a BrokenProcessPool traceback.  A worker SIGKILLs itself (as the out-of-memory killer would)."""
    parent = os.getpid()

    def h(k):
        if os.getpid() != parent and len(k) > 8 and np.any(k[:, 0] > 3.0):
            os.kill(os.getpid(), signal.SIGKILL)
        return QWZ.hamiltonian(k)

    model = replace(QWZ, hamiltonian=h)
    with pytest.raises(RuntimeError, match=r"a worker process died .* chunk \d+ of 8 .* checkpoint \S*run\.ckpt: run "
                                           "the same calculation again to resume"):
        ps.conductivity(model, "charge", fermi=[0.0], mesh=mesh.grid(24),
                        engine=ps.Engine(chunk_size=72, workers=2, checkpoint=tmp_path / "run.ckpt"))
    with pytest.raises(RuntimeError, match="no checkpoint was set: Engine\\(checkpoint=PATH\\)"):
        ps.conductivity(model, "charge", fermi=[0.0], mesh=mesh.grid(24), engine=ps.Engine(chunk_size=72, workers=2))
