"""A PDE problem's loss as a stacked, weighted residual vector.

Each condition (the interior residual, Dirichlet, Neumann and initial misfits,
observations of an inverse problem) contributes rows ``sqrt(w / n) * r`` for
its ``n`` residual entries ``r`` and weight ``w``, so that the sum of squares of
all rows is the loss of :func:`kansci.pde.solve`:
``alpha * mean(residual^2) + mean(boundary misfit^2) + ...``. LBFGS and Adam
minimize that sum; Levenberg–Marquardt takes the rows with their Jacobian,
in closed form for a KAN (:func:`~kansci.pde.jet_jacobian.jet_jacobian`), by
``torch.func`` for other modules (:func:`~kansci.pde.module_jacobian.module_jacobian`),
and by batched backward passes for a module ``torch.func`` cannot trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kansci.core.jacobian import has_closed_form_jacobian
from kansci.core.least_squares import LeastSquares
from kansci.core.model import KAN
from kansci.pde.derivatives import Frame, dirichlet_frame, network_derivatives, shaped
from kansci.pde.jet_jacobian import jet_jacobian
from kansci.pde.module_jacobian import module_jacobian
from kansci.pde.problems import Problem
from kansci.pde.sampling import boundary_points, initial_points, outward_normals

__all__ = ["Condition", "PDEResiduals", "conditions"]

ConditionResidual = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
"""``residual(x, u (batch, F), du (batch, dim, F), d2u (batch, dim, F)) -> (batch, c)``."""


@dataclass(frozen=True, eq=False)
class Condition:
    """One block of rows: a residual at fixed points, and the weight of its mean square in the loss.

    Attributes
    ----------
    name : str
        The loss component it is logged as ("residual", "boundary", ...).
    points : Tensor, shape (n, dim)
    weight : float
    residual : callable
        ``residual(x, u, du, d2u, *data) -> (n, width)`` from the model's
        derivatives at x (full shapes: ``du`` is (n, dim, F); None when
        ``order`` is 0) and the rows of ``data`` at those points; zero where
        the condition holds. Row ``b`` of its output depends on row ``b`` of its inputs only.
    data : tuple of Tensor
        Per-point data (targets, normals), each with n rows.
    width : int
        Residual entries per point.
    order : int
        The highest derivative it uses; 0 evaluates the model alone.
    """

    name: str
    points: Tensor
    weight: float
    residual: ConditionResidual
    data: tuple[Tensor, ...] = ()
    width: int = 1
    order: int = 2

    @property
    def scale(self) -> float:
        """``sqrt(weight / entries)``: the rows' factor, so that their sum of squares is ``weight * mean``."""
        return math.sqrt(self.weight / (self.points.shape[0] * self.width))


def conditions(
    problem: Problem,
    interior: Tensor,
    *,
    alpha: float,
    n_boundary: int,
    n_initial: int,
    hard_boundary: bool = False,
    seed: int = 0,
) -> list[Condition]:
    """The conditions of ``problem``: the residual at ``interior`` (weight ``alpha``) and the rest (weight 1).

    Boundary points come from :func:`~kansci.pde.sampling.boundary_points`
    (seed ``seed``; the Neumann faces seed ``seed + 7``), initial points from
    :func:`~kansci.pde.sampling.initial_points`. With ``hard_boundary`` the
    Dirichlet and initial values hold by construction and are left out.
    """
    dtype, device = interior.dtype, interior.device
    out = [Condition("residual", interior, alpha, lambda x, u, du, d2u: problem.residual(x, *shaped(u, du, d2u)))]
    if problem.boundary is not None and not hard_boundary:
        x = boundary_points(problem, n_boundary, seed=seed, dtype=dtype).to(device)
        out.append(_misfit("boundary", x, problem.boundary(x), list(problem.boundary_fields)))
    if problem.neumann is not None:
        x = boundary_points(problem, n_boundary, seed=seed + 7, dtype=dtype).to(device)
        data = (problem.neumann(x), outward_normals(problem, x))
        out.append(Condition("neumann", x, 1.0, _normal_derivative, data, order=1))
    if problem.time and not hard_boundary:
        x = initial_points(problem, n_initial, seed=seed, dtype=dtype).to(device)
        out.append(_misfit("initial", x, problem.initial(x), [0]))
    if problem.observations is not None:
        x, values = (t.to(device=device, dtype=dtype) for t in problem.observations)
        out.append(_misfit("data", x, values, [0]))
    return out


def _normal_derivative(x: Tensor, u: Tensor, du: Tensor, d2u: Tensor, target: Tensor, normals: Tensor) -> Tensor:
    return (du[:, :, 0] * normals).sum(1, keepdim=True) - target


def _misfit(name: str, x: Tensor, target: Tensor, fields: list[int]) -> Condition:
    """``u[:, fields] - target`` at x."""

    def misfit(x: Tensor, u: Tensor, du: Tensor | None, d2u: Tensor | None, target: Tensor) -> Tensor:
        return u[:, fields] - target

    return Condition(name, x, 1.0, misfit, (target,), width=len(fields), order=0)


class PDEResiduals(LeastSquares):
    """The weighted residual rows of a problem's conditions, row by row over the conditions in order.

    Parameters
    ----------
    problem : Problem
    conditions : sequence of Condition
        See :func:`conditions`.
    hard_boundary : bool
        The model is the network inside :class:`~kansci.pde.derivatives.HardDirichlet`.
    exact_derivatives : bool
        A KAN's derivatives by its exact jet (and its Jacobian in closed form);
        False uses nested autograd for both.
    """

    def __init__(
        self,
        problem: Problem,
        conditions: Sequence[Condition],
        *,
        hard_boundary: bool = False,
        exact_derivatives: bool = True,
    ) -> None:
        self.problem = problem
        self.conditions = tuple(conditions)
        self.exact = exact_derivatives
        self.frames: list[Frame | None] = [
            dirichlet_frame(problem, c.points) if hard_boundary else None for c in self.conditions
        ]
        self.offsets = [0]
        for c in self.conditions:
            self.offsets.append(self.offsets[-1] + c.points.shape[0])
        self.n_rows = self.offsets[-1]
        self._traceable: dict[int, bool] = {}

    def _pieces(self, rows: slice) -> Iterator[tuple[int, slice]]:
        """(condition index, slice of its points) covering the global ``rows``."""
        start, stop, _ = rows.indices(self.n_rows)
        for i in range(len(self.conditions)):
            lo, hi = max(start, self.offsets[i]), min(stop, self.offsets[i + 1])
            if lo < hi:
                yield i, slice(lo - self.offsets[i], hi - self.offsets[i])

    def _setup(self, i: int, local: slice) -> tuple[Condition, Tensor, tuple[Tensor, ...], Frame | None]:
        """The condition, its points and data in ``local`` and its frame there.

        The whole point tensor itself when ``local`` covers it: the input layer keeps designs per tensor.
        """
        c = self.conditions[i]
        frame = self.frames[i]
        n = c.points.shape[0]
        if local.indices(n)[:2] == (0, n):
            return c, c.points, c.data, frame
        data = tuple(t[local] for t in c.data)
        return c, c.points[local], data, None if frame is None else Frame(*(t[local] for t in frame))

    def _evaluate(self, model: nn.Module, i: int, local: slice) -> Tensor:
        """The condition's unweighted residual at its points in ``local``, (n, width)."""
        c, x, data, frame = self._setup(i, local)
        if c.order == 0 and frame is None:
            return c.residual(x, model(x), None, None, *data)
        u, du, d2u = network_derivatives(model, x, self.exact)
        if frame is not None:
            u, du, d2u = frame.compose(u, du, d2u)
        return c.residual(x, u, du, d2u, *data)

    def residuals(self, model: nn.Module, rows: slice) -> Tensor:
        pieces = [self._evaluate(model, i, local) * self.conditions[i].scale for i, local in self._pieces(rows)]
        return torch.cat([r.reshape(-1) for r in pieces])

    def parts(self, model: nn.Module) -> tuple[Tensor, Mapping[str, Tensor]]:
        means = {c.name: self._evaluate(model, i, slice(None)).square().mean() for i, c in enumerate(self.conditions)}
        total = sum(c.weight * means[c.name] for c in self.conditions)
        return total, means

    def has_jacobian(self, model: nn.Module) -> bool:
        """A KAN's exact jets give its Jacobian in closed form; other modules get it by ``torch.func``.

        A module ``torch.func`` cannot trace (checked once, on two points) is left to batched backward passes.
        """
        if isinstance(model, KAN):
            return self.exact and has_closed_form_jacobian(model)
        key = id(model)
        if key not in self._traceable:
            c = self.conditions[0]
            try:
                module_jacobian(model, c.points[:2], lambda u, du, d2u: u[:, :1])
                self._traceable[key] = True
            except ValueError:
                self._traceable[key] = False
        return self._traceable[key]

    def jacobian(self, model: nn.Module, rows: slice) -> tuple[Tensor, dict[Tensor, Tensor]]:
        rs, by_piece = [], []
        for i, local in self._pieces(rows):
            c, x, data, frame = self._setup(i, local)

            def head(value: Tensor, grad: Tensor, second: Tensor, c=c, x=x, data=data, frame=frame) -> Tensor:
                u, du, d2u = (value, grad, second) if frame is None else frame.compose(value, grad, second)
                return c.residual(x, u, du, d2u, *data) * c.scale

            r, blocks = jet_jacobian(model, x, head) if isinstance(model, KAN) else module_jacobian(model, x, head)
            rs.append(r.reshape(-1))
            by_piece.append({p: b.reshape(r.numel(), *p.shape) for p, b in blocks.items()})
        return torch.cat(rs), {p: torch.cat([b[p] for b in by_piece]) for p in by_piece[0]}
