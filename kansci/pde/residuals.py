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

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kansci.core.jacobian import has_closed_form_jacobian
from kansci.core.least_squares import LeastSquares
from kansci.core.model import KAN
from kansci.pde.derivatives import Frame, dirichlet_frame, network_derivatives, shaped
from kansci.pde.directional_jacobian import directional_jacobian
from kansci.pde.equation import Equation
from kansci.pde.hard import HardConstraint
from kansci.pde.jet_jacobian import jet_jacobian
from kansci.pde.module_jacobian import module_jacobian
from kansci.pde.multiindex import DerivativePlan, directional_jets, module_directional_jets
from kansci.pde.problems import Problem
from kansci.pde.sampling import boundary_points, initial_points, outward_normals

__all__ = ["Condition", "PDEResiduals", "conditions", "scaled_rows"]

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
    needs : tuple of multi-indices, optional
        Set for a condition of an :class:`~kansci.pde.equation.Equation`: the partial
        derivatives (counts per input; all zeros for the value) its residual reads.
        Its residual is then ``residual(x, values, *data)``, with ``values`` mapping
        each multi-index to (n, F); ``order`` is not used.
    paired : bool
        The points are two halves, and the rows are the residual at the first
        half minus the residual at the second (a periodic condition).
    """

    name: str
    points: Tensor
    weight: float
    residual: ConditionResidual
    data: tuple[Tensor, ...] = ()
    width: int = 1
    order: int = 2
    needs: tuple[tuple[int, ...], ...] | None = None
    paired: bool = False

    @property
    def n_rows(self) -> int:
        """Rows per residual column: one per point, one per pair of points when ``paired``."""
        return self.points.shape[0] // 2 if self.paired else self.points.shape[0]

    @property
    def scale(self) -> float:
        """``sqrt(weight / entries)``: the rows' factor, so that their sum of squares is ``weight * mean``."""
        return math.sqrt(self.weight / (self.n_rows * self.width))


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


def scaled_rows(condition: Condition, factors: Tensor) -> Condition:
    """``condition`` with each point's residual multiplied by its entry of ``factors`` (n,), a fixed tensor.

    Its rows' squares are then weighted by ``factors**2`` (see :func:`kansci.pde.causal.causal_weights`).
    """
    if condition.paired or factors.shape != (condition.n_rows,):
        raise ValueError(f"factors must have shape ({condition.n_rows},) for an unpaired condition")
    base = condition.residual

    def scaled(*args: Tensor) -> Tensor:
        return base(*args[:-1]) * args[-1]

    column = factors.detach().reshape(-1, 1).to(condition.points)
    return dataclasses.replace(condition, residual=scaled, data=(*condition.data, column))


class PDEResiduals(LeastSquares):
    """The weighted residual rows of a problem's conditions, row by row over the conditions in order.

    Parameters
    ----------
    problem : Problem or Equation
    conditions : sequence of Condition
        See :func:`conditions` (a :class:`~kansci.pde.problems.Problem`) and
        :func:`~kansci.pde.equation_setup.equation_conditions` (an :class:`~kansci.pde.equation.Equation`).
    hard_boundary : bool
        The model is the network inside :class:`~kansci.pde.derivatives.HardDirichlet`
        (a Problem; an Equation marks its exact Dirichlet values on the conditions themselves).
    exact_derivatives : bool
        A KAN's derivatives by its exact jets (and its Jacobian in closed form);
        False uses autograd for both.
    """

    def __init__(
        self,
        problem: Problem | Equation,
        conditions: Sequence[Condition],
        *,
        hard_boundary: bool = False,
        exact_derivatives: bool = True,
    ) -> None:
        self.problem = problem
        self.conditions = tuple(conditions)
        self.exact = exact_derivatives
        legacy_hard = hard_boundary and isinstance(problem, Problem)
        self.frames: list[Frame | None] = [
            dirichlet_frame(problem, c.points) if legacy_hard and c.needs is None else None for c in self.conditions
        ]
        self.hard = HardConstraint.of(problem) if isinstance(problem, Equation) else None
        self.plans = [None if c.needs is None else DerivativePlan(c.needs, c.points.shape[1]) for c in self.conditions]
        self._hard_frames: dict[int, list[Tensor]] = {}
        self.offsets = [0]
        for c in self.conditions:
            self.offsets.append(self.offsets[-1] + c.n_rows)
        self.n_rows = self.offsets[-1]
        self._traceable: dict[int, bool] = {}

    def _pieces(self, rows: slice) -> Iterator[tuple[int, slice]]:
        """(condition index, slice of its rows) covering the global ``rows``."""
        start, stop, _ = rows.indices(self.n_rows)
        for i in range(len(self.conditions)):
            lo, hi = max(start, self.offsets[i]), min(stop, self.offsets[i + 1])
            if lo < hi:
                yield i, slice(lo - self.offsets[i], hi - self.offsets[i])

    def _setup(self, i: int, local: slice) -> tuple[Condition, Tensor, tuple[Tensor, ...], Frame | None]:
        """The condition, its points and data for the rows ``local`` and its frame there.

        The whole point tensor itself when ``local`` covers it: the input layer keeps designs per tensor.
        A paired condition's rows take a point from each half.
        """
        c = self.conditions[i]
        frame = self.frames[i]
        if local.indices(c.n_rows)[:2] == (0, c.n_rows):
            return c, c.points, c.data, frame
        if c.paired:
            m = c.n_rows
            second = slice(local.start + m, local.stop + m)

            def take(t: Tensor) -> Tensor:
                return torch.cat([t[local], t[second]])

            return c, take(c.points), tuple(take(t) for t in c.data), None
        data = tuple(t[local] for t in c.data)
        return c, c.points[local], data, None if frame is None else Frame(*(t[local] for t in frame))

    def _hard_frame(self, i: int, x: Tensor) -> list[Tensor] | None:
        """Jets of the exact Dirichlet factors at x (kept for a condition's whole point set)."""
        if self.hard is None:
            return None
        plan = self.plans[i]
        whole = x is self.conditions[i].points
        if whole and i in self._hard_frames:
            return self._hard_frames[i]
        frame = self.hard.frame(x, plan.direction_tensor(x), plan.order)
        if whole:
            self._hard_frames[i] = frame
        return frame

    def _network_jets(self, model: nn.Module, x: Tensor, plan: DerivativePlan) -> list[Tensor]:
        if plan.order == 0:
            return [model(x)]
        directions = plan.direction_tensor(x)
        if self.exact and isinstance(model, KAN):
            return directional_jets(model, x, directions, plan.order)
        return module_directional_jets(model, x, directions, plan.order)

    def _needs_head(
        self, i: int, x: Tensor, data: tuple[Tensor, ...], subtract_pairs: bool = True
    ) -> Callable[[list[Tensor]], Tensor]:
        """jets of the network at x -> the condition's residual rows (unweighted; a pair's difference)."""
        c, plan = self.conditions[i], self.plans[i]
        frame = self._hard_frame(i, x)

        def head(jets: list[Tensor]) -> Tensor:
            if frame is not None:
                jets = self.hard.compose(jets, frame)
            r = c.residual(x, plan.combine(jets), *data)
            if c.paired and subtract_pairs:
                half = r.shape[0] // 2
                r = r[:half] - r[half:]
            return r

        return head

    def _evaluate(self, model: nn.Module, i: int, local: slice) -> Tensor:
        """The condition's unweighted residual at its points in ``local``, (n, width)."""
        c, x, data, frame = self._setup(i, local)
        if c.needs is not None:
            return self._needs_head(i, x, data)(self._network_jets(model, x, self.plans[i]))
        if c.order == 0 and frame is None:
            return c.residual(x, model(x), None, None, *data)
        u, du, d2u = network_derivatives(model, x, self.exact)
        if frame is not None:
            u, du, d2u = frame.compose(u, du, d2u)
        return c.residual(x, u, du, d2u, *data)

    def evaluate(self, model: nn.Module, i: int, points: Tensor) -> Tensor:
        """Condition ``i``'s unweighted residual at other ``points`` (residual-based resampling), (n, width)."""
        c = self.conditions[i]
        if c.needs is not None:
            return self._needs_head(i, points, ())(self._network_jets(model, points, self.plans[i]))
        if self.frames[i] is not None:
            raise ValueError("evaluate at new points needs an Equation or a problem without hard_boundary")
        return c.residual(points, *network_derivatives(model, points, self.exact))

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
            if c.needs is not None:
                r, blocks = self._needs_jacobian(model, i, x, data)
            else:

                def head(value: Tensor, grad: Tensor, second: Tensor, c=c, x=x, data=data, frame=frame) -> Tensor:
                    u, du, d2u = (value, grad, second) if frame is None else frame.compose(value, grad, second)
                    return c.residual(x, u, du, d2u, *data) * c.scale

                r, blocks = jet_jacobian(model, x, head) if isinstance(model, KAN) else module_jacobian(model, x, head)
            rs.append(r.reshape(-1))
            by_piece.append({p: b.reshape(r.numel(), *p.shape) for p, b in blocks.items()})
        return torch.cat(rs), {p: torch.cat([b[p] for b in by_piece]) for p in by_piece[0]}

    def _needs_jacobian(
        self, model: nn.Module, i: int, x: Tensor, data: tuple[Tensor, ...]
    ) -> tuple[Tensor, dict[Tensor, Tensor]]:
        """Rows of a condition with ``needs`` and their blocks, by directional jets (pairs after the blocks)."""
        c, plan = self.conditions[i], self.plans[i]
        head = self._needs_head(i, x, data, subtract_pairs=False)  # per point; a pair's difference after

        def per_point(jets: list[Tensor]) -> Tensor:
            return head(jets) * c.scale

        order = max(plan.order, 1)
        directions = plan.direction_tensor(x) if plan.order else torch.eye(x.shape[1], dtype=x.dtype)[:1].to(x)
        r, blocks = directional_jacobian(model, x, directions, order, per_point)
        if c.paired:
            half = r.shape[0] // 2
            r = r[:half] - r[half:]
            blocks = {p: b[:half] - b[half:] for p, b in blocks.items()}
        return r, blocks
