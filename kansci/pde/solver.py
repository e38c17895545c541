"""PINN-style solving: residual + boundary loss trained by :func:`kansci.fit`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from kansci.core.model import KAN
from kansci.core.train import History, fit
from kansci.pde.operators import gradient
from kansci.pde.problems import Problem
from kansci.pde.sampling import Method, boundary_points, interior_points
from kansci.pde.taylor import jet

__all__ = ["SolveResult", "derivatives", "errors", "solve"]


def derivatives(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """u, du/dx and the pure second derivatives of a scalar model at x.

    Exact forward propagation for a :class:`KAN`; nested autograd otherwise.

    Returns
    -------
    u : Tensor, shape (batch, 1)
    du, d2u : Tensor, shape (batch, dim)
    """
    if isinstance(model, KAN):
        if model.width[-1] != 1:
            raise ValueError(f"the model must have one output for a scalar PDE, got {model.width[-1]}")
        j = jet(model, x)
        return j.value, j.grad[:, :, 0], j.second[:, :, 0]
    xr = x.detach().requires_grad_()
    u = model(xr)
    du = gradient(u, xr)
    d2u = torch.cat(
        [torch.autograd.grad(du[:, d].sum(), xr, create_graph=True)[0][:, d : d + 1] for d in range(x.shape[1])], 1
    )
    return u, du, d2u


@torch.no_grad()
def errors(problem: Problem, model: nn.Module, x: Tensor) -> dict[str, float]:
    """Relative L2, max and mean squared error against the exact solution at x."""
    if problem.exact is None:
        raise ValueError(f"problem {problem.name!r} has no exact solution to measure errors against")
    u, ref = model(x), problem.exact(x)
    diff = u - ref
    return {
        "relative_l2": float(diff.norm() / ref.norm()),
        "max_error": float(diff.abs().max()),
        "mse": float(diff.square().mean()),
    }


@dataclass
class SolveResult:
    """The trained model, one training history per grid stage, and final errors."""

    model: nn.Module
    histories: list[History] = field(default_factory=list)
    errors: dict[str, float] = field(default_factory=dict)


def solve(
    problem: Problem,
    model: nn.Module,
    *,
    steps: int = 50,
    opt: Literal["lbfgs", "adam"] = "lbfgs",
    lr: float | None = None,
    alpha: float = 0.01,
    n_interior: int = 10000,
    n_boundary: int = 800,
    sampler: Method = "sobol",
    grid_schedule: Sequence[int] = (),
    update_grid: bool = True,
    n_test: int = 10000,
    seed: int = 0,
    progress: bool | None = None,
) -> SolveResult:
    """Train ``model`` so that it solves ``problem``.

    Loss: ``alpha * mean(residual^2) + mean((u - g)^2 on the boundary)`` (the
    paper's §3.4 form). For a KAN, ``grid_schedule`` lists finer grids: after
    each stage of ``steps`` the model is refined (grid extension) and trained on.

    Parameters
    ----------
    problem : Problem
    model : nn.Module
        Maps (batch, problem.dim) to (batch, 1); trained in place (a KAN on a
        grid schedule is replaced by its refinements: use ``result.model``).
    steps : int
        Optimizer steps per stage.
    alpha : float
        Weight of the residual term.
    n_interior, n_boundary : int
        Collocation points (interior by ``sampler``).
    grid_schedule : sequence of int
        Grids to extend a KAN to, in order.
    n_test : int
        Sobol points (another seed) where the errors are measured.

    Returns
    -------
    SolveResult
    """
    if isinstance(model, KAN) and (model.width[0] != problem.dim or model.width[-1] != 1):
        raise ValueError(
            f"problem {problem.name!r} needs a model with {problem.dim} inputs and 1 output, "
            f"got width {list(model.width)}"
        )
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    x_in = interior_points(problem, n_interior, sampler, seed=seed, dtype=dtype).to(device)
    x_bd = boundary_points(problem, n_boundary, seed=seed, dtype=dtype).to(device)
    g_bd = problem.boundary(x_bd)
    if grid_schedule and not isinstance(model, KAN):
        raise ValueError("grid_schedule needs a kansci.KAN")

    def loss(m: nn.Module):
        residual = problem.residual(x_in, *derivatives(m, x_in))
        boundary = m(x_bd) - g_bd
        res, bnd = residual.square().mean(), boundary.square().mean()
        return alpha * res + bnd, {"residual": res.detach(), "boundary": bnd.detach()}

    result = SolveResult(model=model)
    for stage, grid in enumerate([None, *grid_schedule]):
        if grid is not None:
            result.model = result.model.refine(grid, x_in)
        history = fit(
            result.model, loss, steps=steps, opt=opt, lr=lr, update_grid=update_grid and stage == 0,
            grid_samples=x_in if isinstance(result.model, KAN) else None, seed=seed, progress=progress,
        )  # fmt: skip
        result.histories.append(history)
        if history.status != "completed":
            break
    if problem.exact is not None:
        x_test = interior_points(problem, n_test, "sobol", seed=seed + 1, dtype=dtype).to(device)
        result.errors = errors(problem, result.model, x_test)
    return result
