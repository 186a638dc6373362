"""Hostile and careless input (issue 13): refused up front with a clear message, never a hang, a traceback or a
silent wrong number.  Each test names what happened before."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import properspin as ps
from properspin import io, mesh, models
from properspin.cli import main
from properspin.config import ConfigError, run_config

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _sigma_xy(model, **kw):
    kw.setdefault("mesh", mesh.grid(24))
    return ps.conductivity(model, "charge", fermi=[0.0], **kw).sel(current="x", field="y").item()


# ------------------------------------------------------------------------------------------ hangs
HANGS = """
import sys, time
from properspin.models.kp import kp_model, parse_spin
texts = ["[[9**9**9**9, 0], [0, 1]]", "[[9^9^9^9, 0], [0, 1]]", "[[2^3^40, 0], [0, 1]]", "[[(10**64)**64, 0], [0, 1]]",
         "[[k_x**100, 0], [0, 1]]", "[[1e400, 0], [0, 1]]", "[[" + "-(" * 100 + "k_x" + ")" * 100 + ", 0], [0, 1]]",
         "[[" + "9" * 5000 + ", 0], [0, 1]]", "[[" + "*".join(["(k_x+k_y+1)"] * 700) + ", 0], [0, 1]]",
         "[[1/0, 0], [0, 1]]", "[[k_x % 2, 0], [0, 1]]",
         "[" + ", ".join(["[" + ", ".join(["0"] * 70) + "]"] * 70) + "]"]
for text in texts:
    t = time.time()
    try:
        kp_model(text, spin=None)
        print("ACCEPTED", text[:30])
    except ValueError as exc:
        print(f"{time.time() - t:.2f}", str(exc)[:200].replace("\\n", " "))
for spin in ("eye(100000000)", "kron(eye(64), eye(64), pauli)", "kron(" * 3000 + "pauli" + ")" * 3000):
    try:
        parse_spin(spin, 2)
        print("ACCEPTED", spin[:30])
    except ValueError as exc:
        print("0.00", str(exc)[:200])
"""


def test_kp_text_with_huge_powers_depth_or_length_is_refused_at_once():
    """Before: ``9**9**9**9`` made sympy compute an exact power for ever; deep nesting raised RecursionError;
    ``1/0`` a KeyError; ``eye(10**8)`` a MemoryError.  Run in a subprocess so that a regression cannot hang
    the suite."""
    proc = subprocess.run([sys.executable, "-c", HANGS], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 15 and not [ln for ln in lines if ln.startswith("ACCEPTED")], lines
    assert all(float(ln.split()[0]) < 2 for ln in lines)
    text = proc.stdout
    for fragment in ("exponent 9 ** 9 is larger than 64", "exponent 3 ** 40 is larger", "more than 1e+300",
                     "exponent 100 is larger", "nested too deeply (limit 60)", "syntax-tree nodes",
                     "could not be parsed: Exceeds the limit",
                     "infinite or undefined", "'the operator Mod' is not allowed", "70 rows, more than 64",
                     "eye(m) needs an integer", "larger than 64 × 64", "spin text has"):
        assert fragment in text, fragment


def test_kp_limits_leave_ordinary_models_alone():
    """A quartic k·p model with ``^``, nested parentheses and sqrt still parses (and is Hermitian)."""
    m = ps.models.kp_model("[[((C + D*(k_x^2 + k_y^2)))^2, sqrt(2)*alpha*(k_y + I*k_x)],"
                           " [sqrt(2)*alpha*(k_y - I*k_x), -(C + D*(k_x**2 + k_y**2))**2]]",
                           {"C": 0.1, "D": 2.0, "alpha": 0.3}, spin="pauli")
    h = m.h(np.array([[0.1, -0.2]]))
    assert h[0, 0, 0].real == pytest.approx((0.1 + 2.0 * 0.05) ** 2)


def test_absurd_mesh_is_refused_before_the_first_kpoint_with_an_estimate():
    """Before: ``grid(10**5)`` in 2D (10¹⁰ k-points) ran for days without a word."""
    model = models.qwz(1.0)
    start = time.time()
    with pytest.raises(ValueError, match=r"1e\+10 k-points, more than max_kpoints = 1e\+09 \(estimated .* "
                                         r"CPU-hours .* GB of memory"):
        ps.conductivity(model, "charge", fermi=[0.0], mesh=mesh.grid(10**5))
    assert time.time() - start < 5
    # the limit is an option: lowered, it refuses a small mesh; None lifts it (and the result is right)
    with pytest.raises(ValueError, match="more than max_kpoints = 100"):
        ps.conductivity(model, "charge", fermi=[0.0], mesh=mesh.grid(24), engine=ps.Engine(max_kpoints=100))
    assert _sigma_xy(model, engine=ps.Engine(max_kpoints=None)) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="max_kpoints"):
        ps.Engine(max_kpoints=0)


def test_filling_and_adaptive_refuse_absurd_meshes_at_once():
    """Found here: ``fermi_level`` and ``adaptive_conductivity`` hold every eigenvalue or k-point, so
    ``grid(10**5)`` (or ``refine=10**5``) ran out of memory after a long wait."""
    qwz, start = models.qwz(1.0), time.time()
    with pytest.raises(ValueError, match="fermi_level: 1e\\+10 k-points, more than properspin.mesh.MAX_KPOINTS"):
        ps.fermi_level(qwz, 1.0, mesh.grid(10**5))
    with pytest.raises(ValueError, match="carrier_density: 1e\\+10 k-points"):
        ps.carrier_density(qwz, [0.0], mesh.grid(10**5))
    with pytest.raises(ValueError, match="base grid: 1e\\+10 k-points"):
        ps.adaptive_conductivity(qwz, "charge", fermi=[0.0], n=10**5)
    with pytest.raises(ValueError, match="refinement 1: .* k-points, more than"):
        ps.adaptive_conductivity(models.qwz(0.1), "charge", fermi=[0.0], n=8, refine=10**5)
    assert time.time() - start < 10


def test_chunks_that_cannot_fit_in_memory_are_refused(monkeypatch):
    from properspin import _system

    monkeypatch.setattr(_system, "physical_memory", lambda: 10**5)  # a 100 kB machine
    with pytest.raises(ValueError, match="more than this machine's 0.0001 GB"):
        _sigma_xy(models.qwz(1.0))
    monkeypatch.undo()
    # found here: workers=10**6 would fork a process per chunk; each process costs memory of its own
    with pytest.raises(ValueError, match="need ≈ .* GB of memory, more than this machine's"):
        _sigma_xy(models.qwz(1.0), mesh=mesh.grid(2000), engine=ps.Engine(chunk_size=1000, workers=10**6))


def test_run_file_fermi_count_is_bounded(tmp_path):
    path = tmp_path / "many.toml"
    path.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 8\n'
                    '[fermi]\nstart = -1.0\nstop = 1.0\nnum = 100000000\n')
    with pytest.raises(ConfigError, match="fermi.num: expected a number ≤ 1000000, got 100000000"):
        run_config(path)


def test_kp_parameters_must_be_finite_and_attributes_storable():
    """Found here: a NaN parameter was reported as 'a division by zero?'; a parameter dict nested 5000 deep
    raised RecursionError from json."""
    with pytest.raises(ValueError, match="parameter\\(s\\) a must be finite numbers, got a=nan"):
        ps.models.kp_model("[[a*k_x, 0], [0, 1]]", {"a": float("nan")}, spin=None)
    deep = cur = {}
    for _ in range(5000):
        cur["x"] = {}
        cur = cur["x"]
    with pytest.raises(ValueError, match="an attribute cannot be stored"):
        _sigma_xy(replace(models.qwz(1.0), parameters=deep), mesh=mesh.grid(4))


def test_gauss_legendre_order_is_bounded_and_large_orders_are_fast():
    """Before: ``disk(0.6, 20000, 4)`` built a 20000² companion matrix (numpy's leggauss) and never returned."""
    start = time.time()
    with pytest.raises(ValueError, match="20000 Gauss–Legendre points .* at most 10000"):
        mesh.disk(0.6, 20000, 4)
    disk = mesh.disk(0.6, 3000, 4)  # scipy's rule above 1000 points
    assert time.time() - start < 10
    k, w = disk.all_points(models.rashba(1.0, 1.0))
    assert w.sum() == pytest.approx(0.6**2 / (4 * np.pi), rel=1e-13)  # ∫ d²k/(2π)² over the disk
    assert w @ (k**2).sum(axis=1) == pytest.approx(0.6**4 / (8 * np.pi), rel=1e-13)  # ∫ k² d²k/(2π)²


def test_memory_and_recursion_errors_are_one_line_messages(tmp_path, monkeypatch, capsys):
    from properspin import config

    cfg = tmp_path / "qwz.toml"
    cfg.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 8\n'
                   '[fermi]\nvalues = [0.0]\n')
    for exc, text in ((MemoryError(), "out of memory"), (RecursionError(), "nested too deeply")):
        def boom(*a, exc=exc, **k):
            raise exc

        monkeypatch.setattr(config, "run_config", boom)
        assert main(["run", str(cfg)]) == 1
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err
    # the API: a MemoryError during the run says what to lower
    base = models.qwz(1.0)
    calls = {"n": 0}

    def h(k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise MemoryError
        return base.hamiltonian(k)

    with pytest.raises(MemoryError, match="out of memory computing charge in chunks of up to 64 .*chunk_size"):
        _sigma_xy(replace(base, hamiltonian=h), engine=ps.Engine(workers=1, chunk_size=64))


def test_deeply_nested_toml_is_a_config_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 50_000 + "]" * 50_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        run_config(path)


# ------------------------------------------------------------------------------------------ silent wrong numbers
def test_zero_degeneracy_tolerance_is_refused():
    """Before: ``degeneracy_tol=0`` gave NaN for the BHZ model's Kramers pairs."""
    with pytest.raises(ValueError, match="degeneracy_tol must be a finite number > 0"):
        ps.conductivity(models.bhz(1.0), "proper_spin", fermi=[0.0], mesh=mesh.grid(8), degeneracy_tol=0)
    with pytest.raises(ValueError, match="accurate to about"):  # below the eigenvalues' own precision
        ps.conductivity(models.bhz(1.0), "proper_spin", fermi=[0.0], mesh=mesh.grid(8), degeneracy_tol=1e-300)
    with pytest.raises(ValueError, match="exceeds the width of the whole spectrum"):
        ps.conductivity(models.bhz(1.0), "proper_spin", fermi=[0.0], mesh=mesh.grid(8), degeneracy_tol=100.0)


@pytest.mark.parametrize("step", [0.0, float("nan"), 2.0, 1e-14, -1e-4, float("inf")])
def test_finite_difference_step_outside_its_range_is_refused(step):
    """Before: fd_step = 0 or NaN gave NaN, 2 gave σ_xy = 0.448 instead of 1, 1e-14 gave 1.03."""
    with pytest.raises(ValueError, match="fd_step must be a finite-difference step in"):
        replace(models.qwz(1.0), gradient=None, fd_step=step)


def test_finite_differences_inside_the_range_give_the_chern_number():
    for step in (1e-3, 1e-5):
        assert _sigma_xy(replace(models.qwz(1.0), gradient=None, fd_step=step)) == pytest.approx(1.0, abs=1e-3)


def test_nan_in_a_position_matrix_is_named_as_nan():
    """Before: NaN in a Wannier position matrix gave NaN sums (or was called 'not Hermitian')."""
    q = models.qwz(1.0)

    def position(k):
        a = np.zeros((2, len(k), 2, 2), complex)
        a[0, :, 0, 1] = np.nan
        a[0, :, 1, 0] = np.nan
        return a

    with pytest.raises(ValueError, match=r"position\(k\) contains NaN or inf"):
        _sigma_xy(replace(q, position=position))


def test_huge_hamiltonian_is_refused_and_scaling_keeps_the_chern_number():
    """Before: H × 1e300 gave NaN; H × 1e10 ran with eigenvalues accurate to 1e-5 eV, a hundred times the
    degeneracy tolerance.  A Chern number does not change when H is scaled, within the documented limit."""
    q = models.qwz(1.0)

    def scaled(factor):
        return replace(q, hamiltonian=lambda k: factor * q.hamiltonian(k), gradient=lambda k: factor * q.gradient(k))

    with pytest.raises(ValueError, match="must stay well below 1e100"):
        _sigma_xy(scaled(1e300))
    with pytest.raises(ValueError, match="Raise degeneracy_tol above"):
        _sigma_xy(scaled(1e10))
    assert _sigma_xy(scaled(1e10), degeneracy_tol=1e-3) == pytest.approx(1.0, abs=1e-3)
    assert _sigma_xy(scaled(1e-3)) == pytest.approx(1.0, abs=1e-3)


def test_grid_shift_must_be_small_and_finite():
    """Before: ``shift=1e17`` swamped the index in floating point: σ_xy = 0.81 instead of 1."""
    for bad in (1e17, 1.5, float("nan"), float("inf"), (0.0, 2.0)):
        with pytest.raises(ValueError, match="grid shift must be finite and at most 1"):
            mesh.grid(24, shift=bad) if np.ndim(bad) == 0 else mesh.grid((24, 24), shift=bad)
    assert _sigma_xy(models.qwz(1.0), mesh=mesh.grid(24, shift=0.5)) == pytest.approx(1.0, abs=1e-3)


def test_non_finite_sums_are_an_error_not_a_result(monkeypatch):
    """The last guard: sums that are NaN or inf (an overflow the checks above did not foresee) are refused."""
    from properspin import sweep

    def infinite(self, partial, grand=False):
        return np.full((len(self.fermi), partial.shape[1]), np.inf)

    monkeypatch.setattr(sweep.Sweep, "finish", infinite)
    with pytest.raises(ValueError, match="the sums are not finite"):
        _sigma_xy(models.qwz(1.0))


# ------------------------------------------------------------------------------------------ output paths
RUN = ('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 8\n[fermi]\nvalues = [0.0]\n'
       '[calculation]\nresponses = ["charge"]\n[output]\nformats = ["netcdf", "csv"]\n')


@pytest.fixture
def no_compute(monkeypatch):
    """Fail if anything is computed: output problems must be found before the first k-point."""
    monkeypatch.setattr(ps, "conductivity", lambda *a, **k: pytest.fail("computed before checking the output"))


def _refused(tmp_path, capsys, args, fragment, cfg_text=RUN, name="qwz.toml"):
    cfg = tmp_path / name
    cfg.write_text(cfg_text)
    assert main(["run", str(cfg), *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err, err


def test_output_directory_that_is_a_file_is_refused_before_computing(tmp_path, capsys, no_compute):
    (tmp_path / "file").write_text("x")
    _refused(tmp_path, capsys, ["--output", str(tmp_path / "file")], "--output: cannot write the results there")
    _refused(tmp_path, capsys, ["--output", str(tmp_path / "file" / "sub")], "is not a directory")


def test_directory_where_the_result_goes_is_refused_before_computing(tmp_path, capsys, no_compute):
    (tmp_path / "out" / "qwz_charge.nc").mkdir(parents=True)
    _refused(tmp_path, capsys, ["--output", str(tmp_path / "out")], "qwz_charge.nc: a directory is in the way")


def test_nul_byte_in_output_paths_is_refused(tmp_path, capsys, no_compute):
    _refused(tmp_path, capsys, ["--output", str(tmp_path / "a\0b")], "NUL byte")
    _refused(tmp_path, capsys, [], "output.path: the path contains a NUL byte",
             RUN + 'path = "a\\u0000b"\n')


def test_unwritable_output_directory_is_refused_before_computing(tmp_path, capsys, no_compute):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
    elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                        capture_output=True).returncode:
        pytest.skip("root without a read-only file system to test on")
    try:
        _refused(tmp_path, capsys, ["--output", str(ro / "sub")], "cannot write")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)
        ro.chmod(0o755)


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", ".", "", "a\\\\b", " padded"])
def test_output_name_cannot_leave_the_output_directory(tmp_path, capsys, no_compute, name):
    _refused(tmp_path, capsys, [], "output.name: expected a plain file-name prefix", RUN + f'name = "{name}"\n')
    assert not (tmp_path / "escape_charge.nc").exists() and not list(tmp_path.parent.glob("escape*"))


def test_long_output_name_is_refused_before_computing(tmp_path, capsys, no_compute):
    _refused(tmp_path, capsys, [], "file name longer than", RUN + f'name = "{"x" * 240}"\n')


def test_dotted_run_file_name_keeps_one_file_per_response(tmp_path):
    """Found here: ``with_suffix`` cut ``rashba.v2_proper_spin`` to ``rashba.nc``, so every response of a run
    file called ``rashba.v2.toml`` overwrote the same file."""
    cfg = tmp_path / "bhz.v2.toml"
    cfg.write_text(RUN.replace('"qwz"', '"bhz"').replace('["charge"]', '["charge", "conventional_spin"]'))
    results = run_config(cfg, output=tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "bhz.v2_charge.csv", "bhz.v2_charge.nc", "bhz.v2_conventional_spin.csv", "bhz.v2_conventional_spin.nc"]
    back = io.load(tmp_path / "out" / "bhz.v2_charge.nc")
    xr.testing.assert_identical(back, results["charge"])


# ------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """What ``properspin reproduce`` writes, on tiny meshes."""
    from properspin.paper import reproduce

    out = tmp_path_factory.mktemp("figures")
    tiny = reproduce.Settings((0.4, 12, 4, 4), np.linspace(-0.1, 0.3, 5), (0.3,), ((12, 4, 4),), (0.15, 24, 8),
                              np.linspace(0.0, 0.02, 3), np.linspace(1e6, 2e6, 2))
    original = reproduce.Settings.make
    reproduce.Settings.make = classmethod(lambda cls, quick: tiny)
    try:
        reproduce.run(out, quick=True, progress=False)
    finally:
        reproduce.Settings.make = original
    return out


@pytest.mark.parametrize("name", ["fig1", "fig2a", "fig2b"])
def test_plot_reads_what_reproduce_wrote(reproduced, tmp_path, name, capsys):
    """Before: KeyError 'fermi' (fig2b has gate_field and material) and unplottable extra dimensions."""
    png = tmp_path / f"{name}.png"
    assert main(["plot", str(reproduced / f"{name}.nc"), "-o", str(png)]) == 0, capsys.readouterr().err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["info", str(reproduced / f"{name}.nc")]) == 0


def test_quick_reproduction_does_not_replace_full_figures(reproduced, tmp_path, capsys, monkeypatch):
    """Before: ``reproduce --quick`` wrote its coarse figures over a full-resolution ``paper-figures/``."""
    from properspin.paper import reproduce

    full = tmp_path / "paper-figures"
    full.mkdir()
    (full / "REPORT.md").write_text("# Reproduction\n\nGenerated by `properspin reproduce` in 900 s.\n")
    monkeypatch.setattr(reproduce, "figure1", lambda *a: pytest.fail("computed before checking the output"))
    assert main(["reproduce", "--quick", "-o", str(full), "--quiet"]) == 2
    assert "holds full-resolution figures" in capsys.readouterr().err
    assert (full / "REPORT.md").read_text().startswith("# Reproduction\n\nGenerated by `properspin reproduce` in")
    reproduce.check_output(full, quick=True, force=True)  # --force lets it through
    reproduce.check_output(reproduced, quick=True)  # quick over quick is fine
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(reproduce, "run", lambda output_dir, quick, progress, force: seen.append(output_dir))
    assert main(["reproduce", "--quick"]) == 0 and seen == [Path("paper-figures-quick")]


def test_info_escapes_terminal_control_codes(tmp_path, capsys):
    res = ps.conductivity(models.qwz(1.0), "charge", fermi=[0.0], mesh=mesh.grid(8))
    res.attrs["model"] = "evil \x1b[2J\x1b]0;title\x07 \u202eabc\ndef"
    io.save(res, tmp_path / "evil.nc")
    assert main(["info", str(tmp_path / "evil.nc")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "evil \\x1b[2J\\x1b]0;title\\x07 \\u202eabc\\ndef" in out


def test_info_and_plot_refuse_foreign_netcdf_and_hdf5(tmp_path, capsys):
    """Before: ``info`` printed '?' for everything and exited 0 on any one-variable netCDF or HDF5 file."""
    import h5py

    xr.DataArray(np.arange(3.0), dims=["x"], name="v").to_netcdf(tmp_path / "foreign.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["a"] = np.arange(3)
    for name in ("foreign.nc", "plain.h5"):
        for command in ("info", "plot"):
            assert main([command, str(tmp_path / name)]) == 2
            err = capsys.readouterr().err
            assert f"{name}: not a properspin netCDF result" in err and "Traceback" not in err


def test_csv_attribute_with_a_line_break_stays_a_comment(tmp_path):
    """Found here: a line break in an attribute (a model note) started a fake data row in the CSV."""
    res = ps.conductivity(models.qwz(1.0), "charge", fermi=[0.0, 0.5], mesh=mesh.grid(8))
    res.attrs["model"] = "qwz\n9,9,9,9,9"
    lines = io.to_csv(res, tmp_path / "r.csv").read_text().splitlines()
    assert sum(not ln.startswith("#") for ln in lines) == 3  # header + two Fermi energies
    assert "# model: qwz\\n9,9,9,9,9" in lines


def test_run_file_with_bom_is_read_and_non_utf8_names_the_file(tmp_path, capsys):
    """Before: a UTF-8 BOM was 'invalid TOML' and a Latin-1 byte a UnicodeDecodeError without the file name."""
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + RUN.encode())
    assert run_config(bom, output=tmp_path / "out")["charge"].sel(current="x", field="y").item() == pytest.approx(
        1.0, abs=0.05)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"# caf\xe9\n" + RUN.encode())
    utf16 = tmp_path / "utf16.toml"
    utf16.write_bytes(RUN.encode("utf-16"))
    for path, fragment in ((latin, "not UTF-8 text: byte 0xe9 at line 1"), (utf16, "the file is UTF-16 text")):
        assert main(["run", str(path), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"{path}: {fragment}" in err and "Traceback" not in err
    assert main(["run", str(tmp_path), "--quiet"]) == 2
    assert "is a directory, not a TOML file" in capsys.readouterr().err


def test_plot_does_not_replace_its_input_or_a_device(tmp_path, capsys):
    """Found here: ``plot r.nc -o r.nc`` replaced the result by its picture, and the atomic rename would have
    replaced a device such as /dev/full by a regular file."""
    res = ps.conductivity(models.qwz(1.0), "charge", fermi=[0.0, 0.5], mesh=mesh.grid(8))
    nc = io.save(res, tmp_path / "r.nc")
    assert main(["plot", str(nc), "-o", str(nc)]) == 2
    assert "would replace the result" in capsys.readouterr().err
    xr.testing.assert_identical(io.load(nc), res)
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    assert main(["plot", str(nc), "-o", str(fifo)]) == 1
    assert "not a regular file" in capsys.readouterr().err and fifo.is_fifo()
