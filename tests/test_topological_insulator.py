"""Tests of the 3D topological-insulator model, Eq. (10) (conventions §5.1)."""

from __future__ import annotations

import numpy as np
import pytest

from properspin.model import PAULI, Model
from properspin.models.topological_insulator import MATERIALS, topological_insulator

RNG = np.random.default_rng(20231)
BI2SE3 = MATERIALS["Bi2Se3"]


def random_k(n: int = 25, scale: float = 0.15) -> np.ndarray:
    return RNG.uniform(-scale, scale, size=(n, 3))


def printed_eq10(k: np.ndarray, p: dict[str, float], m: tuple[float, float, float]) -> np.ndarray:
    """The matrix exactly as printed in Eq. (10), plus ε(k)·1, written out entry by entry."""
    kx, ky, kz = k
    kp2 = kx**2 + ky**2
    eps = p["C0"] + p["C1"] * kz**2 + p["C2"] * kp2
    mm = p["M0"] + p["M1"] * kz**2 + p["M2"] * kp2
    a = p["A0"] + p["A2"] * kp2
    b = p["B0"] + p["B2"] * kz**2
    kpl, kmi = kx + 1j * ky, kx - 1j * ky
    mx, my, mz = m
    mpl, mmi = mx + 1j * my, mx - 1j * my
    hso = np.array(
        [
            [-mm + mz, mmi, b * kz, a * kmi],
            [mpl, -mm - mz, a * kpl, -b * kz],
            [b * kz, a * kmi, mm + mz, mmi],
            [a * kpl, -b * kz, mpl, mm - mz],
        ]
    )
    return eps * np.eye(4) + hso


@pytest.mark.parametrize("mag", [(0.0, 0.0, 0.0), (1e-3, 0.0, 0.0), (0.0, 2e-3, 0.0), (3e-3, -1e-3, 2e-3)])
def test_hermitian_and_equal_to_printed_eq10(mag):
    over = {"A2": 0.7, "B2": -0.4}  # exercise the cubic terms too
    model = topological_insulator(magnetization=mag, **over)
    k = random_k()
    h = model.h(k)
    assert np.max(np.abs(h - h.conj().transpose(0, 2, 1))) < 1e-15
    params = dict(BI2SE3, **over)
    ref = np.stack([printed_eq10(kk, params, mag) for kk in k])
    assert np.max(np.abs(h - ref)) < 1e-13


def test_default_parameters_and_spin():
    model = topological_insulator()
    assert model.dim == 3 and model.reciprocal is None and model.nbands == 4
    for key, value in {"A0": 3.33, "B0": 2.26, "C0": -0.0083, "C1": 5.74, "C2": 30.4,
                       "M0": -0.28, "M1": 6.86, "M2": 44.5, "A2": 0.0, "B2": 0.0}.items():
        assert model.parameters[key] == value
    assert model.parameters["magnetization"] == (0.0, 0.0, 1e-3)
    assert model.info["units"]["M2"] == "eV Å^2"
    expected = 0.5 * np.stack([np.kron(np.eye(2), s) for s in PAULI])
    assert np.array_equal(model.spin, expected)


def test_gradient_matches_finite_differences():
    model = topological_insulator(magnetization=(1e-3, -2e-3, 3e-3), A2=1.3, B2=0.8)
    k = random_k(10)
    g = model.dh(k)
    assert g.shape == (3, 10, 4, 4)
    fd = Model(model.hamiltonian, None, None, 3, fd_step=1e-4).dh(k)  # the package's 4th-order differences
    assert np.max(np.abs(g - fd)) < 1e-7


def test_time_reversal_and_inversion_at_zero_magnetization():
    model = topological_insulator(magnetization=(0, 0, 0))
    k = random_k()
    h, hm = model.h(k), model.h(-k)
    theta = np.kron(np.eye(2), 1j * PAULI[1])  # Θ = (1 ⊗ iσ_y) K
    assert np.max(np.abs(theta @ h.conj() @ theta.conj().T - hm)) < 1e-14
    tz = np.kron(np.diag([1.0, -1.0]), np.eye(2))  # P = τ_z
    assert np.max(np.abs(tz @ h @ tz - hm)) < 1e-14
    # PT ⇒ every band doubly degenerate at every k
    e = model.energies(k)
    assert np.max(np.abs(e[:, 0] - e[:, 1])) < 1e-12
    assert np.max(np.abs(e[:, 2] - e[:, 3])) < 1e-12
    assert np.min(e[:, 2] - e[:, 1]) > 0.5  # bulk gap ≥ 2|M0| − …


@pytest.mark.parametrize("direction", [0, 1, 2])
def test_magnetization_lifts_degeneracy(direction):
    m = np.zeros(3)
    m[direction] = 1e-3
    model = topological_insulator(magnetization=tuple(m))
    e0 = model.energies(np.zeros((1, 3)))[0]
    assert e0[1] - e0[0] == pytest.approx(2e-3, abs=1e-12)  # exactly 2|m| at Γ
    assert e0[3] - e0[2] == pytest.approx(2e-3, abs=1e-12)
    e_near = model.energies(np.full((1, 3), 1e-3))[0]
    assert e_near[1] - e_near[0] == pytest.approx(2e-3, rel=0.05)
    e = model.energies(random_k())
    assert np.min(e[:, 1] - e[:, 0]) > 1e-6
    assert np.min(e[:, 3] - e[:, 2]) > 1e-6
    # Θ maps the model with m onto the model with −m
    theta = np.kron(np.eye(2), 1j * PAULI[1])
    k = random_k(5)
    flipped = topological_insulator(magnetization=tuple(-m))
    assert np.max(np.abs(theta @ model.h(k).conj() @ theta.conj().T - flipped.h(-k))) < 1e-14


def test_band_edges_at_gamma():
    model = topological_insulator(magnetization=(0, 0, 0))
    e = model.energies(np.zeros((1, 3)))[0]
    assert e[2] == pytest.approx(0.2717, abs=1e-4)  # C0 − M0: conduction-band bottom (paper: ≈ 270 meV)
    assert e[1] == pytest.approx(-0.2883, abs=1e-4)  # C0 + M0
    # Γ is the conduction-band minimum along the axes (the valence band is not maximal at Γ:
    # in-plane it rises away from Γ, since C2 > A0²/(2|M0|) − M2)
    for axis in range(3):
        for q in (1e-3, 1e-2, 5e-2):
            k = np.zeros((1, 3))
            k[0, axis] = q
            ek = model.energies(k)[0]
            assert ek[2] > e[2]


def test_valence_band_camel_back():
    """With these parameters the valence band rises away from Γ in-plane: its maximum is at
    k∥ ≈ 0.092 Å⁻¹, E ≈ −0.0722 eV, so the indirect bulk gap is ≈ 0.344 eV (direct at Γ: 0.56 eV)."""
    model = topological_insulator(magnetization=(0, 0, 0))
    q = np.linspace(0, 0.3, 3001)
    e = model.energies(np.stack([q, 0 * q, 0 * q], axis=1))
    top = int(np.argmax(e[:, 1]))
    assert q[top] == pytest.approx(0.0916, abs=5e-4)
    assert e[top, 1] == pytest.approx(-0.07223, abs=1e-4)
    # analytic: E_v(k) = C0 + C2 k² − sqrt((M0 + M2 k²)² + A0² k²)
    p = BI2SE3
    ev = p["C0"] + p["C2"] * q**2 - np.sqrt((p["M0"] + p["M2"] * q**2) ** 2 + p["A0"] ** 2 * q**2)
    assert np.max(np.abs(e[:, 1] - ev)) < 1e-13
    assert e[:, 2].min() == pytest.approx(0.2717, abs=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="Bi2Se3"):
        topological_insulator("Bi2Te7")
    with pytest.raises(ValueError, match="M0"):
        topological_insulator(M3=1.0)
    with pytest.raises(ValueError, match="finite"):
        topological_insulator(A0=float("nan"))
    with pytest.raises(ValueError, match="magnetization"):
        topological_insulator(magnetization=(0, 1e-3))
    with pytest.raises(ValueError, match="magnetization"):
        topological_insulator(magnetization=(0, 0, np.inf))


def test_overrides_change_the_gap():
    model = topological_insulator(magnetization=(0, 0, 0), M0=-0.1, C0=0.0)
    e = model.energies(np.zeros((1, 3)))[0]
    assert e[2] == pytest.approx(0.1, abs=1e-14) and e[1] == pytest.approx(-0.1, abs=1e-14)
    assert model.parameters["M0"] == -0.1
    assert topological_insulator("bi2se3").parameters["material"] == "Bi2Se3"


# ---------------------------------------------------------------------------------------------- lattice model
@pytest.mark.parametrize("lattice", ["hexagonal", "tetragonal"])
def test_lattice_model_is_eq10_near_gamma_and_periodic(lattice):
    from properspin.models.topological_insulator import topological_insulator_lattice

    opts = {"magnetization": (0.01, -0.02, 0.005), "A2": 0.5, "B2": -0.3}
    lat, kp = topological_insulator_lattice(lattice=lattice, **opts), topological_insulator(**opts)
    k = RNG.normal(size=(8, 3))
    h = 1e-6
    fd = np.stack([(lat.hamiltonian(k + h * e) - lat.hamiltonian(k - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(lat.gradient(k), fd, atol=1e-7)
    for b in lat.reciprocal:
        np.testing.assert_allclose(lat.hamiltonian(k + b), lat.hamiltonian(k), atol=1e-12)
    # the regularisation agrees with Eq. (10) to the next order in k: the difference scales as k³
    q = RNG.normal(size=(8, 3))
    q /= np.linalg.norm(q, axis=1)[:, None]
    d1 = np.abs(lat.hamiltonian(1e-2 * q) - kp.hamiltonian(1e-2 * q)).max()
    d2 = np.abs(lat.hamiltonian(2e-2 * q) - kp.hamiltonian(2e-2 * q)).max()
    assert d1 < 1e-4 and 6 < d2 / d1 < 10
    e = topological_insulator_lattice(lattice=lattice).energies(k)
    assert np.abs(e[:, 1::2] - e[:, ::2]).max() < 1e-12  # Kramers-degenerate at m = 0


def test_lattice_model_keeps_the_gap_only_for_small_c():
    """c = 3.0 Å keeps the bulk gap of Eq. (10) around E_F = 0.1 eV; the crystal's c/3 = 9.55 Å closes it to
    42 meV at Z (the valence band there sits at (C0 − M0) − 4(M1 − C1)/c² = 0.223 eV)."""
    from properspin import mesh
    from properspin.models.topological_insulator import QUINTUPLE_LAYER, topological_insulator_lattice

    lat = topological_insulator_lattice()
    assert lat.parameters["c_angstrom"] == 3.0 and lat.parameters["a_angstrom"] == 4.14
    k, _ = mesh.resolve(mesh.grid(24), lat).all_points(lat)
    e = lat.energies(k)
    assert e[:, 1].max() < -0.06 and e[:, 2].min() > 0.27  # gap ⊃ [−0.06, 0.27] eV
    wide = topological_insulator_lattice(c=QUINTUPLE_LAYER["Bi2Se3"])
    z = 0.5 * wide.reciprocal[2]
    ez = wide.energies(z[None])[0]
    p = BI2SE3
    x = 4 / QUINTUPLE_LAYER["Bi2Se3"] ** 2
    assert ez[1] == pytest.approx(p["C0"] - p["M0"] - (p["M1"] - p["C1"]) * x, abs=1e-12)
    assert ez[1] > 0.2 and ez[2] - ez[1] == pytest.approx(0.042, abs=1e-3)
    with pytest.raises(ValueError, match="lattice must be one of"):
        topological_insulator_lattice(lattice="cubic")
    with pytest.raises(ValueError, match="positive number"):
        topological_insulator_lattice(c=-1.0)


def test_lattice_block_trace_in_gap_is_small_against_the_regulated_values():
    """No magnet: the in-gap σ^y_zx of the block trace is a few % of what a regulator along x adds (and tends to 0
    with the grid, docs/physics.md); along y the regulator adds nothing."""
    import properspin as ps
    from properspin import mesh, responses
    from properspin.models.topological_insulator import topological_insulator_lattice

    lat = topological_insulator_lattice()
    res = {d: ps.conductivity(lat, responses.get("proper_spin", degenerate="regulated_limit", regulator=d),
                              fermi=[0.1], mesh=mesh.grid(24)).sel(spin="y", current="z", field="x").values[0]
           for d in ((1, 0, 0), (0, 1, 0))}
    bt, proj_x = res[(1, 0, 0)][0], res[(1, 0, 0)][1]
    assert abs(bt) < 0.1 * abs(proj_x) and proj_x > 1000
    assert abs(res[(0, 1, 0)][1]) < 1e-9 * proj_x and abs(res[(0, 1, 0)][2]) < 1e-9 * proj_x
