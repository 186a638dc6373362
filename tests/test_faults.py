"""Fault injection: killed parents, corrupt or foreign checkpoints, a full disk, no numba cache (issue 13).

Subprocess tests start a real run and kill it; each takes a few seconds.  The full disk is a 64 kB tmpfs filled
to the last byte when this machine lets the test mount one (root with CAP_SYS_ADMIN), else an injected
``ENOSPC``.  Every number compared is a resumed or recomputed conductivity, bit for bit.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import properspin as ps
from properspin import io, mesh, models

ROOT = Path(__file__).resolve().parents[1]
FERMI = np.linspace(-0.05, 0.3, 9)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# ------------------------------------------------------------------------------------------ helpers
def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie that init has not reaped yet is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


SLOW_WORKERS_JOB = """
import sys, time
import numpy as np
import properspin as ps
base = ps.models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))
def h(k):
    time.sleep(0.1)  # slow chunks, so that the run can be killed half-way
    return base.hamiltonian(k)
model = ps.Model(h, base.gradient, base.spin, 2, name="slow-rashba")
try:
    res = ps.conductivity(model, "proper_spin", fermi=np.linspace(-0.05, 0.3, 9), mesh=ps.mesh.disk(1.0, 60, 24),
                          engine=ps.Engine(chunk_size=40, workers=2, checkpoint=sys.argv[1]))
except KeyboardInterrupt as exc:
    print(type(exc).__name__, flush=True)
    sys.exit(143)
np.save(sys.argv[2], res.values)
"""


def _start_and_wait(tmp_path: Path) -> tuple[subprocess.Popen, list[int], Path, Path]:
    """Start the slow job with two workers; return once a checkpoint exists and the workers run."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the worker processes")
    script, ckpt = tmp_path / "job.py", tmp_path / "run.ckpt"
    script.write_text(SLOW_WORKERS_JOB)
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), str(tmp_path / "a.npy")], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert ckpt.exists() and len(workers) >= 2, proc.stderr.read() if proc.poll() is not None else workers
    return proc, workers, script, ckpt


def _reference() -> np.ndarray:
    return ps.conductivity(models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02)), "proper_spin", fermi=FERMI,
                           mesh=mesh.disk(1.0, 60, 24), engine=ps.Engine(chunk_size=40, workers=1)).values


# ------------------------------------------------------------------------------------------ killed parent
def test_workers_die_with_their_parent_on_sigkill(tmp_path):
    """PR_SET_PDEATHSIG (and the watchdog): SIGKILL of the parent leaves no worker behind (before: ~225 MB
    workers blocked forever)."""
    proc, workers, _, _ = _start_and_wait(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.time() + 5
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.05)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:  # do not leave them running if the test fails
        os.kill(p, signal.SIGKILL)
    assert not survivors


def test_sigterm_stops_like_ctrl_c_and_resumes_bit_identically(tmp_path):
    proc, workers, script, ckpt = _start_and_wait(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and out.strip() == "Terminated", err[-2000:]
    time.sleep(0.2)
    assert not [p for p in workers if _alive(p)]
    with np.load(ckpt) as f:
        done = int(f["done"])
    assert 0 < done < 36  # finished chunks kept, the rest not done
    resumed = tmp_path / "b.npy"
    subprocess.run([sys.executable, str(script), str(ckpt), str(resumed)], check=True, timeout=180, env=ENV)
    np.testing.assert_array_equal(np.load(resumed), _reference())
    assert not ckpt.exists()


def test_interrupted_run_stops_its_local_workers_at_once():
    """Ctrl-C (SIGINT to this process only) while forked workers hold queued chunks: the run stops within a
    second and no worker is left, instead of running every queued chunk first (before: 36 × 0.2 s / 2)."""
    import threading

    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the worker processes")
    base = models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))

    def slow(k):
        time.sleep(0.2)
        return base.hamiltonian(k)

    model = ps.Model(slow, base.gradient, base.spin, 2)
    before = set(_children(os.getpid()))
    # to the main thread, where a terminal's Ctrl-C lands (a signal handled on the timer thread, as
    # signal.raise_signal there does, reaches CPython 3.11's main thread only when it next wakes, or never);
    # the checks before the chunks call the slow model 5 times (≈ 1 s), the chunks take 36 × 0.2 s / 2 = 3.6 s
    timer = threading.Timer(1.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    # Python's own Ctrl-C handler, whatever this process inherited (a shell's background job ignores SIGINT)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    start = time.time()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ps.conductivity(model, "proper_spin", fermi=FERMI, mesh=mesh.disk(1.0, 60, 24),
                            engine=ps.Engine(chunk_size=40, workers=2))
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, inherited)
    assert time.time() - start < 3.0
    assert not [p for p in set(_children(os.getpid())) - before if _alive(p)]


# ------------------------------------------------------------------------------------------ checkpoints
def _interrupt_after(model: ps.Model, chunks: int) -> ps.Model:
    """The same model, raising KeyboardInterrupt (as Ctrl-C) when asked for its Hamiltonian on chunk number
    ``chunks`` + 1 (calls on a few k-points only, the checks and probes, do not count)."""
    count = {"n": 0}
    base = model.hamiltonian

    def h(k):
        if len(k) > 8:
            count["n"] += 1
            if count["n"] > chunks:
                raise KeyboardInterrupt
        return base(k)

    return replace(model, hamiltonian=h)


GRID = mesh.grid(24)


def _charge(model, ckpt, grid=GRID, **kw):
    return ps.conductivity(model, "charge", fermi=[0.0], mesh=grid,
                           engine=ps.Engine(chunk_size=64, workers=1, checkpoint=ckpt), **kw)


def _interrupted_checkpoint(model, ckpt, grid=GRID) -> None:
    with pytest.raises(KeyboardInterrupt):
        _charge(_interrupt_after(model, 2), ckpt, grid)  # two chunks done
    assert ckpt.exists()


def _custom_qwz(u: float) -> ps.Model:
    """QWZ as a user would write it: a Model of closures, named "custom", no parameters."""
    q = models.qwz(u)
    return ps.Model(lambda k: q.hamiltonian(k), lambda k: q.gradient(k), None, 2, reciprocal=q.reciprocal)


def test_checkpoint_of_another_custom_model_is_refused(tmp_path):
    """Before: both models are "custom" with no parameters, so the key matched and the resumed σ_xy mixed two
    models (0.29 instead of ±1).  The key is now the content: H, ∂H at probe k-points."""
    ckpt = tmp_path / "run.ckpt"
    _interrupted_checkpoint(_custom_qwz(1.0), ckpt)
    with pytest.raises(ValueError, match="different calculation.*H\\(k\\)"):
        _charge(_custom_qwz(-1.0), ckpt)
    resumed = _charge(_custom_qwz(1.0), ckpt)  # the same model resumes, to the bit
    fresh = _charge(_custom_qwz(1.0), None)
    np.testing.assert_array_equal(resumed.values, fresh.values)
    assert abs(resumed.sel(current="x", field="y").item()) == pytest.approx(1.0, abs=1e-3)  # Chern number 1


def test_checkpoint_of_an_edited_wannier_file_is_refused(tmp_path):
    """A _tb.dat edited in place (same name, same path) is another model: refused by its hash and content."""
    from properspin.models import wannier

    wh = wannier.random_wannier_hamiltonian(2, 3.0 * np.eye(3), seed=3)
    path = tmp_path / "m_tb.dat"
    wannier.write_tb(path, wh)
    ckpt = tmp_path / "run.ckpt"
    grid = mesh.grid((6, 6, 6))
    _interrupted_checkpoint(wannier.wannier90(path), ckpt, grid)
    text = path.read_text().splitlines()
    wannier.write_tb(path, wh, header="edited header only")  # H unchanged: only the file hash differs
    assert path.read_text().splitlines()[1:] == text[1:]
    with pytest.raises(ValueError, match="different calculation.*model files"):
        _charge(wannier.wannier90(path), ckpt, grid)
    wannier.write_tb(path, replace(wh, ham=wh.ham * 1.01), header=text[0])
    with pytest.raises(ValueError, match="different calculation"):
        _charge(wannier.wannier90(path), ckpt, grid)


def test_checkpoint_of_another_explicit_mesh_or_response_parameter_is_refused(tmp_path):
    model = models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))
    k, w = mesh.disk(1.0, 30, 16).all_points(model)
    ckpt = tmp_path / "run.ckpt"

    def run(m, mesh_, eta=0.0):
        return ps.conductivity(m, "conventional_spin", fermi=FERMI, mesh=mesh_, broadening=eta,
                               engine=ps.Engine(chunk_size=40, workers=1, checkpoint=ckpt))

    with pytest.raises(KeyboardInterrupt):
        run(_interrupt_after(model, 1), mesh.explicit(k, w, periodic=False))
    with pytest.raises(ValueError, match="different calculation \\(mesh"):  # same size, other points
        run(model, mesh.explicit(k * 1.001, w, periodic=False))
    with pytest.raises(ValueError, match="different calculation \\(response"):
        run(model, mesh.explicit(k, w, periodic=False), eta=0.01)
    np.testing.assert_array_equal(run(model, mesh.explicit(k, w, periodic=False)).values,
                                  ps.conductivity(model, "conventional_spin", fermi=FERMI,
                                                  mesh=mesh.explicit(k, w, periodic=False),
                                                  engine=ps.Engine(chunk_size=40, workers=1)).values)


def _rewrite(ckpt: Path, **changes) -> None:
    with np.load(ckpt) as f:
        arrays = {name: f[name] for name in f.files}
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    with open(ckpt, "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize("change, message", [
    ({"done": np.int64(-1)}, "done = -1"),
    ({"done": np.int64(0)}, "done = 0"),
    ({"done": np.int64(10**6)}, "done = 1000000"),
    ({"done": np.float64(2.0)}, "is not an integer"),
    ({"partial0": np.full((2, 4), np.nan)}, "NaN or inf"),
    ({"partial0": np.zeros((3, 4))}, "shape"),
    ({"partial0": np.zeros((2, 4), dtype=np.float32)}, "float64"),
    ({"partial0": None}, "partial sum 0 is None"),
    ({"nsweeps": np.int64(2)}, "nsweeps"),
    ({"degenerate_kpoints": np.int64(-5)}, "degenerate_kpoints"),
    ({"degenerate_bands": np.array([[0, 7]])}, "degenerate_bands"),
    ({"probe": None}, "no probe"),
    ({"digest": None}, "no digest"),
])
def test_corrupt_checkpoint_is_refused_with_the_reason(tmp_path, change, message):
    """Before: a negative or too large ``done`` or NaN sums were resumed into a wrong number."""
    ckpt = tmp_path / "run.ckpt"
    model = models.qwz(1.0)
    _interrupted_checkpoint(model, ckpt)
    with np.load(ckpt) as f:
        assert f["partial0"].shape == (2, 4)  # one Fermi energy: 2 rows; charge in 2D: 4 components
        assert int(f["done"]) == 2
    _rewrite(ckpt, **change)
    with pytest.raises(ValueError, match=f"corrupt.*{message}"):
        _charge(model, ckpt)


@pytest.mark.parametrize("edit", ["done_last", "done_plus_one", "partial_doubled", "degenerate_kpoints"])
def test_hand_edited_checkpoint_is_refused_by_its_digest(tmp_path, edit):
    """Before: in-range edits were resumed silently (``done`` set to the last chunk gave σ_xy 49307 instead of
    79876 S/m on Fe; a partial sum doubled 129183).  Here: QWZ, whose Chern number 1 a doubled sum would break."""
    ckpt = tmp_path / "run.ckpt"
    model = models.qwz(1.0)
    _interrupted_checkpoint(model, ckpt)
    with np.load(ckpt) as f:
        done, partial = int(f["done"]), f["partial0"]
    nchunks = -(-24 * 24 // 64)
    change = {"done_last": {"done": np.int64(nchunks)}, "done_plus_one": {"done": np.int64(done + 1)},
              "partial_doubled": {"partial0": 2 * partial},
              "degenerate_kpoints": {"degenerate_kpoints": np.int64(1)}}[edit]
    _rewrite(ckpt, **change)
    with pytest.raises(ValueError, match="corrupt.*do not match their digest"):
        _charge(model, ckpt)


def test_truncated_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    _interrupted_checkpoint(models.qwz(1.0), ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:300])
    with pytest.raises(ValueError, match="corrupt"):
        _charge(models.qwz(1.0), ckpt)


def test_checkpoint_that_cannot_be_written_warns_and_the_run_completes(tmp_path, monkeypatch):
    """The disk fills during the run: the checkpoint is not saved, the run goes on with a warning."""
    def enospc(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    ckpt = tmp_path / "run.ckpt"
    monkeypatch.setattr(np, "savez", enospc)
    with pytest.warns(RuntimeWarning, match="could not be written \\(No space left on device\\)"):
        res = _charge(models.qwz(1.0), ckpt)
    monkeypatch.undo()
    np.testing.assert_array_equal(res.values, _charge(models.qwz(1.0), None).values)
    assert list(tmp_path.iterdir()) == []  # no temporary file left


def test_unusable_checkpoint_path_is_refused_before_computing(tmp_path):
    model = models.qwz(1.0)
    for path, message in ((tmp_path, "checkpoint: .* a directory is in the way"),
                          (tmp_path / "a\0b", "checkpoint: output path .* contains a NUL byte")):
        with pytest.raises((OSError, ValueError), match=message):
            _charge(_interrupt_after(model, 0), path)  # KeyboardInterrupt if a chunk ran
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="checkpoint: .*file is not a directory"):
        _charge(_interrupt_after(model, 0), tmp_path / "file" / "run.ckpt")


# ------------------------------------------------------------------------------------------ full disk
@pytest.fixture
def full_dir(tmp_path):
    """A directory on an almost full file system (a 64 kB tmpfs with 8 kB left), or None where mounting is not
    allowed."""
    target = tmp_path / "full"
    target.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)], capture_output=True).returncode:
        yield None
        return
    try:
        with open(target / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
            fh.truncate(fh.tell() - 8192)  # 8 kB left: HDF5 could create its file and failed half-way through
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


FULL_DISK_JOB = """
import sys
import numpy as np
import properspin as ps
from properspin import io
res = ps.conductivity(ps.models.qwz(1.0), "charge", fermi=np.linspace(-1, 1, 200), mesh=ps.mesh.grid(12))
for write, name in ((io.save, "r.nc"), (io.to_csv, "r.csv")):
    try:
        write(res, sys.argv[1] + "/" + name)
    except OSError as exc:
        print("OSError:", exc)
print("sigma_xy", res.sel(current="x", field="y").values[100])
"""


def test_full_disk_is_an_oserror_and_the_result_survives(full_dir, tmp_path, monkeypatch):
    """Before: h5py crashed the interpreter (exit 139) while cleaning up after ENOSPC."""
    if full_dir is None:  # no tmpfs here: inject ENOSPC where the bytes reach the disk
        res = ps.conductivity(models.qwz(1.0), "charge", fermi=np.linspace(-1, 1, 200), mesh=mesh.grid(12))

        def enospc(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(io.os, "fsync", enospc)
        for write, name in ((io.save, "r.nc"), (io.to_csv, "r.csv")):
            with pytest.raises(OSError, match=f"cannot write .*{name}: No space left"):
                write(res, tmp_path / name)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]  # no temporary files left
        assert res.sel(current="x", field="y").values[100] == pytest.approx(1.0, abs=1e-2)
        return
    script = tmp_path / "job.py"
    script.write_text(FULL_DISK_JOB)
    proc = subprocess.run([sys.executable, str(script), str(full_dir)], capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("OSError: [Errno 28] cannot write") == 2 and str(full_dir / "r.nc") in proc.stdout
    assert float(proc.stdout.split("sigma_xy")[1]) == pytest.approx(1.0, abs=1e-2)
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]


def test_run_refuses_a_full_disk_before_computing(full_dir, tmp_path, monkeypatch, capsys):
    from properspin.cli import main

    if full_dir is None:
        pytest.skip("cannot mount a tmpfs here; the write failure itself is tested with an injected ENOSPC")
    monkeypatch.setattr(ps, "conductivity", lambda *a, **k: pytest.fail("computed before checking the output"))
    assert main(["run", str(_qwz_config(tmp_path)), "--output", str(full_dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--output: {full_dir} has" in err and "bytes free" in err


def _qwz_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "qwz.toml"
    cfg.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 8\n'
                   '[fermi]\nvalues = [0.0]\n[calculation]\nresponses = ["charge"]\n')
    return cfg


def test_disk_filling_during_a_run_exits_1_naming_the_files_and_keeps_results(tmp_path, monkeypatch, capsys):
    """The disk fills while computing (after the checks): every format is tried, the error names each file,
    and the results computed so far come with the exception."""
    from properspin.cli import main
    from properspin.config import OutputError, run_config

    def enospc(path, data):
        raise OSError(errno.ENOSPC, f"cannot write {path}: No space left on device")

    monkeypatch.setattr(io, "write_bytes", enospc)
    cfg = _qwz_config(tmp_path)
    with pytest.raises(OutputError) as info:
        run_config(cfg, output=tmp_path / "out")
    message = str(info.value)
    assert all(f"qwz_charge.{ext}: No space left" in message for ext in ("nc", "csv", "png"))
    assert info.value.results["charge"].sel(current="x", field="y").item() == pytest.approx(1.0, abs=0.05)
    assert main(["run", str(cfg), "--output", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "qwz_charge.nc" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------ numba cache, no JIT
def test_import_without_writable_cache_falls_back_with_a_warning(tmp_path):
    """Before: numba raised 'no locator available' at import.  The package is copied so that its __pycache__
    cannot be created (a file is in the way: read-only even for root), NUMBA_CACHE_DIR and HOME likewise."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "properspin", site / "properspin", ignore=shutil.ignore_patterns("__pycache__"))
    for d in [site / "properspin", *(p for p in (site / "properspin").rglob("*") if p.is_dir())]:
        (d / "__pycache__").write_text("")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    for d in [site, *site.rglob("*")]:
        d.chmod(0o555 if d.is_dir() else 0o444)
    env = {**os.environ, "PYTHONPATH": str(site), "NUMBA_CACHE_DIR": str(blocker / "cache"),
           "HOME": str(blocker / "home"), "XDG_CACHE_HOME": str(blocker / "xdg"), "PYTHONDONTWRITEBYTECODE": "1"}
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import numpy as np, properspin\n"
            "from properspin import eigen\n"
            f"assert properspin.__file__.startswith({str(site)!r}), properspin.__file__\n"
            "rng = np.random.default_rng(0); a = rng.normal(size=(5, 4, 4)) + 1j * rng.normal(size=(5, 4, 4))\n"
            "h = a + a.conj().transpose(0, 2, 1); e, u = eigen.eigh(h)\n"
            "print(eigen.available(), np.max(np.abs(e - np.linalg.eigvalsh(h))),"
            " np.max(np.abs(u @ (e[..., None] * u.conj().transpose(0, 2, 1)) - h)))\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)
    finally:
        for d in [site, *site.rglob("*")]:
            d.chmod(0o755 if d.is_dir() else 0o644)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "numba cannot cache properspin's compiled kernels" in proc.stderr
    available, eig_err, rec_err = proc.stdout.split()
    assert available == "True" and float(eig_err) < 1e-12 and float(rec_err) < 1e-12


def test_eigh_and_conductivity_with_numba_jit_disabled():
    """Before: eigen.eigh returned garbage (eigenvalues ~1e131) under NUMBA_DISABLE_JIT=1."""
    code = ("import numpy as np, properspin as ps\n"
            "from properspin import eigen, kernels\n"
            "rng = np.random.default_rng(0); a = rng.normal(size=(5, 6, 6)) + 1j * rng.normal(size=(5, 6, 6))\n"
            "h = a + a.conj().transpose(0, 2, 1); e, u = eigen.eigh(h)\n"
            "r = ps.conductivity(ps.models.qwz(1.0), 'charge', fermi=[0.0], mesh=ps.mesh.grid(16))\n"
            "print(eigen.available(), kernels.available(), np.max(np.abs(e - np.linalg.eigvalsh(h))),"
            " r.sel(current='x', field='y').item())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**ENV, "NUMBA_DISABLE_JIT": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    available, kernel, err, sigma = proc.stdout.split()
    assert available == "False" and kernel == "False" and float(err) < 1e-12
    assert float(sigma) == pytest.approx(1.0, abs=1e-2)  # QWZ, 0 < u < 2: |C| = 1


