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

On each interval the k+1 local bases are polynomials of degree k; their
coefficients are tabulated once per grid (:class:`BasisTable`), so evaluating a
batch costs one row lookup and ``k`` fused multiply-adds (Horner's rule) per
derivative order, independent of ``G``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

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
    return torch.where(d != 0, d.reciprocal(), 0.0)


def _times_linear(poly: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """(a + b t) * poly for polynomials stored as coefficients of 1, t, t^2, ... in the last axis."""
    out = poly * a.unsqueeze(-1)
    out[..., 1:] += poly[..., :-1] * b.unsqueeze(-1)
    return out


def _interval_polynomials(knots: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The k+1 bases that live on each interval of an extended grid, as polynomials.

    On interval j (``t_j <= x < t_{j+1}``, width ``w_j``) the local bases
    ``B_{j-k}, .., B_j`` are polynomials of degree k in ``u = (x - t_j) / w_j``
    in [0, 1). They come from the Cox-de Boor recursion run on polynomials
    instead of numbers, so they are exact up to round-off.

    Returns
    -------
    left : Tensor, shape (in_features, n_int)
        ``t_j``.
    inv_width : Tensor, shape (in_features, n_int)
        ``1 / w_j`` (0 for an empty interval, which no point falls in).
    poly : Tensor, shape (in_features, n_int, k + 1, k + 1)
        ``poly[i, j, s, p]``: coefficient of ``u^p`` in ``B_{j-k+s}``; zero for
        bases outside ``0 .. G+k-1``.
    """
    n_in, n_knots = knots.shape
    n_int, n_basis = n_knots - 1, n_knots - k - 1
    padded = extend_grid(knots, k)  # k more knots per side so the recursion never indexes outside
    pj = torch.arange(n_int, device=knots.device) + k

    def at(offset: int) -> Tensor:  # knots[j + offset] for every interval j, (in, n_int)
        return padded[:, k + offset : k + offset + n_int]

    left, width = at(0), at(1) - at(0)
    prev = [torch.zeros(n_in, n_int, k + 1, dtype=knots.dtype, device=knots.device)]
    prev[0][..., 0] = 1.0
    for r in range(1, k + 1):  # order r bases B_{j-r+s, r}, s = 0..r (triangular scheme)
        cur, saved = [], None
        for s in range(r):
            temp = prev[s] * _reciprocal(at(s + 1) - at(s + 1 - r)).unsqueeze(-1)
            term = _times_linear(temp, at(s + 1) - left, -width)  # t_{j+s+1} - x
            cur.append(term if saved is None else saved + term)
            saved = _times_linear(temp, left - at(1 - r + s), width)  # x - t_{j+1-r+s}
        cur.append(saved)
        prev = cur
    local = pj[:, None] - 2 * k + torch.arange(k + 1, device=knots.device)  # B_{j-k+s}
    valid = ((local >= 0) & (local < n_basis)).to(knots.dtype)
    poly = torch.stack(prev, dim=2) * valid[None, :, :, None]
    return left, _reciprocal(width), poly


@dataclass(frozen=True)
class BasisTable:
    """Per-interval constants of an extended grid, for fast local evaluation.

    Rows are indexed by ``c = #knots <= x`` (``searchsorted(..., right=True)``):
    row 0 and the last row are sentinels for points left / right of the extended
    grid, whose polynomials are zero so every basis evaluates to 0.

    Attributes
    ----------
    knots : Tensor, shape (in_features, G + 1 + 2k)
        The extended grid.
    consts : Tensor, shape (in_features * (G + 2k + 2), 2 + (k + 1)^2)
        Row ``i * n_rows + c`` holds, for feature i and row c: the interval's
        left knot, its reciprocal width and the coefficients of the k+1 local
        bases as polynomials of degree k in the position within the interval
        (see :func:`_interval_polynomials`), power-major and scaled as
        :func:`_evaluate` reads them.
    local_index : Tensor of int64, shape (in_features * n_rows, k + 1)
        Index (clamped to the valid range) of each local basis.
    flat_index : Tensor of int64, shape (in_features * n_rows, k + 1)
        The same index offset by ``i * (G + k)``: a row of the stacked
        ``(in_features * (G + k), ...)`` coefficient matrix.
    k : int
    row_offset : Tensor of int64, shape (in_features,)
        ``i * n_rows``, the first row of each feature.
    uniform : tuple of Tensor, optional
        ``(first knot, 1 / spacing)`` per feature when every feature's grid is
        uniform; locating a point is then arithmetic instead of a search.
    """

    knots: Tensor
    consts: Tensor
    local_index: Tensor
    flat_index: Tensor
    k: int
    row_offset: Tensor
    uniform: tuple[Tensor, Tensor] | None

    @property
    def n_rows(self) -> int:
        return self.knots.shape[1] + 1

    @property
    def n_basis(self) -> int:
        return self.knots.shape[1] - self.k - 1

    @cached_property
    def bounds(self) -> Tensor:
        """Each row's left knot and reciprocal width, shape (rows, 2)."""
        return self.consts[:, :2].contiguous()

    @cached_property
    def polynomials(self) -> Tensor:
        """Each row's local bases as scaled polynomial coefficients, shape (rows, k + 1 powers, k + 1 bases)."""
        return self.consts[:, 2:].unflatten(-1, (self.k + 1, self.k + 1)).contiguous()

    @classmethod
    def build(cls, knots: Tensor, k: int) -> BasisTable:
        """Tabulate an extended grid of shape (in_features, G + 1 + 2k)."""
        knots = knots.detach()
        n_in, n_knots = knots.shape
        n_basis = n_knots - k - 1
        if n_basis < 1:
            raise ValueError(f"an extended grid of order {k} needs more than {k + 1} knots, got {n_knots}")
        # the polynomials are formed in float64 where the device has it, then rounded once
        work = knots if knots.device.type == "mps" else knots.to(torch.float64)
        left, inv_width, poly = _interval_polynomials(work, k)
        powers = torch.arange(k + 1, dtype=work.dtype, device=work.device).clamp(min=1)
        scaled = (poly * powers).transpose(-1, -2)  # S_p = p P_p, power-major (see horner)
        body = torch.cat([left.unsqueeze(-1), inv_width.unsqueeze(-1), scaled.flatten(-2)], dim=-1)
        sentinel = body.new_zeros(n_in, 1, body.shape[-1])
        consts = torch.cat([sentinel, body, sentinel], dim=1).reshape(-1, body.shape[-1]).to(knots.dtype)

        j = torch.arange(n_knots - 1, device=knots.device)
        local = j[:, None] - k + torch.arange(k + 1, device=knots.device)  # (n_int, k+1): B_{j-k+s}
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
            consts=consts.contiguous(),
            local_index=local.contiguous(),
            flat_index=flat.contiguous(),
            k=k,
            row_offset=torch.arange(n_in, device=knots.device) * (n_knots + 1),
            uniform=uniform,
        )

    def locate(self, x: Tensor, features_first: bool = False) -> Tensor:
        """Row of the table for every entry of x, int64, in x's shape.

        ``x`` is (batch, in_features), or (in_features, batch) with
        ``features_first``. Near a knot, round-off may pick the neighbouring
        interval; both polynomials agree there, so the values do not depend on it.
        """
        n_knots = self.knots.shape[1]
        per_feature = (lambda t: t[:, None]) if features_first else (lambda t: t)
        if self.uniform is not None:
            first, inv_h = self.uniform
            pos = torch.floor((x.detach() - per_feature(first)) * per_feature(inv_h))
            pos = pos.add_(1.0).clamp_(0.0, float(n_knots))
            c = torch.nan_to_num_(pos, nan=0.0).long()
        elif features_first:
            c = torch.searchsorted(self.knots, x.detach().contiguous(), right=True)
        else:
            c = torch.searchsorted(self.knots, x.detach().t().contiguous(), right=True).t()
        return c + per_feature(self.row_offset)


def _falling(p: int, d: int) -> int:
    """p (p-1) ... (p-d+1), the factor d/du^d puts on u^p (1 when d <= 0)."""
    return math.prod(range(p - d + 1, p + 1))


def _evaluate(x: Tensor, consts: Tensor, k: int, orders: tuple[int, ...]) -> tuple[Tensor, ...]:
    """Derivatives of the given orders of the k+1 local bases, each (..., k + 1), by Horner's rule.

    ``consts`` are gathered table rows (see :class:`BasisTable`): the
    coefficients are stored as ``S_p = p P_p`` (``S_0 = P_0``), so the values
    and the first derivative need no multiplications beyond the fused
    multiply-adds.
    """
    left, inv_width, scaled = consts.split([1, 1, (k + 1) ** 2], dim=-1)
    u = (x.unsqueeze(-1) - left) * inv_width
    return horner(u, scaled.unflatten(-1, (k + 1, k + 1)).unbind(-2), inv_width, orders)


def horner(u: Tensor, scaled: tuple[Tensor, ...], inv_width: Tensor, orders: tuple[int, ...]) -> tuple[Tensor, ...]:
    """Derivatives in x of polynomials of degree k in u = (x - left) * inv_width, by Horner's rule.

    ``scaled[p]`` holds ``S_p = p P_p`` (``S_0 = P_0``) of every polynomial,
    p = 0 .. k; ``u`` and ``inv_width`` broadcast against them. Returns, per
    order, a tensor shaped like ``scaled[0]``.
    """
    k = len(scaled) - 1
    out = []
    for d in orders:
        if d > k:
            out.append(torch.zeros_like(scaled[0]))
        elif d == 0:  # sum_p P_p u^p, with A_p = p (P_p + u P_{p+1} + ...) carried along
            acc = scaled[k]
            for p in range(k - 1, -1, -1):
                acc = torch.addcmul(scaled[p], acc, u, value=p / (p + 1) if p else 1.0)
            out.append(acc)
        else:  # sum_{p >= d} p!/(p-d)! P_p u^(p-d) = sum (p-1)!/(p-d)! S_p u^(p-d)
            top = _falling(k - 1, d - 1)
            acc = scaled[k] if top == 1 else scaled[k] * top
            for p in range(k - 1, d - 1, -1):
                factor = _falling(p - 1, d - 1)
                acc = torch.addcmul(scaled[p] if factor == 1 else scaled[p] * factor, acc, u)
            out.append(acc * (inv_width if d == 1 else inv_width.pow(d)))
    return tuple(out)


class _LocalBases(torch.autograd.Function):
    """Derivative orders of the local bases from one lookup; differentiable in x to any order.

    When x needs a gradient, the forward pass also evaluates the next order of
    each requested one (a few fused multiply-adds on the constants it gathered
    anyway) and keeps those for the backward pass. A double backward evaluates
    them again as a differentiable function.
    """

    @staticmethod
    def forward(ctx, x: Tensor, table: Tensor, row: Tensor, k: int, orders: tuple[int, ...]):  # type: ignore[override]
        ctx.k, ctx.orders = k, orders
        consts = table.index_select(0, row.reshape(-1)).view(*row.shape, *table.shape[1:])
        if not ctx.needs_input_grad[0]:
            return _evaluate(x, consts, k, orders)
        # the next order of each is evaluated now, from the same lookup, for the backward pass
        higher = tuple(d + 1 for d in orders)
        wanted = orders + tuple(d for d in higher if d not in orders)
        derivs = dict(zip(wanted, _evaluate(x, consts, k, wanted)))
        ctx.save_for_backward(x, table, row, *(derivs[d] for d in higher))
        return tuple(derivs[d] for d in orders)

    @staticmethod
    def backward(ctx, *grads: Tensor):  # type: ignore[override]
        x, table, row, *derivs = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: keep the derivatives differentiable
            derivs = _LocalBases.apply(x, table, row, ctx.k, tuple(d + 1 for d in ctx.orders))
        grad_x = sum((g * d).sum(-1) for g, d in zip(grads, derivs))
        return grad_x, None, None, None, None


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
