"""The splines under symbolic edges: grids spanning sample values, least-squares fits, :func:`to_numeric`.

A symbolic edge keeps its spline underneath (masked off). Fitting that spline
to the edge's function ``c * f(a*x + b) + d`` on the values the edge sees, on
a grid spanning them, makes the edge ready to be un-fixed: the KAN then
computes nearly the same function with every edge numeric, and trains.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from kansci.core.basis import extend_grid
from kansci.core.grid import fit_coefficients, uniform_grid
from kansci.core.layer import KANLayer
from kansci.core.model import KAN
from kansci.symbolic.snap import unfix

__all__ = ["fit_splines_", "to_numeric"]

POINTS_PER_INTERVAL = 4
"""Evenly spaced points per grid interval added to the samples in every fit (no basis is left unseen)."""


def to_numeric(model: KAN, x: Tensor, *, margin: float = 0.05) -> KAN:
    """A copy of ``model`` whose symbolic edges are splines fit to their functions.

    The copy's splines are fit with :func:`fit_splines_`, then every edge is
    un-fixed (:func:`~kansci.symbolic.unfix`). The copy trains like any KAN.

    Parameters
    ----------
    model : KAN
        E.g. from :func:`~kansci.symbolic.compile_formula` or
        :func:`~kansci.symbolic.auto_symbolic`; left untouched.
    x : Tensor, shape (batch, width[0])
        Inputs covering the domain the copy should reproduce (include the
        corners of a box: hidden values often peak there).
    margin : float
        Fraction of each grid's span added on both sides (see :func:`fit_splines_`).

    Returns
    -------
    KAN
        With no symbolic edges; masked edges stay masked.

    Examples
    --------
    >>> x = torch.rand(500, 2, dtype=torch.float64)
    >>> numeric = to_numeric(compile_formula("x * sin(y)", ["x", "y"]), x)
    >>> len(numeric.layers[0].symbolic)
    0
    """
    if not isinstance(model, KAN):
        raise TypeError(f"to_numeric needs a kansci.KAN, got {type(model).__name__}")
    out = copy.deepcopy(model)
    fit_splines_(out, x, margin=margin)
    unfix(out)
    return out


@torch.no_grad()
def fit_splines_(model: KAN, x: Tensor, *, margin: float = 0.05) -> None:
    """Move the grids of the layers with symbolic edges over their inputs for x and refit the splines (in place).

    Each input's grid becomes uniform over the values it takes for ``x``,
    widened by ``margin`` of that span on both sides (not where one of its
    edges grows in the margin past twice its size on the samples, as near a
    pole). Splines are fit by least squares on those values plus evenly spaced
    points over the grid: a symbolic edge's spline to ``c * f(a*x + b) + d``
    (its base weight set to 0, its spline weight to 1), a numeric edge's to its
    current spline, a masked edge's to 0. Symbolic edges stay symbolic.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
        At least two rows, all finite.
    margin : float in [0, 1]
    """
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0.0 <= margin <= 1.0:
        raise ValueError(f"margin must be a fraction in [0, 1] of each grid's span, got {margin!r}")
    model.check_input(x, "x")
    if x.shape[0] < 2 or not bool(torch.isfinite(x).all()):
        raise ValueError(f"x needs at least two rows, all finite, to span the grids; got shape {tuple(x.shape)}")
    inputs = model.layer_inputs(x)
    for layer, values in zip(model.layers, inputs[:-1]):
        if len(layer.symbolic):
            _fit_layer_(layer, values, float(margin))


def _fit_layer_(layer: KANLayer, values: Tensor, margin: float) -> None:
    lo, hi = values.min(dim=0).values, values.max(dim=0).values
    narrow = (hi - lo) < 1e-3  # an input that hardly varies gets a grid of width 1e-3 around it
    mid = 0.5 * (lo + hi)
    lo, hi = torch.where(narrow, mid - 5e-4, lo), torch.where(narrow, mid + 5e-4, hi)
    points, target = _targets(layer, values, lo - margin * (hi - lo), hi + margin * (hi - lo))
    inside = ((points >= lo) & (points <= hi))[..., None]
    size = lambda where: torch.where(where, target.abs(), 0.0).amax(dim=(0, 2))  # noqa: E731
    grows = ~torch.isfinite(target).all(dim=2).all(dim=0) | (size(~inside) > 2 * size(inside) + 1e-12)
    if margin and bool(grows.any()):
        width = torch.where(grows, 0.0, margin * (hi - lo))
        points, target = _targets(layer, values, lo - width, hi + width)
    lo, hi = points[values.shape[0]], points[-1]  # the first and the last evenly spaced point: the grid's span
    layer.knots.copy_(extend_grid(uniform_grid(lo, hi, layer.grid_size), layer.k))
    layer.coef.copy_(fit_coefficients(layer.basis(points), target))


def _targets(layer: KANLayer, values: Tensor, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """Fit points (the samples, then evenly spaced points from lo to hi) and every edge's target there."""
    points = torch.cat([values, uniform_grid(lo, hi, POINTS_PER_INTERVAL * layer.grid_size).T])
    target = layer.spline_values(points) * layer.mask
    edges = layer.symbolic.edges
    target[:, edges[:, 0], edges[:, 1]] = layer.symbolic.terms(points, layer.mask)[0]
    layer.scale_base[edges[:, 0], edges[:, 1]] = 0.0
    layer.scale_spline[edges[:, 0], edges[:, 1]] = 1.0
    return points, target
