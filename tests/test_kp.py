"""Tests of properspin.models.kp: text k·p models, spin names, errors."""

from __future__ import annotations

import numpy as np
import pytest

from properspin import PAULI, SPIN_HALF
from properspin.models.kp import SPIN_THREE_HALVES, kp_model, parse_spin
from properspin.units import HBAR2_OVER_2M0

HB2M = HBAR2_OVER_2M0  # ħ²/2m₀ in eV·Å² (CODATA, as the built-in models)
RNG = np.random.default_rng(42)

# ---------------------------------------------------------------- Rashba 2DEG
RASHBA = (
    "[[hb2m/mass*(k_x**2 + k_y**2) + mz, alpha*(k_y + I*k_x) + mx - I*my],"
    " [alpha*(k_y - I*k_x) + mx + I*my, hb2m/mass*(k_x**2 + k_y**2) - mz]]"
)
RASHBA_P = {"hb2m": HB2M, "mass": 0.067, "alpha": 0.3, "mx": 0.001, "my": -0.002, "mz": 0.0015}


def rashba_numpy(k: np.ndarray, alpha: float, mass: float, m: tuple[float, float, float]):
    """ħ²k²/2m + α(k_y σ_x − k_x σ_y) + m·σ and its gradient, by hand."""
    kx, ky = k[:, 0, None, None], k[:, 1, None, None]
    one = np.eye(2)
    h = HB2M / mass * (kx**2 + ky**2) * one + alpha * (ky * PAULI[0] - kx * PAULI[1])
    h = h + np.einsum("l,lij->ij", m, PAULI)
    gx = 2 * HB2M / mass * kx * one - alpha * PAULI[1]
    gy = 2 * HB2M / mass * ky * one + alpha * PAULI[0]
    return h, np.stack([gx, gy])


def test_rashba_text_equals_numpy():
    model = kp_model(RASHBA, RASHBA_P)
    k = RNG.uniform(-0.3, 0.3, (50, 2))
    m = (RASHBA_P["mx"], RASHBA_P["my"], RASHBA_P["mz"])
    h, g = rashba_numpy(k, RASHBA_P["alpha"], RASHBA_P["mass"], m)
    assert model.dim == 2 and model.nbands == 2
    np.testing.assert_allclose(model.h(k), h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.dh(k), g, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.spin, SPIN_HALF)
    assert model.info["matrix"] == RASHBA and model.info["spin"] == "pauli"
    assert model.parameters == RASHBA_P and model.name == "kp"


def test_rashba_text_equals_builtin():
    models = pytest.importorskip("properspin.models")
    if not hasattr(models, "rashba"):
        pytest.skip("properspin.models.rashba not available yet")
    p = {**RASHBA_P, "mx": 0.0, "my": 0.0, "mz": 0.001}
    text_model = kp_model(RASHBA, p)
    builtin = models.rashba(alpha=p["alpha"], mass=p["mass"], zeeman=(0.0, 0.0, 0.001))
    k = RNG.uniform(-0.3, 0.3, (30, 2))
    np.testing.assert_allclose(text_model.h(k), builtin.h(k), rtol=0, atol=1e-12)
    np.testing.assert_allclose(text_model.dh(k), builtin.dh(k), rtol=0, atol=1e-10)


# ---------------------------------------------------------------- 3D TI, conventions §5.1 Eq. (10)
BI2SE3 = {"A0": 3.33, "B0": 2.26, "C0": -0.0083, "C1": 5.74, "C2": 30.4,
          "M0": -0.28, "M1": 6.86, "M2": 44.5, "A2": 0.0, "B2": 0.0}


def ti_text() -> str:
    kp2 = "(k_x**2 + k_y**2)"
    e, m = f"(C0 + C1*k_z**2 + C2*{kp2})", f"(M0 + M1*k_z**2 + M2*{kp2})"
    a, bz = f"(A0 + A2*{kp2})", "(B0 + B2*k_z**2)*k_z"
    am, ap = f"{a}*(k_x - I*k_y)", f"{a}*(k_x + I*k_y)"
    rows = [
        [f"{e} - {m} + mz", "mx - I*my", bz, am],
        ["mx + I*my", f"{e} - {m} - mz", ap, f"-{bz}"],
        [bz, am, f"{e} + {m} + mz", "mx - I*my"],
        [ap, f"-{bz}", "mx + I*my", f"{e} + {m} - mz"],
    ]
    return "[" + ",\n ".join("[" + ", ".join(r) + "]" for r in rows) + "]"


def ti_numpy(k: np.ndarray, p: dict[str, float], mag: tuple[float, float, float]):
    """Eq. (10) as operators: ε − M τz⊗1 + τx⊗[B kz σz + A(kx σx + ky σy)] + 1⊗m·σ, with gradient."""
    kx, ky, kz = (k[:, a, None, None] for a in range(3))
    tz1 = np.kron(np.diag([1.0, -1.0]), np.eye(2))
    txs = np.stack([np.kron(PAULI[0], s) for s in PAULI])
    zee = np.einsum("l,lij->ij", mag, np.stack([np.kron(np.eye(2), s) for s in PAULI]))
    kp2 = kx**2 + ky**2
    eps = p["C0"] + p["C1"] * kz**2 + p["C2"] * kp2
    mm = p["M0"] + p["M1"] * kz**2 + p["M2"] * kp2
    a, b = p["A0"] + p["A2"] * kp2, p["B0"] + p["B2"] * kz**2
    h = eps * np.eye(4) - mm * tz1 + txs[2] * b * kz + a * (kx * txs[0] + ky * txs[1]) + zee
    g = []
    for c, kc in ((0, kx), (1, ky)):
        da = 2 * p["A2"] * kc
        g.append(2 * kc * (p["C2"] * np.eye(4) - p["M2"] * tz1) + a * txs[c]
                 + da * (kx * txs[0] + ky * txs[1]))
    g.append(2 * kz * (p["C1"] * np.eye(4) - p["M1"] * tz1) + (b + 2 * p["B2"] * kz**2) * txs[2])
    return h, np.stack(g)


def test_ti_text_equals_numpy_with_cubic_terms():
    p = {**BI2SE3, "A2": 1.7, "B2": -0.9}
    mag = (0.001, -0.0005, 0.002)
    model = kp_model(ti_text(), {**p, "mx": mag[0], "my": mag[1], "mz": mag[2]},
                     spin="kron(tau0, pauli)", name="ti")
    k = RNG.uniform(-0.2, 0.2, (40, 3))
    h, g = ti_numpy(k, p, mag)
    assert model.dim == 3 and model.name == "ti"
    np.testing.assert_allclose(model.h(k), h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.dh(k), g, rtol=0, atol=1e-12)
    # conduction-band bottom at Γ ≈ 0.27 eV (conventions §5.1), split by 2|m|
    e0 = model.energies(np.zeros((1, 3)))[0]
    assert e0[2] + e0[3] == pytest.approx(2 * (BI2SE3["C0"] - BI2SE3["M0"]), abs=1e-12)


def test_ti_text_equals_builtin():
    ti = pytest.importorskip("properspin.models.topological_insulator")
    mag = (0.0, 0.001, 0.0)
    builtin = ti.topological_insulator(magnetization=mag)
    model = kp_model(ti_text(), {**BI2SE3, "mx": mag[0], "my": mag[1], "mz": mag[2]},
                     spin="kron(tau0, pauli)")
    k = RNG.uniform(-0.2, 0.2, (40, 3))
    np.testing.assert_allclose(model.h(k), builtin.h(k), rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.dh(k), builtin.dh(k), rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.spin, builtin.spin, atol=1e-15)


# ---------------------------------------------------------------- gradients and compilation
def test_gradient_matches_finite_differences_4x4():
    text = [
        ["m0 - 2*t*(cos(k_x) + cos(k_y))", "lam*(sin(k_x) - I*sin(k_y))", "0", "g*exp(-k_x^2)"],
        ["lam*(sin(k_x) + I*sin(k_y))", "-m0 + 2*t*(cos(k_x) + cos(k_y))", "g*exp(-k_x^2)", "0"],
        ["0", "g*exp(-k_x^2)", "m0 - 2*t*cos(k_x)*cos(k_y)", "lam*sqrt(1 + k_y**2)*(kx - I*ky)"],
        ["g*exp(-k_x^2)", "0", "lam*sqrt(1 + k_y**2)*(kx + I*ky)", "-m0"],
    ]
    model = kp_model(text, {"m0": 0.3, "t": 1.1, "lam": 0.7, "g": 0.25}, spin=None)
    k = RNG.uniform(-1, 1, (20, 2))
    fd = model._finite_difference(k)  # 4th-order central differences, step 1e-4
    np.testing.assert_allclose(model.dh(k), fd, rtol=0, atol=1e-9)
    assert np.max(np.abs(model.dh(k))) > 0.5  # non-trivial
    assert model.spin is None and model.info["spin"] is None


def test_constant_entries_broadcast_and_dim():
    model = kp_model("[[1, 0], [0, -1]]")
    k = np.zeros((7, 2))
    assert model.dim == 2
    assert model.h(k).shape == (7, 2, 2) and np.all(model.h(k)[:, 0, 0] == 1)
    assert model.dh(k).shape == (2, 7, 2, 2) and not np.any(model.dh(k))
    assert kp_model("[[kz, 0], [0, -kz]]").dim == 3
    assert kp_model("[[k_x, 0], [0, -k_x]]", dim=3).dim == 3
    with pytest.raises(ValueError, match="dim"):
        kp_model("[[k_z, 0], [0, 0]]", dim=2)


def test_aliases_and_xor():
    a = kp_model("[[kx^2 + ky, 0], [0, 0]]", spin=None)
    b = kp_model([["k_x**2 + k_y", 0], [0, 0]], spin=None)
    k = RNG.uniform(-1, 1, (5, 2))
    np.testing.assert_array_equal(a.h(k), b.h(k))
    assert a.h(k)[2, 0, 0] == pytest.approx(k[2, 0] ** 2 + k[2, 1])


# ---------------------------------------------------------------- spin operators
def test_spin_three_halves():
    j = parse_spin("spin3/2", 4)
    np.testing.assert_array_equal(j, SPIN_THREE_HALVES)
    np.testing.assert_allclose(np.diag(j[2]).real, [1.5, -1.5, 0.5, -0.5])
    for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        np.testing.assert_allclose(j[a] @ j[b] - j[b] @ j[a], 1j * j[c], atol=1e-14)
    np.testing.assert_allclose(np.einsum("aij,ajk->ik", j, j), 15 / 4 * np.eye(4), atol=1e-14)


def test_spin_kron_names():
    np.testing.assert_array_equal(parse_spin("kron(tau0, pauli)", 4),
                                  np.stack([np.kron(np.eye(2), s) for s in PAULI / 2]))
    np.testing.assert_array_equal(parse_spin("kron(pauli, tauz)", 4),
                                  np.stack([np.kron(s, PAULI[2]) for s in PAULI / 2]))
    np.testing.assert_array_equal(parse_spin("kron(eye(3), pauli)", 6)[1],
                                  np.kron(np.eye(3), PAULI[1] / 2))
    np.testing.assert_array_equal(parse_spin("Pauli", 2), SPIN_HALF)
    np.testing.assert_array_equal(parse_spin("kron(tauz, spin3/2)", 8)[2],
                                  np.kron(PAULI[2], SPIN_THREE_HALVES[2]))
    assert parse_spin(None, 3) is None
    explicit = np.stack([np.kron(np.eye(2), s) for s in SPIN_HALF])
    np.testing.assert_array_equal(parse_spin(explicit, 4), explicit)


@pytest.mark.parametrize("spec, n, message", [
    ("pauli", 4, r"shape \(3, 2, 2\).*\(3, 4, 4\)"),
    (np.zeros((3, 2, 2)), 4, "explicit"),
    ("kron(tau0, tauz)", 4, "no spin vector"),
    ("kron(pauli, pauli)", 4, "only one spin vector"),
    ("spin5/2", 6, "cannot read spin"),
])
def test_spin_errors(spec, n, message):
    with pytest.raises(ValueError, match=message):
        parse_spin(spec, n)


def test_wrong_spin_shape_in_model():
    with pytest.raises(ValueError, match=r"\(3, 4, 4\)"):
        kp_model(ti_text(), {**BI2SE3, "mx": 0, "my": 0, "mz": 0}, spin="pauli")


# ---------------------------------------------------------------- errors
def test_missing_and_unknown_parameters():
    p = dict(RASHBA_P)
    del p["alpha"], p["my"]
    with pytest.raises(ValueError, match="missing parameter.*alpha, my"):
        kp_model(RASHBA, p)
    with pytest.raises(ValueError, match="unknown parameter.*beta"):
        kp_model(RASHBA, {**RASHBA_P, "beta": 1.0})


@pytest.mark.parametrize("text, message", [
    ("[[1, k_x +], [0, 1]]", r"entry \(0, 1\) 'k_x \+'"),
    ("[[1, 2k_x], [0, 1]]", r"entry \(0, 1\)"),
    ("[[1, 0], [0, __import__('os')]]", r"entry \(1, 1\).*not allowed"),
    ("[[1, 0], [0, k_x.conjugate()]]", r"entry \(1, 1\).*not allowed"),
    ("[[1, 0], [0, foo(k_x)]]", r"entry \(1, 1\).*not allowed"),
    ("[[1, 0], [0, 1]", "unbalanced"),
    ("[[1, 0], 2]", "row 1"),
    ("1 + k_x", r"\[\[a, b\]"),
    ("[[1, 0], [0]]", "ragged.*row 1 has 1"),
    ("[[1, 0, 0], [0, 1, 0]]", "not square"),
    ("[[1, ], [0, 1]]", "ragged"),
])
def test_malformed_matrix(text, message):
    with pytest.raises(ValueError, match=message):
        kp_model(text, spin=None)


def test_non_hermitian_names_entry():
    text = "[[k_x, a*(k_x - I*k_y)], [a*(k_x - I*k_y), -k_x]]"
    with pytest.raises(ValueError, match=r"not Hermitian: entry \((0, 1|1, 0)\) .a\*\(k_x - I\*k_y\)."):
        kp_model(text, {"a": 0.5})
    with pytest.raises(ValueError, match=r"entry \(1, 1\) .1 \+ I\*k_y."):
        kp_model("[[1, 0], [0, 1 + I*k_y]]")
