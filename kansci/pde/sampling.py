"""Collocation points in a box: interior (uniform grid, random, Sobol) and boundary."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from kansci.pde.problems import Problem

__all__ = ["boundary_points", "interior_points"]

Method = Literal["grid", "random", "sobol"]


def _scale(unit: Tensor, problem: Problem) -> Tensor:
    lo = torch.tensor(problem.lower, dtype=unit.dtype)
    hi = torch.tensor(problem.upper, dtype=unit.dtype)
    return lo + (hi - lo) * unit


def interior_points(
    problem: Problem, n: int, method: Method = "sobol", *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> Tensor:
    """About ``n`` points inside the domain, shape (n', dim).

    ``grid`` uses ``round(n ** (1/dim))`` points per axis (cell centres, so
    none lies on the boundary); ``random`` and ``sobol`` give exactly n.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    dim = problem.dim
    if method == "grid":
        per_axis = max(1, round(n ** (1 / dim)))
        axis = (torch.arange(per_axis, dtype=dtype) + 0.5) / per_axis
        unit = torch.cartesian_prod(*[axis] * dim).reshape(-1, dim)
    elif method == "random":
        unit = torch.rand(n, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    elif method == "sobol":
        unit = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed).draw(n, dtype=dtype)
    else:
        raise ValueError(f"method must be 'grid', 'random' or 'sobol', got {method!r}")
    return _scale(unit, problem)


def boundary_points(problem: Problem, n: int, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """``n`` points spread evenly over the 2*dim faces of the box, shape (n, dim)."""
    if n < 2 * problem.dim:
        raise ValueError(f"n must be at least {2 * problem.dim} (one point per face), got {n}")
    dim = problem.dim
    gen = torch.Generator().manual_seed(seed)
    unit = torch.rand(n, dim, generator=gen, dtype=dtype)
    face = torch.arange(n) % (2 * dim)
    axis, side = face // 2, (face % 2).to(dtype)
    unit[torch.arange(n), axis] = side
    return _scale(unit, problem)
