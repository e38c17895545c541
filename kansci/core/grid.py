"""Knot grids: uniform, sample-adaptive, and least-squares refits onto a new grid."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["adaptive_grid", "fit_coefficients", "subdivide_grid", "uniform_grid"]


def uniform_grid(lo: Tensor, hi: Tensor, intervals: int) -> Tensor:
    """Evenly spaced knots between ``lo`` and ``hi`` for every feature.

    Parameters
    ----------
    lo, hi : Tensor, shape (in_features,)
    intervals : int
        Number of intervals G.

    Returns
    -------
    Tensor, shape (in_features, G + 1)
    """
    steps = torch.linspace(0.0, 1.0, intervals + 1, dtype=lo.dtype, device=lo.device)
    return lo[:, None] + (hi - lo)[:, None] * steps


def subdivide_grid(grid: Tensor, intervals: int) -> Tensor:
    """Knots placed evenly in knot-index space: each old interval split alike.

    When ``intervals`` is a multiple of the old G, every old knot is kept, so a
    spline on the old grid is exactly representable on the new one.

    Parameters
    ----------
    grid : Tensor, shape (in_features, G + 1)
    intervals : int

    Returns
    -------
    Tensor, shape (in_features, intervals + 1)
    """
    old = grid.shape[1] - 1
    pos = torch.linspace(0, old, intervals + 1, dtype=grid.dtype, device=grid.device)
    left = pos.floor().long().clamp_(max=old - 1)
    frac = pos - left.to(grid.dtype)
    return grid[:, left] + (grid[:, left + 1] - grid[:, left]) * frac


def adaptive_grid(x: Tensor, intervals: int, grid_eps: float, min_width: float = 1e-3) -> Tensor:
    """Grid from sample quantiles, blended with a uniform grid.

    ``grid = grid_eps * uniform + (1 - grid_eps) * quantiles`` where both span
    ``[min(x), max(x)]`` per feature. A feature whose samples span less than
    ``min_width`` gets a uniform grid of that width around its mean, so the grid
    is always strictly increasing when ``grid_eps > 0``.

    Parameters
    ----------
    x : Tensor, shape (batch, in_features)
    intervals : int
    grid_eps : float in [0, 1]
    min_width : float

    Returns
    -------
    Tensor, shape (in_features, intervals + 1)
    """
    if not 0.0 <= grid_eps <= 1.0:
        raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps}")
    xs = torch.sort(x.detach(), dim=0).values  # (batch, in)
    n = xs.shape[0]
    ranks = torch.linspace(0, n - 1, intervals + 1, device=x.device).round().long()
    quant = xs[ranks].t()  # (in, G+1)
    lo, hi = quant[:, 0], quant[:, -1]
    narrow = (hi - lo) < min_width
    if bool(narrow.any()):
        mid = 0.5 * (lo + hi)
        lo = torch.where(narrow, mid - 0.5 * min_width, lo)
        hi = torch.where(narrow, mid + 0.5 * min_width, hi)
        quant = torch.where(narrow[:, None], uniform_grid(lo, hi, intervals), quant)
    uniform = uniform_grid(lo, hi, intervals)
    return grid_eps * uniform + (1.0 - grid_eps) * quant


def fit_coefficients(basis: Tensor, target: Tensor, ridge: float = 0.0) -> Tensor:
    """Least-squares spline coefficients, one problem per input feature.

    Solves ``min_c || basis[:, i, :] @ c[i] - target[:, i, :] ||`` for every i.
    Rank-deficient systems (bases with no samples in their support) get the
    minimum-norm solution on CPU (SVD-based ``gelsd``); on other devices a small
    ridge makes the system full rank.

    Parameters
    ----------
    basis : Tensor, shape (batch, in_features, n_basis)
    target : Tensor, shape (batch, in_features, out_features)
    ridge : float
        Tikhonov weight relative to the mean squared basis value (0 = none on CPU).

    Returns
    -------
    Tensor, shape (in_features, n_basis, out_features)
    """
    a = basis.permute(1, 0, 2)  # (in, batch, n_basis)
    b = target.permute(1, 0, 2)  # (in, batch, out)
    n_basis = a.shape[-1]
    if a.device.type != "cpu" and ridge == 0.0:
        ridge = 1e-10 if a.dtype == torch.float64 else 1e-6
    if ridge > 0.0:
        scale = (a.square().mean(dim=(1, 2), keepdim=True) * ridge).sqrt()
        eye = torch.eye(n_basis, dtype=a.dtype, device=a.device).expand(a.shape[0], -1, -1)
        a = torch.cat([a, eye * scale], dim=1)
        b = torch.cat([b, b.new_zeros(b.shape[0], n_basis, b.shape[2])], dim=1)
    driver = "gelsd" if a.device.type == "cpu" else "gels"
    return torch.linalg.lstsq(a, b, driver=driver).solution
