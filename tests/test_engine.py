"""Engine: worker processes, external executors, checkpoint/resume — same result to 1e-12."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pytest

import properspin as ps
from properspin import engine as eng
from properspin import mesh, models

FERMI = np.linspace(-0.05, 0.3, 9)


def _run(**kw):
    return ps.conductivity(models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02)), "proper_spin", fermi=FERMI,
                           mesh=mesh.disk(1.0, 60, 24), **kw)


def test_workers_and_executor_give_the_serial_result():
    serial = _run(engine=ps.Engine(chunk_size=200, workers=1))
    forked = _run(engine=ps.Engine(chunk_size=200, workers=2))
    with cf.ThreadPoolExecutor(2) as pool:
        threaded = _run(engine=ps.Engine(chunk_size=97, executor=pool))
    assert np.max(np.abs(serial.values)) > 0.1
    np.testing.assert_allclose(forked.values, serial.values, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(threaded.values, serial.values, rtol=1e-12, atol=1e-14)
    assert forked.attrs["executor"] == "up to 2 processes"
    serial_only = _run(engine=ps.Engine(chunk_size=200, workers=1))
    assert serial_only.attrs["executor"] == "serial"
    np.testing.assert_allclose(serial_only.values, serial.values, rtol=1e-12, atol=1e-14)


def test_executor_workers_under_dask_malloc_settings_give_the_serial_result(monkeypatch):
    """Chunks run by someone else's pool take the worker-side path (BLAS limit, glibc thresholds raised and
    restored when MALLOC_*_ variables are set, as Dask sets them); the sums are those of the serial run."""
    serial = _run(engine=ps.Engine(chunk_size=200, workers=1))
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    seen = []
    original = eng.run_chunk

    def spy(job, start, stop):
        seen.append((start, stop))
        return original(job, start, stop)

    monkeypatch.setattr(eng, "run_chunk", spy)
    with cf.ThreadPoolExecutor(2) as pool:
        remote = _run(engine=ps.Engine(chunk_size=200, executor=pool, blas_threads=1))
    assert sorted(seen) == ps.Engine(chunk_size=200).ranges(60 * 24)
    np.testing.assert_allclose(remote.values, serial.values, rtol=1e-12, atol=1e-14)


def test_checkpoint_resume_is_identical(tmp_path, monkeypatch):
    ckpt = tmp_path / "run.ckpt"
    reference = _run(engine=ps.Engine(chunk_size=100, workers=1))
    calls = {"n": 0}
    original = eng.run_chunk

    def interrupted(job, start, stop):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # as a SIGINT in the middle of the run
        return original(job, start, stop)

    monkeypatch.setattr(eng, "run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(engine=ps.Engine(chunk_size=100, workers=1, checkpoint=ckpt))
    assert ckpt.exists()
    monkeypatch.setattr(eng, "run_chunk", original)
    with np.load(ckpt) as f:
        assert int(f["done"]) == 4  # four chunks finished and kept
    resumed = _run(engine=ps.Engine(chunk_size=100, workers=1, checkpoint=ckpt))
    np.testing.assert_array_equal(resumed.values, reference.values)
    assert not ckpt.exists()


def test_mismatched_or_corrupt_checkpoint_is_refused(tmp_path, monkeypatch):
    ckpt = tmp_path / "run.ckpt"
    original = eng.run_chunk
    calls = {"n": 0}

    def interrupted(job, start, stop):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(job, start, stop)

    monkeypatch.setattr(eng, "run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(engine=ps.Engine(chunk_size=100, workers=1, checkpoint=ckpt))
    monkeypatch.setattr(eng, "run_chunk", original)
    with pytest.raises(ValueError, match="different calculation"):
        _run(engine=ps.Engine(chunk_size=100, workers=1, checkpoint=ckpt), temperature=10.0)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        _run(engine=ps.Engine(chunk_size=100, workers=1, checkpoint=ckpt))


def test_chunks_are_balanced_over_local_workers():
    """A multi-chunk mesh on 2 local processes gets ≥ 4 chunks per process (27 000 k: 8 of 3375, not 20 000 + 7000),
    a serial run keeps chunk_size, a mesh within one chunk stays one chunk; the ranges tile the mesh."""
    balanced = ps.Engine(chunk_size=20_000, workers=2).ranges(27_000)
    assert len(balanced) == 8 and max(b - a for a, b in balanced) == 3375
    assert ps.Engine(chunk_size=20_000, workers=1).ranges(27_000) == [(0, 20_000), (20_000, 27_000)]
    assert ps.Engine(chunk_size=20_000, workers=2).ranges(15_000) == [(0, 15_000)]
    assert ps.Engine(chunk_size=2_000, workers=2).ranges(9_000)[0] == (0, 1_125)
    assert ps.Engine(chunk_size=5_000, workers=2).ranges(6_000)[0] == (0, 1_000)  # not below 1000 k-points
    for r in (balanced, ps.Engine(chunk_size=700, workers=3).ranges(10_001)):
        assert r[0][0] == 0 and r[-1][1] in (27_000, 10_001)
        assert all(b == c for (_, b), (c, _) in zip(r[:-1], r[1:], strict=True))


def test_engine_rejects_bad_settings():
    with pytest.raises(ValueError, match="workers"):
        ps.Engine(workers=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ps.Engine(chunk_size=0)
    with pytest.raises(TypeError, match="Executor"):
        ps.Engine(executor="dask")


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_result():
    distributed = pytest.importorskip("distributed", reason="Dask not installed (pip install 'properspin[dask]')")
    serial = _run(engine=ps.Engine(chunk_size=200))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        with distributed.Client(lc) as client:
            via_client = _run(engine=ps.Engine(chunk_size=200, scheduler=client))
        via_address = _run(engine=ps.Engine(chunk_size=150, scheduler=lc.scheduler_address))
    np.testing.assert_allclose(via_client.values, serial.values, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(via_address.values, serial.values, rtol=1e-12, atol=1e-14)
    assert via_client.attrs["executor"] == "dask.distributed"


@pytest.mark.slow
def test_mpi_two_ranks_give_the_serial_result(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install 'properspin[mpi]')")
    pytest.importorskip("cloudpickle", reason="cloudpickle not installed")
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec on PATH")
    out = tmp_path / "mpi.npy"
    script = Path(__file__).with_name("mpi_job.py")
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "mpi4py.futures", str(script), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    serial = _run(engine=ps.Engine(chunk_size=200))
    np.testing.assert_allclose(np.load(out), serial.values, rtol=1e-12, atol=1e-14)


SLOW_JOB = """
import sys, time
import numpy as np
import properspin as ps
base = ps.models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))
def h(k):
    time.sleep(0.05)  # slow chunks, so that the run can be killed half-way
    return base.hamiltonian(k)
model = ps.Model(h, base.gradient, base.spin, 2, name="slow-rashba")
res = ps.conductivity(model, "proper_spin", fermi=np.linspace(-0.05, 0.3, 9), mesh=ps.mesh.disk(1.0, 60, 24),
                      engine=ps.Engine(chunk_size=40, workers=1, checkpoint=sys.argv[1]))
np.save(sys.argv[2], res.values)
"""


@pytest.mark.slow
def test_sigkill_then_resume_gives_identical_result(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script, ckpt = tmp_path / "job.py", tmp_path / "run.ckpt"
    script.write_text(SLOW_JOB)
    out1, out2 = tmp_path / "a.npy", tmp_path / "b.npy"
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), str(out1)])
    deadline = time.time() + 60
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out1.exists()
    with np.load(ckpt) as f:
        done = int(f["done"])
    assert 0 < done < 36
    subprocess.run([sys.executable, str(script), str(ckpt), str(out2)], check=True, timeout=120)
    reference = _run(engine=ps.Engine(chunk_size=40, workers=1))
    np.testing.assert_array_equal(np.load(out2), reference.values)
    assert not ckpt.exists()
