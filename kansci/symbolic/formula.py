"""A fully symbolic KAN read back as sympy expressions, tidied and rounded.

:func:`formula` composes every layer's ``c * f(a*x + b) + d`` edges into one
expression per output. :func:`tidy` then expands it (so constants spread over
layers multiply out), snaps constants to nearby simple numbers, drops additive
terms below the precision and recombines exponentials. :func:`snap_constants`
is the rounding step alone, reusable on any sympy expression (e.g. the output of
a symbolic-regression engine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import sympy
import torch

from kansci.core.model import KAN

__all__ = ["evaluate", "formula", "latex", "snap_constants", "symbols", "tidy"]

MAX_DENOMINATOR = 12
"""Constants snap to p/q times a :data:`UNITS` number with q up to this (when within the precision)."""

_ROOT_2PI = sympy.sqrt(2 * sympy.pi)
UNITS: tuple[sympy.Expr, ...] = (sympy.Integer(1), sympy.pi, 1 / sympy.pi, _ROOT_2PI, 1 / _ROOT_2PI)
"""What snapped constants are rational multiples of, tried in this order: 1, pi, 1/pi (``1/(4 pi)``),
sqrt(2 pi) and 1/sqrt(2 pi) (a normal distribution's normalization)."""


def symbols(model: KAN, names: Sequence[str] | None = None) -> list[sympy.Symbol]:
    """The sympy symbols of the model's inputs.

    Default names are ``x_1, x_2, ...`` numbered by the original input columns
    (a model pruned to columns (0, 2) reads ``x_1, x_3``). ``names`` name the
    original columns: ``names[j]`` is column j.
    """
    ids = model.config.input_ids or tuple(range(model.width[0]))
    if names is None:
        return [sympy.Symbol(f"x_{j + 1}", real=True) for j in ids]
    names = list(names)
    if len(names) <= max(ids):
        raise ValueError(
            f"names has {len(names)} entries but the model reads input column {max(ids)}; "
            "give one name per column of the original data"
        )
    return [sympy.Symbol(str(names[j]), real=True) for j in ids]


def formula(
    model: KAN,
    names: Sequence[str] | None = None,
    *,
    precision: int | None = 4,
    simplify: bool = True,
) -> list[sympy.Expr]:
    """The network as one sympy expression per output.

    Every active edge must be symbolic (see :func:`~kansci.symbolic.auto_symbolic`);
    masked edges contribute nothing.

    Parameters
    ----------
    model : KAN
    names : sequence of str, optional
        Names of the original input columns; default ``x_1, x_2, ...``.
    precision : int or None
        Digits kept (see :func:`snap_constants`); None keeps every float as
        computed, so the expression reproduces the model to rounding error.
    simplify : bool
        Expand, snap and recombine (:func:`tidy`); False returns the raw
        composition.

    Returns
    -------
    list of sympy.Expr

    Raises
    ------
    ValueError
        If an active edge is still numeric (the message lists them).
    """
    if not isinstance(model, KAN):
        raise TypeError(f"formula needs a kansci.KAN, got {type(model).__name__}")
    numeric = _numeric_edges(model)
    if numeric:
        shown = ", ".join(f"({d},{i},{o})" for d, i, o in numeric[:10])
        raise ValueError(
            f"{len(numeric)} active edges are not symbolic, e.g. (layer,in,out) {shown}; "
            "snap them with kansci.symbolic.auto_symbolic or fix_symbolic first"
        )
    nodes: list[sympy.Expr] = list(symbols(model, names))
    for index, layer in enumerate(model.layers):
        outs: list[sympy.Expr] = [sympy.Integer(0)] * layer.out_features
        for row, ((i, o), fn) in enumerate(zip(layer.symbolic.edges.tolist(), layer.symbolic.functions())):
            if float(layer.mask[i, o]) == 0.0:
                continue
            a, b, c, d = (sympy.Float(float(v), 17) for v in layer.symbolic.affine[row].tolist())
            outs[o] = outs[o] + c * fn.sym(a * nodes[i] + b) + d
        nodes = [sympy.Integer(1)] * model.width[index + 1]
        for o, owner in enumerate(model.owners(index)):  # a sum node is its subnode; a product node multiplies
            nodes[owner] = nodes[owner] * outs[o]
        bias = model.bias(index)
        for m, value in enumerate([] if bias is None else bias.tolist()):  # plus its bias
            nodes[model.config.n_sum(index + 1) + m] += sympy.Float(value, 17)
    if not simplify:
        return nodes
    return [tidy(e, precision) for e in nodes]


def tidy(expr: sympy.Expr, precision: int | None = 4) -> sympy.Expr:
    """Expand, pull constant factors out of fractional powers, snap constants (if ``precision``), recombine exps.

    Everything before the final rounding happens at full precision: constant
    factors leave fractional powers (``7.164 * sqrt(0.01948 * a**2 + 0.01948)``
    is ``1.0 * sqrt(a**2 + 1)``), and exponents that are simple rationals
    (``x**0.9999999999``) and negligible constants are snapped first, so that
    the expansion which follows cancels like terms exactly. Rounding each
    constant first would leave ``0.9999 * sqrt(...)`` or a stray ``0.0002/b``.
    """
    expr = _normalize_powers(sympy.expand(expr))
    if precision is not None:
        expr = _normalize_powers(sympy.expand(_snap_structure(expr, precision)))
        expr = sympy.expand(snap_constants(expr, precision))
        expr = snap_constants(expr, precision)
    return sympy.powsimp(expr, combine="exp")


def _snap_structure(expr: sympy.Expr, precision: int) -> sympy.Expr:
    """Exponents within ``10**-precision`` of a simple rational become it; constants below ``10**-precision`` go.

    Every other constant keeps its full precision.
    """
    negligible = {f: sympy.Integer(0) for f in expr.atoms(sympy.Float) if abs(float(f)) < 10.0**-precision}

    def exponent_snapped(power: sympy.Pow) -> sympy.Expr:
        base, exponent = power.args
        if isinstance(exponent, sympy.Float):
            snapped = _snap(float(exponent), precision)
            if snapped.is_Rational:
                return base**snapped
        return power

    return expr.xreplace(negligible).replace(lambda e: e.is_Pow, exponent_snapped)


def _normalize_powers(expr: sympy.Expr) -> sympy.Expr:
    """``(c*u + c*v)**p -> c**p * (u + v)**p`` for fractional p and ``log(c*u + c*v) -> log(c) + log(u + v)``.

    c is the magnitude of the largest coefficient of the sum, so constants
    outside can combine with others before they are rounded.
    """

    def normalized(power: sympy.Pow) -> sympy.Expr:
        base, exponent = power.args
        if exponent.is_Integer or not base.is_Add or not exponent.is_number:
            return power
        c = _largest_coefficient(base)  # positive: the power's branch is kept
        if c == 0 or c == 1:
            return power
        return c**exponent * sympy.expand(base / c) ** exponent

    def split_log(log: sympy.Expr) -> sympy.Expr:
        (base,) = log.args
        if not base.is_Add:
            return log
        c = _largest_coefficient(base)
        if c == 0 or c == 1:
            return log
        return sympy.log(c) + sympy.log(sympy.expand(base / c))

    return expr.replace(lambda e: e.is_Pow, normalized).replace(lambda e: isinstance(e, sympy.log), split_log)


def _largest_coefficient(base: sympy.Add) -> sympy.Expr:
    """The magnitude of the numeric coefficient of largest magnitude among the terms of ``base``."""
    coefficients = [term.as_coeff_Mul()[0] for term in base.args]
    return abs(max(coefficients, key=lambda v: abs(float(v))))


def snap_constants(expr: sympy.Expr, precision: int = 4) -> sympy.Expr:
    """Round every float constant of ``expr``.

    A float below ``10**precision`` in magnitude and within relative
    ``10**-precision`` of a simple number becomes that number: an integer,
    ``p/q`` times one of :data:`UNITS` (``pi``, ``1/pi``, ``sqrt(2 pi)``, ...)
    with ``q <= MAX_DENOMINATOR``.
    Others are rounded to ``precision`` significant digits. A float below
    ``10**-precision`` in magnitude becomes 0, which removes the additive term
    it multiplies.
    """
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int (digits), got {precision!r}")
    return expr.xreplace({f: _snap(float(f), precision) for f in expr.atoms(sympy.Float)})


def evaluate(expr: sympy.Expr, variables: Sequence[sympy.Symbol], x) -> np.ndarray:
    """Evaluate ``expr`` at the rows of ``x`` in float64 (numpy, with scipy for special functions).

    Parameters
    ----------
    expr : sympy.Expr
    variables : sequence of sympy.Symbol
        The symbol of each column of ``x``, e.g. :func:`symbols` of the model.
    x : array-like or Tensor, shape (n, len(variables))

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    cols = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if cols.ndim != 2 or cols.shape[1] != len(variables):
        raise ValueError(f"x must have shape (n, {len(variables)}) (one column per variable), got {cols.shape}")
    fn = sympy.lambdify(list(variables), expr, modules=["scipy", "numpy"])
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(fn(*cols.T), dtype=np.float64), (cols.shape[0],)).copy()


def latex(exprs: sympy.Expr | Sequence[sympy.Expr]) -> str | list[str]:
    """LaTeX of one expression or of each in a list (e.g. :func:`formula`'s output)."""
    if isinstance(exprs, sympy.Basic):
        return sympy.latex(exprs)
    return [sympy.latex(e) for e in exprs]


# --- internals ----------------------------------------------------------------------


def _numeric_edges(model: KAN) -> list[tuple[int, int, int]]:
    out = []
    for depth, layer in enumerate(model.layers):
        symbolic = {tuple(e) for e in layer.symbolic.edges.tolist()}
        for i, o in (layer.mask != 0).nonzero().tolist():
            if (i, o) not in symbolic:
                out.append((depth, i, o))
    return out


def _snap(value: float, precision: int) -> sympy.Expr:
    tol = 10.0**-precision
    if not math.isfinite(value):
        return sympy.Float(value)
    if abs(value) < tol:
        return sympy.Integer(0)
    if abs(value) >= 10.0**precision:  # a large constant: its digits beyond the precision mean nothing
        return sympy.Float(float(f"{value:.{precision}g}"), precision)
    for symbol in UNITS:
        unit = float(symbol)
        ratio = Fraction(value / unit).limit_denominator(MAX_DENOMINATOR)
        if ratio != 0 and abs(float(ratio) * unit - value) <= tol * abs(value):
            return sympy.Rational(ratio.numerator, ratio.denominator) * symbol
    return sympy.Float(float(f"{value:.{precision}g}"), precision)
