"""Collocation points in a box: interior (uniform grid, random, Sobol) and boundary."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from kansci.pde.problems import Problem

__all__ = ["boundary_points", "initial_points", "interior_points", "outward_normals"]

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
    """``n`` random points spread evenly over the spatial faces of the box, shape (n, dim).

    For an evolution problem the time column runs over the whole interval and
    the initial and final faces are left out (see :func:`initial_points`).
    """
    faces = 2 * problem.space_dims
    if n < faces:
        raise ValueError(f"n must be at least {faces} (one point per face), got {n}")
    gen = torch.Generator().manual_seed(seed)
    unit = torch.rand(n, problem.dim, generator=gen, dtype=dtype)
    face = torch.arange(n) % faces
    axis, side = face // 2, (face % 2).to(dtype)
    unit[torch.arange(n), axis] = side
    return _scale(unit, problem)


def initial_points(problem: Problem, n: int, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """``n`` Sobol points on the initial face ``t = lower[-1]`` of an evolution problem, shape (n, dim)."""
    if not problem.time:
        raise ValueError(f"problem {problem.name!r} has no time axis, so no initial face")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    unit = torch.quasirandom.SobolEngine(problem.space_dims, scramble=True, seed=seed).draw(n, dtype=dtype)
    unit = torch.cat([unit, unit.new_zeros(n, 1)], 1)
    return _scale(unit, problem)


def outward_normals(problem: Problem, x: Tensor) -> Tensor:
    """Unit outward normals of the box at boundary points, shape (n, dim).

    A point on an edge or corner takes the normal of the first face it lies on.
    """
    lo = torch.tensor(problem.lower, dtype=x.dtype, device=x.device)
    hi = torch.tensor(problem.upper, dtype=x.dtype, device=x.device)
    tol = 1e-9 * (hi - lo)
    spatial = problem.space_dims
    on_lo = (x[:, :spatial] - lo[:spatial]).abs() <= tol[:spatial]
    on_hi = (x[:, :spatial] - hi[:spatial]).abs() <= tol[:spatial]
    on_face = on_lo | on_hi
    if not bool(on_face.any(1).all()):
        raise ValueError("every point must lie on a spatial face of the box to have an outward normal")
    first = on_face.to(torch.int8).argmax(1)
    normals = x.new_zeros(x.shape)
    rows = torch.arange(x.shape[0], device=x.device)
    normals[rows, first] = torch.where(on_hi[rows, first], 1.0, -1.0).to(x.dtype)
    return normals
