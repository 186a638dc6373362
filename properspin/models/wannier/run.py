"""A native Wannier90 run → real-space operators on the Wigner–Seitz supercell → a :class:`~properspin.Model`.

The operators are built as postw90 builds them (``get_oper``), from the ab-initio data of the run:

* H(R) = (1/N) Σ_q e^{−iq·R} V_q† diag(ε_q) V_q, with V_q = U^opt_q U_q (disentanglement, then rotation; only the
  ``ndimwin`` bands of the outer window enter), plus the scissors term when ``num_valence_bands`` and
  ``scissors_shift`` are set;
* A_a(R) from the overlaps M(q, b) = <u_q|u_{q+b}> of ``.mmn``: A_a(q) = Σ_b w_b b_a i V_q† M(q, b) V_{q+b},
  made Hermitian at each q (Marzari–Vanderbilt finite differences; b and w_b from the neighbour shells present
  in ``.mmn``, with w_b solving the completeness relation Σ_b w_b b_a b_c = δ_ac);
* S(R) from the Pauli matrices of ``.spn`` (stored here as σ/2, units of ħ);
* for the spin Hall conductivity of Qiao et al. (PRB 98, 214402, Eqs. 44–51): SH(R) = FT of V†σH_oV,
  SR_a(R) = i FT Σ_b w_b b_a V†(σ M(b) V_b − σV), SHR_a(R) = i FT Σ_b w_b b_a V†(σH_o M(b) V_b − σH_oV), where
  the products σ M and σ H_o M run over *all* ab-initio bands of the run.

R runs over the Wigner–Seitz supercell of the ``mp_grid`` with degeneracies (postw90's ``wigner_seitz``); with
``use_ws_distance`` each element (R, m, n) is spread over the images R + T closest to the centre distance
R + τ_n − τ_m (postw90's ``ws_translate_dist``), for H, A, S and the spin-current operators alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...model import Model, RunDefaults
from ...validate import check_size
from .conditioning import QIAO_NEAR_DEGENERATE, _qiao_conditioning
from .fourier import WannierSums
from .hamiltonian import WannierHamiltonian, fold_ws_shifts
from .native import (
    Checkpoint,
    Overlaps,
    Win,
    find_file,
    optional_file,
    read_chk,
    read_eig,
    read_mmn,
    read_spn,
    read_win,
)
from .supercell import bvectors, wigner_seitz, ws_distance_table
from .symmetrize import symmetrize_run

Array = np.ndarray
PathLike = str | Path


# ---------------------------------------------------------------------------------------------- settings
def postw90_settings(win: Win, eig: Array) -> dict[str, Any]:
    """The postw90 keywords of ``seedname.win`` that properspin honours, with postw90's defaults."""
    s: dict[str, Any] = {}
    if win.has("fermi_energy") and win.has("fermi_energy_min"):
        raise ValueError(f"{win.path}: give fermi_energy or fermi_energy_min/max/step, not both")
    if win.has("fermi_energy"):
        s["fermi_energies"] = [win.get_float("fermi_energy")]
    elif win.has("fermi_energy_min"):
        fmin = win.get_float("fermi_energy_min")
        fmax = win.get_float("fermi_energy_max", fmin + 1.0)
        step = win.get_float("fermi_energy_step", 0.01)
        if fmax <= fmin or step <= 0:
            raise ValueError(f"{win.path}: need fermi_energy_max > fermi_energy_min and fermi_energy_step > 0")
        if not all(math.isfinite(x) for x in (fmin, fmax, step)):
            raise ValueError(f"{win.path}: fermi_energy_min/max/step must be finite, got {fmin}, {fmax}, {step}")
        count = check_size(int(round(abs((fmax - fmin) / step))) + 1, "Fermi energies",
                           f"{win.path}: fermi_energy_min/max/step", "raise fermi_energy_step")
        s["fermi_energies"] = [fmin + i * (fmax - fmin) / (count - 1) for i in range(count)] if count > 1 else [fmin]
    else:
        s["fermi_energies"] = []
    kmesh = win.get_ints("berry_kmesh", 3) or win.get_ints("kmesh", 3)
    if kmesh:
        check_size(math.prod(kmesh), "k-points", f"{win.path}: berry_kmesh = {list(kmesh)}", "use a coarser mesh")
    s["berry_kmesh"] = list(kmesh) if kmesh else None
    s["berry_task"] = win.get_str("berry_task", "")
    s["berry_curv_adpt_kmesh"] = win.get_int("berry_curv_adpt_kmesh", 1)
    s["berry_curv_adpt_kmesh_thresh"] = win.get_float("berry_curv_adpt_kmesh_thresh", 100.0)
    s["berry_curv_unit"] = (win.get_str("berry_curv_unit", "ang2") or "ang2").lower()
    s["kubo_adpt_smr"] = win.get_bool("kubo_adpt_smr", win.get_bool("adpt_smr", True))
    s["kubo_smr_fixed_en_width"] = win.get_float("kubo_smr_fixed_en_width", win.get_float("smr_fixed_en_width", 0.0))
    if win.has("kubo_eigval_max"):
        s["kubo_eigval_max"] = win.get_float("kubo_eigval_max")
    elif win.has("dis_froz_max"):
        s["kubo_eigval_max"] = win.get_float("dis_froz_max") + 0.6667
    else:
        s["kubo_eigval_max"] = float(np.max(eig)) + 0.6667
    s["scissors_shift"] = win.get_float("scissors_shift", 0.0)
    s["num_valence_bands"] = win.get_int("num_valence_bands", None)
    s["shc_method"] = (win.get_str("shc_method", "qiao") or "qiao").lower()
    s["shc_alpha"], s["shc_beta"], s["shc_gamma"] = (win.get_int(k, d) for k, d in
                                                     (("shc_alpha", 1), ("shc_beta", 2), ("shc_gamma", 3)))
    s["shc_freq_scan"] = win.get_bool("shc_freq_scan", False)
    s["use_ws_distance"] = win.get_bool("use_ws_distance", True)
    s["ws_distance_tol"] = win.get_float("ws_distance_tol", 1e-5)
    s["ws_search_size"] = list(win.get_ints("ws_search_size", 3, (2, 2, 2)))
    s["spn_formatted"] = win.get_bool("spn_formatted", False)
    s["transl_inv"] = win.get_bool("transl_inv", False)
    return s


# ---------------------------------------------------------------------------------------------- the run
@dataclass(frozen=True, eq=False)
class Wannier90Run:
    """What was read from a Wannier90 run and the real-space operators built from it.

    ``ham_R`` (nR, n, n) eV, ``pos_R`` (nR, 3, n, n) Å, ``spin_R`` (nR, 3, n, n) ħ (σ/2) or None, and ``shc_R``
    (Qiao et al.: ``"SH"`` (nR, 3, n, n) ħ·eV, ``"SR"`` (nR, 3, 3, n, n) ħ·Å, ``"SHR"`` (nR, 3, 3, n, n) ħ·eV·Å;
    spin index first) on the Wigner–Seitz vectors ``irvec`` with degeneracies ``ndegen`` — before the
    ``use_ws_distance`` images (``ws_table``) are applied by :meth:`model`.
    """

    seedname: str
    win: Win
    chk: Checkpoint
    eig: Array
    files: dict[str, str]
    irvec: Array
    ndegen: Array
    ham_R: Array
    pos_R: Array | None
    spin_R: Array | None
    shc_R: dict[str, Array] | None
    ws_table: dict[tuple[int, ...], Array] | None
    shells: list[dict[str, float]]
    settings: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def num_wann(self) -> int:
        return self.chk.num_wann

    def describe(self) -> dict[str, Any]:
        """What was read (JSON-safe): sizes, k-grid, disentanglement, shells, ws distance, files."""
        chk = self.chk
        out: dict[str, Any] = {
            "seedname": self.seedname,
            "files": dict(self.files),
            "num_wann": chk.num_wann,
            "num_bands": chk.num_bands,
            "exclude_bands": list(chk.exclude_bands),
            "num_kpts": chk.num_kpts,
            "mp_grid": list(chk.mp_grid),
            "nntot": chk.nntot,
            "bvector_shells": self.shells,
            "disentangled": chk.have_disentangled,
            "checkpoint": chk.checkpoint,
            "nrpts_wigner_seitz": len(self.irvec),
            "use_ws_distance": self.ws_table is not None,
            "scissors_shift_eV": self.options.get("scissors_shift", 0.0),
            "num_valence_bands": self.options.get("num_valence_bands"),
            "spin_operator": self.files.get("spn") or self.options.get("spin_note") or "none",
            "qiao_spin_current": self.shc_R is not None,
            "spin_current_tol_eV": self.options.get("spin_current_tol", QIAO_D_TOL),
            "qiao_ill_conditioned_pairs": self.options.get("qiao_ill_conditioned_pairs", 0),
            "lattice_angstrom": chk.real_lattice.tolist(),
            "wannier_centres_angstrom": np.round(chk.wannier_centres, 8).tolist(),
            "wannier_spreads_angstrom2": np.round(chk.wannier_spreads, 8).tolist(),
        }
        if "symmetrization" in self.options:
            out["symmetrization"] = self.options["symmetrization"]
        if chk.have_disentangled:
            start = chk.window_start()
            out["outer_window_bands"] = [int(start.min()) + 1, int((start + chk.ndimwin).max())]
            out["ndimwin_range"] = [int(chk.ndimwin.min()), int(chk.ndimwin.max())]
        return out

    def model(self) -> Model:
        """The :class:`~properspin.Model`: H, ∂H and A^W from ``ham_R``/``pos_R``, ``spin_k`` = S(k) and, with
        the Qiao operators, ``spin_current`` (see :func:`qiao_spin_current`), all summed by one evaluator (one
        phase computation per batch of k for every operator); the ``.win``'s Fermi energies and ``berry_kmesh``
        as :class:`~properspin.model.RunDefaults`."""
        extra: dict[str, Array] = {} if self.spin_R is None else {"s": self.spin_R}
        if self.shc_R is not None:
            extra |= {"sh": self.shc_R["SH"], "sr": self.shc_R["SR"], "shr": self.shc_R["SHR"]}
        if self.ws_table is not None:
            rvec, folded = fold_ws_shifts(self.irvec, self.ndegen, [self.ham_R, self.pos_R, *extra.values()],
                                          self.ws_table, "use_ws_distance", self.seedname)
            deg = np.ones(len(rvec), dtype=int)
        else:
            rvec, deg = self.irvec, self.ndegen
            # WannierHamiltonian divides H and r by the degeneracies itself; the other sums are divided here
            folded = [self.ham_R, self.pos_R] + [b / self.ndegen.reshape((-1,) + (1,) * (b.ndim - 1))
                                                 for b in extra.values()]
        nr, n = len(rvec), self.num_wann
        ops = {name: b.reshape(nr, 9, n, n) if name in ("sr", "shr") else b
               for name, b in zip(extra, folded[2:], strict=True)}
        wh = WannierHamiltonian(self.chk.real_lattice, rvec, deg, folded[0], folded[1], self.chk.header,
                                self.seedname)
        info = {**self.describe(), "postw90": dict(self.settings)}
        info["spin_operator"] = (f".spn: {self.files['spn']}" if self.spin_R is not None
                                 else self.options.get("spin_note", "none"))
        params = {"seedname": self.seedname, "use_ws_distance": self.ws_table is not None,
                  "scissors_shift_eV": self.options.get("scissors_shift", 0.0),
                  "num_valence_bands": self.options.get("num_valence_bands"),
                  "symmetrize": "symmetrization" in self.options}
        if self.shc_R is not None:
            params["spin_current_tol_eV"] = self.options.get("spin_current_tol", QIAO_D_TOL)
        model = wh.to_model(use_position=True, name=f"wannier90_run:{Path(self.seedname).name}",
                            parameters=params, info=info, operators=ops)
        sums = model.hamiltonian.evaluator  # the one evaluator of every operator
        spin_k = sums.function("s") if "s" in ops else None
        spin_current = None
        if "sh" in ops:
            spin_current = QiaoSpinCurrent(sums, self.options.get("spin_current_tol", QIAO_D_TOL))
        return replace(model, spin_k=spin_k, spin_current=spin_current, run_defaults=self.run_defaults())

    def run_defaults(self) -> RunDefaults:
        """The ``.win``'s ``fermi_energy`` (or scan) and ``berry_kmesh`` (or ``kmesh``) as typed defaults."""
        kmesh = self.settings.get("berry_kmesh")
        return RunDefaults(tuple(self.settings.get("fermi_energies") or ()), tuple(kmesh) if kmesh else None,
                           str(self.files.get("win", self.seedname)))


#: postw90's and WannierBerri's threshold (eV) below which D_nm = v_nm/(ε_m − ε_n) of the Qiao spin current is 0
QIAO_D_TOL = 1e-7


class QiaoSpinCurrent:
    """Band-basis spin current <ψ_n|½{s^l, v^a}|ψ_m> of Qiao et al. (PRB 98, 214402, Eqs. 23–39), as postw90.

    With S = U†S^W U, D_a[n, m] = (U†∂_aH U)_nm/(ε_m − ε_n) (0 for |ε_m − ε_n| < ``d_tol``), K = −iU†SR_a U + S D_a,
    L = −iU†SHR_a U + SH D_a and SH = U†(SH)^W U:  B_nm = ∂_a ε_m S_nm + ε_m K_nm − L_nm,  J = (B + B†)/2.
    Spin in units of ħ (σ/2); J in ħ·eV·Å.  ``d_tol`` = 1e-7 eV is postw90's (and WannierBerri's) threshold for
    D; it is part of the construction, independent of the degeneracy tolerance of the final band sum.  Where two
    bands are split by little more than ``d_tol`` D ~ v/Δ is large: the construction is then ill-conditioned
    (see docs/wannier90-native.md), which a broadening η of the final sum does not cure.
    """

    def __init__(self, sums: WannierSums, d_tol: float = QIAO_D_TOL) -> None:
        self.sums, self.d_tol = sums, d_tol  # the Fourier sums "s", "sh", "sr", "shr" (Wannier gauge)

    def __call__(self, k: Array, energies: Array, u: Array, dh_bar: Array, tol: float) -> Array:
        nk, n = energies.shape
        dim = dh_bar.shape[0]
        ud = u.conj().transpose(0, 2, 1)

        def rot(x: Array) -> Array:  # (c, N, n, n) Wannier → band basis
            return ud[None] @ x @ u[None]

        w = self.sums.evaluate(k, ("s", "sh", "sr", "shr"))
        s_k = rot(w["s"])  # (3, N, n, n)
        sh_k = rot(w["sh"])
        sr_k = -1j * rot(w["sr"]).reshape(3, 3, nk, n, n)[:, :dim]
        shr_k = -1j * rot(w["shr"]).reshape(3, 3, nk, n, n)[:, :dim]
        gap = energies[:, None, :] - energies[:, :, None]  # ε_m − ε_n at [n, m]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(np.abs(gap) < self.d_tol, 0.0, dh_bar / gap)  # (dim, N, n, n)
        del_eig = np.einsum("aknn->akn", dh_bar).real  # (dim, N, n)
        kk = sr_k + s_k[:, None] @ d[None]
        ll = shr_k + sh_k[:, None] @ d[None]
        b = del_eig[None, :, :, None, :] * s_k[:, None] + energies[None, None, :, None, :] * kk - ll
        return 0.5 * (b + b.conj().swapaxes(-1, -2))


# ---------------------------------------------------------------------------------------------- reading
def read_wannier90_run(
    seedname: PathLike,
    *,
    use_ws_distance: bool | None = None,
    spin: bool | str = "auto",
    spin_current: bool | str = "auto",
    scissors_shift: float | None = None,
    num_valence_bands: int | None = None,
    spin_current_tol: float = QIAO_D_TOL,
    symmetrize: bool = False,
    magnetization: Any = None,
    symprec: float = 1e-5,
    wannier_gauge: str = "auto",
) -> Wannier90Run:
    """Read ``seedname.win``, ``.chk`` (or ``.chk.fmt``), ``.eig``, ``.mmn`` and ``.spn`` and build the operators.

    Parameters
    ----------
    seedname
        Path prefix of the run (``path/Fe`` for ``path/Fe.win``, ``path/Fe.chk.fmt.bz2``, ...).
    use_ws_distance
        Wannier90's minimal-distance images for H, A, S and the spin-current operators; ``None``: the ``.win``
        value (postw90's default: true).
    spin
        ``"auto"``: S(R) from ``.spn`` when the file exists; ``True``: required; ``False``: no spin operator.
    spin_current
        The Qiao et al. operators (needs ``.spn`` and ``.mmn``); ``"auto"``: whenever spin is read.
    scissors_shift, num_valence_bands
        Rigid shift (eV) of the bands above the first ``num_valence_bands`` (postw90's scissors, applied to H
        and to the ab-initio H_o of the spin current); ``None``: the ``.win`` values.
    spin_current_tol
        eV: D_nm = v_nm/(ε_m − ε_n) of the Qiao spin current is 0 where |ε_m − ε_n| is below it (default 1e-7,
        postw90's and WannierBerri's).  At the ab-initio k-points the bands are degenerate only to the precision
        of the run (Pt: Kramers pairs split by up to 9e-6 eV) and 1e-7 lets D ~ v/1e-6 through: on a grid that
        contains those k-points the result breaks the crystal symmetry (docs/wannier90-native.md); 1e-5 cures it.
    symmetrize, magnetization, symprec
        Average every operator over the magnetic space group of the ``.win`` atoms (spglib, ``symprec``) with the
        representation given by its ``projections`` (:mod:`.symmetrize`); ``magnetization``: a 3-vector (zero:
        non-magnetic) or ``None``, the direction of Σ Tr H(0)S(0) (none when it vanishes).  What the averaging
        removed is in ``info["symmetrization"]``.  ``wannier_gauge``: ``"projections"``: the Wannier functions transform
        like the projections (``num_iter = 0``); ``"fit"``: up to an on-site unitary fitted to the model (maximal
        localisation mixes them, :mod:`.gauge`); ``"auto"`` (default): both, keeping the one that changes H least.
    """
    tol = float(spin_current_tol)
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"spin_current_tol must be a positive number of eV, got {spin_current_tol!r}")
    seed = str(seedname)
    files: dict[str, str] = {}
    win, chk, eig, settings = _read_run(seed, files)
    if use_ws_distance is None:
        use_ws_distance = settings["use_ws_distance"]
    shift, nvb, scissors = _scissors(settings, scissors_shift, num_valence_bands, chk.num_bands)
    mmn = _read_overlaps(seed, chk, files)
    bk, wb, shells = bvectors(chk, mmn)
    spn, spin_note = _read_spin(seed, spin, chk, files)
    if spin_current is True and spn is None:
        raise ValueError(f"spin_current=True (Qiao et al.) needs {seed}.spn: {spin_note}")

    irvec, ndegen = wigner_seitz(chk.real_lattice, chk.mp_grid)
    ops = _operators(chk, eig, mmn, bk, wb, spn, spin_current is not False and spn is not None,
                     shift if scissors else 0.0, nvb if scissors else 0)
    ham_r, pos_r, spin_r, shc_r = _to_real_space(chk, ops, irvec, shift if scissors else 0.0, nvb)
    table = None
    if use_ws_distance:
        table = ws_distance_table(chk.real_lattice, chk.mp_grid, irvec, chk.wannier_centres,
                                  settings["ws_distance_tol"], tuple(settings["ws_search_size"]))
    options = {"scissors_shift": shift if scissors else 0.0, "num_valence_bands": nvb if scissors else None,
               "spin_note": spin_note, "spin_current_tol": tol}
    if shc_r is not None:
        options["qiao_ill_conditioned_pairs"] = _qiao_conditioning(ops["H"], tol)
    run = Wannier90Run(seed, win, chk, eig, files, irvec, ndegen, ham_r, pos_r, spin_r, shc_r, table, shells,
                       settings, options)
    if symmetrize:
        run = symmetrize_run(run, magnetization, symprec, wannier_gauge)
    return run


def _read_run(seed: str, files: dict[str, str]) -> tuple[Win, Checkpoint, Array, dict[str, Any]]:
    """``.win``, the checkpoint (checked against it), ``.eig`` and the postw90 settings; ``files`` records the
    paths read."""
    win_path = find_file(seed, ".win", "the run's input file")
    win = read_win(win_path)
    files["win"] = str(win_path)
    chk_path = optional_file(seed, ".chk") or find_file(seed, ".chk.fmt", "the checkpoint: .chk or .chk.fmt")
    chk = read_chk(chk_path)
    files["chk"] = str(chk_path)
    _check_win(win, chk)
    eig_path = find_file(seed, ".eig", "the ab-initio eigenvalues")
    eig = read_eig(eig_path, chk.num_bands, chk.num_kpts)
    files["eig"] = str(eig_path)
    settings = postw90_settings(win, eig)
    if settings["transl_inv"]:
        raise ValueError(f"{win_path}: transl_inv = true is not supported (postw90's default is false)")
    return win, chk, eig, settings


def _read_overlaps(seed: str, chk: Checkpoint, files: dict[str, str]) -> Overlaps:
    """``.mmn``, checked against the checkpoint (num_bands, num_kpts, nntot)."""
    mmn_path = find_file(seed, ".mmn", "the overlaps for the position matrix A(R)")
    mmn = read_mmn(mmn_path)
    files["mmn"] = str(mmn_path)
    chk_path = files["chk"]
    nb_m, nk_m = mmn.m.shape[2], mmn.m.shape[0]
    if (nb_m, nk_m) == (chk.num_bands, chk.num_kpts) and mmn.nntot != chk.nntot:  # the .win cannot tell which
        raise ValueError(f"{chk_path} and {mmn_path} disagree on nntot ({chk.nntot} in the checkpoint, {mmn.nntot} in "
                         "the overlaps; num_bands and num_kpts agree): one of them is damaged or from another run")
    if nb_m != chk.num_bands or nk_m != chk.num_kpts:  # the checkpoint was checked against the .win already
        raise ValueError(f"{mmn_path}: num_bands, num_kpts, nntot = {nb_m}, {nk_m}, {mmn.nntot} but the checkpoint "
                         f"{chk_path} has {chk.num_bands}, {chk.num_kpts}, {chk.nntot} (files of different runs?)")
    return mmn


def _read_spin(seed: str, spin: bool | str, chk: Checkpoint, files: dict[str, str]) -> tuple[Array | None, str | None]:
    """(``.spn`` matrices or None, why there are none)."""
    spn_path = optional_file(seed, ".spn")
    if spin is True and spn_path is None:
        find_file(seed, ".spn", "the spin matrices, required by spin=True")
    if spin is False or spn_path is None:
        return None, "not read (spin=False)" if spin is False else f"none: {seed}.spn not found"
    files["spn"] = str(spn_path)
    return read_spn(spn_path, chk.num_bands, chk.num_kpts), None


def _to_real_space(chk: Checkpoint, ops: dict[str, Array], irvec: Array, shift: float,
                   nvb: int | None) -> tuple[Array, Array, Array | None, dict[str, Array] | None]:
    """H(R), A(R), S(R) (σ/2) and the Qiao SH, SR, SHR on the Wigner–Seitz vectors: one phase matrix for all."""
    phase = np.exp(-2j * np.pi * chk.kpt_latt @ irvec.T) / chk.num_kpts  # (nk, nR)

    def to_r(op_q: Array) -> Array:
        return np.tensordot(phase, op_q, axes=(0, 0))

    ham_r = to_r(ops["H"])
    if shift:
        ham_r = ham_r + shift * _scissors_R(chk, nvb, to_r, irvec)  # type: ignore[arg-type]
    pos_r = to_r(ops["A"]).transpose(0, 3, 1, 2)  # (nR, 3, n, n)
    spin_r = 0.5 * to_r(ops["S"]).transpose(0, 3, 1, 2) if "S" in ops else None
    shc_r = None
    if "SH" in ops:
        shc_r = {"SH": 0.5 * to_r(ops["SH"]).transpose(0, 3, 1, 2),
                 "SR": 0.5j * to_r(ops["SR"]).transpose(0, 3, 4, 1, 2),
                 "SHR": 0.5j * to_r(ops["SHR"]).transpose(0, 3, 4, 1, 2)}
    return ham_r, pos_r, spin_r, shc_r


def warn_qiao_conditioning(model: Model, stacklevel: int = 2) -> None:
    """Warn (:class:`QiaoConditioningWarning`) before the Qiao spin current of ``model`` is used, if the run has
    near-degenerate pairs at its ab-initio k-points (``model.info["qiao_ill_conditioned_pairs"]``)."""
    import warnings

    count, tol = model.info.get("qiao_ill_conditioned_pairs", 0), model.info.get("spin_current_tol_eV", QIAO_D_TOL)
    if count:
        warnings.warn(
            f"{model.name}: {count} band pairs at the ab-initio k-points are split by {tol:g} eV ≤ Δ < "
            f"{QIAO_NEAR_DEGENERATE:g} eV (remnants of degeneracies): with spin_current_tol = {tol:g} eV the Qiao "
            "spin current is ill-conditioned on every k-grid containing those points. Read the run with "
            f"symmetrize=True (exact degeneracies), or set spin_current_tol ≥ {QIAO_NEAR_DEGENERATE:g} eV unless you "
            "need postw90's numbers (docs/wannier90-native.md)", QiaoConditioningWarning,
            stacklevel=stacklevel + 1)


class QiaoConditioningWarning(UserWarning):
    """The Qiao spin current of a Wannier90 run is ill-conditioned at its D threshold (near-degenerate pairs)."""


def wannier90_run(seedname: PathLike, **options: Any) -> Model:
    """The :class:`~properspin.Model` of a native Wannier90 run (see :func:`read_wannier90_run` for options).

    ``model.info`` records what was read (sizes, k-grid, disentanglement, shells, ws distance, files) and the
    postw90 settings of ``seedname.win`` (``info["postw90"]``: Fermi energies, ``berry_kmesh``, smearing, ...).
    """
    return read_wannier90_run(seedname, **options).model()


def _scissors(settings: dict[str, Any], scissors_shift: Any, num_valence_bands: Any,
              num_bands: int) -> tuple[float, int | None, bool]:
    """(shift, num_valence_bands, whether the scissors apply): the arguments override the ``.win``; a shift that
    would be dropped (NaN, or no valence-band count) is refused, as in run files."""
    from ...validate import finite_float, positive_int

    shift = settings["scissors_shift"] if scissors_shift is None else finite_float(scissors_shift, "scissors_shift")
    nvb = settings["num_valence_bands"]
    if num_valence_bands is not None:
        nvb = positive_int(num_valence_bands, "num_valence_bands")
    scissors = abs(shift) > 1e-7
    if scissors and (nvb is None or not 0 < nvb < num_bands):
        raise ValueError(f"scissors_shift = {shift:g} eV needs num_valence_bands between 1 and num_bands − 1 = "
                         f"{num_bands - 1}, got {nvb!r} (argument num_valence_bands=, or the .win's key)")
    return shift, nvb, scissors


def _check_win(win: Win, chk: Checkpoint) -> None:
    """The checkpoint must belong to the run described by ``.win`` (num_wann, num_bands, k-grid, lattice)."""
    where = f"{chk.path} does not belong to {win.path}"
    nw = win.get_int("num_wann")
    if nw is None:
        raise ValueError(f"{win.path}: num_wann is missing")
    if nw != chk.num_wann:
        raise ValueError(f"{where}: num_wann {chk.num_wann} in the checkpoint, {nw} in the .win")
    nb = win.get_int("num_bands", nw)
    if nb != chk.num_bands:
        raise ValueError(f"{where}: num_bands {chk.num_bands} in the checkpoint, {nb} in the .win")
    mp = win.get_ints("mp_grid", 3)
    if mp is not None and tuple(mp) != chk.mp_grid:
        raise ValueError(f"{where}: mp_grid {list(chk.mp_grid)} in the checkpoint, {list(mp)} in the .win")
    lat = win.lattice()
    if np.max(np.abs(lat - chk.real_lattice)) > 1e-5:
        raise ValueError(f"{where}: lattice vectors differ by up to {np.max(np.abs(lat - chk.real_lattice)):.3g} Å")
    kpts = win.kpoints()
    if kpts is not None and (kpts.shape != chk.kpt_latt.shape or np.max(np.abs(kpts - chk.kpt_latt)) > 1e-6):
        raise ValueError(f"{where}: the kpoints block differs from the checkpoint's k-points")


def _operators(chk: Checkpoint, eig: Array, mmn: Overlaps, bk: Array, wb: Array, spn: Array | None, qiao: bool,
               shift: float, nvb: int) -> dict[str, Array]:
    """Wannier-gauge operators at the ab-initio k-points (nk, n, n[, 3[, 3]]), as postw90's ``get_oper``."""
    nk, nw = chk.num_kpts, chk.num_wann
    v = chk.v_matrix()
    lo = chk.window_start()
    hi = lo + np.array([x.shape[0] for x in v])

    def gauge(k1: int, op: Array, k2: int) -> Array:
        return v[k1].conj().T @ op[lo[k1] : hi[k1], lo[k2] : hi[k2]] @ v[k2]

    out: dict[str, Array] = {}
    ham = np.empty((nk, nw, nw), dtype=complex)
    pos = np.zeros((nk, nw, nw, 3), dtype=complex)
    for k in range(nk):
        e = eig[k, lo[k] : hi[k]]
        h = v[k].conj().T @ (e[:, None] * v[k])
        ham[k] = 0.5 * (h + h.conj().T)
        a = np.zeros((nw, nw, 3), dtype=complex)
        for j in range(mmn.nntot):
            a += 1j * wb[k, j] * gauge(k, mmn.m[k, j], mmn.neighbours[k, j])[:, :, None] * bk[k, j]
        pos[k] = 0.5 * (a + a.conj().transpose(1, 0, 2))
    out["H"], out["A"] = ham, pos
    if spn is None:
        return out
    out["S"] = np.stack([np.stack([gauge(k, spn[k, s], k) for s in range(3)], axis=-1) for k in range(nk)])
    if not qiao:
        return out
    h_o = eig.copy()
    if shift:
        h_o[:, nvb:] += shift
    sh = np.empty((nk, nw, nw, 3), dtype=complex)
    sr = np.zeros((nk, nw, nw, 3, 3), dtype=complex)
    shr = np.zeros((nk, nw, nw, 3, 3), dtype=complex)
    for k in range(nk):
        sh_o = spn[k] * h_o[k][None, None, :]  # σ H_o, (3, nb, nb)
        for s in range(3):
            sh[k, :, :, s] = gauge(k, sh_o[s], k)
        for j in range(mmn.nntot):
            k2, m = mmn.neighbours[k, j], mmn.m[k, j]
            for s in range(3):
                sm = gauge(k, spn[k, s] @ m, k2) - out["S"][k, :, :, s]
                shm = gauge(k, sh_o[s] @ m, k2) - sh[k, :, :, s]
                sr[k, :, :, s] += wb[k, j] * sm[:, :, None] * bk[k, j]
                shr[k, :, :, s] += wb[k, j] * shm[:, :, None] * bk[k, j]
    out["SH"], out["SR"], out["SHR"] = sh, sr, shr
    return out


def _scissors_R(chk: Checkpoint, nvb: int, to_r: Any, irvec: Array) -> Array:
    """postw90's scissors operator in R space (per unit shift): 1 − FT of Σ_{m ≤ nvb} U*_mi U_mj (rotation only)."""
    u = chk.u_matrix[:, :nvb, :]  # (nk, nvb, nw)
    proj = -np.einsum("kmi,kmj->kij", u.conj(), u)
    out = to_r(proj)
    origin = np.flatnonzero(np.all(irvec == 0, axis=1))[0]
    out[origin] += np.eye(chk.num_wann)
    return out
