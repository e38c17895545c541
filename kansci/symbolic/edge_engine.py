"""A symbolic-regression engine on a single edge, where no library function fits it.

An edge of a trained KAN is a function of one variable, sampled as densely as
one likes: an easy problem for a symbolic-regression engine, far easier than
the whole data set. :func:`engine_edge` fits the engine on one edge's
samples, registers the formula it finds as a library function (so the edge
can be fixed, trained and read like any other) and fixes the edge to it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import sympy
import torch
from torch import Tensor

from kansci.core.model import KAN
from kansci.symbolic.library import FOUND_PREFIX, get, register
from kansci.symbolic.snap import edge_data, fix_symbolic

__all__ = ["engine_edge", "engine_functions", "register_expression", "torch_function"]

_TORCH = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt,
    "Abs": torch.abs, "tanh": torch.tanh, "sinh": torch.sinh, "cosh": torch.cosh, "asin": torch.asin,
    "acos": torch.acos, "atan": torch.atan, "sign": torch.sign, "pi": float(np.pi), "E": float(np.e),
}  # fmt: skip


def torch_function(expr: sympy.Expr, variable: sympy.Symbol):
    """``expr`` as an elementwise torch function of ``variable`` (a ValueError names what has no torch counterpart)."""
    unknown = {type(f).__name__ for f in expr.atoms(sympy.Function)} - set(_TORCH)
    if unknown:
        raise ValueError(f"no torch counterpart for {sorted(unknown)} in {expr}")
    fn = sympy.lambdify(variable, expr, modules=[_TORCH])

    def elementwise(x: Tensor) -> Tensor:
        out = fn(x)
        return out if isinstance(out, Tensor) and out.shape == x.shape else torch.full_like(x, float(out))

    return elementwise


def engine_edge(
    model: KAN, x: Tensor, layer: int, i: int, o: int, engine, budget, max_samples: int = 512
) -> tuple[sympy.Expr, float] | None:
    """Fit ``engine`` on edge ``(layer, i, o)`` and fix the edge to its formula (in place).

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
        Inputs the edge is sampled on.
    layer, i, o : int
    engine : kansci.sr.Engine
    budget : kansci.sr.Budget
    max_samples : int
        Samples of the edge handed to the engine.

    Returns
    -------
    (sympy.Expr, float) or None
        The formula in the edge's input ``x`` and its R^2 on the samples;
        None (and the edge untouched) when the formula has no torch counterpart
        or is not finite on the samples.
    """
    xe, ye = edge_data(model, x, layer, i, o, max_samples)
    result = engine.fit(xe[:, None].detach().cpu().numpy(), ye.detach().cpu().numpy(), ["u"], budget)
    u, t = sympy.Symbol("u", real=True), sympy.Symbol("x")
    expr = result.best.raw.subs({s: u for s in result.best.raw.free_symbols if s.name == "u"})
    try:
        fn = torch_function(expr, u)
        values = fn(xe)
    except (ValueError, TypeError, NameError):
        return None
    if not bool(torch.isfinite(values).all()):
        return None
    r2 = 1.0 - float(((values - ye) ** 2).sum() / ((ye - ye.mean()) ** 2).sum().clamp_min(1e-300))
    fix_symbolic(model, layer, i, o, register_expression(expr.subs(u, t)), params=(1.0, 0.0, 1.0, 0.0))
    return expr.subs(u, t), r2


def register_expression(expr: sympy.Expr) -> str:
    """Register ``expr``, a formula in the symbol ``x``, as a library function; returns its name.

    Names start with :data:`~kansci.symbolic.library.FOUND_PREFIX`; registering a formula twice registers it
    once. Such functions are no candidates for other edges (``lib=None`` leaves them out).
    """
    t = sympy.Symbol("x")
    name = FOUND_PREFIX + hashlib.sha1(sympy.srepr(expr).encode()).hexdigest()[:10]
    if name not in get():
        fn = torch_function(expr, t)
        safe = lambda v: torch.nan_to_num(fn(v), nan=0.0, posinf=1e12, neginf=-1e12)  # noqa: E731
        register(name, fn, lambda arg: expr.subs(t, arg), int(sympy.count_ops(expr)) + 1, safe=safe)
    return name


def engine_functions(model: KAN) -> dict[str, sympy.Expr]:
    """The formulas (in ``x``) of the registered engine functions the model's edges use, by name."""
    names = {n for layer in model.layers for n in layer.symbolic.names if n.startswith(FOUND_PREFIX)}
    return {n: get(n)[n].sym(sympy.Symbol("x")) for n in sorted(names)}
