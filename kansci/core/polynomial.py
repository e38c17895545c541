"""A layer evaluated as one polynomial per edge and grid interval (the path for narrow layers).

On each interval of its grid an edge's spline is a polynomial of degree k in
the position within the interval. Its k + 1 coefficients are the k + 1 local
bases' polynomials (tabulated in :class:`BasisTable`) weighted by the k + 1
spline coefficients they touch: one small batched product per call, for every
interval at once. A point then costs a row lookup and k fused multiply-adds per
output, and no basis values at all.

That beats the design matrix (k + 1 basis values per input, then a matmul over
G + k + 1 columns per output) when a layer has few outputs, and its cost does
not depend on G. The backward pass adds the powers of the position, weighted by
the output gradient, into the rows of the interval polynomials, and maps those
back to the coefficients with the transposed product.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from kansci.core.basis import BasisTable, _falling, horner
from kansci.core.fused import effective_weights, parameter_grads, silu_slope

__all__ = ["edge_derivatives", "edge_polynomials", "edge_values", "polynomial_layer"]


def edge_polynomials(spline_weight: Tensor, table: BasisTable) -> Tensor:
    """Every edge's spline on every table row's interval, as a polynomial.

    Parameters
    ----------
    spline_weight : Tensor, shape (in_features * (G + k), out_features)
    table : BasisTable

    Returns
    -------
    Tensor, shape (rows, k + 1, out_features)
        ``[r, p, o]`` is ``S_p = p P_p`` (``S_0 = P_0``) of edge (input of row
        r, o), where ``P_p`` is the coefficient of ``u^p`` (the scaling of
        :func:`kansci.core.basis.horner`). Sentinel rows are zero.
    """
    window = spline_weight.index_select(0, table.flat_index.view(-1)).view(-1, table.k + 1, spline_weight.shape[1])
    return torch.bmm(table.polynomials, window)


def edge_values(x: Tensor, spline_weight: Tensor, table: BasisTable) -> Tensor:
    """Every edge's spline at x, shape (batch, in_features, out_features) (differentiable).

    ``spline_weight`` is (in_features * (G + k), out_features): coefficients,
    scaled or not, as :func:`edge_polynomials` takes them.
    """
    values = _positions(x, spline_weight, table, (0,))[3]
    return values.unflatten(0, (x.shape[1], x.shape[0])).transpose(0, 1)


def polynomial_layer(
    x: Tensor, coef: Tensor, scale_spline: Tensor, scale_base: Tensor, mask: Tensor | None, table: BasisTable
) -> Tensor:
    """``sum_i spline_i(x_i) + SiLU(x) @ base_weight``, each edge's spline evaluated as its interval's polynomial.

    The same function as :func:`kansci.core.fused.dense_layer`, as one
    autograd node that takes the layer's parameters (a double backward
    recomputes with differentiable operations).

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    coef, scale_spline, scale_base, mask : Tensor
        The layer's parameters and mask (None: all ones), as :func:`~kansci.core.fused.edge_weights` takes them.
    table : BasisTable

    Returns
    -------
    Tensor, shape (batch, out_features)
    """
    return _PolynomialLayer.apply(x, coef, scale_spline, scale_base, mask, table)


def edge_derivatives(
    x: Tensor, spline_weight: Tensor, table: BasisTable, orders: tuple[int, ...]
) -> tuple[Tensor, ...]:
    """Derivatives in x of the given orders of every edge's spline, each (in * batch, out), input-major.

    One lookup serves every order, as one autograd node: its backward pass
    needs the next order of each (evaluated in the forward pass from the same
    lookup) and scatters the gradient into the interval polynomials, as the
    layer's does. A double backward recomputes with differentiable operations.
    """
    return _EdgeDerivatives.apply(x, spline_weight, table, tuple(orders))


class _EdgeDerivatives(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, spline_weight, table, orders):  # type: ignore[override]
        higher = tuple(d + 1 for d in orders)
        wanted = tuple(sorted(set(orders) | set(higher)))
        row, u, inv_width, *derivs = _positions(x, spline_weight, table, wanted)
        by_order = dict(zip(wanted, derivs))
        ctx.table, ctx.orders = table, orders
        ctx.save_for_backward(x, spline_weight, row, u, inv_width, *(by_order[d] for d in higher))
        return tuple(by_order[d] for d in orders)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        x, spline_weight, row, u, inv_width, *higher = ctx.saved_tensors
        table: BasisTable = ctx.table
        orders = ctx.orders
        if torch.is_grad_enabled():  # double backward: the same formulas on differentiable operations
            row, u, inv_width, *higher = _positions(x, spline_weight, table, tuple(d + 1 for d in orders))
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:  # d/dx of order d is order d + 1
            through = sum((g * h).sum(-1) for g, h in zip(grads, higher))
            grad_x = through.view(x.shape[1], x.shape[0]).t()
        if ctx.needs_input_grad[1]:
            terms = _order_terms(u, inv_width, dict(zip(orders, grads)), table.k)
            grad_weight = _coefficient_grad(terms, row, table)
        return grad_x, grad_weight, None, None


def _order_terms(u: Tensor, inv_width: Tensor | None, grads: dict[int, Tensor], k: int) -> Tensor:
    """Per (input, point): the gradient of the scaled coefficients S_p, (in * batch, k + 1, out).

    Order r of a polynomial is ``inv_width^r sum_{p >= r} c(r, p) S_p u^(p - r)``
    with ``c(0, p) = 1 / p`` (1 at p = 0) and ``c(r, p) = (p - 1)! / (p - r)!``
    (see :func:`kansci.core.basis.horner`); ``grads[r]`` is the gradient of order r (``inv_width`` may be
    None when only order 0 is there).
    """
    powers = [None, u]
    for _ in range(k - 1):
        powers.append(powers[-1] * u)
    weighted = {r: g if r == 0 else g * (inv_width if r == 1 else inv_width.pow(r)) for r, g in grads.items()}
    columns = []
    for p in range(k + 1):
        column = None
        for r in sorted((r for r in weighted if r <= p), reverse=True):  # the r = p term needs no product
            g = weighted[r]
            c = (1.0 / p if p else 1.0) if r == 0 else float(_falling(p - 1, r - 1))
            if column is not None:
                column = torch.addcmul(column, g, powers[p - r], value=c)
            elif p == r:
                column = g if c == 1.0 else g * c
            else:
                column = g * powers[p - r] if c == 1.0 else (g * powers[p - r]).mul_(c)
        columns.append(column if column is not None else torch.zeros_like(next(iter(weighted.values()))))
    return torch.stack(columns, dim=1)


def _coefficient_grad(terms: Tensor, row: Tensor, table: BasisTable) -> Tensor:
    """The gradient of the spline weights, (in * (G + k), out), from per-point gradients of the interval
    polynomials' scaled coefficients (``terms``, (in * batch, k + 1, out)) at table rows ``row``."""
    n_out = terms.shape[2]
    rows = terms.new_zeros(table.consts.shape[0], terms.shape[1] * n_out)
    per_row = rows.index_add(0, row, terms.reshape(terms.shape[0], -1)).view(-1, terms.shape[1], n_out)
    window = torch.bmm(table.polynomials.transpose(1, 2), per_row).view(-1, n_out)
    n_weights = table.knots.shape[0] * table.n_basis
    return window.new_zeros(n_weights, n_out).index_add(0, table.flat_index.view(-1), window)


def _positions(x: Tensor, spline_weight: Tensor, table: BasisTable, orders: tuple[int, ...]) -> tuple[Tensor, ...]:
    """Per (input, point), input-major: the row, the position u in the interval and the interval's reciprocal
    width (columns), and the splines' derivatives of the given orders at it, each (in * batch, out)."""
    k, n_out = table.k, spline_weight.shape[1]
    xt = x.t().contiguous()  # each input's points together: the lookups below read contiguous rows
    row = table.locate(xt, features_first=True).view(-1)
    rows = torch.cat([table.bounds, edge_polynomials(spline_weight, table).view(-1, (k + 1) * n_out)], dim=1)
    left, inv_width, *scaled = rows.index_select(0, row).split([1, 1] + [n_out] * (k + 1), dim=1)
    u = (xt.view(-1, 1) - left) * inv_width
    return row, u, inv_width, *horner(u, scaled, inv_width, orders)


class _PolynomialLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_spline, scale_base, mask, table):  # type: ignore[override]
        batch, n_in = x.shape
        spline_weight, base_weight = effective_weights(coef, scale_spline, scale_base, mask, stacked=False)
        n_out = spline_weight.shape[1]
        row, u, _, values, *slope = _positions(x, spline_weight, table, (0, 1) if ctx.needs_input_grad[0] else (0,))
        silu = F.silu(x)
        out = torch.addmm(values.view(n_in, batch, n_out).sum(0), silu, base_weight)
        ctx.table = table
        ctx.save_for_backward(x, coef, scale_spline, scale_base, mask, base_weight, row, u, silu, *slope)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, coef, scale_spline, scale_base, mask, base_weight, row, u, silu, *slope = ctx.saved_tensors
        table: BasisTable = ctx.table
        batch, n_in = x.shape
        n_out = grad.shape[1]
        needs_x, needs_params = ctx.needs_input_grad[0], ctx.needs_input_grad[1:4]
        if torch.is_grad_enabled():  # double backward: the same formulas on differentiable operations
            spline_weight, base_weight = effective_weights(coef, scale_spline, scale_base, mask, stacked=False)
            row, u, _, _, *slope = _positions(x, spline_weight, table, (0, 1) if needs_x else (0,))
            silu = F.silu(x)
        grad_x = grad_spline = grad_base = None
        if needs_x:
            through = (slope[0].view(n_in, batch, n_out) * grad).sum(-1)
            base = grad @ base_weight.t()
            if torch.is_grad_enabled():  # (aten's silu_backward has no derivative)
                base = base * silu_slope(x, torch.sigmoid(x))
            else:
                base = torch.ops.aten.silu_backward(base, x)
            grad_x = base + through.t()
        if needs_params[0] or needs_params[1]:  # every (input, point) passes on its output's gradient
            per_point = grad.expand(n_in, batch, n_out).reshape(n_in * batch, n_out)
            terms = _order_terms(u, None, {0: per_point}, table.k)
            grad_spline = _coefficient_grad(terms, row, table).view(coef.shape)
        if needs_params[2]:
            grad_base = silu.t() @ grad
        grads = parameter_grads(grad_spline, grad_base, coef, scale_spline, mask, needs_params)
        return grad_x, *grads, None, None
