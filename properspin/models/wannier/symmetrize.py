"""Symmetrised Wannier models: real-space operators averaged over the crystal's magnetic space group.

A Wannier basis obtained from a DFT run respects the crystal's symmetry only approximately (Pt: Kramers pairs split
by up to ≈ 40 meV between the ab-initio k-points).  If the Wannier functions transform like the projections of the
``.win`` (:mod:`.orbitals`), an operation g = {S|t} (possibly with time reversal T) maps the function m of atom a
to Σ_m' D_m'm(g) |m', T_a⟩ on atom g(a), with S τ_a + t = τ_g(a) + T_a.  A symmetric operator X then satisfies

    X(S R + T_b − T_a)[g(a), g(b)] = D_g(a)a  L(g) X(R)[a, b]  D_g(b)b†        (unitary g)
    X(S R + T_b − T_a)[g(a), g(b)] = p_X D_g(a)a (L(g) X(R)[a, b])* D_g(b)b†   (g with T),

with X(R)[m, n] = ⟨m0|X|nR⟩ (degeneracies divided out), L(g) the law of X's Cartesian indices (1 for H, S for the
polar position, det(S) S for the axial spin, their product for σ r) and p_X its time-reversal parity (H, r: +1;
σ, σH, σr, σHr: −1).  The symmetrised operator is the average of the right-hand side over the group: a projector,
so symmetrising twice changes nothing, and R vectors the orbit of the model's R generates are added.  Operators
containing r (A, and Qiao et al.'s SR, SHR) are not translation invariant: they are averaged with r measured from the
atom of the row orbital (A − τ_a, SR − S ⊗ τ_a, SHR − SH ⊗ τ_a), which is.  What the average removes (the model's
own asymmetry) is reported per operator in ``model.info["symmetrization"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...magnetic_group import _species_numbers, group_label, structure_from_win
from .conditioning import _qiao_conditioning
from .hamiltonian import WannierHamiltonian, fold_ws_shifts
from .native import read_win
from .orbitals import Projection, operation_matrix, parse_projections, wannier_order

Array = np.ndarray

#: index law and time-reversal parity of each real-space operator (see the module docstring)
OPERATORS: dict[str, tuple[tuple[str, ...], int]] = {
    "H": ((), +1), "A": (("polar",), +1), "S": (("axial",), -1), "SH": (("axial",), -1),
    "SR": (("axial", "polar"), -1), "SHR": (("axial", "polar"), -1),
}
#: relative magnitude |Σ_s Tr H(0) S_s(0)| / (Σ|H(0)_mm|) above which a run counts as magnetic
MAGNETIC_TRACE_TOL = 1e-4


@dataclass(frozen=True)
class SpaceOperation:
    """{S|t} (fractional rotation and translation), its Cartesian S, time reversal, and where it sends the atoms:
    atom a → ``atoms[a]`` in the cell ``shifts[a]``."""

    rotation: Array
    translation: Array
    cartesian: Array
    time_reversal: bool
    atoms: Array
    shifts: Array


def space_group(lattice: Array, positions: Array, species: list[str], moments: Array,
                symprec: float = 1e-5) -> tuple[list[SpaceOperation], str]:
    """The magnetic space group of the structure (spglib), with each operation's action on the atoms."""
    import warnings

    import spglib

    cell = (lattice, positions, _species_numbers(species), moments)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spglib's notice about its error handling
        sym = spglib.get_magnetic_symmetry(cell, symprec=symprec, is_axial=True)
    if sym is None:
        raise ValueError("spglib found no symmetry for this structure (check lattice, atoms and symprec)")
    lat_t = lattice.T
    ops = []
    for rot, t, tr in zip(sym["rotations"], sym["translations"], sym["time_reversals"], strict=True):
        image = positions @ rot.T + t
        diff = image[:, None, :] - positions[None, :, :]
        match = np.abs(diff - np.round(diff)).max(axis=-1) < max(10 * symprec, 1e-6)
        atoms = np.argmax(match, axis=1)
        if not np.all(match.any(axis=1)):
            raise ValueError("a spglib operation does not map the atoms onto atoms: increase symprec")
        shifts = np.round(diff[np.arange(len(positions)), atoms]).astype(int)
        cart = lat_t @ rot @ np.linalg.inv(lat_t)
        cart[np.abs(cart) < 1e-12] = 0.0
        ops.append(SpaceOperation(np.asarray(rot, int), np.asarray(t, float), cart, bool(tr), atoms, shifts))
    return ops, group_label([(o.rotation, o.time_reversal) for o in ops])


def representation(op: SpaceOperation, projections: list[Projection], spinors: bool) -> dict[int, Array]:
    """{atom a: D_g(a)a} of ``op`` on the Wannier functions; ValueError if the projections of g(a) do not span the
    image of those of a (the projections cannot be represented: e.g. px alone under a fourfold axis)."""
    mat = operation_matrix(op.cartesian, op.time_reversal, spinors)
    by_atom = {p.atom: p for p in projections}
    out = {}
    for p in projections:
        q = by_atom.get(int(op.atoms[p.atom]))
        image = mat @ p.coefficients
        if q is None or q.coefficients.shape != p.coefficients.shape:
            raise ValueError(f"projections of atom {p.atom + 1} and its image {int(op.atoms[p.atom]) + 1} differ: "
                             "equivalent atoms need the same projections")
        d = q.coefficients.T @ image
        err = np.abs(q.coefficients @ d - image).max()
        if err > 1e-8:
            raise ValueError(f"the projections of atom {p.atom + 1} ({', '.join(p.labels[:4])}, …) are not closed "
                             f"under the crystal's operations (residual {err:.2g}): give complete shells (all of p, "
                             "all of d, …) or local axes that follow the symmetry")
        out[p.atom] = d
    return out


def _block_law(names: list[str], cart: Array) -> Array:
    """Block-diagonal law of the stacked components of the operators ``names``."""
    import scipy.linalg

    return scipy.linalg.block_diag(*[_law(OPERATORS[k][0], cart) for k in names])


def _law(kinds: tuple[str, ...], cart: Array) -> Array:
    mat = np.ones((1, 1))
    for kind in kinds:
        mat = np.kron(mat, cart if kind == "polar" else np.linalg.det(cart) * cart)
    return mat


@dataclass(frozen=True)
class Basis:
    """The Wannier functions: Cartesian atom positions (Å), atom of each function, projections, spinors."""

    lattice: Array
    positions: Array  # fractional (natom, 3)
    species: list[str]
    projections: list[Projection]
    spinors: bool

    @property
    def slots(self) -> dict[int, Array]:
        """{atom: global indices of its Wannier functions, in the order of its projection columns}."""
        out: dict[int, list[int]] = {}
        for j, (atom, col) in enumerate(wannier_order(self.projections)):
            out.setdefault(atom, []).append((col, j))
        return {a: np.array([j for _, j in sorted(v)]) for a, v in out.items()}

    def row_centres(self, n: int) -> Array:
        """(n, 3) Cartesian position τ_a (Å) of the atom of each Wannier function."""
        out = np.zeros((n, 3))
        for atom, idx in self.slots.items():
            out[idx] = self.positions[atom] @ self.lattice
        return out


def _centre(blocks: dict[str, Array], rvec: Array, tau: Array, sign: float) -> dict[str, Array]:
    """r measured from the row orbital's atom (sign −1) or back (+1): A ∓ τ δ_mn δ_R0, SR ∓ S ⊗ τ, SHR ∓ SH ⊗ τ."""
    out = dict(blocks)
    n = tau.shape[0]
    if "A" in blocks:
        a = blocks["A"].copy()
        origin = np.flatnonzero(np.all(rvec == 0, axis=1))
        if len(origin):
            a[origin[0], :, np.arange(n), np.arange(n)] += sign * tau
        out["A"] = a
    for prod, base in (("SR", "S"), ("SHR", "SH")):
        if prod in blocks:
            shift = np.einsum("rsmn,ma->rsamn", blocks[base], tau).reshape(blocks[prod].shape)
            out[prod] = blocks[prod] + sign * shift
    return out


def _images(ops: list[SpaceOperation], slots: dict[int, Array], rvec: Array) -> tuple[Array, dict]:
    """All R' = S R + T_b − T_a of every operation and atom pair; the union (with the model's R) and an index."""
    found = [rvec]
    for op in ops:
        for a in slots:
            for b in slots:
                found.append(rvec @ op.rotation.T + op.shifts[b] - op.shifts[a])
    allr = np.unique(np.concatenate(found), axis=0)
    return allr, {tuple(r): i for i, r in enumerate(allr.tolist())}


def _rotate(blocks: dict[str, Array], v: Array | None, inverse: bool = False) -> dict[str, Array]:
    if v is None:
        return blocks
    left, right = (v.conj().T, v) if inverse else (v, v.conj().T)
    return {k: left @ x @ right for k, x in blocks.items()}


def average(blocks: dict[str, Array], rvec: Array, basis: Basis, ops: list[SpaceOperation],
            gauge: Array | None = None) -> tuple[Array, dict[str, Array]]:
    """Group average of the real-space operators ``blocks`` {name: (nR, c, n, n)} (degeneracies divided out, names
    of :data:`OPERATORS`, c = 1, 3 or 9) on the R vectors ``rvec``: (new R vectors, averaged blocks).  ``gauge``:
    the on-site unitary V (Wannier functions = V† · projection orbitals; :mod:`.gauge`), identity if None."""
    slots = basis.slots
    n = next(iter(blocks.values())).shape[-1]
    if sum(len(v) for v in slots.values()) != n:
        raise ValueError(f"the projections describe {sum(len(v) for v in slots.values())} Wannier functions, the "
                         f"model has {n} (num_wann): check the projections block (and spinors)")
    tau = basis.row_centres(n)
    centred = _rotate(_centre(blocks, rvec, tau, -1.0), gauge)
    newr, index = _images(ops, slots, rvec)
    names = list(centred)
    sizes = [centred[k].shape[1] for k in names]
    x = np.concatenate([centred[k] for k in names], axis=1)  # (nR, Σc, n, n): one pass for all operators
    parity = np.concatenate([np.full(c, OPERATORS[k][1]) for k, c in zip(names, sizes, strict=True)])
    acc = np.zeros((len(newr),) + x.shape[1:], dtype=complex)
    full = {a: np.array_equal(ia, np.arange(n)) for a, ia in slots.items()}
    for op in ops:
        rep = representation(op, basis.projections, basis.spinors)
        law = _block_law(names, op.cartesian)
        lx = np.tensordot(law, x, axes=(1, 1)).transpose(1, 0, 2, 3)
        if op.time_reversal:
            lx = parity[None, :, None, None] * lx.conj()
        for a, ia in slots.items():
            da, ia2 = rep[a], slots[int(op.atoms[a])]
            for b, ib in slots.items():
                db, ib2 = rep[b], slots[int(op.atoms[b])]
                target = rvec @ op.rotation.T + op.shifts[b] - op.shifts[a]
                rows = np.array([index[tuple(r)] for r in target.tolist()])
                if full[a] and full[b]:
                    acc[rows] += da @ lx @ db.conj().T
                else:
                    sub = acc[rows]
                    sub[:, :, ia2[:, None], ib2[None, :]] += da @ lx[:, :, ia[:, None], ib[None, :]] @ db.conj().T
                    acc[rows] = sub
    split = np.split(acc, np.cumsum(sizes)[:-1], axis=1)
    out = dict(zip(names, split, strict=True))
    out = _rotate({k: v / len(ops) for k, v in out.items()}, gauge, inverse=True)
    return newr, _centre(out, newr, tau, +1.0)


def group_average(blocks: dict[str, Array], rvec: Array, basis: Basis, ops: list[SpaceOperation],
                  gauge: Array | None = None) -> tuple[Array, dict[str, Array]]:
    """:func:`average` over ``ops``; a grey group G × {1, T} is averaged as P_T P_G (T commutes with every
    operation: the same projector at half the cost)."""
    unitary = [o for o in ops if not o.time_reversal]
    key = {(tuple(o.rotation.ravel()), tuple(np.round(o.translation, 8))) for o in unitary}
    anti = {(tuple(o.rotation.ravel()), tuple(np.round(o.translation, 8))) for o in ops if o.time_reversal}
    pure_t = [o for o in ops if o.time_reversal and np.array_equal(o.rotation, np.eye(3, dtype=int))
              and np.allclose(o.translation, 0.0) and not np.any(o.shifts)
              and np.array_equal(o.atoms, np.arange(len(o.atoms)))]
    if not pure_t or key != anti or 2 * len(unitary) != len(ops):
        return average(blocks, rvec, basis, ops, gauge)
    identity = next(o for o in unitary if np.array_equal(o.rotation, np.eye(3, dtype=int))
                    and np.allclose(o.translation, 0.0))
    newr, out = average(blocks, rvec, basis, unitary, gauge)
    return average(out, newr, basis, [identity, pure_t[0]], gauge)


def fit_gauge(blocks: dict[str, Array], rvec: Array, basis: Basis, ops: list[SpaceOperation]
              ) -> tuple[Array, dict[str, Any]]:
    """The on-site unitary V of :mod:`.gauge` for one atom carrying projections, from H and S (and A)."""
    from . import gauge

    if len(basis.projections) != 1:
        raise ValueError("wannier_gauge='fit' supports one atom carrying projections; use wannier_gauge="
                         "'projections' (the Wannier functions transform like the projections, e.g. num_iter = 0)")
    n = next(iter(blocks.values())).shape[-1]
    centred = _centre(blocks, rvec, basis.row_centres(n), -1.0)
    index = {tuple(r): i for i, r in enumerate(rvec.tolist())}
    unitary, anti, skipped = [], None, 0
    for op in ops:
        target = rvec @ op.rotation.T
        keep = np.array([tuple(r) in index for r in target.tolist()])
        rows = np.array([index[tuple(r)] for r in target[keep].tolist()])
        if op.time_reversal and anti is not None:
            continue
        pairs = []
        for name in ("H", "S"):
            if name not in centred:
                continue
            kinds, parity = OPERATORS[name]
            z = centred[name][keep]
            z = z if not kinds else np.tensordot(_law(kinds, op.cartesian), z, axes=(1, 1)).transpose(1, 0, 2, 3)
            z = parity * z.conj() if op.time_reversal else z
            pairs.append((z.reshape(-1, n, n), centred[name][rows].reshape(-1, n, n)))
        d = operation_matrix(op.cartesian, op.time_reversal, basis.spinors)
        coef = basis.projections[0].coefficients
        d = coef.conj().T @ d @ coef
        if not op.time_reversal and gauge.phase(d, d)[1] < 10:  # D's own spectrum leaves the phase ambiguous
            skipped += 1
            continue
        w, unique = gauge.estimate(pairs)
        if unique > 1e-2:
            skipped += 1
            continue
        if op.time_reversal:
            anti = (w, d)
            continue
        alpha, margin = gauge.phase(w, d)
        if margin < 10:
            skipped += 1
            continue
        unitary.append((np.exp(-1j * alpha) * w, d))
    if not unitary:
        raise ValueError("wannier_gauge='fit': no operation of the group could be identified on the model")
    v, info = gauge.intertwiner(unitary, anti)
    resid = max(float(np.abs(v @ w - d @ v).max()) for w, d in unitary)
    info.update(operations_used=len(unitary) + (anti is not None), operations_skipped=skipped,
                residual=resid)
    return v, info


def removed_asymmetry(before: dict[str, Array], rvec: Array, after: dict[str, Array], newr: Array
                      ) -> dict[str, dict[str, float]]:
    """Per operator: max |X_sym − X| (its units) and that relative to max |X|; for H also Σ_R ‖ΔH(R)‖₂ (eV), a bound
    on how far any band energy moved (Weyl)."""
    index = {tuple(r): i for i, r in enumerate(newr.tolist())}
    rows = np.array([index[tuple(r)] for r in rvec.tolist()])
    report = {}
    for name, x in before.items():
        ext = np.zeros_like(after[name])
        ext[rows] = x
        diff = after[name] - ext
        scale = float(np.abs(x).max())
        entry = {"max_abs": float(np.abs(diff).max()), "relative": float(np.abs(diff).max() / scale) if scale else 0.0}
        if name == "H":
            entry["band_shift_bound_eV"] = float(np.linalg.norm(diff[:, 0], ord=2, axis=(1, 2)).sum())
        report[name] = entry
    return report


def _change(before: Array, rvec: Array, after: Array, newr: Array) -> float:
    return removed_asymmetry({"H": before}, rvec, {"H": after}, newr)["H"]["max_abs"]


def magnetization_from(ham0: Array, spin0: Array | None, spinors: bool) -> Array | None:
    """Direction of Σ_s Tr[H(0) S_s(0)] (the on-site exchange field; S from ``.spn`` or 1 ⊗ σ/2), or None when it
    is below :data:`MAGNETIC_TRACE_TOL` of Σ|H_mm(0)| (non-magnetic)."""
    n = ham0.shape[-1]
    if spin0 is None:
        if not spinors:
            return None
        spin0 = 0.5 * np.stack([np.kron(np.eye(n // 2), s) for s in
                                (np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1, -1]))])
    m = np.einsum("ij,sji->s", ham0, spin0).real
    scale = float(np.abs(np.diag(ham0)).sum())
    return None if np.linalg.norm(m) <= MAGNETIC_TRACE_TOL * scale else m / np.linalg.norm(m)


def symmetrize_blocks(blocks: dict[str, Array], rvec: Array, basis: Basis, magnetization: Any = None,
                      symprec: float = 1e-5, wannier_gauge: str = "auto"
                      ) -> tuple[Array, dict[str, Array], dict[str, Any]]:
    """Find the magnetic space group, average ``blocks`` (see :func:`average`) and report what was removed."""
    if not (isinstance(symprec, (int, float)) and np.isfinite(symprec) and symprec > 0):
        raise ValueError(f"symprec must be a positive length (Å, spglib's tolerance), got {symprec!r}")
    origin = np.flatnonzero(np.all(rvec == 0, axis=1))
    if magnetization is None:
        spin0 = blocks["S"][origin[0]] if "S" in blocks and len(origin) else None
        mag = magnetization_from(blocks["H"][origin[0], 0], spin0, basis.spinors) if len(origin) else None
        source = "from the model: Σ Tr H(0)S(0)" if mag is not None else "none (Σ Tr H(0)S(0) vanishes)"
    else:
        mag = np.asarray(magnetization, dtype=float)
        if mag.shape != (3,) or not np.all(np.isfinite(mag)):
            raise ValueError(f"magnetization must be a 3-vector (zero: non-magnetic) or None, got {magnetization!r}")
        mag = None if not np.any(mag) else mag / np.linalg.norm(mag)
        source = "given"
    moments = np.zeros((len(basis.positions), 3)) if mag is None else np.tile(mag, (len(basis.positions), 1))
    ops, label = space_group(basis.lattice, basis.positions, basis.species, moments, symprec)
    if wannier_gauge not in ("auto", "fit", "projections"):
        raise ValueError(f"wannier_gauge must be 'auto', 'fit' or 'projections', got {wannier_gauge!r}")
    chosen, fit, (newr, out) = "projections", None, (None, None)
    if wannier_gauge != "fit":
        newr, out = group_average(blocks, rvec, basis, ops)
    if wannier_gauge != "projections":
        try:
            v, fit = fit_gauge(blocks, rvec, basis, ops)
        except ValueError as exc:
            if wannier_gauge == "fit":
                raise
            fit = {"failed": str(exc)}
        else:
            r2, o2 = group_average(blocks, rvec, basis, ops, v)
            # the fit must at least halve what the averaging changes: a model that the projections describe to
            # its rounding (Fe, num_iter = 0) keeps their representation
            if out is None or 2 * _change(blocks["H"], rvec, o2["H"], r2) < _change(blocks["H"], rvec, out["H"], newr):
                chosen, newr, out = "fit", r2, o2
    report = {"group": label, "wannier_gauge": chosen, "gauge_fit": fit, "order": len(ops), "symprec": symprec,
              "magnetization": None if mag is None else mag.tolist(), "magnetization_source": source,
              "spinor_order": "orbital outer, spin inner (Wannier90)" if basis.spinors else "no spinors",
              "nrpts_before": len(rvec), "nrpts_after": len(newr),
              "removed": removed_asymmetry(blocks, rvec, out, newr)}
    return newr, out, report


def basis_from_win(win: Any, num_wann: int | None = None) -> Basis:
    """The :class:`Basis` of a ``.win``: unit cell, atoms, ``spinors`` and the ``projections`` block."""
    lines = win.blocks.get("projections")
    if not lines:
        raise ValueError(f"{win.path}: symmetrize needs the 'begin projections … end projections' block (the "
                         "angular character of the Wannier functions)")
    st = structure_from_win(win.path)
    spinors = bool(win.get_bool("spinors", False))
    projections = parse_projections(lines, list(st.species), spinors)
    basis = Basis(st.lattice, st.positions, [str(s) for s in st.species], projections, spinors)
    count = sum(p.coefficients.shape[1] for p in projections)
    if num_wann is not None and count != num_wann:
        raise ValueError(f"{win.path}: the projections give {count} Wannier functions, num_wann is {num_wann}")
    return basis


def symmetrize_run(run: Any, magnetization: Any = None, symprec: float = 1e-5, wannier_gauge: str = "auto") -> Any:
    """The :class:`~.run.Wannier90Run` with H, A, S, SH, SR, SHR averaged over the magnetic space group of its
    ``.win`` (atoms, projections; magnetisation given, or from Σ Tr H(0)S(0)).  ``use_ws_distance`` images and
    the Wigner–Seitz degeneracies are folded in first; the result has degeneracy 1 on the orbit of R vectors."""
    basis = basis_from_win(run.win, run.num_wann)
    names, arrays = ["H", "A"], [run.ham_R[:, None], run.pos_R]
    if run.spin_R is not None:
        names.append("S")
        arrays.append(run.spin_R)
    if run.shc_R is not None:
        names += ["SH", "SR", "SHR"]
        arrays += [run.shc_R["SH"], run.shc_R["SR"], run.shc_R["SHR"]]
    arrays = [a.reshape(a.shape[:1] + (-1,) + a.shape[-2:]) for a in arrays]
    if run.ws_table is not None:
        rvec, arrays = fold_ws_shifts(run.irvec, run.ndegen, arrays, run.ws_table, "use_ws_distance", run.seedname)
    else:
        rvec, arrays = run.irvec, [a / run.ndegen[:, None, None, None] for a in arrays]
    newr, out, report = symmetrize_blocks(dict(zip(names, arrays, strict=True)), rvec, basis, magnetization, symprec,
                                          wannier_gauge)
    report["use_ws_distance_folded"] = run.ws_table is not None
    n = run.num_wann
    shc = None
    if run.shc_R is not None:
        shc = {"SH": out["SH"], "SR": out["SR"].reshape(-1, 3, 3, n, n), "SHR": out["SHR"].reshape(-1, 3, 3, n, n)}
    options = {**run.options, "symmetrization": report}
    if shc is not None:
        hq = np.einsum("kr,rmn->kmn", np.exp(2j * np.pi * run.chk.kpt_latt @ newr.T), out["H"][:, 0])
        options["qiao_ill_conditioned_pairs"] = _qiao_conditioning(hq, options.get("spin_current_tol", 1e-7))
    return replace(run, irvec=newr, ndegen=np.ones(len(newr), dtype=int), ham_R=out["H"][:, 0], pos_R=out["A"],
                   spin_R=out.get("S"), shc_R=shc, ws_table=None, options=options)


def symmetrize_hamiltonian(wh: Any, win_path: Any, spinor_order: str | None = None, magnetization: Any = None,
                           symprec: float = 1e-5, wannier_gauge: str = "auto") -> tuple[Any, dict[str, Any]]:
    """A ``_hr.dat``/``_tb.dat`` :class:`~.hamiltonian.WannierHamiltonian` averaged over the magnetic space group of
    the structure in ``win_path`` (``unit_cell_cart``, ``atoms_frac``/``atoms_cart``, ``projections``,
    ``spinors``): H(R) and, when stored, r(R); ``wannier_gauge="auto"`` keeps the projections unless the fitted gauge
    at least halves the change.  ``spinor_order="block"`` (all ↑ then all ↓) is reordered to
    Wannier90's interleaved order for the average and back."""

    win = read_win(win_path)
    basis = basis_from_win(win, wh.num_wann)
    if np.abs(basis.lattice - wh.lattice).max() > 1e-4:
        raise ValueError(f"{win_path}: unit_cell_cart differs from the lattice of {wh.source}")
    n = wh.num_wann
    order = np.arange(n)
    if spinor_order == "block":
        order = np.ravel(np.column_stack([np.arange(n // 2), np.arange(n // 2) + n // 2]))
    elif spinor_order not in (None, "interleaved"):
        raise ValueError(f"spinor_order must be 'interleaved' or 'block', got {spinor_order!r}")
    back = np.argsort(order)
    deg = wh.deg.reshape(-1, 1, 1, 1)
    blocks = {"H": (wh.ham[:, None] / deg)[..., order[:, None], order[None, :]]}
    if wh.pos is not None:
        blocks["A"] = (wh.pos / deg)[..., order[:, None], order[None, :]]
    if spinor_order is not None and basis.spinors:
        pauli = (np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]))
        spin0 = 0.5 * np.stack([np.kron(np.eye(n // 2), s) for s in pauli])
        blocks["S"] = np.zeros((len(wh.rvec), 3, n, n), complex)
        blocks["S"][np.flatnonzero(np.all(wh.rvec == 0, axis=1))[0]] = spin0
    newr, out, report = symmetrize_blocks(blocks, wh.rvec, basis, magnetization, symprec, wannier_gauge)
    report["removed"].pop("S", None)  # 1 ⊗ σ/2 is symmetric: only used to find the magnetisation and gauge
    ham = out["H"][:, 0][..., back[:, None], back[None, :]]
    pos = out["A"][..., back[:, None], back[None, :]] if "A" in out else None
    report["win"] = str(win_path)
    return WannierHamiltonian(wh.lattice, newr, np.ones(len(newr), dtype=int), ham, pos, wh.header, wh.source), report
