"""Differential operators by automatic differentiation, for any ``nn.Module``.

These are the reference: they work for MLPs and KANs alike and build graphs
that stay differentiable (``create_graph=True``), so a residual built from
them can be trained. :mod:`kansci.pde.taylor` computes the same quantities for
KANs without nested autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["divergence", "gradient", "laplacian", "partial", "second_partial"]


def _check(u: Tensor, x: Tensor) -> None:
    if not x.requires_grad:
        raise ValueError("x must require grad before u is computed: x = x.detach().requires_grad_()")
    if u.ndim != 2 or u.shape[1] != 1 or u.shape[0] != x.shape[0]:
        raise ValueError(f"u must have shape (batch, 1) with batch = {x.shape[0]}, got {tuple(u.shape)}")


def gradient(u: Tensor, x: Tensor) -> Tensor:
    """du/dx for a scalar field.

    Parameters
    ----------
    u : Tensor, shape (batch, 1)
        Computed from x.
    x : Tensor, shape (batch, dim), requires grad

    Returns
    -------
    Tensor, shape (batch, dim)
    """
    _check(u, x)
    (g,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    return g


def partial(u: Tensor, x: Tensor, dim: int) -> Tensor:
    """du/dx_dim, shape (batch, 1) (e.g. a time derivative with ``dim`` the time column)."""
    return gradient(u, x)[:, dim : dim + 1]


def second_partial(u: Tensor, x: Tensor, i: int, j: int) -> Tensor:
    """d^2 u / (dx_i dx_j), shape (batch, 1); mixed when i != j."""
    g = partial(u, x, i)
    (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    return h[:, j : j + 1]


def laplacian(u: Tensor, x: Tensor, dims: tuple[int, ...] | None = None) -> Tensor:
    """Sum of d^2 u / dx_d^2 over ``dims`` (all columns by default), shape (batch, 1)."""
    g = gradient(u, x)
    dims = tuple(range(x.shape[1])) if dims is None else dims
    total = torch.zeros_like(u)
    for d in dims:
        (h,) = torch.autograd.grad(g[:, d].sum(), x, create_graph=True)
        total = total + h[:, d : d + 1]
    return total


def divergence(v: Tensor, x: Tensor) -> Tensor:
    """sum_d dv_d/dx_d for a vector field v of shape (batch, dim); returns (batch, 1)."""
    if v.shape != x.shape:
        raise ValueError(f"v must have the shape of x {tuple(x.shape)}, got {tuple(v.shape)}")
    total = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
    for d in range(x.shape[1]):
        (h,) = torch.autograd.grad(v[:, d].sum(), x, create_graph=True)
        total = total + h[:, d : d + 1]
    return total
