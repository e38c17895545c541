"""A KAN layer as one autograd node (dense and sparse paths).

Evaluated op by op, a small layer's training step is dominated by the fixed
cost of each eager kernel and autograd node (basis lookup, scatter, SiLU,
concatenation, matmul and their backward nodes), not by arithmetic. Here the
forward pass is the same computation as :meth:`KANLayer.combine` on the dense
path, and the backward pass is written out: two matmuls and a gather, with the
basis slopes kept from the forward pass. Above ``SPARSE_FROM_BASES`` bases the
sparse variant gathers the k + 1 touched coefficient rows per input instead of
building the design matrix (:func:`sparse_layer`). A double backward (nested
autograd through the layer) recomputes the bases with differentiable
operations and applies the same formulas.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from kansci.core.basis import BasisTable, _evaluate, _LocalBases, scatter_dense

__all__ = [
    "SparseDesign",
    "dense_layer",
    "design_matrix",
    "edge_weights",
    "kept_layer",
    "silu_derivatives",
    "sparse_design",
    "sparse_layer",
]


def edge_weights(
    coef: Tensor, scale_spline: Tensor, scale_base: Tensor, mask: Tensor | None, stacked: bool = True
) -> tuple[Tensor, ...]:
    """The effective weights of a layer's edges, as one autograd node.

    Spline rows ``coef[i, j] * scale_spline[i] * mask[i]`` and base rows
    ``scale_base[i] * mask[i]``. With ``stacked``, one matrix of shape
    (in * (G + k + 1), out): per input its G + k spline rows, then its base
    row (the weight of :func:`dense_layer`). Otherwise the spline matrix
    (in * (G + k), out) and the base matrix (in, out) (those of :func:`sparse_layer`).
    ``mask=None`` stands for a mask of ones (no product with it, forward or backward).
    """
    return _EdgeWeights.apply(coef, scale_spline, scale_base, mask, stacked)


class _EdgeWeights(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, scale_spline, scale_base, mask, stacked):  # type: ignore[override]
        n_in, nb, n_out = coef.shape
        ctx.stacked = stacked
        spline_scale = scale_spline if mask is None else scale_spline * mask
        ctx.save_for_backward(coef, scale_spline, mask)  # backward redoes the products: a double backward needs them
        base = scale_base if mask is None else scale_base * mask
        if not stacked:
            return (coef * spline_scale.unsqueeze(1)).view(n_in * nb, n_out), base.clone() if mask is None else base
        weight = coef.new_empty(n_in, nb + 1, n_out)
        torch.mul(coef, spline_scale.unsqueeze(1), out=weight[:, :nb])
        weight[:, nb] = base
        return weight.view(-1, n_out)

    @staticmethod
    def backward(ctx, *grads):  # type: ignore[override]
        coef, scale_spline, mask = ctx.saved_tensors
        n_in, nb, n_out = coef.shape
        if ctx.stacked:
            grad = grads[0].view(n_in, nb + 1, n_out)
            grad_spline, grad_base = grad[:, :nb], grad[:, nb]
        else:
            grad_spline, grad_base = grads[0].view(n_in, nb, n_out), grads[1]
        grad_coef = grad_scale = None
        if ctx.needs_input_grad[0]:
            grad_coef = grad_spline * (scale_spline if mask is None else scale_spline * mask).unsqueeze(1)
        if ctx.needs_input_grad[1]:
            grad_scale = (grad_spline * coef).sum(1)
            if mask is not None:
                grad_scale = grad_scale * mask
        if not ctx.needs_input_grad[2]:
            grad_base = None
        elif mask is not None:
            grad_base = grad_base * mask
        return grad_coef, grad_scale, grad_base, None, None


def dense_layer(x: Tensor, weight: Tensor, table: BasisTable, design: Tensor | None = None) -> Tensor:
    """``[B(x) | SiLU(x)] @ weight`` for a batch, as one autograd node.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    weight : Tensor, shape (in_features * (G + k + 1), out_features)
        Per input, G + k spline rows then its base-function row.
    table : BasisTable
    design : Tensor, optional
        ``design_matrix(x, table)`` computed before, for an x that needs no
        gradient (the input layer sees the same data at every step of a
        full-batch fit).

    Returns
    -------
    Tensor, shape (batch, out_features)
    """
    return _DenseLayer.apply(x, weight, table, design)


def design_matrix(x: Tensor, table: BasisTable, slope: bool = False) -> tuple[Tensor, ...]:
    """``[B(x) | SiLU(x)]`` per input, shape (batch, in_features, G + k + 1).

    With ``slope``, also what the backward pass needs: the table rows, the
    local basis indices, sigmoid(x) and the basis slopes.
    """
    batch, n_in = x.shape
    nb = table.n_basis
    values, *slopes, idx, row = _local_values(x, table, slope, table.local_index)
    idx = idx.view(batch, n_in, -1)
    dense = x.new_zeros(batch, n_in, nb + 1)
    dense[..., :nb].scatter_add_(-1, idx, values)
    sig = torch.sigmoid(x)
    torch.mul(x, sig, out=dense[..., nb])
    return (dense, row, idx, sig, *slopes) if slope else (dense,)


def _local_values(x: Tensor, table: BasisTable, slope: bool, index: Tensor) -> tuple[Tensor, ...]:
    """Local basis values (and slopes), their ``index`` rows, shape (batch * in, k + 1), and the table rows."""
    batch, n_in = x.shape
    row = table.locate(x)
    flat_row = row.reshape(-1)
    consts = table.consts.index_select(0, flat_row).view(batch, n_in, -1)
    derivs = _evaluate(x, consts, table.k, (0, 1) if slope else (0,))
    del consts  # the largest transient (2 + (k+1)^2 numbers per input): gone before the caller allocates
    return (*derivs, index.index_select(0, flat_row), row)


def silu_derivatives(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """SiLU(x) and its first two derivatives."""
    s = torch.sigmoid(x)
    return x * s, _silu_slope(x, s), s * (1 - s) * (2 + x * (1 - 2 * s))


def _silu_slope(x: Tensor, sig: Tensor) -> Tensor:
    """d SiLU / dx = s (1 + x (1 - s)) with s = sigmoid(x)."""
    return sig * (1 + x * (1 - sig))


class _DenseLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, table: BasisTable, design: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.table = table
        if design is not None or not ctx.needs_input_grad[0]:
            dense = design if design is not None else design_matrix(x, table)[0]
            ctx.save_for_backward(x, weight, dense)
        else:
            dense, *rest = design_matrix(x, table, slope=True)
            ctx.save_for_backward(x, weight, dense, *rest)
        return dense.view(x.shape[0], -1) @ weight

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, weight, dense, *rest = ctx.saved_tensors
        table: BasisTable = ctx.table
        batch, n_in = x.shape
        nb = table.n_basis
        grad_x = grad_w = None
        if torch.is_grad_enabled() and ctx.needs_input_grad[0]:  # double backward: differentiable operations
            row, idx = rest[0], rest[1]
            values, slope = _LocalBases.apply(x, table.consts, row, table.k, (0, 1))
            dense = scatter_dense(values, row, table, extra=F.silu(x))
            silu_slope = _silu_slope(x, torch.sigmoid(x))
        elif ctx.needs_input_grad[0]:
            _, idx, sig, slope = rest
            silu_slope = _silu_slope(x, sig)
        if ctx.needs_input_grad[1]:
            grad_w = dense.view(batch, -1).t() @ grad
        if ctx.needs_input_grad[0]:
            back = (grad @ weight.t()).view(batch, n_in, nb + 1)
            grad_x = (back[..., :nb].gather(-1, idx) * slope).sum(-1) + back[..., nb] * silu_slope
        return grad_x, grad_w, None, None


def sparse_layer(x: Tensor, spline_weight: Tensor, base_weight: Tensor, table: BasisTable) -> Tensor:
    """``sum_{i,s} B_s(x_i) spline_weight[index(i, s)] + SiLU(x) @ base_weight`` as one autograd node.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    spline_weight : Tensor, shape (in_features * (G + k), out_features)
    base_weight : Tensor, shape (in_features, out_features)
    table : BasisTable

    Returns
    -------
    Tensor, shape (batch, out_features)
    """
    return _SparseLayer.apply(x, spline_weight, base_weight, table)


class _SparseLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, spline_weight, base_weight, table):  # type: ignore[override]
        batch = x.shape[0]
        need_x = ctx.needs_input_grad[0]
        values, *slope, idx, row = _local_values(x, table, need_x, table.flat_index)
        picked = spline_weight.index_select(0, idx.view(-1)).view(batch, -1, spline_weight.shape[1])
        out = torch.bmm(values.view(batch, 1, -1), picked).view(batch, -1)
        sig = torch.sigmoid(x)
        out = torch.addmm(out, x * sig, base_weight)
        ctx.table = table
        # the picked rows are kept for the input gradient (k + 1 rows of out numbers per input)
        ctx.save_for_backward(x, spline_weight, base_weight, values, idx, row, sig, picked, *slope)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, spline_weight, base_weight, values, idx, row, sig, picked, *slope = ctx.saved_tensors
        table: BasisTable = ctx.table
        batch, n_in = x.shape
        if torch.is_grad_enabled() and ctx.needs_input_grad[0]:  # double backward: differentiable operations
            values, slope = _LocalBases.apply(x, table.consts, row, table.k, (0, 1))
            sig = torch.sigmoid(x)
            picked = spline_weight.index_select(0, idx.view(-1)).view(batch, -1, grad.shape[1])
        else:
            slope = slope[0] if slope else None
        grad_x = grad_spline = grad_base = None
        if ctx.needs_input_grad[1]:  # every (point, input, local basis) adds values * grad to its row
            terms = values.reshape(batch, -1, 1) * grad.unsqueeze(1)
            grad_spline = torch.zeros_like(spline_weight).index_add(0, idx.view(-1), terms.view(-1, grad.shape[1]))
        if ctx.needs_input_grad[2]:
            grad_base = (x * sig).t() @ grad
        if ctx.needs_input_grad[0]:
            through = torch.bmm(picked, grad.unsqueeze(-1)).view(batch, n_in, -1)
            grad_x = (through * slope).sum(-1) + (grad @ base_weight.t()) * _silu_slope(x, sig)
        return grad_x, grad_spline, grad_base, None


class SparseDesign(NamedTuple):
    """``[B(x) | SiLU(x)]`` of fixed inputs as sparse CSR matrices: the design and its transpose.

    Each (point, input) holds k + 2 non-zeros (its k + 1 local bases and the
    SiLU value) among G + k + 1 columns, so for fine grids this is a small
    fraction of the dense design.
    """

    matrix: Tensor
    transposed: Tensor


def sparse_design(x: Tensor, table: BasisTable) -> SparseDesign:
    """The design matrix of ``x`` (columns ordered as in :func:`dense_layer`'s weight) in CSR form."""
    batch, n_in = x.shape
    nb = table.n_basis
    values, idx, _ = _local_values(x, table, False, table.local_index)
    start = torch.arange(n_in, device=x.device).mul_(nb + 1).view(1, n_in, 1)
    cols = torch.cat([idx.view(batch, n_in, -1) + start, (start + nb).expand(batch, n_in, 1)], dim=-1)
    vals = torch.cat([values, F.silu(x).unsqueeze(-1)], dim=-1)
    per_row = n_in * (table.k + 2)
    crow = torch.arange(0, batch * per_row + 1, per_row, device=x.device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        matrix = torch.sparse_csr_tensor(
            crow, cols.reshape(-1), vals.reshape(-1), (batch, n_in * (nb + 1)), check_invariants=False
        )
        return SparseDesign(matrix, matrix.t().to_sparse_csr())


def kept_layer(weight: Tensor, design: SparseDesign) -> Tensor:
    """``design @ weight`` for a design kept by :func:`sparse_design`; differentiable in ``weight``."""
    return _KeptLayer.apply(weight, design)


class _KeptLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight: Tensor, design: SparseDesign) -> Tensor:  # type: ignore[override]
        ctx.design = design
        return design.matrix @ weight

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        if torch.is_grad_enabled():  # linear in grad: keep it differentiable for a double backward
            return _KeptLayer.apply(grad, SparseDesign(ctx.design.transposed, ctx.design.matrix)), None
        return ctx.design.transposed @ grad, None
