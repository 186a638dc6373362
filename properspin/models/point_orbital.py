"""Point-orbital (tight-binding) approximation of a Wannier model, for the finite-q and Zeeman definition routes.

The finite-q routes of Shi's conserved current (:mod:`properspin.conserved`, :mod:`properspin.conserved_metal`)
and the orbital magnetisation (:mod:`properspin.orbital`) use ``e^{iq·r} = 1`` on each orbital: they hold for a
position operator that is diagonal in the orbitals, r = τ_n, and a spin density that is local (Shi et al., PRL 96,
076604: the torque dipole P_τ = Σ r τ needs r and s in one local basis).  A Wannier model has neither: its
position matrix <0n|r|Rm> has off-diagonal elements and its projected spin S(R) reaches neighbouring cells.

:func:`point_orbital_approximation` keeps H(R) and replaces

* the position matrix by the Wannier centres τ_n = <0n|r|0n> (diagonal, k-independent); centres closer than
  ``centre_tol`` (Å) are merged into one site at their mean (spinor partners: Fe's ↑/↓ centres differ by 0.03 Å);
* the spin by its on-site part: S(R = 0) between orbitals of one site; S(R ≠ 0) and S between sites are dropped.

``centre_tol`` is a choice with consequences: the spin kept on a site is time-reversal odd only if every Wannier
function's Kramers partner is on its site.  Pt's sp³d² hybrids at 0.3 Å: 7 sites, 19 % of the spin (Frobenius)
dropped, and the Drude weight Σ δ(ε − μ) s v v of the time-reversal-symmetric metal grows from 313 (full model) to
2.4e4 (ħ/2e) S/m (8³, k_BT = 0.1 eV); with one site at the atom (``centre_tol=2``) 3.4 % is dropped (S(R ≠ 0) only)
and it is 310 (docs/physics.md, metals).

What is dropped is recorded in ``model.info["point_orbital_approximation"]`` (and so in every result's attrs):
the largest dropped element and the Frobenius fraction ‖dropped‖/‖all‖ of the position matrix and the spin, and
the largest shift of a centre by the merging.  Eq. (2) on the full and the approximated model measures its effect.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..conventions import CYCLIC_PAIRS
from ..model import EvaluatorView, Model

Array = np.ndarray

#: Default distance (Å) below which two Wannier centres are one site.
CENTRE_TOL = 0.3


def _blocks(view: Any, what: str, model: Model) -> tuple[Array, Array]:
    """R vectors (nR, dim) Å and the blocks (nR, *prefix, n, n) of a Wannier-sum view of ``model``."""
    sums = getattr(getattr(view, "evaluator", None), "sums", None)
    if not isinstance(view, EvaluatorView) or sums is None or view.name not in sums:
        raise ValueError(f"model '{model.name}': its {what} is not a Wannier sum Σ_R e^(ik·R) X_R; the point-orbital "
                         "approximation needs a Wannier90 model (models.wannier90, models.wannier90_run)")
    s = sums[view.name]
    c, nr, n2 = s.flat.shape
    n = int(round(np.sqrt(n2)))
    out = s.flat.reshape(c, nr, n, n).transpose(1, 0, 2, 3).reshape((nr,) + s.prefix + (n, n))
    return view.evaluator.rcart, out


def _origin(rcart: Array, model: Model) -> int:
    zero = np.flatnonzero(np.all(np.abs(rcart) < 1e-9, axis=1))
    if len(zero) != 1:
        raise ValueError(f"model '{model.name}': the Wannier sums have no single R = 0 block")
    return int(zero[0])


def _sites(centres: Array, tol: float) -> tuple[Array, Array]:
    """Site index per orbital (single linkage within ``tol``) and the centres moved to their site's mean."""
    n = len(centres)
    label = np.arange(n)
    close = np.linalg.norm(centres[:, None] - centres[None], axis=-1) <= tol
    for _ in range(n):  # propagate the smallest label through chains of close centres
        new = np.min(np.where(close, label[None, :], n), axis=1)
        if np.array_equal(new, label):
            break
        label = new
    snapped = np.stack([centres[label == lab].mean(axis=0) for lab in label])
    return label, snapped


def _fraction(dropped: Array, total: Array) -> float:
    norm = float(np.linalg.norm(total))
    return float(np.linalg.norm(dropped)) / norm if norm > 0 else 0.0


def _position(model: Model, tol: float) -> tuple[Array, Array, dict[str, float]]:
    """Centres τ (n, dim) Å, site labels, and the sizes of the dropped position matrix."""
    n, d = model.nbands, model.dim
    if model.position is None:
        return np.zeros((n, d)), np.zeros(n, dtype=int), {"position_offdiag_max_angstrom": 0.0,
                                                         "position_dropped_frobenius_fraction": 0.0,
                                                         "centre_shift_max_angstrom": 0.0}
    rcart, pos = _blocks(model.position, "position matrix", model)  # (nR, dim, n, n)
    o = _origin(rcart, model)
    centres = np.einsum("aii->ia", pos[o]).real
    label, snapped = _sites(centres, tol)
    kept = np.zeros_like(pos)
    kept[o] = np.einsum("ia,ij->aij", snapped, np.eye(n))
    dropped = pos - kept
    dropped[o] -= np.einsum("ia,ij->aij", centres - snapped, np.eye(n))  # the merge shift is reported on its own
    return snapped, label, {"position_offdiag_max_angstrom": float(np.max(np.abs(dropped), initial=0.0)),
                            "position_dropped_frobenius_fraction": _fraction(dropped, pos),
                            "centre_shift_max_angstrom": float(np.max(np.abs(centres - snapped), initial=0.0))}


def _spin(model: Model, label: Array) -> tuple[Array | None, dict[str, float]]:
    """The on-site spin (3, n, n) ħ and the sizes of what was dropped."""
    same = label[:, None] == label[None, :]
    if model.spin is not None:
        s = model.spin
        return np.where(same, s, 0), {"spin_offsite_max": float(np.max(np.abs(np.where(same, 0, s)))),
                                      "spin_dropped_frobenius_fraction": _fraction(np.where(same, 0, s), s)}
    if model.spin_k is None:
        return None, {}
    rcart, s_r = _blocks(model.spin_k, "spin operator", model)  # (nR, 3, n, n)
    o = _origin(rcart, model)
    kept = np.zeros_like(s_r)
    kept[o] = np.where(same, s_r[o], 0)
    local = 0.5 * (kept[o] + kept[o].conj().swapaxes(-1, -2))
    far = np.delete(s_r, o, axis=0)
    return local, {"spin_R_nonzero_max": float(np.max(np.abs(far), initial=0.0)),
                   "spin_offsite_max": float(np.max(np.abs(np.where(same, 0, s_r[o])))),
                   "spin_dropped_frobenius_fraction": _fraction(s_r - kept, s_r)}


def _wannier_sums(model: Model, tau: Array) -> Any:
    """Sums of H, ∂H and the constant diagonal position (its gradient and curl zero) on the model's R vectors."""
    from .wannier.fourier import WannierSums

    rcart, h = _blocks(model.hamiltonian, "Hamiltonian", model)
    _, dh = _blocks(model.gradient, "Hamiltonian gradient", model)
    n, d = model.nbands, model.dim
    pos = np.zeros((len(rcart), d, n, n), dtype=complex)
    pos[_origin(rcart, model)] = np.einsum("ia,ij->aij", tau, np.eye(n))
    blocks = {"h": h, "dh": dh, "pos": pos, "dpos": np.zeros((len(rcart), d, d, n, n), dtype=complex)}
    if d in CYCLIC_PAIRS:
        blocks["curl"] = np.zeros((len(rcart), len(CYCLIC_PAIRS[d]), n, n), dtype=complex)
    lattice = 2 * np.pi * np.linalg.inv(model.reciprocal).T
    return WannierSums(rcart, blocks, lattice=lattice)


def point_orbital_approximation(model: Model, centre_tol: float = CENTRE_TOL) -> Model:
    """The tight-binding (point-orbital) approximation of a Wannier model: same H(R), position → Wannier centres,
    spin → its on-site part (module docstring).  A model that already has point orbitals and a local spin is
    returned unchanged in H, position and spin.  The Qiao spin current (``spin_current``) is dropped with the
    non-local spin.  ``centre_tol`` (Å): centres closer than this are one site (recorded).
    """
    from .wannier.fourier import _PositionGradient

    tol = float(centre_tol)
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"centre_tol must be a distance ≥ 0 in Å, got {centre_tol!r}")
    if not model.periodic:
        raise ValueError(f"model '{model.name}' is a continuum k·p model: it has no orbitals to place")
    tau, label, sizes = _position(model, tol)
    spin, spin_sizes = _spin(model, label)
    sums = _wannier_sums(model, tau)
    record = {"centre_tol_angstrom": tol, "sites": int(len(set(label.tolist()))), **sizes, **spin_sizes,
              "kept": "H(R); position → diagonal Wannier centres; spin → S(R=0) between orbitals of one site"}
    return replace(model, hamiltonian=sums.function("h"), gradient=sums.function("dh"),
                   position=sums.function("pos"), position_gradient=_PositionGradient(sums, "dpos"),
                   spin=spin, spin_k=None, spin_current=None, name=f"{model.name}[point orbitals]",
                   parameters={**model.parameters, "point_orbital_centre_tol_angstrom": tol},
                   info={**model.info, "point_orbital_approximation": record})
