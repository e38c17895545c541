"""B-spline bases of order ``k`` with local support, and their derivatives.

A knot grid of ``G`` intervals is *extended* by ``k`` knots on each side, which
gives ``G + k`` basis functions ``B_0 .. B_{G+k-1}``; ``B_i`` is supported on
``[t_i, t_{i+k+1})``. At any point only ``k + 1`` of them are non-zero, so the
kernels here return those ``k + 1`` values and the index of the first one
(:func:`local_basis`); :func:`bspline_basis` scatters them into the dense
``(batch, in, G + k)`` array when a caller wants it.

Outside the extended grid every basis is zero: the spline part of a KAN edge
vanishes there (continuously, ``k - 1`` times differentiable) and the residual
base function carries the signal. No input produces NaN.

All per-interval constants (knots and reciprocal knot differences) are tabulated
once per grid (:class:`BasisTable`), so evaluating a batch costs one row lookup
and ``O(k^2)`` element-wise operations, independent of ``G``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "BasisTable",
    "bspline_basis",
    "extend_grid",
    "local_basis",
    "local_bases",
]


def extend_grid(grid: Tensor, k: int) -> Tensor:
    """Add ``k`` knots on each side of a grid, continuing the edge spacing.

    Parameters
    ----------
    grid : Tensor, shape (in_features, G + 1)
        Increasing knots of each input feature.
    k : int
        Spline order.

    Returns
    -------
    Tensor, shape (in_features, G + 1 + 2k)
    """
    if grid.ndim != 2 or grid.shape[1] < 2:
        raise ValueError(f"grid must have shape (in_features, G + 1) with G >= 1, got {tuple(grid.shape)}")
    if k < 0:
        raise ValueError(f"spline order k must be >= 0, got {k}")
    steps = torch.arange(1, k + 1, dtype=grid.dtype, device=grid.device)
    h_lo = grid[:, 1:2] - grid[:, 0:1]
    h_hi = grid[:, -1:] - grid[:, -2:-1]
    lower = grid[:, 0:1] - h_lo * steps.flip(0)
    upper = grid[:, -1:] + h_hi * steps
    return torch.cat([lower, grid, upper], dim=1)


def _reciprocal(d: Tensor) -> Tensor:
    """1/d where d != 0, else 0 (the usual 0/0 = 0 convention for repeated knots)."""
    safe = torch.where(d != 0, d, torch.ones_like(d))
    return torch.where(d != 0, 1.0 / safe, torch.zeros_like(d))


@dataclass(frozen=True)
class BasisTable:
    """Per-interval constants of an extended grid, for fast local evaluation.

    Rows are indexed by ``c = #knots <= x`` (``searchsorted(..., right=True)``):
    row 0 and the last row are sentinels for points left / right of the extended
    grid, whose reciprocal differences are zero so every basis evaluates to 0.

    Attributes
    ----------
    knots : Tensor, shape (in_features, G + 1 + 2k)
        The extended grid.
    consts : Tensor, shape (in_features * (G + 2k + 2), M)
        Row ``i * n_rows + c`` holds, for feature i and row c: k left knots,
        k right knots, k(k+1)/2 reciprocal knot differences and the validity of
        each of the k+1 local bases (M = 2k + k(k+1)/2 + k + 1).
    local_index : Tensor of int64, shape (in_features * n_rows, k + 1)
        Index (clamped to the valid range) of each local basis.
    flat_index : Tensor of int64, shape (in_features * n_rows, k + 1)
        The same index offset by ``i * (G + k)``: a row of the stacked
        ``(in_features * (G + k), ...)`` coefficient matrix.
    k : int
    uniform : tuple of Tensor, optional
        ``(first knot, 1 / spacing)`` per feature when every feature's grid is
        uniform; locating a point is then arithmetic instead of a search.
    """

    knots: Tensor
    consts: Tensor
    local_index: Tensor
    flat_index: Tensor
    k: int
    uniform: tuple[Tensor, Tensor] | None

    @property
    def n_rows(self) -> int:
        return self.knots.shape[1] + 1

    @property
    def n_basis(self) -> int:
        return self.knots.shape[1] - self.k - 1

    @classmethod
    def build(cls, knots: Tensor, k: int) -> BasisTable:
        """Tabulate an extended grid of shape (in_features, G + 1 + 2k)."""
        knots = knots.detach()
        n_in, n_knots = knots.shape
        n_basis = n_knots - k - 1
        if n_basis < 1:
            raise ValueError(f"an extended grid of order {k} needs more than {k + 1} knots, got {n_knots}")
        # Pad k more knots per side so the recursion never indexes outside.
        padded = extend_grid(knots, k)
        n_int = n_knots - 1
        j = torch.arange(n_int, device=knots.device)  # interval index in `knots`
        pj = j + k  # the same interval in `padded`

        def at(offset: int) -> Tensor:  # knots[j + offset] for every interval, (in, n_int)
            return padded[:, pj + offset]

        cols = []
        cols += [at(1 - r) for r in range(1, k + 1)]  # left knots  t[j+1-r]
        cols += [at(r) for r in range(1, k + 1)]  # right knots t[j+r]
        for r in range(1, k + 1):
            for s in range(r):
                cols.append(_reciprocal(at(s + 1) - at(s + 1 - r)))
        local = j[:, None] - k + torch.arange(k + 1, device=knots.device)  # (n_int, k+1): B_{j-k+s}
        valid = ((local >= 0) & (local < n_basis)).to(knots.dtype)
        cols += [valid[:, s].expand(n_in, n_int) for s in range(k + 1)]
        body = torch.stack(cols, dim=-1)  # (in, n_int, M)
        sentinel = body.new_zeros(n_in, 1, body.shape[-1])
        consts = torch.cat([sentinel, body, sentinel], dim=1).reshape(-1, body.shape[-1]).contiguous()

        local = torch.cat([local[:1], local, local[-1:]]).clamp(0, n_basis - 1)  # (n_rows, k+1)
        offsets = torch.arange(n_in, device=knots.device)[:, None, None] * n_basis
        flat = (local.unsqueeze(0) + offsets).reshape(-1, k + 1)
        local = local.unsqueeze(0).expand(n_in, -1, -1).reshape(-1, k + 1)

        steps = knots[:, 1:] - knots[:, :-1]
        h = steps.mean(dim=1)
        uniform = None
        # a few ulps of the knots' magnitude: linspace round-off, nothing more
        tol = 16 * torch.finfo(knots.dtype).eps * knots.abs().amax(dim=1, keepdim=True)
        if bool((h > 0).all()) and bool(((steps - h[:, None]).abs() <= tol).all()):
            uniform = (knots[:, 0].clone(), 1.0 / h)
        return cls(
            knots=knots,
            consts=consts,
            local_index=local.contiguous(),
            flat_index=flat.contiguous(),
            k=k,
            uniform=uniform,
        )

    def locate(self, x: Tensor) -> Tensor:
        """Row of the table for every entry of x, shape (batch, in_features), int64."""
        n_knots = self.knots.shape[1]
        if self.uniform is not None:
            first, inv_h = self.uniform
            pos = torch.floor((x.detach() - first) * inv_h).add_(1.0).clamp_(0.0, float(n_knots))
            c = torch.nan_to_num_(pos, nan=0.0).long()
        else:
            c = torch.searchsorted(self.knots, x.detach().t().contiguous(), right=True).t()
        return c + torch.arange(self.knots.shape[0], device=x.device) * self.n_rows


def _levels(x: Tensor, consts: Tensor, k: int, top: int) -> list[list[Tensor]]:
    """Local bases of every order 0..top at x (Cox-de Boor, triangular scheme).

    Returns ``levels[r][s]`` = value of ``B_{j-r+s, r}(x)`` for s = 0..r.
    """
    left = [None] + [x - consts[..., r - 1] for r in range(1, top + 1)]
    right = [None] + [consts[..., k + r - 1] - x for r in range(1, top + 1)]
    levels = [[torch.ones_like(x)]]
    for r in range(1, top + 1):
        prev = levels[-1]
        cur = []
        saved = None
        for s in range(r):
            temp = prev[s] * _inv(consts, k, r, s)
            term = right[s + 1] * temp
            cur.append(term if saved is None else saved + term)
            saved = left[r - s] * temp
        cur.append(saved)
        levels.append(cur)
    return levels


def _inv(consts: Tensor, k: int, r: int, s: int) -> Tensor:
    """Reciprocal knot difference 1/(t[j+s+1] - t[j+s+1-r]) from the table."""
    return consts[..., 2 * k + r * (r - 1) // 2 + s]


def _valid(consts: Tensor, k: int) -> Tensor:
    """Which of the k+1 local bases exist, shape (..., k + 1)."""
    return consts[..., -(k + 1) :]


def _derivative(levels: list[list[Tensor]], consts: Tensor, k: int, order: int) -> list[Tensor]:
    """``order``-th derivative of the k+1 local order-k bases."""
    if order > k:
        return [torch.zeros_like(levels[0][0]) for _ in range(k + 1)]
    vals = levels[k - order]
    for r in range(k - order + 1, k + 1):
        new = []
        for s in range(r + 1):
            acc = None
            if s >= 1:
                acc = vals[s - 1] * _inv(consts, k, r, s - 1)
            if s < r:
                t = vals[s] * _inv(consts, k, r, s)
                acc = -t if acc is None else acc - t
            new.append(r * acc)
        vals = new
    return vals


def _values_and_slope(x: Tensor, consts: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Values and first derivatives of the local bases in one sweep.

    The derivative reuses the last level's products: for order k,
    ``B'_s = k (T_{s-1} - T_s)`` with ``T_s = B_{s,k-1} / (t[j+s+1] - t[j+s+1-k])``.
    """
    levels = _levels(x, consts, k, k - 1)
    prev = levels[-1]
    temps = [prev[s] * _inv(consts, k, k, s) for s in range(k)]
    vals, slopes = [], []
    saved = None
    for s in range(k):
        term = (consts[..., k + s] - x) * temps[s]  # right knot t[j+s+1]
        vals.append(term if saved is None else saved + term)
        saved = (x - consts[..., k - s - 1]) * temps[s]  # left knot t[j+1-k+s]
    vals.append(saved)
    slopes = [temps[0].neg()] + [temps[s - 1] - temps[s] for s in range(1, k)] + [temps[k - 1]]
    valid = _valid(consts, k)
    values = torch.stack(vals, dim=-1) * valid
    slope = torch.stack(slopes, dim=-1).mul_(valid * k)
    return values, slope


class _LocalBases(torch.autograd.Function):
    """Derivative orders of the local bases from one lookup; differentiable in x to any order.

    Only x and the row indices are kept for backward (plus, on the training hot
    path of values alone, the slope computed alongside them); the per-point
    constants are gathered again when needed.
    """

    @staticmethod
    def forward(ctx, x: Tensor, table: Tensor, row: Tensor, k: int, orders: tuple[int, ...]):  # type: ignore[override]
        ctx.k, ctx.orders = k, orders
        consts = table.index_select(0, row.reshape(-1)).view(*row.shape, -1)
        if not ctx.needs_input_grad[0]:
            return _orders(x, consts, k, orders)
        if orders == (0,):
            values, slope = _values_and_slope(x, consts, k)
            ctx.save_for_backward(x, table, row, slope)
            return (values,)
        ctx.save_for_backward(x, table, row)
        return _orders(x, consts, k, orders)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        x, table, row, *slope = ctx.saved_tensors
        higher = tuple(d + 1 for d in ctx.orders)
        if torch.is_grad_enabled():  # double backward: keep the derivatives differentiable
            derivs = _LocalBases.apply(x, table, row, ctx.k, higher)
        elif slope:
            derivs = slope
        else:
            consts = table.index_select(0, row.reshape(-1)).view(*row.shape, -1)
            derivs = _orders(x, consts, ctx.k, higher)
        grad_x = sum((g * d).sum(-1) for g, d in zip(grads, derivs))
        return grad_x, None, None, None, None


def _orders(x: Tensor, consts: Tensor, k: int, orders: tuple[int, ...]) -> tuple[Tensor, ...]:
    levels = _levels(x, consts, k, k)
    return tuple(
        torch.stack(levels[k] if d == 0 else _derivative(levels, consts, k, d), dim=-1) * _valid(consts, k)
        for d in orders
    )


def local_bases(x: Tensor, table: BasisTable, orders: tuple[int, ...] = (0, 1, 2)) -> tuple[tuple[Tensor, ...], Tensor]:
    """Several derivative orders of the k+1 non-zero bases at once (see :func:`local_basis`).

    Returns
    -------
    values : tuple of Tensor, each of shape (batch, in_features, k + 1)
        One per entry of ``orders``.
    row : Tensor of int64, shape (batch, in_features)
    """
    row = table.locate(x)
    return _LocalBases.apply(x, table.consts, row, table.k, tuple(orders)), row


def local_basis(x: Tensor, table: BasisTable, derivative: int = 0) -> tuple[Tensor, Tensor]:
    """The k+1 non-zero B-spline bases (or a derivative of them) at x.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    table : BasisTable
        Tabulated extended grid with ``in_features`` rows of knots.
    derivative : int
        0 for values, 1 for d/dx, 2 for d^2/dx^2, ...

    Returns
    -------
    values : Tensor, shape (batch, in_features, k + 1)
        ``values[..., s]`` is the basis of index ``table.local_index[row, s]``
        (or its derivative); local bases that do not exist are exactly 0.
    row : Tensor of int64, shape (batch, in_features)
        Row of each entry in the table (see :meth:`BasisTable.locate`).
    """
    (values,), row = local_bases(x, table, (derivative,))
    return values, row


def scatter_dense(values: Tensor, row: Tensor, table: BasisTable, extra: Tensor | None = None) -> Tensor:
    """Place local basis values into a dense (batch, in, G + k) array.

    With ``extra`` of shape (batch, in), it becomes one more column per input,
    (batch, in, G + k + 1): the layer's base function rides in the same matmul.
    """
    idx = table.local_index.index_select(0, row.reshape(-1)).view_as(values)
    width = table.n_basis + (extra is not None)
    dense = values.new_zeros(*values.shape[:-1], width)
    dense[..., : table.n_basis].scatter_add_(-1, idx, values)
    if extra is not None:
        dense[..., table.n_basis] = extra
    return dense


def bspline_basis(x: Tensor, knots: Tensor, k: int, derivative: int = 0) -> Tensor:
    """Dense B-spline basis (or its derivative) of an extended grid.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    knots : Tensor, shape (in_features, G + 1 + 2k)
        Extended grid (see :func:`extend_grid`).
    k : int
        Spline order.
    derivative : int
        Order of the derivative with respect to x.

    Returns
    -------
    Tensor, shape (batch, in_features, G + k)

    Examples
    --------
    >>> grid = extend_grid(torch.linspace(-1, 1, 6).expand(1, -1), 3)
    >>> bspline_basis(torch.zeros(4, 1), grid, 3).sum(-1)
    tensor([[1.],
            [1.],
            [1.],
            [1.]])
    """
    table = BasisTable.build(knots, k)
    values, row = local_basis(x, table, derivative)
    return scatter_dense(values, row, table)
