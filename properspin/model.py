"""The model stage: H(k), ∂H/∂k, spin operators and (for periodic models) the reciprocal lattice.

A :class:`Model` is a plain bundle of vectorised functions of k.  It knows nothing of meshes,
occupations or integration: those live in :mod:`properspin.mesh`, :mod:`properspin.sweep` and
:mod:`properspin.engine`.

Conventions (conventions §1): energies in eV, k in Å⁻¹ (or 1/a for dimensionless lattice models),
spin operators in units of ħ (spin ½ is σ/2).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .conventions import CYCLIC_PAIRS, HERMITIAN_RTOL
from .validate import real_array

Array = np.ndarray
KFunction = Callable[[Array], Array]

#: Pauli matrices σ_x, σ_y, σ_z.
PAULI = np.array(
    [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex
)

#: Spin-½ operators s/ħ = σ/2.
SPIN_HALF = PAULI / 2

#: Allowed finite-difference steps (Å⁻¹ or 1/a): fourth-order differences err by ~step⁴ and by ~1e-16/step.
FD_STEP_RANGE = (1e-7, 1e-2)


@dataclass(frozen=True)
class RunDefaults:
    """Typed run defaults of a model's source (a Wannier90 run's ``.win``): ``fermi_energies`` (eV; empty: none
    given), ``kmesh`` (a grid's points per reciprocal vector; None: none given) and ``source``, where they come
    from (named in messages)."""

    fermi_energies: tuple[float, ...] = ()
    kmesh: tuple[int, ...] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        energies = tuple(float(e) for e in self.fermi_energies)
        if not all(math.isfinite(e) for e in energies):
            raise ValueError(f"{self.source}: the default Fermi energies must be finite, got {energies}")
        object.__setattr__(self, "fermi_energies", energies)
        if self.kmesh is not None:
            kmesh = tuple(int(n) for n in self.kmesh)
            if not kmesh or any(n < 1 for n in kmesh):
                raise ValueError(f"{self.source}: the default k-mesh needs positive point counts, got {self.kmesh}")
            object.__setattr__(self, "kmesh", kmesh)


@dataclass(frozen=True, eq=False)
class Model:
    """A Bloch Hamiltonian with its k-derivative and spin operators.

    Parameters
    ----------
    hamiltonian
        ``hamiltonian(k)`` with k of shape ``(N, dim)`` returns ``(N, n, n)`` Hermitian matrices (eV).
    gradient
        ``gradient(k)`` returns ``(dim, N, n, n)`` = ∂H/∂k_a (eV·Å).  ``None``: fourth-order central
        finite differences with step ``fd_step`` (accurate to ~1e-10 relative for smooth H).  ``fd_step``
        (k units) must lie in :data:`FD_STEP_RANGE`: a larger step is not a derivative (``fd_step = 2``
        gave σ_xy = 0.45 instead of 1 for QWZ), a smaller one is round-off.
    spin
        ``(3, n, n)`` spin operators in units of ħ (σ/2 for spin ½), or ``None`` for a charge-only model.
    dim
        Number of k directions (2 or 3; 1 is allowed for charge-free checks).
    reciprocal
        ``(dim, dim)`` reciprocal lattice vectors (rows, Å⁻¹) for a periodic model; ``None`` for a
        continuum k·p model, which then needs a cutoff mesh.
    position
        Optional ``position(k)`` returning ``(dim, N, n, n)`` orbital-basis Berry connection
        A^W_a(k) = Σ_R e^{ik·R} <0n|r_a|Rm> (Å) of a Wannier model (Wang et al., PRB 74, 195118).
        ``None`` is the tight-binding approximation (orbitals at their centres, phases included in H).
    position_gradient
        Optional ``(dim, dim, N, n, n)`` = ∂_a A^W_b (analytic for Wannier models); finite differences of
        ``position`` when ``None``.  Enters the Berry curvature through F^W (Wang et al. Eq. 27).
    spin_k
        Optional ``spin_k(k)`` returning ``(3, N, n, n)`` spin operators (ħ) that depend on k, as the projected
        spin S(k) = Σ_R e^{ik·R} S(R) of a Wannier90 run (``.spn``); give either ``spin`` or ``spin_k``.
    spin_current
        Optional ``spin_current(k, energies, u, dh_bar, degeneracy_tol)`` returning the band-basis conventional
        spin current ½{s^l, v^a} (3, dim, N, n, n) in ħ·eV·Å built beyond the model's own bands (Qiao et al.,
        PRB 98, 214402, from a Wannier90 run); ``u`` are the eigenvectors of H(k), ``dh_bar = U† ∂H U``.  Used by
        ``conventional_spin`` with ``method="qiao"``.
    name, parameters, info
        Labels copied into every result: model name, the parameters that built it (with units in
        the keys or in ``info``), and free-form notes (spin convention, energy reference, ...).
    run_defaults
        Optional :class:`RunDefaults`: what the model's source suggests for a run that does not say (a
        Wannier90 run's ``fermi_energy`` and ``berry_kmesh``); read by :func:`~properspin.prepare.prepare` and
        run files.
    """

    hamiltonian: KFunction
    gradient: KFunction | None
    spin: Array | None
    dim: int
    reciprocal: Array | None = None
    position: KFunction | None = None
    position_gradient: KFunction | None = None
    name: str = "custom"
    parameters: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    fd_step: float = 1e-4
    spin_k: KFunction | None = None
    spin_current: Callable[..., Array] | None = None
    run_defaults: RunDefaults | None = None

    def __post_init__(self) -> None:
        if self.dim not in (1, 2, 3):
            raise ValueError(f"Model.dim must be 1, 2 or 3, got {self.dim!r}")
        if not callable(self.hamiltonian):
            raise TypeError("Model.hamiltonian must be a callable k -> (N, n, n)")
        if self.gradient is not None and not callable(self.gradient):
            raise TypeError("Model.gradient must be a callable k -> (dim, N, n, n), or None")
        if self.position is not None and not callable(self.position):
            raise TypeError("Model.position must be a callable k -> (dim, N, n, n), or None")
        if self.position_gradient is not None and (self.position is None or not callable(self.position_gradient)):
            raise TypeError("Model.position_gradient must be a callable k -> (dim, dim, N, n, n) next to position")
        try:
            step = float(self.fd_step)
        except (TypeError, ValueError):
            step = math.nan
        lo, hi = FD_STEP_RANGE
        if not lo <= step <= hi:  # also NaN
            raise ValueError(f"Model.fd_step must be a finite-difference step in [{lo:g}, {hi:g}] (k units), "
                             f"got {self.fd_step!r}")
        object.__setattr__(self, "fd_step", step)
        if self.spin_k is not None and (not callable(self.spin_k) or self.spin is not None):
            raise TypeError("Model.spin_k must be a callable k -> (3, N, n, n), given instead of a constant spin")
        if self.spin_current is not None and not callable(self.spin_current):
            raise TypeError("Model.spin_current must be a callable (k, energies, u, dh_bar, tol) -> (3, dim, N, n, n)")
        if self.run_defaults is not None and not isinstance(self.run_defaults, RunDefaults):
            raise TypeError(f"Model.run_defaults must be a RunDefaults, got {type(self.run_defaults).__name__}")
        if self.reciprocal is not None:
            rec = np.asarray(self.reciprocal, dtype=float)
            if rec.shape != (self.dim, self.dim):
                raise ValueError(
                    f"Model.reciprocal must have shape ({self.dim}, {self.dim}), got {rec.shape}"
                )
            if not np.all(np.isfinite(rec)) or abs(np.linalg.det(rec)) < 1e-12:
                raise ValueError("Model.reciprocal must be finite and non-singular")
            object.__setattr__(self, "reciprocal", rec)
        n = self.nbands
        if self.spin is not None:
            s = np.asarray(self.spin, dtype=complex)
            if s.shape != (3, n, n):
                raise ValueError(f"Model.spin must have shape (3, {n}, {n}), got {s.shape}")
            if not np.all(np.isfinite(s)):
                raise ValueError("Model.spin contains NaN or inf")
            if np.max(np.abs(s - s.conj().transpose(0, 2, 1))) > 1e-10:
                raise ValueError("Model.spin operators must be Hermitian")
            object.__setattr__(self, "spin", s)

    # ------------------------------------------------------------------ basic properties
    @property
    def periodic(self) -> bool:
        """True for a lattice model (``reciprocal`` set), False for a continuum k·p model."""
        return self.reciprocal is not None

    @property
    def nbands(self) -> int:
        """Number of bands n, read from H at k = 0 (cached)."""
        cached = self.__dict__.get("_nbands")
        if cached is None:
            h = np.asarray(self.hamiltonian(np.zeros((1, self.dim))))
            if h.ndim != 3 or h.shape[0] != 1 or h.shape[1] != h.shape[2]:
                raise ValueError(
                    f"hamiltonian(k) with k of shape (1, {self.dim}) must return (1, n, n); got {h.shape}"
                )
            cached = h.shape[1]
            object.__setattr__(self, "_nbands", cached)
        return cached

    @property
    def has_spin(self) -> bool:
        """Whether the model has a spin operator (constant ``spin`` or k-dependent ``spin_k``)."""
        return self.spin is not None or self.spin_k is not None

    @property
    def directions(self) -> tuple[str, ...]:
        """Cartesian labels of the k directions ("x", "y"[, "z"])."""
        return ("x", "y", "z")[: self.dim]

    # ------------------------------------------------------------------ evaluation
    def h(self, k: Array) -> Array:
        """H(k), validated: shape ``(N, n, n)``, finite, Hermitian."""
        k = self._check_k(k)
        h = np.asarray(self.hamiltonian(k))
        n = self.nbands
        if h.shape != (k.shape[0], n, n):
            raise ValueError(f"hamiltonian(k) returned shape {h.shape}, expected {(k.shape[0], n, n)}")
        if not np.all(np.isfinite(h)):
            bad = np.argwhere(~np.all(np.isfinite(h), axis=(1, 2)))[0, 0]
            raise ValueError(f"hamiltonian(k) contains NaN or inf (first at k = {k[bad]})")
        herm = np.max(np.abs(h - h.conj().transpose(0, 2, 1)), axis=(1, 2))
        scale = 1.0 + np.max(np.abs(h), axis=(1, 2))
        if np.any(herm > HERMITIAN_RTOL * scale):
            bad = int(np.argmax(herm / scale))
            raise ValueError(
                f"hamiltonian(k) is not Hermitian: max |H - H†| = {herm[bad]:.3g} eV at k = {k[bad]}"
            )
        return h

    def dh(self, k: Array) -> Array:
        """∂H/∂k_a, shape ``(dim, N, n, n)``; analytic if given, else finite differences."""
        k = self._check_k(k)
        n = self.nbands
        if self.gradient is None:
            return self._finite_difference(k)
        g = np.asarray(self.gradient(k))
        if g.shape != (self.dim, k.shape[0], n, n):
            raise ValueError(
                f"gradient(k) returned shape {g.shape}, expected {(self.dim, k.shape[0], n, n)}"
            )
        _check_finite(g, "gradient(k)", k)
        return g

    def spin_at(self, k: Array) -> Array | None:
        """Spin operators at k, ``(3, N, n, n)`` (ħ); a constant ``spin`` broadcast, None without spin."""
        if self.spin_k is None:
            return None if self.spin is None else np.broadcast_to(self.spin[:, None], (3, len(k)) + self.spin.shape[1:])
        k = self._check_k(k)
        s = np.asarray(self.spin_k(k))
        n = self.nbands
        if s.shape != (3, k.shape[0], n, n):
            raise ValueError(f"spin_k(k) returned shape {s.shape}, expected {(3, k.shape[0], n, n)}")
        _check_finite(s, "spin_k(k)", k)
        return s

    def berry_connection_orbital(self, k: Array) -> Array | None:
        """Orbital-basis position matrix A^W_a(k) of a Wannier model, or None (tight-binding limit)."""
        if self.position is None:
            return None
        k = self._check_k(k)
        a = np.asarray(self.position(k))
        n = self.nbands
        if a.shape != (self.dim, k.shape[0], n, n):
            raise ValueError(f"position(k) returned shape {a.shape}, expected {(self.dim, k.shape[0], n, n)}")
        _check_finite(a, "position(k)", k)
        return a

    def berry_connection_orbital_gradient(self, k: Array) -> Array | None:
        """∂_a A^W_b of a Wannier model, shape ``(dim, dim, N, n, n)``, or None without position term."""
        if self.position is None:
            return None
        k = self._check_k(k)
        if self.position_gradient is None:
            return self._finite_difference(k, self.position)
        g = np.asarray(self.position_gradient(k))
        n = self.nbands
        if g.shape != (self.dim, self.dim, k.shape[0], n, n):
            raise ValueError(f"position_gradient(k) returned shape {g.shape}, "
                             f"expected {(self.dim, self.dim, k.shape[0], n, n)}")
        _check_finite(g, "position_gradient(k)", k)
        return g

    def berry_connection_orbital_curl(self, k: Array) -> Array | None:
        """``∂_a A^W_b − ∂_b A^W_a`` for cyclic (a, b) → c, shape ``(nc, N, n, n)`` (nc = 3 in 3D, 1 in 2D).

        Uses ``position_gradient.curl(k)`` when the gradient object offers it (Wannier models: 3 Fourier
        sums instead of 9), else the full gradient.
        """
        if self.position is None:
            return None
        curl = getattr(self.position_gradient, "curl", None)
        if curl is not None:
            k = self._check_k(k)
            out = np.asarray(curl(k))
            _check_finite(out, "position_gradient.curl(k)", k)
            return out
        da = self.berry_connection_orbital_gradient(k)
        return np.stack([da[a, b] - da[b, a] for a, b in CYCLIC_PAIRS[self.dim]])

    def _finite_difference(self, k: Array, func: KFunction | None = None) -> Array:
        out = _central_difference(self.hamiltonian if func is None else func, k, self.fd_step, self.dim)
        _check_finite(out, "finite differences of " + ("hamiltonian(k)" if func is None else "position(k)"), k)
        return out

    def _check_k(self, k: Array) -> Array:
        if not (isinstance(k, np.ndarray) and k.dtype == np.float64):
            k = real_array(k, "k", finite=False)
        if k.ndim != 2 or k.shape[1] != self.dim:
            raise ValueError(f"k must have shape (N, {self.dim}), got {k.shape}")
        if not np.all(np.isfinite(k)):
            raise ValueError("k contains NaN or inf")
        return k

    def energies(self, k: Array) -> Array:
        """Band energies ε_m(k), shape ``(N, n)``, ascending (eV)."""
        return np.linalg.eigvalsh(self.h(k))

    # ------------------------------------------------------------------ derived models
    def with_zeeman(self, zeeman: tuple[float, float, float]) -> Model:
        """Add the exchange (Zeeman) regulator ``m·σ`` with ``σ = 2 s/ħ`` (conventions §3).

        For spin ½ this is exactly ``m·σ``: bands split by ``2|m|``.  It lifts Kramers degeneracy so
        that the band-diagonal spin ``s_nn`` of Eq. (2) is well defined; see the degeneracy notes in
        the documentation for the ``m → 0`` limit.  ``zeeman`` in eV.
        """
        if not self.has_spin:
            raise ValueError("with_zeeman needs a model with a spin operator (Model.spin is None)")
        m = np.asarray(zeeman, dtype=float)
        if m.shape != (3,) or not np.all(np.isfinite(m)):
            raise ValueError(f"zeeman must be three finite numbers (mx, my, mz) in eV, got {zeeman!r}")
        base = self.hamiltonian
        params = dict(self.parameters)
        prev = np.asarray(params.get("zeeman_eV", (0.0, 0.0, 0.0)), dtype=float)
        params["zeeman_eV"] = tuple(float(x) for x in prev + m)
        if self.spin_k is None:
            term = 2 * np.einsum("l,lij->ij", m, self.spin)

            def hamiltonian(k: Array) -> Array:
                return np.asarray(base(k)) + term

            return replace(self, hamiltonian=hamiltonian, parameters=params)
        spin_k, grad = self.spin_k, self.gradient

        def zeeman_k(k: Array) -> Array:
            return 2 * np.einsum("l,lkij->kij", m, np.asarray(spin_k(k)))

        def hamiltonian_k(k: Array) -> Array:
            return np.asarray(base(k)) + zeeman_k(k)

        def gradient_k(k: Array) -> Array:  # ∂(m·σ(k)) by finite differences next to the analytic ∂H
            return np.asarray(grad(k)) + _central_difference(zeeman_k, k, self.fd_step, self.dim)

        return replace(self, hamiltonian=hamiltonian_k, gradient=None if grad is None else gradient_k,
                       parameters=params)

    def transformed(self, unitary: Array) -> Model:
        """The same physics in a rotated orbital basis: H → W† H W, spin → W† s W (gauge test)."""
        w = np.asarray(unitary, dtype=complex)
        n = self.nbands
        if w.shape != (n, n) or not np.allclose(w.conj().T @ w, np.eye(n), atol=1e-10):
            raise ValueError(f"transformed() needs a unitary ({n}, {n}) matrix")
        wd = w.conj().T
        h0, g0, p0, q0 = self.hamiltonian, self.gradient, self.position, self.position_gradient
        spin = None if self.spin is None else wd @ self.spin @ w
        s0, j0 = self.spin_k, self.spin_current
        return replace(
            self,
            hamiltonian=lambda k: wd @ np.asarray(h0(k)) @ w,
            gradient=None if g0 is None else (lambda k: wd @ np.asarray(g0(k)) @ w),
            position=None if p0 is None else (lambda k: wd @ np.asarray(p0(k)) @ w),
            position_gradient=None if q0 is None else (lambda k: wd @ np.asarray(q0(k)) @ w),
            spin=spin,
            spin_k=None if s0 is None else (lambda k: wd @ np.asarray(s0(k)) @ w),
            spin_current=None if j0 is None else (lambda k, e, u, dh, tol: j0(k, e, w @ u, dh, tol)),
        )

    def describe(self) -> dict[str, Any]:
        """Flat description stored in result attributes (input files named portably: :func:`portable_paths`)."""
        return {
            "model": self.name,
            "model_parameters": portable_paths(dict(self.parameters)),
            "model_info": portable_paths(dict(self.info)),
            "dim": self.dim,
            "nbands": self.nbands,
            "periodic": self.periodic,
        }


_ABSOLUTE = re.compile(r"(?<![\w.])(/[^\s,;'\"()\[\]{}]+)")


#: nesting beyond which :func:`portable_paths` refuses a value (json, which stores attributes, fails near 1000)
_MAX_DEPTH = 200


def portable_paths(value: Any, _depth: int = 0) -> Any:
    """``value`` with every absolute path of an input replaced by its file name and, for a file, the first 16 hex
    digits of its sha256 (``Fe_tb.dat (sha256 1a2b…)``): result files then carry what identifies the input, not
    where it lay on the machine that wrote them.  A value nested deeper than 200 levels (or circular) cannot be
    stored as an attribute: ValueError."""
    if _depth > _MAX_DEPTH:
        raise ValueError(f"an attribute cannot be stored (nested more than {_MAX_DEPTH} levels deep, or circular)")
    if isinstance(value, dict):
        return {k: portable_paths(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(portable_paths(v, _depth + 1) for v in value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str) and "/" in value:
        return _ABSOLUTE.sub(lambda m: _portable(m.group(1)), value)
    return value


@functools.lru_cache(maxsize=256)
def _portable_file(path: str, mtime: float, size: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{os.path.basename(path)} (sha256 {digest.hexdigest()[:16]})"


def _portable(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return os.path.basename(path.rstrip("/")) or path
    if not os.path.isfile(path):
        return os.path.basename(path.rstrip("/")) or path
    return _portable_file(path, st.st_mtime, st.st_size)


def _check_finite(a: Array, what: str, k: Array) -> None:
    """ValueError naming the first k-point where ``a`` (``(..., N, n, n)``) has NaN or inf."""
    if np.all(np.isfinite(a)):
        return
    bad = ~np.all(np.isfinite(a), axis=(-2, -1))
    first = int(np.argwhere(bad.reshape(-1, bad.shape[-1]).any(axis=0))[0, 0])
    raise ValueError(f"{what} contains NaN or inf (first at k = {k[first]})")


# ---------------------------------------------------------------------------------------------- joint evaluation
class Evaluator(Protocol):
    """Computes several named k-dependent quantities at once (e.g. the Fourier sums of a Wannier model)."""

    def evaluate(self, k: Array, what: Sequence[str], out: Mapping[str, Array] | None = None) -> dict[str, Array]:
        """The named quantities at ``k``; ``out[name]`` (optional): a C-contiguous array of the result's shape to
        write into and return."""
        ...


@dataclass(frozen=True, eq=False)
class EvaluatorView:
    """A k-function that is one output of an :class:`Evaluator`: ``view(k) = evaluator.evaluate(k, (name,))[name]``.

    A model whose ``hamiltonian``, ``gradient``, ``position``, ... are views of one evaluator can have them
    computed together (:func:`evaluate_together`); each view alone is an ordinary function of k.
    """

    evaluator: Evaluator
    name: str

    def __call__(self, k: Array) -> Array:
        return self.evaluator.evaluate(k, (self.name,))[self.name]


def evaluate_together(k: Array, functions: Mapping[str, KFunction | None],
                      out: Mapping[str, Array] | None = None) -> dict[str, Array]:
    """``{key: f(k)}`` for every function given (``None`` skipped, values unvalidated); the
    :class:`EvaluatorView`s of one evaluator are computed in one ``evaluate`` call (one phase computation for a
    Wannier model), every other function on its own.  ``out[key]`` (optional): where an evaluator view writes its
    value (the evaluator checks the shape); ignored for other functions."""
    res: dict[str, Array] = {}
    groups: dict[int, tuple[Evaluator, list[tuple[str, str]]]] = {}
    for key, f in functions.items():
        if isinstance(f, EvaluatorView):
            groups.setdefault(id(f.evaluator), (f.evaluator, []))[1].append((key, f.name))
        elif f is not None:
            res[key] = np.asarray(f(k))
    for evaluator, items in groups.values():
        dest = {name: out[key] for key, name in items if out is not None and key in out}
        names = tuple(dict.fromkeys(name for _, name in items))
        values = evaluator.evaluate(k, names, out=dest) if dest else evaluator.evaluate(k, names)
        res.update({key: values[name] for key, name in items})
    return res


def _central_difference(func: KFunction, k: Array, step: float, dim: int) -> Array:
    """Fourth-order central differences of ``func`` along each k direction, ``(dim, ...)``."""
    out = []
    for a in range(dim):
        dk = np.zeros(dim)
        dk[a] = step
        d = (
            -np.asarray(func(k + 2 * dk)) + 8 * np.asarray(func(k + dk))
            - 8 * np.asarray(func(k - dk)) + np.asarray(func(k - 2 * dk))
        ) / (12 * step)
        out.append(d)
    return np.stack(out)
