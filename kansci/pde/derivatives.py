"""Input derivatives of a model for PDE residuals: exact jets for a KAN, nested autograd otherwise.

:class:`HardDirichlet` wraps a network so that it meets Dirichlet (and initial)
values by construction; its derivatives combine the network's with those of
the fixed factors, which :meth:`HardDirichlet.frame` gives once per point set.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from kansci.core.model import KAN
from kansci.pde.problems import Problem
from kansci.pde.taylor import jet

__all__ = ["Frame", "HardDirichlet", "derivatives", "dirichlet_frame", "network_derivatives"]


def autograd_derivatives(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """u (batch, F), du and d2u (batch, dim, F) by nested autograd (differentiable in the parameters)."""
    xr = x.detach().requires_grad_()
    with torch.enable_grad():
        u = model(xr)
        grads, seconds = [], []
        for f in range(u.shape[1]):
            (g,) = torch.autograd.grad(u[:, f].sum(), xr, create_graph=True)
            grads.append(g)
            second = [torch.autograd.grad(g[:, d].sum(), xr, create_graph=True)[0][:, d] for d in range(x.shape[1])]
            seconds.append(torch.stack(second, 1))
    return u, torch.stack(grads, 2), torch.stack(seconds, 2)


def network_derivatives(model: nn.Module, x: Tensor, exact: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """u (batch, F), du and d2u (batch, dim, F): a KAN's exact jet (unless ``exact=False``), else nested autograd."""
    if isinstance(model, HardDirichlet):
        return model.derivatives(x, exact)
    if exact and isinstance(model, KAN):
        j = jet(model, x)
        return j.value, j.grad, j.second
    return autograd_derivatives(model, x)


def derivatives(model: nn.Module, x: Tensor, exact: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """u, its first and its pure second derivatives at x, shaped as a problem's residual takes them.

    Exact forward propagation (:func:`~kansci.pde.taylor.jet`) for a KAN
    (unless ``exact=False``); nested autograd for any other module.

    Returns
    -------
    u : Tensor, shape (batch, n_out)
    du, d2u : Tensor, shape (batch, dim) for one output, else (batch, dim, n_out)
    """
    return shaped(*network_derivatives(model, x, exact))


def shaped(u: Tensor, du: Tensor, d2u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Drop the field axis of du and d2u for a single field, as a problem's residual takes them."""
    if u.shape[1] == 1:
        return u, du[:, :, 0], d2u[:, :, 0]
    return u, du, d2u


class Frame(NamedTuple):
    """The fixed factors of :class:`HardDirichlet` at a point set, with their derivatives (all detached).

    ``distance`` and ``lift`` are (batch, 1); their derivatives (batch, dim).
    """

    distance: Tensor
    lift: Tensor
    distance_grad: Tensor
    lift_grad: Tensor
    distance_second: Tensor
    lift_second: Tensor

    def compose(self, n: Tensor, dn: Tensor, d2n: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """u = lift + distance * n and its derivatives, from the network's (shapes as :func:`network_derivatives`)."""
        d, dd, d2d = self.distance, self.distance_grad.unsqueeze(2), self.distance_second.unsqueeze(2)
        u = self.lift + d * n
        du = self.lift_grad.unsqueeze(2) + dd * n.unsqueeze(1) + d.unsqueeze(2) * dn
        d2u = self.lift_second.unsqueeze(2) + d2d * n.unsqueeze(1) + 2 * dd * dn + d.unsqueeze(2) * d2n
        return u, du, d2u


class HardDirichlet(nn.Module):
    """The ansatz ``u = g(x) + d(x) * net(x)``: zero Dirichlet error by construction.

    ``d = prod_i (x_i - lo_i)(hi_i - x_i) / ((hi_i - lo_i) / 2)^2`` over the
    spatial axes vanishes on the spatial faces, and ``g`` is the problem's
    boundary function evaluated everywhere (it must be defined inside the box).
    For an evolution problem the time factor ``(t - t0) / (T - t0)`` joins
    ``d`` and ``g`` becomes ``boundary + initial - its own value at t0``, which
    only matches both conditions where they agree at the corners.
    """

    def __init__(self, net: nn.Module, problem: Problem) -> None:
        super().__init__()
        if problem.boundary is None or problem.boundary_fields != (0,) or problem.n_fields != 1:
            raise ValueError("hard boundary conditions need Dirichlet values for a single field")
        self.net = net
        self.problem = problem

    def forward(self, x: Tensor) -> Tensor:
        d, g = _factors(self.problem, x)
        return g + d * self.net(x)

    def frame(self, x: Tensor) -> Frame:
        """The factors d and g at x with their derivatives (see :func:`dirichlet_frame`)."""
        return dirichlet_frame(self.problem, x)

    def derivatives(self, x: Tensor, exact: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """u (batch, 1), du and d2u (batch, dim, 1) of the ansatz."""
        return self.frame(x).compose(*network_derivatives(self.net, x, exact))


def _factors(problem: Problem, x: Tensor) -> tuple[Tensor, Tensor]:
    """The distance factor d and the lift g of :class:`HardDirichlet`, each (batch, 1)."""
    p = problem
    lo = torch.tensor(p.lower, dtype=x.dtype, device=x.device)
    hi = torch.tensor(p.upper, dtype=x.dtype, device=x.device)
    s = p.space_dims
    half = (hi - lo) / 2
    d = ((x[:, :s] - lo[:s]) * (hi[:s] - x[:, :s]) / half[:s] ** 2).prod(1, keepdim=True)
    g = p.boundary(x)
    if p.time:
        d = d * (x[:, -1:] - lo[-1]) / (hi[-1] - lo[-1])
        x0 = torch.cat([x[:, :-1], lo[-1].expand(x.shape[0], 1)], 1)
        g = g + p.initial(x0) - p.boundary(x0)
    return d, g


def dirichlet_frame(problem: Problem, x: Tensor) -> Frame:
    """The factors d and g of :class:`HardDirichlet` at x with their first and pure second derivatives.

    They hold no parameters: computed once per point set (by autograd on x), they serve every step.
    """
    xr = x.detach().requires_grad_()
    with torch.enable_grad():
        factors = torch.cat(_factors(problem, xr), 1)
        first, second = [], []
        for f in range(2):
            (gr,) = torch.autograd.grad(factors[:, f].sum(), xr, create_graph=True)
            first.append(gr.detach())
            pure = [torch.autograd.grad(gr[:, a].sum(), xr, retain_graph=True)[0][:, a] for a in range(x.shape[1])]
            second.append(torch.stack(pure, 1))
    factors = factors.detach()
    return Frame(factors[:, :1], factors[:, 1:], first[0], first[1], second[0], second[1])
