"""PDE problems as data: a box domain, a residual, boundary values, an exact solution."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Problem", "poisson_paper", "poisson_sine", "helmholtz"]

# residual(x, u, du, d2u) with x (batch, dim), u (batch, 1), du and d2u (batch, dim):
# first derivatives and pure second derivatives of u.
Residual = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Problem:
    """A boundary-value problem on the box ``[lower, upper]``.

    Parameters
    ----------
    name : str
    lower, upper : tuple of float
        Corners of the domain, one entry per input.
    residual : callable
        ``residual(x, u, du, d2u) -> (batch, 1)``; zero for the solution.
    boundary : callable
        Dirichlet values ``g(x) -> (batch, 1)`` on the boundary.
    exact : callable, optional
        The solution ``u(x) -> (batch, 1)`` when known.
    """

    name: str
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    residual: Residual
    boundary: Callable[[Tensor], Tensor]
    exact: Callable[[Tensor], Tensor] | None = None

    def __post_init__(self) -> None:
        if len(self.lower) != len(self.upper) or not self.lower:
            raise ValueError(f"lower and upper need one entry per input, got {self.lower} and {self.upper}")
        if any(not (math.isfinite(a) and math.isfinite(b) and a < b) for a, b in zip(self.lower, self.upper)):
            raise ValueError(f"every lower bound must be finite and below its upper bound: {self.lower}, {self.upper}")

    @property
    def dim(self) -> int:
        return len(self.lower)


def _sin_sin_y2(x: Tensor) -> Tensor:
    return (torch.sin(torch.pi * x[:, 0]) * torch.sin(torch.pi * x[:, 1] ** 2)).unsqueeze(1)


def _paper_source(x: Tensor) -> Tensor:
    px, y = torch.pi * x[:, 0], x[:, 1]
    f = -(torch.pi**2) * (1 + 4 * y**2) * torch.sin(px) * torch.sin(torch.pi * y**2)
    f = f + 2 * torch.pi * torch.sin(px) * torch.cos(torch.pi * y**2)
    return f.unsqueeze(1)


def _zero(x: Tensor) -> Tensor:
    return torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)


def poisson_paper() -> Problem:
    """Paper §3.4: u_xx + u_yy = f on [-1, 1]^2, u = 0 on the boundary, u = sin(pi x) sin(pi y^2)."""
    return Problem(
        name="poisson_paper",
        lower=(-1.0, -1.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: d2u.sum(1, keepdim=True) - _paper_source(x),
        boundary=_zero,
        exact=_sin_sin_y2,
    )


def poisson_sine() -> Problem:
    """pykan's tutorial: Laplace(u) = -2 pi^2 sin(pi x) sin(pi y) on [-1, 1]^2, u = sin(pi x) sin(pi y)."""

    def exact(x: Tensor) -> Tensor:
        return (torch.sin(torch.pi * x[:, 0]) * torch.sin(torch.pi * x[:, 1])).unsqueeze(1)

    return Problem(
        name="poisson_sine",
        lower=(-1.0, -1.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: d2u.sum(1, keepdim=True) + 2 * torch.pi**2 * exact(x),
        boundary=_zero,
        exact=exact,
    )


def helmholtz(a1: float = 1.0, a2: float = 4.0, k: float = 1.0) -> Problem:
    """Laplace(u) + k^2 u = q on [-1, 1]^2 with u = sin(a1 pi x) sin(a2 pi y), u = 0 on the boundary."""

    def exact(x: Tensor) -> Tensor:
        return (torch.sin(a1 * torch.pi * x[:, 0]) * torch.sin(a2 * torch.pi * x[:, 1])).unsqueeze(1)

    scale = k**2 - (a1**2 + a2**2) * torch.pi**2
    return Problem(
        name="helmholtz",
        lower=(-1.0, -1.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: d2u.sum(1, keepdim=True) + k**2 * u - scale * exact(x),
        boundary=_zero,
        exact=exact,
    )
