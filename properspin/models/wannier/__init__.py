"""Wannier90 models: ``seedname_hr.dat``, ``seedname_tb.dat``, ``_wsvec.dat`` and ``.win``.

A Wannier Hamiltonian is a set of lattice vectors R (integers, R = n1 a1 + n2 a2 + n3 a3) with
degeneracies d_R and matrices H_R[m, n] = <0m|H|Rn> (eV), optionally r_R[a, m, n] = <0m|r_a|Rn> (Å).
The Bloch Hamiltonian in the Wannier-90 convention (no orbital-position phases) is

    H(k) = Σ_R e^{ik·R} H_R / d_R,      ∂H/∂k_a = Σ_R i R_a e^{ik·R} H_R / d_R,

with R Cartesian (Å) and k Cartesian (Å⁻¹); the orbital-basis Berry connection is
A^W_a(k) = Σ_R e^{ik·R} r_R[a] / d_R (Wang et al., PRB 74, 195118).  Evaluation is one matrix product
(N, nR) × (nR, n²) per component, in chunks of k so the phase matrix stays small.

The file's ``m n`` columns are row and column of H_R (Wannier90 writes ``j i ham_r(j, i, irpt)``).

Modules: :mod:`.hamiltonian` (the real-space model and the :class:`~properspin.Model` it defines),
:mod:`.fourier` (the k-space sums), :mod:`.textfile` (the text-file tokenizer, ``.win`` lattice, ``_wsvec.dat``)
below :mod:`.files` (reading and writing ``_hr.dat``/``_tb.dat``), :mod:`.native_io` (file access, Fortran records)
below :mod:`.win` (the ``.win`` input) and :mod:`.native` (a native run's ``.chk``, ``.eig``, ``.mmn``, ``.spn``),
:mod:`.conditioning` (the Qiao conditioning count), :mod:`.symmetrize` (averaging over the magnetic group) and
:mod:`.run` (a run's real-space operators as postw90 builds them, :func:`wannier90_run`).
"""

from .files import (
    BOHR_ANGSTROM,
    read_hr,
    read_tb,
    read_wannier,
    read_win_lattice,
    read_wsvec,
    wannier90,
    write_hr,
    write_tb,
)
from .hamiltonian import WannierHamiltonian, random_wannier_hamiltonian, spinor_spin
from .run import Wannier90Run, read_wannier90_run, wannier90_run

__all__ = [
    "BOHR_ANGSTROM", "WannierHamiltonian", "random_wannier_hamiltonian", "read_hr", "read_tb", "read_wannier",
    "read_win_lattice", "read_wsvec", "spinor_spin", "wannier90", "write_hr", "write_tb",
    "Wannier90Run", "read_wannier90_run", "wannier90_run",
]
