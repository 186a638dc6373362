"""Synthetic Wannier90 runs for the tests: the files a DFT code + Wannier90 would write for a tight-binding model.

A spinful tight-binding model H(k) = Σ_R e^{ik·R} H_R (orbitals point-like at the origin, spin 1_orb ⊗ σ) plays
the "ab-initio" code: at every k of the ``mp_grid`` its eigenvectors U(k) give the eigenvalues (``.eig``), the
overlaps M(k, b) = U(k)† U(k + b) (``.mmn``), the spin matrices U† σ U (``.spn``) and, with the Wannier gauge
V = U† (``u_matrix``, no disentanglement), a checkpoint whose Wannier functions are the orbitals themselves.
Reading such a run must give back H(k) at every k, A(R) = 0, S(k) = 1 ⊗ σ/2, and the Qiao spin current
must equal ½{s, v} (all bands are Wannier bands, the orbitals have no extent).
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
from scipy.io import FortranFile

from properspin.model import PAULI

ORTHO = np.diag([2.1, 2.6, 3.3])  # Å; orthorhombic: three b-vector shells of two vectors each


def tb_model(norb: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random spinful hoppings on R ∈ {−1, 0, 1}³ (H_{−R} = H_R†): (rvec, ham (nR, 2 norb, 2 norb))."""
    rng = np.random.default_rng(seed)
    n = 2 * norb
    rvec = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    index = {tuple(r): i for i, r in enumerate(rvec.tolist())}
    ham = np.zeros((len(rvec), n, n), complex)
    for i, r in enumerate(rvec.tolist()):
        j = index[tuple(-x for x in r)]
        scale = np.exp(-1.5 * np.linalg.norm(r))
        h = scale * (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        if i < j:
            ham[i], ham[j] = h, h.conj().T
        elif i == j:
            ham[i] = h + h.conj().T + np.diag(np.linspace(-2, 2, n))
    return rvec, ham


def bloch(rvec: np.ndarray, ham: np.ndarray, kfrac: np.ndarray) -> np.ndarray:
    return np.einsum("kr,rij->kij", np.exp(2j * np.pi * kfrac @ rvec.T), ham)


def spin_pauli(n: int) -> np.ndarray:
    return np.stack([np.kron(np.eye(n // 2), s) for s in PAULI])  # interleaved ↑↓ per orbital


def write_run(folder: Path, seed: str = "syn", norb: int = 2, mp: int = 4, lattice: np.ndarray = ORTHO,
              spn_formatted: bool = True, extra_win: str = "", model_seed: int = 0,
              model: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Write ``seed.win/.chk.fmt/.eig/.mmn/.spn`` of the synthetic run; returns the model and grid data.
    ``model``: (rvec, ham) to use instead of :func:`tb_model`."""
    folder.mkdir(parents=True, exist_ok=True)
    rvec, ham = tb_model(norb, model_seed) if model is None else model
    n = ham.shape[1]
    kfrac = np.array(list(itertools.product(range(mp), repeat=3))) / mp
    nk = len(kfrac)
    e, u = np.linalg.eigh(bloch(rvec, ham, kfrac))
    recip = 2 * np.pi * np.linalg.inv(lattice).T
    # neighbours: ±1/mp along each reciprocal vector
    steps = [np.eye(3, dtype=int)[a] * sgn for a in range(3) for sgn in (1, -1)]
    index = {tuple(np.round(k * mp).astype(int) % mp): i for i, k in enumerate(kfrac)}
    nbr, gvec = [], []
    for k in kfrac:
        ik = np.round(k * mp).astype(int)
        row_n, row_g = [], []
        for st in steps:
            t = ik + st
            row_n.append(index[tuple(t % mp)])
            row_g.append(t // mp)
        nbr.append(row_n)
        gvec.append(row_g)
    nbr, gvec = np.array(nbr), np.array(gvec)
    s_orb = spin_pauli(n)

    win = [f"num_wann = {n}", f"num_bands = {n}", "spinors = true", f"mp_grid = {mp} {mp} {mp}",
           "use_ws_distance = false", "fermi_energy = 0.1", "berry_kmesh = 6", extra_win,
           "begin unit_cell_cart", "ang"] + [" ".join(f"{x:.12f}" for x in row) for row in lattice] + \
          ["end unit_cell_cart", "begin kpoints"] + [" ".join(f"{x:.10f}" for x in k) for k in kfrac] + ["end kpoints"]
    (folder / f"{seed}.win").write_text("\n".join(win) + "\n")
    with open(folder / f"{seed}.eig", "w") as f:
        for k in range(nk):
            for b in range(n):
                f.write(f"{b + 1:5d}{k + 1:5d}{e[k, b]:22.15f}\n")
    with open(folder / f"{seed}.mmn", "w") as f:
        f.write(" synthetic overlaps\n")
        f.write(f"{n:12d}{nk:12d}{len(steps):12d}\n")
        for k in range(nk):
            for j in range(len(steps)):
                f.write(f"{k + 1:5d}{nbr[k, j] + 1:5d}{gvec[k, j, 0]:5d}{gvec[k, j, 1]:5d}{gvec[k, j, 2]:5d}\n")
                m = u[k].conj().T @ u[nbr[k, j]]
                for z in m.T.reshape(-1):  # m fastest
                    f.write(f"{z.real:22.15e} {z.imag:22.15e}\n")
    spn = np.einsum("kim,sij,kjn->ksmn", u.conj(), s_orb, u)
    rows, cols = [], []
    for mm in range(n):
        for nn in range(mm + 1):
            rows.append(nn)
            cols.append(mm)
    tri = spn[:, :, rows, cols].transpose(0, 2, 1)  # (nk, ntri, 3)
    if spn_formatted:
        with open(folder / f"{seed}.spn", "w") as f:
            f.write(" synthetic spin\n")
            f.write(f"{n:12d}{nk:12d}\n")
            for z in tri.reshape(-1):
                f.write(f"{z.real:22.15e} {z.imag:22.15e}\n")
    else:
        with FortranFile(folder / f"{seed}.spn", "w") as f:
            f.write_record(np.array(b"synthetic spin".ljust(60), dtype="S60"))
            f.write_record(np.array([n, nk], dtype=np.int32))
            for k in range(nk):
                f.write_record(tri[k].reshape(-1).astype(np.complex128))
    umat = u.conj().transpose(0, 2, 1)  # V = U†: the Wannier functions are the orbitals
    mw = np.stack([[umat[k].conj().T @ (u[k].conj().T @ u[nbr[k, j]]) @ umat[nbr[k, j]] for j in range(6)]
                   for k in range(nk)])
    lines = ["synthetic checkpoint", str(n), "0", _row(lattice.T.reshape(-1)), _row(recip.T.reshape(-1)), str(nk),
             f"{mp} {mp} {mp}"] + [_row(k) for k in kfrac] + [str(len(steps)), str(n), "postwann", "0"]
    lines += _pairs(umat.transpose(0, 2, 1).reshape(-1))  # u(i, j, k), i fastest
    lines += _pairs(mw.transpose(0, 1, 3, 2).reshape(-1))
    lines += [_row(np.zeros(3))] * n + ["1.0"] * n
    (folder / f"{seed}.chk.fmt").write_text("\n".join(lines) + "\n")
    return {"rvec": rvec, "ham": ham, "lattice": lattice, "kfrac": kfrac, "eig": e, "spin": s_orb / 2,
            "seedname": str(folder / seed)}


def _row(vals) -> str:
    return " ".join(f"{x:.16e}" for x in np.asarray(vals, dtype=float).reshape(-1))


def _pairs(z: np.ndarray) -> list[str]:
    return [f"{x.real:.16e} {x.imag:.16e}" for x in z]


def copy_run(src: dict, dst: Path) -> str:
    """Copy the files of the run ``src`` (``write_run``'s dict, or any with a ``seedname``) into ``dst``; the new
    seedname (for tests that damage one file)."""
    dst.mkdir(parents=True, exist_ok=True)
    seed = Path(src["seedname"])
    for f in seed.parent.glob(seed.name + ".*"):
        shutil.copy(f, dst / f.name)
    return str(dst / seed.name)
