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

from kansci.core.basis import BasisTable, horner
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
    _, _, values = _positions(x, spline_weight, table, (0,))
    return values.view(x.shape[1], x.shape[0], -1).transpose(0, 1)


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

    One lookup serves every order; differentiable (plain operations), as the
    exact PDE derivatives need for training.
    """
    return _positions(x, spline_weight, table, orders)[2:]


def _positions(x: Tensor, spline_weight: Tensor, table: BasisTable, orders: tuple[int, ...]) -> tuple[Tensor, ...]:
    """Per (input, point), input-major: the row, the position u in the interval (a column), and the splines'
    derivatives of the given orders at it, each (in * batch, out)."""
    k, n_out = table.k, spline_weight.shape[1]
    xt = x.t().contiguous()  # each input's points together: the lookups below read contiguous rows
    row = table.locate(xt, features_first=True).view(-1)
    rows = torch.cat([table.bounds, edge_polynomials(spline_weight, table).view(-1, (k + 1) * n_out)], dim=1)
    left, inv_width, *scaled = rows.index_select(0, row).split([1, 1] + [n_out] * (k + 1), dim=1)
    u = (xt.view(-1, 1) - left) * inv_width
    return row, u, *horner(u, scaled, inv_width, orders)


class _PolynomialLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_spline, scale_base, mask, table):  # type: ignore[override]
        batch, n_in = x.shape
        spline_weight, base_weight = effective_weights(coef, scale_spline, scale_base, mask, stacked=False)
        n_out = spline_weight.shape[1]
        row, u, values, *slope = _positions(x, spline_weight, table, (0, 1) if ctx.needs_input_grad[0] else (0,))
        silu = F.silu(x)
        out = torch.addmm(values.view(n_in, batch, n_out).sum(0), silu, base_weight)
        ctx.table = table
        ctx.save_for_backward(x, coef, scale_spline, scale_base, mask, base_weight, row, u, silu, *slope)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, coef, scale_spline, scale_base, mask, base_weight, row, u, silu, *slope = ctx.saved_tensors
        table: BasisTable = ctx.table
        k = table.k
        batch, n_in = x.shape
        n_out = grad.shape[1]
        needs_x, needs_params = ctx.needs_input_grad[0], ctx.needs_input_grad[1:4]
        if torch.is_grad_enabled():  # double backward: the same formulas on differentiable operations
            spline_weight, base_weight = effective_weights(coef, scale_spline, scale_base, mask, stacked=False)
            row, u, _, *slope = _positions(x, spline_weight, table, (0, 1) if needs_x else (0,))
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
        if needs_params[0] or needs_params[1]:
            # d value / d S_p = u^p / p (1 for p = 0), for every (input, point), times the output gradient
            powers = [torch.ones_like(u), u]
            for _ in range(k - 1):
                powers.append(powers[-1] * u)
            powers = torch.cat(powers, dim=1)  # (in * batch, k + 1)
            terms = powers.view(n_in, batch, k + 1, 1) * (grad.unsqueeze(1) * table.power_factors)
            rows = grad.new_zeros(table.consts.shape[0], (k + 1) * n_out)
            per_row = rows.index_add(0, row, terms.view(n_in * batch, -1)).view(-1, k + 1, n_out)
            window = torch.bmm(table.polynomials.transpose(1, 2), per_row).view(-1, n_out)
            grad_spline = coef.new_zeros(coef.shape[0] * coef.shape[1], n_out).index_add(
                0, table.flat_index.view(-1), window
            )
            grad_spline = grad_spline.view(coef.shape)
        if needs_params[2]:
            grad_base = silu.t() @ grad
        grads = parameter_grads(grad_spline, grad_base, coef, scale_spline, mask, needs_params)
        return grad_x, *grads, None, None
