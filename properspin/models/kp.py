"""A user's own k·p model, written as text.

>>> m = kp_model("[[C + D*(k_x**2 + k_y**2), alpha*(k_y + I*k_x)],"
...              " [alpha*(k_y - I*k_x), C + D*(k_x**2 + k_y**2)]]",
...              {"C": 0.0, "D": 3.81, "alpha": 0.3}, spin="pauli")

The matrix is parsed by sympy from a whitelisted grammar (numbers, names, ``+ - * / ** ^``, and the
functions in :data:`FUNCTIONS`; no attribute access, no other calls) within the size limits of
:data:`LIMITS` (text length, matrix size, nesting depth, constant exponents and numbers: sympy evaluates
``9**9**9**9`` exactly, which never ends, so such text is refused up front), the parameters are substituted,
∂H/∂k_a is derived with ``sympy.diff``, and the non-zero entries of H and of ∂H/∂k are compiled with
``sympy.lambdify(..., cse=True)`` into vectorised numpy functions of k (Å⁻¹, energies in eV).

Names: ``k_x, k_y, k_z`` (or ``kx, ky, kz``) are the wave-vector components, ``I`` is the imaginary
unit, ``pi`` is π; every other name is a parameter (so ``E``, ``N``, ``S``, ``beta``, ``gamma`` are plain
parameters here, unlike in ``sympy.sympify``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from ..model import PAULI, SPIN_HALF, Array, KFunction, Model

__all__ = ["FUNCTIONS", "LIMITS", "SPIN_THREE_HALVES", "kp_model", "parse_matrix", "parse_spin"]

#: Limits on k·p text, refused with a ValueError beyond them: characters of the whole matrix text and of one
#: entry, matrix size n (n × n), syntax-tree nodes and nesting depth of one entry, the magnitude of a
#: constant exponent, and of any number or constant sub-expression (as a float).
LIMITS = {"text": 200_000, "entry": 10_000, "bands": 64, "nodes": 5_000, "depth": 60, "exponent": 64,
          "number": 1e300}

#: Wave-vector symbols (real), and the names that denote them.
K_SYMBOLS = sympy.symbols("k_x k_y k_z", real=True)
_K_NAMES = {f"{p}{c}": s for c, s in zip("xyz", K_SYMBOLS, strict=True) for p in ("k_", "k")}

#: Functions allowed in a matrix entry.
FUNCTIONS = {
    f.__name__: f
    for f in (sympy.sqrt, sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.sinh,
              sympy.cosh, sympy.tanh, sympy.conjugate, sympy.re, sympy.im)
} | {"Abs": sympy.Abs, "abs": sympy.Abs}

_GLOBALS: dict[str, Any] = {
    "__builtins__": {}, "Symbol": sympy.Symbol, "Integer": sympy.Integer, "Float": sympy.Float,
    "Rational": sympy.Rational, "I": sympy.I, "pi": sympy.pi, **FUNCTIONS,
}
_TRANSFORMS = (*standard_transformations, convert_xor)
_AST_OK = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant, ast.Add,
           ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Call)


def _spin_three_halves() -> Array:
    """J_x, J_y, J_z for j = 3/2 (Condon–Shortley phases) in the basis {+3/2, −3/2, +1/2, −1/2}."""
    m = np.array([1.5, 0.5, -0.5, -1.5])  # standard order first
    jp = np.diag(np.sqrt(15 / 4 - m[1:] * (m[1:] + 1)), 1).astype(complex)  # <m+1|J+|m>
    jx, jy, jz = (jp + jp.T) / 2, (jp - jp.T) / 2j, np.diag(m).astype(complex)
    order = [0, 3, 1, 2]
    return np.stack([j[np.ix_(order, order)] for j in (jx, jy, jz)])


#: Spin-3/2 matrices J (units of ħ, conventions §1 decision s = ħJ) in the hole-gas basis {+3/2, −3/2, +1/2, −1/2}.
SPIN_THREE_HALVES = _spin_three_halves()

_SCALARS = {"tau0": np.eye(2), "sigma0": np.eye(2), "taux": PAULI[0], "tauy": PAULI[1],
            "tauz": PAULI[2]}
_VECTORS = {"pauli": SPIN_HALF}


# ---------------------------------------------------------------------------------------- spin
def parse_spin(spec: str | Array | None, n: int) -> Array | None:
    """Spin operators (3, n, n) in units of ħ from a name, an expression or an explicit array.

    ``spec``:
      * ``None`` → ``None`` (charge-only model);
      * ``"pauli"`` → σ/2 (n = 2); ``"spin3/2"`` → J in the basis {+3/2, −3/2, +1/2, −1/2} (n = 4);
      * a ``kron(...)`` of the 2×2 factors ``tau0, sigma0, taux, tauy, tauz``, ``eye(m)`` and exactly
        one spin vector ``pauli`` (= (σx, σy, σz)/2) or ``spin3/2``, e.g. ``"kron(tau0, pauli)"`` =
        kron(1₂, σ/2); the vector is kron'ed component by component;
      * an array of shape (3, n, n).
    Raises ValueError on an unknown name or a shape that does not match n.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        text = spec.replace(" ", "").lower().replace("spin3/2", "spin32").replace("spin1/2", "pauli")
        if len(text) > LIMITS["entry"]:
            raise ValueError(f"spin text has {len(text)} characters, more than {LIMITS['entry']}")
        try:
            s = _spin_expr(ast.parse(text, mode="eval").body)
        except (SyntaxError, ValueError) as exc:
            raise ValueError(f"cannot read spin {spec[:80]!r}: {exc}") from None
        except (RecursionError, MemoryError):
            raise ValueError(f"cannot read spin {spec[:80]!r}: nested too deeply") from None
        if s.ndim != 3:
            raise ValueError(f"spin {spec!r} contains no spin vector (pauli or spin3/2)")
    else:
        s = np.asarray(spec, dtype=complex)
    if s.shape != (3, n, n):
        raise ValueError(f"spin {_spin_name(spec)!r} has shape {s.shape}, the matrix needs (3, {n}, {n})")
    return s


def _spin_expr(node: ast.AST) -> Array:
    if isinstance(node, ast.Name):
        if node.id in _SCALARS:
            return _SCALARS[node.id].astype(complex)
        if node.id in _VECTORS:
            return _VECTORS[node.id]
        if node.id == "spin32":
            return SPIN_THREE_HALVES
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id == "eye" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant):
            m = node.args[0].value
            if not isinstance(m, int) or not 1 <= m <= LIMITS["bands"]:
                raise ValueError(f"eye(m) needs an integer 1 ≤ m ≤ {LIMITS['bands']}, got {m!r}")
            return np.eye(m, dtype=complex)
        if node.func.id == "kron" and node.args:
            parts = [_spin_expr(a) for a in node.args]
            if sum(p.ndim == 3 for p in parts) > 1:
                raise ValueError("kron(...) may contain only one spin vector")
            if math.prod(p.shape[-1] for p in parts) > LIMITS["bands"]:
                raise ValueError(f"kron(...) is larger than {LIMITS['bands']} × {LIMITS['bands']}")
            out = parts[0]
            for p in parts[1:]:
                if out.ndim == 3 or p.ndim == 3:
                    out = np.stack([np.kron(a, b) for a, b in zip(_vec(out), _vec(p), strict=True)])
                else:
                    out = np.kron(out, p)
            return out
    raise ValueError(f"unknown term {ast.unparse(node)!r}; use pauli, spin3/2, tau0, taux, tauy, "
                     "tauz, sigma0, eye(m) and kron(...)")


def _vec(a: Array) -> Array:
    return a if a.ndim == 3 else np.broadcast_to(a, (3, *a.shape))


def _spin_name(spec: str | Array | None) -> str | None:
    return spec if spec is None or isinstance(spec, str) else "explicit"


# ---------------------------------------------------------------------------------------- matrix
def _split_top(text: str, where: str) -> list[str]:
    """Split at commas outside brackets; a trailing comma is allowed."""
    parts, depth, start = [], 0, 0
    for pos, ch in enumerate(text):
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            raise ValueError(f"unbalanced brackets in {where}: {text!r}")
        if ch == "," and depth == 0:
            parts.append(text[start:pos].strip())
            start = pos + 1
    if depth:
        raise ValueError(f"unbalanced brackets in {where}: {text!r}")
    parts.append(text[start:].strip())
    if len(parts) > 1 and not parts[-1]:
        parts.pop()
    return parts


def _rows_from_text(text: str) -> list[list[str]]:
    s = text.strip()
    if s.startswith("Matrix(") and s.endswith(")"):
        s = s[len("Matrix("):-1].strip()
    if not (s.startswith("[") and s.endswith("]")):
        raise ValueError("matrix text must look like [[a, b], [c, d]]")
    rows = []
    for i, row in enumerate(_split_top(s[1:-1], "the matrix")):
        if not (row.startswith("[") and row.endswith("]")):
            raise ValueError(f"row {i} is not a bracketed list: {row!r}")
        rows.append(_split_top(row[1:-1], f"row {i}"))
    return rows


def _depth(tree: ast.AST) -> int:
    """Nesting depth of a syntax tree, iteratively; a chain of one associative operator (``a + b + c``, ``a*b*c``)
    counts once, since sympy flattens it, so only true nesting (``-(-(-(...)))``, ``f(f(f(...)))``) counts."""
    def kind(node: ast.AST) -> type | None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return ast.Add
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            return ast.Mult
        return None

    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        for child in ast.iter_child_nodes(node):
            same = kind(child) is not None and kind(child) is kind(node)
            stack.append((child, d if same else d + 1))
    return deepest


def _check_constants(tree: ast.AST, where: str) -> None:
    """Refuse what sympy would evaluate exactly without end: constant exponents beyond ``LIMITS['exponent']``
    (``9**9**9``), and numbers or constant sub-expressions beyond ``LIMITS['number']`` (``(10**64)**64``).

    Every sub-expression made of numbers only is evaluated bottom-up in floating point (magnitudes); one
    with a name or a call is None.  Iterative: a long chain of operators must not exhaust the stack.
    """
    big, value = LIMITS["number"], {}
    order, stack = [], [tree]
    while stack:  # parents before children; evaluated in reverse
        node = stack.pop()
        order.append(node)
        stack.extend(ast.iter_child_nodes(node))
    for node in reversed(order):
        v = None
        if isinstance(node, ast.Constant):
            v = abs(complex(node.value))
            if not v <= big:
                raise ValueError(f"{where}: the number {ast.unparse(node)[:40]} is larger than {big:g}")
        elif isinstance(node, ast.UnaryOp):
            v = value.get(id(node.operand))
        elif isinstance(node, ast.BinOp):
            a, b = value.get(id(node.left)), value.get(id(node.right))
            if isinstance(node.op, ast.Pow) and b is not None and b > LIMITS["exponent"]:
                raise ValueError(f"{where}: the exponent {ast.unparse(node.right)[:40]} is larger than "
                                 f"{LIMITS['exponent']} (a k·p Hamiltonian needs small powers)")
            if a is not None and b is not None:
                try:
                    if isinstance(node.op, ast.Pow):
                        v = a**b if a or b >= 0 else 0.0
                    elif isinstance(node.op, ast.Mult):
                        v = a * b
                    elif isinstance(node.op, ast.Div):
                        v = a / b if b else 0.0  # sympy gives zoo: refused later as infinite
                    else:
                        v = a + b
                except OverflowError:
                    v = math.inf
                if not v <= big:
                    raise ValueError(f"{where}: {ast.unparse(node)[:60]} evaluates to more than {big:g}")
        value[id(node)] = v


def _parse_entry(text: str, i: int, j: int) -> sympy.Expr:
    where = f"matrix entry ({i}, {j}) {text[:80]!r}"
    if not text:
        raise ValueError(f"{where} is empty")
    if len(text) > LIMITS["entry"]:
        raise ValueError(f"{where}: {len(text)} characters, more than {LIMITS['entry']}")
    try:  # ^ is a power, as sympy's convert_xor reads it (right-associative, like **)
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError) as exc:  # ValueError: an integer literal of over 4300 digits
        raise ValueError(f"{where} could not be parsed: {getattr(exc, 'msg', exc)}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"{where} is too long a chain or nested too deeply for the parser") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > LIMITS["nodes"]:
        raise ValueError(f"{where}: {nodes} syntax-tree nodes, more than {LIMITS['nodes']}")
    if _depth(tree) > LIMITS["depth"]:
        raise ValueError(f"{where} is nested too deeply (limit {LIMITS['depth']})")
    for node in ast.walk(tree):
        bad = not isinstance(node, _AST_OK)
        bad |= isinstance(node, ast.Name) and node.id.startswith("_")
        bad |= isinstance(node, ast.Constant) and type(node.value) not in (int, float, complex)
        bad |= isinstance(node, ast.Call) and (
            node.keywords or not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS)
        if bad:
            what = ast.unparse(node) or f"the operator {type(node).__name__}"  # an operator unparses to ''
            raise ValueError(f"{where}: {what!r} is not allowed "
                             f"(only numbers, names, + - * / ** and {sorted(FUNCTIONS)})")
    _check_constants(tree.body, where)
    try:
        expr = parse_expr(text, local_dict=dict(_K_NAMES), global_dict=dict(_GLOBALS),
                          transformations=_TRANSFORMS)
    except (RecursionError, MemoryError):
        raise ValueError(f"{where} is too large or nested too deeply for sympy") from None
    except Exception as exc:  # noqa: BLE001 - sympy raises many kinds; report them uniformly
        raise ValueError(f"{where} could not be parsed: {exc}") from None
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"{where} is not a scalar expression")
    _check_finite(expr, where)
    return expr


def _check_finite(expr: sympy.Expr, where: str) -> None:
    if expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        raise ValueError(f"{where} is infinite or undefined (a division by zero?)")


def parse_matrix(matrix: str | Sequence[Sequence[Any]]) -> tuple[sympy.Matrix, list[list[str]]]:
    """Parse a square matrix of expressions; returns (sympy Matrix, the entries' source texts).

    ``matrix`` is a string ``"[[a, b], [c, d]]"`` or a list of lists of strings / numbers / sympy
    expressions.  Raises ValueError naming the row or entry at fault.
    """
    if isinstance(matrix, str) and len(matrix) > LIMITS["text"]:
        raise ValueError(f"matrix text has {len(matrix)} characters, more than {LIMITS['text']}")
    rows = _rows_from_text(matrix) if isinstance(matrix, str) else [[str(e) for e in r] for r in matrix]
    n = len(rows)
    if n > LIMITS["bands"]:
        raise ValueError(f"matrix has {n} rows, more than {LIMITS['bands']} bands")
    if n == 0 or rows == [[""]]:
        raise ValueError("matrix is empty")
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]):
            raise ValueError(f"ragged matrix: row {i} has {len(row)} entries, row 0 has {len(rows[0])}")
    if len(rows[0]) != n:
        raise ValueError(f"matrix is not square: {n} rows of {len(rows[0])} entries")
    return sympy.Matrix(n, n, lambda i, j: _parse_entry(rows[i][j], i, j)), rows


# ---------------------------------------------------------------------------------------- compile
def _compile(entries: dict[tuple[int, ...], sympy.Expr], shape: tuple[int, ...], dim: int) -> KFunction:
    """Vectorised k (N, dim) → array (*shape[:-2], N, n, n) of the given non-zero entries."""
    index = list(entries)
    f = sympy.lambdify(K_SYMBOLS[:dim], list(entries.values()), modules="numpy", cse=True) \
        if index else None

    def evaluate(k: Array) -> Array:
        k = np.asarray(k, dtype=float)
        out = np.zeros((*shape[:-2], k.shape[0], *shape[-2:]), dtype=complex)
        if f is not None:
            for (*lead, i, j), value in zip(index, f(*k.T), strict=True):
                out[(*lead, slice(None), i, j)] = value  # a constant broadcasts to (N,)
        return out

    return evaluate


def _check_hermitian(ham: KFunction, texts: list[list[str]], dim: int, seed: int = 0) -> None:
    """Check H = H† on 20 random k (|k_a| < 1 Å⁻¹); name the worst entry if not."""
    k = np.random.default_rng(seed).uniform(-1.0, 1.0, (20, dim))
    k[0] = 0.0
    with np.errstate(all="ignore"):
        hk = ham(k)
    if not np.all(np.isfinite(hk)):
        raise ValueError("matrix gives NaN or inf at small k (|k_a| < 1 Å⁻¹)")
    dev = np.max(np.abs(hk - hk.conj().transpose(0, 2, 1)), axis=0)
    i, j = np.unravel_index(np.argmax(dev), dev.shape)
    if dev[i, j] > 1e-10 * (1.0 + np.max(np.abs(hk))):
        raise ValueError(
            f"matrix is not Hermitian: entry ({i}, {j}) {texts[i][j]!r} is not the complex conjugate "
            f"of entry ({j}, {i}) {texts[j][i]!r} (max |H - H†| = {dev[i, j]:.3g} eV on random k)")


def kp_model(
    matrix: str | Sequence[Sequence[Any]],
    parameters: dict[str, float] | None = None,
    *,
    spin: str | Array | None = "pauli",
    dim: int | None = None,
    name: str = "kp",
) -> Model:
    """A continuum k·p :class:`Model` from a text matrix of sympy expressions.

    Parameters
    ----------
    matrix
        ``"[[..., ...], [..., ...]]"`` (or a list of lists of strings) in ``k_x, k_y, k_z`` (Å⁻¹) and
        named parameters; ``I`` is the imaginary unit.  Energies in eV.
    parameters
        ``{name: value}`` for every other symbol, no more and no fewer.
    spin
        See :func:`parse_spin`: ``"pauli"``, ``"spin3/2"``, ``"kron(tau0, pauli)"``, an array or None.
    dim
        Number of k directions; default: the highest component used, at least 2.
    name
        Model.name.
    """
    h, texts = parse_matrix(matrix)
    source = matrix if isinstance(matrix, str) else "[" + ", ".join(
        "[" + ", ".join(row) + "]" for row in texts) + "]"
    n = h.shape[0]
    params = {str(key): val for key, val in (parameters or {}).items()}
    needed = {s.name for s in h.free_symbols} - {s.name for s in K_SYMBOLS}
    if missing := sorted(needed - set(params)):
        raise ValueError(f"missing parameter(s) {', '.join(missing)} (matrix uses {sorted(needed)})")
    if unknown := sorted(set(params) - needed):
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}: not in the matrix")
    try:
        floats = {key: float(val) for key, val in params.items()}
    except (TypeError, ValueError):
        raise ValueError(f"parameters must be real numbers, got {params!r}") from None
    if bad := sorted(key for key, val in floats.items() if not math.isfinite(val)):
        raise ValueError(f"parameter(s) {', '.join(bad)} must be finite numbers, got "
                         + ", ".join(f"{key}={floats[key]}" for key in bad))
    values = {sympy.Symbol(key): sympy.Float(val) for key, val in floats.items()}
    h = h.xreplace(values)
    for (i, j), entry in np.ndenumerate(np.array(h.tolist(), dtype=object)):
        _check_finite(entry, f"matrix entry ({i}, {j}) {texts[i][j][:80]!r} with the parameters given")

    used = max((a + 1 for a, s in enumerate(K_SYMBOLS) if h.has(s)), default=0)
    dim = max(used, 2) if dim is None else dim
    if dim not in (1, 2, 3) or dim < used:
        raise ValueError(f"dim={dim} is invalid: must be 1, 2 or 3 and cover the k components used ({used})")
    cells = [(i, j) for i in range(n) for j in range(n)]
    ham = _compile({(i, j): h[i, j] for i, j in cells if h[i, j] != 0}, (n, n), dim)
    _check_hermitian(ham, texts, dim)
    s = parse_spin(spin, n)

    grad_entries = {}
    for a in range(dim):
        for i, j in cells:
            d = sympy.diff(h[i, j], K_SYMBOLS[a])
            if d != 0:
                grad_entries[(a, i, j)] = d
    grad = _compile(grad_entries, (dim, n, n), dim)
    return Model(
        hamiltonian=ham, gradient=grad, spin=s, dim=dim, name=name,
        parameters={key: float(val) for key, val in params.items()},
        info={"matrix": source, "spin": _spin_name(spin), "k_unit": "1/Angstrom", "energy_unit": "eV"},
    )
