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
    "silu_slope",
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

    The layer nodes (:func:`dense_layer`, :func:`sparse_layer`,
    :func:`~kansci.core.polynomial.polynomial_layer`) take the parameters
    themselves and do this inside, one autograd node fewer per call.
    """
    return _EdgeWeights.apply(coef, scale_spline, scale_base, mask, stacked)


def effective_weights(
    coef: Tensor, scale_spline: Tensor, scale_base: Tensor, mask: Tensor | None, stacked: bool
) -> tuple[Tensor, ...]:
    """What :func:`edge_weights` returns, by plain (differentiable) operations."""
    n_in, nb, n_out = coef.shape
    spline = coef * (scale_spline if mask is None else scale_spline * mask).unsqueeze(1)
    base = scale_base if mask is None else scale_base * mask
    if stacked:
        return (torch.cat([spline, base.unsqueeze(1)], dim=1).view(-1, n_out),)
    return spline.view(n_in * nb, n_out), base


def parameter_grads(
    grad_spline: Tensor | None,
    grad_base: Tensor | None,
    coef: Tensor,
    scale_spline: Tensor,
    mask: Tensor | None,
    needs: tuple[bool, bool, bool],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of coef, scale_spline and scale_base from those of the effective weights.

    ``grad_spline`` is shaped like ``coef`` (in, G + k, out), ``grad_base``
    (in, out); ``needs`` says which of the three are wanted.
    """
    grad_coef = grad_scale = None
    if needs[0]:
        grad_coef = grad_spline * (scale_spline if mask is None else scale_spline * mask).unsqueeze(1)
    if needs[1]:
        grad_scale = (grad_spline * coef).sum(1)
        if mask is not None:
            grad_scale = grad_scale * mask
    if not needs[2]:
        grad_base = None
    elif mask is not None:
        grad_base = grad_base * mask
    return grad_coef, grad_scale, grad_base


class _EdgeWeights(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coef, scale_spline, scale_base, mask, stacked):  # type: ignore[override]
        ctx.stacked = stacked
        ctx.save_for_backward(coef, scale_spline, mask)  # backward redoes the products: a double backward needs them
        out = effective_weights(coef, scale_spline, scale_base, mask, stacked)
        if stacked:
            return out[0]
        return out if mask is not None else (out[0], out[1].clone())  # never an input itself

    @staticmethod
    def backward(ctx, *grads):  # type: ignore[override]
        coef, scale_spline, mask = ctx.saved_tensors
        n_in, nb, n_out = coef.shape
        if ctx.stacked:
            grad = grads[0].view(n_in, nb + 1, n_out)
            grad_spline, grad_base = grad[:, :nb], grad[:, nb]
        else:
            grad_spline, grad_base = grads[0].view(n_in, nb, n_out), grads[1]
        needs = ctx.needs_input_grad[:3]
        return (*parameter_grads(grad_spline, grad_base, coef, scale_spline, mask, needs), None, None)


def dense_layer(
    x: Tensor,
    coef: Tensor,
    scale_spline: Tensor,
    scale_base: Tensor,
    mask: Tensor | None,
    table: BasisTable,
    design: Tensor | None = None,
) -> Tensor:
    """``[B(x) | SiLU(x)] @ weight`` for a batch, as one autograd node.

    ``weight`` is the stacked matrix of :func:`edge_weights`, formed inside
    from the layer's parameters.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    coef, scale_spline, scale_base, mask : Tensor
        The layer's parameters and mask (None: all ones), as :func:`edge_weights` takes them.
    table : BasisTable
    design : Tensor, optional
        ``design_matrix(x, table)[0]`` computed before, for an x that needs no
        gradient (the input layer sees the same data at every step of a
        full-batch fit).

    Returns
    -------
    Tensor, shape (batch, out_features)
    """
    return _DenseLayer.apply(x, coef, scale_spline, scale_base, mask, table, design)


def design_matrix(x: Tensor, table: BasisTable, slope: bool = False) -> tuple[Tensor, ...]:
    """``[B(x) | SiLU(x)]`` per input, shape (batch, in_features, G + k + 1).

    With ``slope``, also what the backward pass needs: the table rows, the
    local basis indices, sigmoid(x) and the basis slopes.
    """
    batch, n_in = x.shape
    nb = table.n_basis
    values, *slopes, idx, row = _local_values(x, table, slope, table.local_index)
    idx = idx.unflatten(0, (batch, n_in))
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
    consts = table.consts.index_select(0, flat_row).unflatten(0, (batch, n_in))
    derivs = _evaluate(x, consts, table.k, (0, 1) if slope else (0,))
    del consts  # the largest transient (2 + (k+1)^2 numbers per input): gone before the caller allocates
    return (*derivs, index.index_select(0, flat_row), row)


def silu_derivatives(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """SiLU(x) and its first two derivatives."""
    s = torch.sigmoid(x)
    return x * s, silu_slope(x, s), s * (1 - s) * (2 + x * (1 - 2 * s))


def silu_slope(x: Tensor, sig: Tensor) -> Tensor:
    """d SiLU / dx = s (1 + x (1 - s)) with s = sigmoid(x)."""
    return sig * (1 + x * (1 - sig))


class _DenseLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_spline, scale_base, mask, table, design):  # type: ignore[override]
        ctx.table = table
        (weight,) = effective_weights(coef, scale_spline, scale_base, mask, stacked=True)
        params = (coef, scale_spline, scale_base, mask)
        if design is not None or not ctx.needs_input_grad[0]:
            dense = design if design is not None else design_matrix(x, table)[0]
            ctx.save_for_backward(x, *params, weight, dense)
        else:
            dense, *rest = design_matrix(x, table, slope=True)
            ctx.save_for_backward(x, *params, weight, dense, *rest)
        return dense.flatten(1) @ weight

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, coef, scale_spline, scale_base, mask, weight, dense, *rest = ctx.saved_tensors
        table: BasisTable = ctx.table
        batch, n_in = x.shape
        nb = table.n_basis
        needs_x, needs_params = ctx.needs_input_grad[0], ctx.needs_input_grad[1:4]
        grad_x = grad_w = None
        if torch.is_grad_enabled():  # double backward: differentiable operations
            (weight,) = effective_weights(coef, scale_spline, scale_base, mask, stacked=True)
            if needs_x:
                row, idx = rest[0], rest[1]
                values, slope = _LocalBases.apply(x, table.consts, row, table.k, (0, 1))
                dense = scatter_dense(values, row, table, extra=F.silu(x))
                base_slope = silu_slope(x, torch.sigmoid(x))
        elif needs_x:
            _, idx, sig, slope = rest
            base_slope = silu_slope(x, sig)
        if any(needs_params):
            grad_w = (dense.flatten(1).t() @ grad).view(n_in, nb + 1, -1)
            grads = parameter_grads(grad_w[:, :nb], grad_w[:, nb], coef, scale_spline, mask, needs_params)
        else:
            grads = (None, None, None)
        if needs_x:
            back = (grad @ weight.t()).view(batch, n_in, nb + 1)
            grad_x = (back[..., :nb].gather(-1, idx) * slope).sum(-1) + back[..., nb] * base_slope
        return grad_x, *grads, None, None, None


def sparse_layer(
    x: Tensor, coef: Tensor, scale_spline: Tensor, scale_base: Tensor, mask: Tensor | None, table: BasisTable
) -> Tensor:
    """``sum_{i,s} B_s(x_i) spline_weight[index(i, s)] + SiLU(x) @ base_weight`` as one autograd node.

    ``spline_weight`` and ``base_weight`` are those of :func:`edge_weights`
    (not stacked), formed inside from the layer's parameters.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    coef, scale_spline, scale_base, mask : Tensor
        The layer's parameters and mask (None: all ones).
    table : BasisTable

    Returns
    -------
    Tensor, shape (batch, out_features)
    """
    return _SparseLayer.apply(x, coef, scale_spline, scale_base, mask, table)


class _SparseLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_spline, scale_base, mask, table):  # type: ignore[override]
        batch = x.shape[0]
        spline_weight, base_weight = effective_weights(coef, scale_spline, scale_base, mask, stacked=False)
        need_x = ctx.needs_input_grad[0]
        values, *slope, idx, row = _local_values(x, table, need_x, table.flat_index)
        picked = spline_weight.index_select(0, idx.view(-1)).view(batch, -1, spline_weight.shape[1])
        out = torch.bmm(values.reshape(batch, 1, picked.shape[1]), picked).flatten(1)
        sig = torch.sigmoid(x)
        out = torch.addmm(out, x * sig, base_weight)
        ctx.table = table
        # the picked rows are kept for the input gradient (k + 1 rows of out numbers per input)
        params = (coef, scale_spline, scale_base, mask)
        ctx.save_for_backward(x, *params, base_weight, values, idx, row, sig, picked, *slope)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, coef, scale_spline, scale_base, mask, base_weight, values, idx, row, sig, picked, *slope = ctx.saved_tensors
        table: BasisTable = ctx.table
        batch, n_in = x.shape
        n_out = grad.shape[1]
        needs_x, needs_params = ctx.needs_input_grad[0], ctx.needs_input_grad[1:4]
        if torch.is_grad_enabled():  # double backward: differentiable operations
            spline_weight, base_weight = effective_weights(coef, scale_spline, scale_base, mask, stacked=False)
            if needs_x:
                values, slope = _LocalBases.apply(x, table.consts, row, table.k, (0, 1))
                sig = torch.sigmoid(x)
                picked = spline_weight.index_select(0, idx.view(-1)).view(batch, -1, n_out)
        else:
            slope = slope[0] if slope else None
        grad_x = grad_spline = grad_base = None
        if needs_params[0] or needs_params[1]:  # every (point, input, local basis) adds values * grad to its row
            terms = values.reshape(batch, -1, 1) * grad.unsqueeze(1)
            grad_spline = coef.new_zeros(coef.shape[0] * coef.shape[1], n_out)
            grad_spline = grad_spline.index_add(0, idx.view(-1), terms.view(-1, n_out)).view(coef.shape)
        if needs_params[2]:
            grad_base = (x * sig).t() @ grad
        if needs_x:
            through = torch.bmm(picked, grad.unsqueeze(-1)).view(batch, n_in, slope.shape[-1])
            grad_x = (through * slope).sum(-1) + (grad @ base_weight.t()) * silu_slope(x, sig)
        grads = parameter_grads(grad_spline, grad_base, coef, scale_spline, mask, needs_params)
        return grad_x, *grads, None, None


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
    cols = torch.cat([idx.unflatten(0, (batch, n_in)) + start, (start + nb).expand(batch, n_in, 1)], dim=-1)
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
