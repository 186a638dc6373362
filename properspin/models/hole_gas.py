"""2D hole gas: Luttinger Hamiltonian in an asymmetric quantum well, Eqs. (11)–(12) of Liu, Cullen &
Culcer (2023); conventions §5.2.

Hole picture (hole kinetic energies positive), basis of J_z eigenstates {+3/2, −3/2, +1/2, −1/2}:

    H_L = [[P+Q, 0, L, M], [0, P+Q, M*, −L*], [L*, M, P−Q, 0], [M*, −L, 0, P−Q]]     (Eq. 11)

    P = s γ1 (k² + k_z²),   Q = −s γ2 (2k_z² − k²),   s = ħ²/2m0 = 3.80998 eV Å²,
    L = −√3 (ħ²/m0) γ3 k₋ k_z          (corrected: the paper prints ħ²/2m0, a factor 2 too small),
    M = −(√3/2)(ħ²/m0)(γ̄ k₋² + δ k₊²), γ̄ = (γ2+γ3)/2, δ = (γ2−γ3)/2.

With this L, Eq. (11) equals the invariant Luttinger form
``s[(γ1 + 5γ2/2)k² − 2γ2 Σ k_i² J_i² − 4γ3 Σ_{i<j} {k_i,k_j}{J_i,J_j}]`` with {A,B} = (AB+BA)/2 and the
Condon–Shortley J matrices of :func:`spin32_matrices`, entry by entry.

Potential (sign convention).  A hole carries charge +e, so in a gate field F_z ẑ (electrostatic
potential φ = −F_z z) its potential energy is +eφ = −e F_z z: this is the paper's V(z) = −e F_z z, added
to the (positive) hole kinetic energy.  For F_z > 0 the holes are pushed towards +z and β_v < 0.
Energies are hole energies measured from V = 0 at the well centre (z = 0); hard walls at z = ±d/2.

Projection on one heavy-hole and one light-hole Bastard function (Eq. 12, normalisation corrected,
conventions §5.2) φ_v = N_v sin[π(z + d/2)/d] exp[−β_v(z/d + ½)] gives the 4×4 H̃(k_x, k_y): the diagonal
blocks are <v|P ± Q + V|v>, k_z in L becomes <h|k_z|l> (Hermitian partner <l|k_z|h>) and M is
multiplied by <h|l>.  Exchange: H_m = (2/3) m_z J_z (conventions decision, "projected") or m_z J_z ("J").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..model import Model
from .hole_subbands import subband_well
from .luttinger import (  # noqa: F401 - re-exported: hole_gas is the documented home of these names
    _J,
    DEFAULT_BARRIER,
    DEFAULT_NBASIS,
    DEFAULT_NSUB,
    HBAR2_2M0,
    LUTTINGER,
    LUTTINGER_PAPER,
    MAGNETIZATION_FORMS,
    METHODS,
    SPIN_OPTIONS,
    Array,
    _finite,
    _gammas,
    _luttinger,
    bastard_matrix_elements,
    check_confinement,
    fermi_limit,
    luttinger_bulk,
    optimal_beta,
    spin32_matrices,
)


def hole_quantum_well(
    material: str = "GaAs",
    width: float = 25e-9,
    field: float = 1e6,
    magnetization: float = 1e-3,
    *,
    spin: str = "hbar_J",
    magnetization_form: str = "projected",
    luttinger: Any = None,
    method: str = "bastard",
    nsub: int | None = None,
    nbasis: int | None = None,
    barrier: float = DEFAULT_BARRIER,
    energy_max: float | None = None,
) -> Model:
    """Projected 4×4 hole-gas model H̃(k_x, k_y) of Eqs. (11)–(12) (conventions §5.2), dim = 2, continuum.

    Parameters
    ----------
    material
        Key of :data:`LUTTINGER` (case-insensitive); any label if ``luttinger`` is a tuple.
    width
        Well width d in m (0 < d ≤ 1e-6).
    field
        Gate field F_z in V/m; hole potential energy V(z) = −e F_z z.
    magnetization
        m_z in eV.
    spin
        ``"hbar_J"``: s/ħ = J (conventions decision); ``"hbar_J_over_3"``: s/ħ = J/3.
    magnetization_form
        ``"projected"``: H_m = (2/3) m_z J_z (HH split by 2 m_z); ``"J"``: m_z J_z; ``"none"`` (m_z = 0 only).
    luttinger
        ``None`` (table :data:`LUTTINGER`), ``"paper"`` (:data:`LUTTINGER_PAPER`) or (γ1, γ2, γ3).
    method
        ``"bastard"``: the paper's 4×4 model (one HH and one LH Bastard function, Eq. 12).
        ``"subbands"``: Eq. (11) + V(z) solved in a basis of ``nbasis`` hard-wall sine functions, projected on
        the lowest ``nsub`` HH and ``nsub`` LH Kramers pairs of k∥ = 0 subbands (a 4·nsub-band model;
        :mod:`.hole_subbands`).
        ``"full"``: the whole sine basis as the model (4·nbasis bands; the reference the projection converges to).
    nsub, nbasis
        HH (and LH) subbands kept (``"subbands"``, default :data:`DEFAULT_NSUB`) and sine functions per
        component (default :data:`DEFAULT_NBASIS`); only for those methods.
    barrier, energy_max
        Confinement check (eV): the hard walls stand for barriers of height ``barrier`` (band offset), so a
        hole at energy E is bound only if E < barrier − e|F_z|d/2 (the barrier top on the low-potential side,
        energies from the well centre).  E is ``energy_max`` (the highest energy the model is meant for, e.g.
        the largest E_F) or, if ``None``, the lowest subband edge.  ``"subbands"`` also requires its highest
        kept subband edge to lie above ``energy_max``.

    The model's k is in Å⁻¹ and energies in eV (hole energies from V = 0 at the well centre).
    """
    width, field, mz = _check_well(width, field, magnetization, spin, magnetization_form)
    name, gammas, gsource = _gammas(material, luttinger)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    barrier = _finite("barrier", barrier) if barrier != math.inf else math.inf
    if barrier <= 0:
        raise ValueError(f"barrier must be > 0 eV (math.inf for ideal hard walls), got {barrier!r}")
    if energy_max is not None:
        energy_max = _finite("energy_max", energy_max)
    if method != "bastard":
        return subband_well(name, gammas, gsource, width, field, mz, spin=spin, magnetization_form=magnetization_form,
                            method=method, nsub=nsub, nbasis=nbasis, barrier=barrier, energy_max=energy_max)
    if nsub is not None or nbasis is not None:
        raise ValueError("nsub and nbasis belong to method='subbands' or 'full', not to the paper's 'bastard' model")

    return _bastard_model(name, gammas, gsource, width, field, mz, spin, magnetization_form, barrier, energy_max)


def _bastard_model(name: str, gammas: tuple[float, float, float], gsource: str, width: float, field: float,
                   mz: float, spin: str, magnetization_form: str, barrier: float, energy_max: float | None) -> Model:
    """The paper's 4×4 model (Eqs. 11–12): H̃ projected on one HH and one LH Bastard function (validated SI
    inputs, see :func:`hole_quantum_well`)."""
    g1, g2, g3 = gammas
    d = width * 1e10         # Å
    f = field * 1e-10        # V/Å: e F_z in eV/Å
    beta_h = optimal_beta(g1 - 2 * g2, d, f)
    beta_l = optimal_beta(g1 + 2 * g2, d, f)
    hl = bastard_matrix_elements(beta_h, beta_l, d)
    hh = bastard_matrix_elements(beta_h, beta_h, d)
    ll = bastard_matrix_elements(beta_l, beta_l, d)
    v_h, v_l = -f * hh["z"], -f * ll["z"]
    coef = {"projected": 2 / 3, "J": 1.0, "none": 0.0}[magnetization_form]
    h_const = coef * mz * _J[2] + np.diag([v_h, v_h, v_l, v_l]).astype(complex)
    kz_hl, overlap = hl["kz"], hl["overlap"]

    def hamiltonian(k: Array) -> Array:
        k = np.asarray(k, dtype=float)
        return _luttinger(k[:, 0], k[:, 1], gammas, hh["kz2"], ll["kz2"], kz_hl, overlap) + h_const

    edges = np.real(np.diag(hamiltonian(np.zeros((1, 2)))[0]))
    lowest = min(HBAR2_2M0 * (g1 - 2 * g2) * hh["kz2"] + v_h, HBAR2_2M0 * (g1 + 2 * g2) * ll["kz2"] + v_l)
    spin_ops = _J.copy() if spin == "hbar_J" else _J / 3
    parameters: dict[str, Any] = {
        "material": name, "gamma1": g1, "gamma2": g2, "gamma3": g3, "luttinger_source": gsource,
        "width_m": width, "field_V_per_m": field, "magnetization_eV": mz,
        "spin": spin, "magnetization_form": magnetization_form,
    }
    info = _bastard_info(spin, magnetization_form, gsource, (beta_h, beta_l), hl, hh, ll, (v_h, v_l), edges,
                         check_confinement(lowest, energy_max, barrier, d, f))
    return Model(
        hamiltonian=hamiltonian,
        gradient=_bastard_gradient(gammas, kz_hl, overlap),
        spin=spin_ops,
        dim=2,
        reciprocal=None,
        name=f"hole_quantum_well({name})",
        parameters=parameters,
        info=info,
    )


def _check_well(width: Any, field: Any, magnetization: Any, spin: str, magnetization_form: str
                ) -> tuple[float, float, float]:
    """Validated well width (m), gate field (V/m) and m_z (eV) of :func:`hole_quantum_well`."""
    width = _finite("width", width)
    if not 0 < width <= 1e-6:
        raise ValueError(f"width must be in (0, 1e-6] m, got {width!r} m")
    field = _finite("field", field)
    mz = _finite("magnetization", magnetization)
    if spin not in SPIN_OPTIONS:
        raise ValueError(f"unknown spin option {spin!r}; choose one of {SPIN_OPTIONS}")
    if magnetization_form not in MAGNETIZATION_FORMS:
        raise ValueError(
            f"unknown magnetization_form {magnetization_form!r}; choose one of {MAGNETIZATION_FORMS}"
        )
    if magnetization_form == "none" and mz != 0:
        raise ValueError("magnetization_form='none' requires magnetization == 0")
    return width, field, mz


def _bastard_gradient(gammas: tuple[float, float, float], kz_hl: float, overlap: float) -> Callable[[Array], Array]:
    """∂H̃/∂k_a of the projected 4×4 model (Eqs. 11–12): analytic in k_x, k_y."""
    g1, g2, g3 = gammas

    def gradient(k: Array) -> Array:
        k = np.asarray(k, dtype=float)
        kx, ky = k[:, 0], k[:, 1]
        s, sq3 = HBAR2_2M0, math.sqrt(3)
        gbar, delta = (g2 + g3) / 2, (g2 - g3) / 2
        km, kp = kx - 1j * ky, kx + 1j * ky
        out = np.zeros((2, k.shape[0], 4, 4), dtype=complex)
        for a, (ka, dkm, dkp) in enumerate(((kx, 1.0, 1.0), (ky, -1j, 1j))):
            g = out[a]
            g[:, 0, 0] = g[:, 1, 1] = 2 * s * (g1 + g2) * ka
            g[:, 2, 2] = g[:, 3, 3] = 2 * s * (g1 - g2) * ka
            c_l = -sq3 * 2 * s * g3 * kz_hl
            g[:, 0, 2] = c_l * dkm
            g[:, 1, 3] = -c_l * dkp
            g[:, 0, 3] = -sq3 * s * 2 * (gbar * km * dkm + delta * kp * dkp) * overlap
            g[:, 1, 2] = -sq3 * s * 2 * (gbar * kp * dkp + delta * km * dkm) * overlap
            for i, j in ((0, 2), (1, 3), (0, 3), (1, 2)):
                g[:, j, i] = np.conj(g[:, i, j])
        return out

    return gradient


def _bastard_info(spin: str, magnetization_form: str, gsource: str, betas: tuple[float, float], hl: dict,
                  hh: dict, ll: dict, potentials: tuple[float, float], edges: Array, confinement: dict) -> dict:
    """The ``info`` of the paper's 4×4 model: conventions, Bastard parameters, edges and the confinement check."""
    return {
        "equation": "Liu, Cullen & Culcer (2023) Eqs. (11)-(12), conventions §5.2, L corrected (factor 2)",
        "basis": "{+3/2, -3/2, +1/2, -1/2} projected on Bastard HH / LH functions",
        "spin_convention": "s = hbar J" if spin == "hbar_J" else "s = (hbar/3) J",
        "magnetization_term": {"projected": "(2/3) m_z J_z", "J": "m_z J_z", "none": "none"}[
            magnetization_form],
        "energy_reference": "E measured from V=0 at the well centre (hole picture, V(z) = -e F_z z)",
        "beta": {"HH": betas[0], "LH": betas[1]},
        "overlap_hl": hl["overlap"],
        "kz_hl_per_A": hl["kz"],
        "kz2_per_A2": {"HH": hh["kz2"], "LH": ll["kz2"]},
        "z_expectation_A": {"HH": hh["z"], "LH": ll["z"]},
        "potential_eV": {"HH": potentials[0], "LH": potentials[1]},
        "subband_edges_eV": dict(zip(("HH(+3/2)", "HH(-3/2)", "LH(+1/2)", "LH(-1/2)"),
                                     (float(e) for e in edges), strict=True)),
        "units": {"k": "1/Å", "energy": "eV", "width_m": "m", "field_V_per_m": "V/m",
                  "magnetization_eV": "eV"},
        "source": f"Luttinger parameters: {gsource}",
        "method": "bastard (the paper's two functions, Eq. 12)",
        "confinement": confinement,
        "fermi_limit": fermi_limit(confinement),
    }
