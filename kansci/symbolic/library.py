"""Candidate univariate functions for symbolic snapping: torch, safe torch, sympy, complexity.

Every entry is a :class:`SymbolicFunction`. ``fn`` is the plain mathematical
function (it may return NaN or inf outside its domain), ``safe`` is the variant
the fitter evaluates: finite, with finite gradients, for every finite input, so a
grid search over ``f(a*x + b)`` never produces NaN. ``sym`` maps a sympy
expression to a sympy expression.

Complexity convention (lower is simpler; used by :func:`kansci.symbolic.suggest`)::

    0                                                         0
    x                                                         1
    x^n, n = 2..5                                             n
    1/x^n, n = 1..5                                           n + 1
    sqrt, exp, log, sin, cos                                  2
    x^1.5, 1/sqrt, abs, sgn, tan, tanh, cosh, sech, gaussian  3
    arcsin, arccos, arctan, arctanh                           4

This follows pykan's ordering (identity cheapest, common transcendental
functions next, inverse trigonometric functions dearest) but makes powers grow
with the degree so that a higher power never ties with a lower one.

Safe variants (``eps`` is the machine epsilon of the input dtype): poles of
``1/x^n``, ``1/sqrt``, ``log`` and ``tan`` are kept ``sqrt(eps)`` away, with the
sign kept (``log`` uses ``|x|``); ``sqrt`` and ``x^1.5`` clamp negative inputs to
0 (``sqrt`` to the smallest normal number, where its slope is still finite);
``arcsin``, ``arccos``, ``arctanh`` clamp into ``[-1 + eps, 1 - eps]``; ``exp``
and the powers clamp large inputs so that their squares still fit the dtype.

The built-in set :data:`LIBRARY` is read-only. :func:`register` adds a user
function to this process's registry (deliberate module-level state, like a
plugin table; :func:`unregister` removes it again) and :func:`get` returns
built-ins plus registered ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import sympy
import torch
from torch import Tensor

__all__ = ["LIBRARY", "SymbolicFunction", "get", "register", "unregister"]

TorchFn = Callable[[Tensor], Tensor]
SympyFn = Callable[[sympy.Expr], sympy.Expr]


@dataclass(frozen=True)
class SymbolicFunction:
    """One candidate function.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"sin"`` or ``"x^2"``.
    fn : callable Tensor -> Tensor
        The mathematical function, elementwise.
    safe : callable Tensor -> Tensor
        Elementwise variant that the fitter evaluates. For the built-ins it is
        finite with finite gradients for every finite input (singularities are
        clamped away, the sign kept); inside the domain and away from the clamps
        it equals ``fn``.
    sym : callable sympy.Expr -> sympy.Expr
        The sympy counterpart.
    complexity : int
        Non-negative cost used to prefer simple formulas.
    """

    name: str
    fn: TorchFn = field(repr=False, compare=False)
    safe: TorchFn = field(repr=False, compare=False)
    sym: SympyFn = field(repr=False, compare=False)
    complexity: int = 1


# --- clamping helpers: dtype-aware so float32 and float64 both stay finite ---------


def _pole_gap(x: Tensor) -> float:
    """Smallest |argument| allowed at a pole: sqrt(machine epsilon) of x's dtype."""
    return math.sqrt(torch.finfo(x.dtype).eps)


def _away_from_zero(x: Tensor, gap: float) -> Tensor:
    """``x`` with ``|x| >= gap``, keeping the sign (0 maps to +gap)."""
    sign = torch.where(x < 0, -torch.ones_like(x), torch.ones_like(x))
    return sign * x.abs().clamp(min=gap)


def _bounded(x: Tensor, power: float) -> Tensor:
    """Clamp ``|x|`` so that ``|x|**(2*power)`` is still finite in x's dtype."""
    limit = torch.finfo(x.dtype).max ** (1.0 / (2.0 * power))
    return x.clamp(-limit, limit)


def _exp_cap(x: Tensor) -> float:
    """Largest exponent whose exp can still be squared without overflow (with margin)."""
    return 0.25 * math.log(torch.finfo(x.dtype).max)


def _open_unit(x: Tensor) -> Tensor:
    """Clamp into the open interval (-1, 1) so arcsin/arccos/arctanh stay finite."""
    one = 1.0 - torch.finfo(x.dtype).eps
    return x.clamp(-one, one)


def _power(n: int) -> tuple[TorchFn, TorchFn, SympyFn]:
    def fn(x: Tensor) -> Tensor:
        return x**n

    def safe(x: Tensor) -> Tensor:
        return _bounded(x, n) ** n

    def sym(x: sympy.Expr) -> sympy.Expr:
        return x**n

    return fn, safe, sym


def _inverse_power(n: int) -> tuple[TorchFn, TorchFn, SympyFn]:
    def fn(x: Tensor) -> Tensor:
        return x ** (-n)

    def safe(x: Tensor) -> Tensor:
        return _away_from_zero(x, _pole_gap(x)) ** (-n)

    def sym(x: sympy.Expr) -> sympy.Expr:
        return x ** (-n)

    return fn, safe, sym


def _safe_sqrt(x: Tensor) -> Tensor:
    # clamp to a tiny positive number, not 0: d sqrt/dx is infinite at 0
    return torch.sqrt(x.clamp(min=torch.finfo(x.dtype).tiny))


def _safe_x15(x: Tensor) -> Tensor:
    return _bounded(x, 1.5).clamp(min=0.0) ** 1.5


def _safe_rsqrt(x: Tensor) -> Tensor:
    return torch.rsqrt(x.clamp(min=_pole_gap(x)))


def _safe_exp(x: Tensor) -> Tensor:
    return torch.exp(x.clamp(max=_exp_cap(x)))


def _safe_log(x: Tensor) -> Tensor:
    return torch.log(x.abs().clamp(min=_pole_gap(x)))


def _safe_tan(x: Tensor) -> Tensor:
    return torch.sin(x) / _away_from_zero(torch.cos(x), _pole_gap(x))


def _gaussian(x: Tensor) -> Tensor:
    return torch.exp(-(x**2))


def _safe_gaussian(x: Tensor) -> Tensor:
    return torch.exp(-(_bounded(x, 2.0) ** 2))


def _safe_cosh(x: Tensor) -> Tensor:
    cap = _exp_cap(x)
    return torch.cosh(x.clamp(-cap, cap))


def _sech(x: Tensor) -> Tensor:
    return 1.0 / torch.cosh(x)


def _safe_sech(x: Tensor) -> Tensor:
    return 1.0 / _safe_cosh(x)


def _lorentz(x: Tensor) -> Tensor:
    return torch.rsqrt(1.0 - x**2)


def _safe_lorentz(x: Tensor) -> Tensor:
    return torch.rsqrt((1.0 - _bounded(x, 1) ** 2).clamp(min=_pole_gap(x)))


def _zero(x: Tensor) -> Tensor:
    return 0.0 * x  # not zeros_like: keeps the autograd graph (zero gradient)


def _sym_zero(x: sympy.Expr) -> sympy.Expr:
    return sympy.Integer(0)


def _builtins() -> dict[str, SymbolicFunction]:
    entries: list[tuple[str, TorchFn, TorchFn, SympyFn, int]] = [
        ("0", _zero, _zero, _sym_zero, 0),
        ("x", lambda x: x, lambda x: x, lambda x: x, 1),
    ]
    for n in range(2, 6):
        entries.append((f"x^{n}", *_power(n), n))
    for n in range(1, 6):
        entries.append(("1/x" if n == 1 else f"1/x^{n}", *_inverse_power(n), n + 1))
    entries += [
        ("sqrt", torch.sqrt, _safe_sqrt, sympy.sqrt, 2),
        ("x^1.5", lambda x: x**1.5, _safe_x15, lambda x: x ** sympy.Rational(3, 2), 3),
        ("1/sqrt", torch.rsqrt, _safe_rsqrt, lambda x: 1 / sympy.sqrt(x), 3),
        ("exp", torch.exp, _safe_exp, sympy.exp, 2),
        ("log", torch.log, _safe_log, sympy.log, 2),
        ("abs", torch.abs, torch.abs, sympy.Abs, 3),
        ("sin", torch.sin, torch.sin, sympy.sin, 2),
        ("cos", torch.cos, torch.cos, sympy.cos, 2),
        ("tan", torch.tan, _safe_tan, sympy.tan, 3),
        ("tanh", torch.tanh, torch.tanh, sympy.tanh, 3),
        ("cosh", torch.cosh, _safe_cosh, sympy.cosh, 3),
        ("sech", _sech, _safe_sech, lambda x: 1 / sympy.cosh(x), 3),  # 1/cosh: cancels against cosh in formulas
        ("sgn", torch.sign, torch.sign, sympy.sign, 3),
        ("arcsin", torch.asin, lambda x: torch.asin(_open_unit(x)), sympy.asin, 4),
        ("arccos", torch.acos, lambda x: torch.acos(_open_unit(x)), sympy.acos, 4),
        ("arctan", torch.atan, torch.atan, sympy.atan, 4),
        ("arctanh", torch.atanh, lambda x: torch.atanh(_open_unit(x)), sympy.atanh, 4),
        ("gaussian", _gaussian, _safe_gaussian, lambda x: sympy.exp(-(x**2)), 3),
        ("1/sqrt(1-x^2)", _lorentz, _safe_lorentz, lambda x: 1 / sympy.sqrt(1 - x**2), 4),
    ]
    return {name: SymbolicFunction(name, fn, safe, sym, c) for name, fn, safe, sym, c in entries}


FOUND_PREFIX = "edge_"
"""Names of functions a symbolic-regression engine found for one edge (:mod:`kansci.symbolic.edge_engine`):
registered so models using them save, load and read as formulas, but not candidates for other edges."""

LIBRARY: Mapping[str, SymbolicFunction] = MappingProxyType(_builtins())
"""The built-in candidates (read-only), name -> SymbolicFunction: the KAN paper's set plus ``cosh``,
``sech = 1/cosh``, the profile of solitons and of two-level populations (``1/(e^a + e^-a)``), and
``1/sqrt(1 - x^2)``, the Lorentz factor of relativity (and the derivative of arcsin), which no affine
composition of the paper's functions gives on one edge."""

_REGISTERED: dict[str, SymbolicFunction] = {}


def register(
    name: str,
    fn: TorchFn,
    sym: SympyFn,
    complexity: int,
    safe: TorchFn | None = None,
    *,
    overwrite: bool = False,
) -> SymbolicFunction:
    """Add a user function to the registry so that :func:`get` and ``suggest`` see it.

    Parameters
    ----------
    name : str
        New, non-empty name; built-in names are reserved.
    fn : callable Tensor -> Tensor
        Elementwise torch function, e.g. ``torch.special.bessel_j0``.
    sym : callable sympy.Expr -> sympy.Expr
        Sympy counterpart, e.g. ``lambda x: sympy.besselj(0, x)``.
    complexity : int
        Non-negative cost, see the table in the module docstring.
    safe : callable Tensor -> Tensor, optional
        Variant that is finite for every finite input. Defaults to ``fn``; the
        fitter then skips (rather than clamps) parameters (a, b) that take
        ``a*x + b`` outside ``fn``'s domain.
    overwrite : bool
        Replace an earlier registration of the same name.

    Returns
    -------
    SymbolicFunction
        The registered entry.

    Raises
    ------
    ValueError
        Empty or reserved name, name already registered without ``overwrite``,
        negative complexity, or ``fn``/``sym`` that do not map tensors to tensors
        of the same shape / sympy expressions to sympy expressions.

    Examples
    --------
    >>> import sympy, torch
    >>> j0 = register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), 3)
    >>> unregister("J0")
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if name in LIBRARY:
        raise ValueError(f"{name!r} is a built-in symbolic function; register yours under another name")
    if name in _REGISTERED and not overwrite:
        raise ValueError(f"{name!r} is already registered; pass overwrite=True to replace it")
    if isinstance(complexity, bool) or not isinstance(complexity, int) or complexity < 0:
        raise ValueError(f"complexity must be a non-negative int, got {complexity!r}")
    safe = fn if safe is None else safe
    probe = torch.linspace(0.1, 0.9, 5, dtype=torch.float64)
    for label, candidate in (("fn", fn), ("safe", safe)):
        out = candidate(probe)
        if not isinstance(out, Tensor) or out.shape != probe.shape:
            raise ValueError(f"{label} must map a Tensor to a Tensor of the same shape (elementwise); got {out!r}")
    expr = sym(sympy.Symbol("x"))
    if not isinstance(expr, sympy.Basic):
        raise ValueError(f"sym must map a sympy expression to a sympy expression; got {type(expr).__name__}")
    entry = SymbolicFunction(name, fn, safe, sym, complexity)
    _REGISTERED[name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove a function added with :func:`register`.

    Raises
    ------
    ValueError
        If ``name`` is built-in or was never registered.
    """
    if name in LIBRARY:
        raise ValueError(f"{name!r} is built-in and cannot be removed; pass get(names) a subset instead")
    if name not in _REGISTERED:
        raise ValueError(f"{name!r} is not registered; registered: {sorted(_REGISTERED)}")
    del _REGISTERED[name]


def get(names: Iterable[str] | str | None = None) -> dict[str, SymbolicFunction]:
    """Candidate functions by name: built-ins plus registered ones.

    Parameters
    ----------
    names : iterable of str, str, or None
        Which functions; None means all of them. Order is kept.

    Returns
    -------
    dict[str, SymbolicFunction]
        A fresh dict; editing it does not touch the registry.

    Raises
    ------
    ValueError
        If a name is unknown; the message lists the known names.
    """
    known = {**LIBRARY, **_REGISTERED}
    if names is None:
        return known
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown symbolic function(s) {unknown}; known: {', '.join(known)}. "
            "Add your own with kansci.symbolic.register(name, fn, sym, complexity)."
        )
    return {n: known[n] for n in names}
