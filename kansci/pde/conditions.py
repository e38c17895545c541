"""Conditions of an :class:`~kansci.pde.equation.Equation`: boundary, initial, periodic, data.

Each condition becomes one block of weighted residual rows at its own points
(:class:`~kansci.pde.residuals.Condition`); ``n`` sets how many points it
gets (default: the ``n_boundary`` / ``n_initial`` of :func:`~kansci.pde.solve`),
``weight`` the weight of its mean square in the loss, and ``where`` (a
predicate on the boundary points, e.g. ``lambda x: x[:, 0] < 0``; on a SpaceTime it
sees the spatial coordinates only) restricts a boundary condition to part of the boundary.
Prescribed values are numbers or functions of the points, ``g(x) -> (batch,)``.

* :class:`Dirichlet` ``u = g``; ``hard=True`` imposes it exactly, ``u = g + D(x) * net``,
  with ``D`` the domain's smooth distance (boxes, balls, differences such as a box
  with round holes) or your own ``distance``;
* :class:`Neumann` ``du/dn = g`` and :class:`Robin` ``a u + b du/dn = g`` (outward normal);
* :class:`Periodic` the fields (and their derivatives along the variable, up to
  ``order``) equal on the two faces of a box across one variable;
* :class:`Initial` ``d^k u / dt^k = g`` at the initial time of a SpaceTime;
* :class:`Data` observed values at given points (inverse problems);
* :class:`BoundaryResidual` any residual ``r(x, d, normal)`` on the boundary.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from kansci.pde.equation import Equation, Partials, Value, residual_columns, values_of
from kansci.pde.geometry import Box
from kansci.pde.residuals import Condition

__all__ = [
    "BoundaryResidual",
    "ConditionSpec",
    "Data",
    "Dirichlet",
    "Initial",
    "Neumann",
    "Periodic",
    "Robin",
    "equation_conditions",
]

Predicate = Callable[[Tensor], Tensor]


class ConditionSpec(ABC):
    """What every condition has: its points (``n``), its weight, its rows."""

    n: int | None
    weight: float

    def validate(self, equation: Equation) -> None:
        """Raise ValueError for settings this equation cannot have (unknown field, no time axis, ...)."""
        if self.n is not None and (isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1):
            raise ValueError(f"n (points of the condition) must be a positive int, got {self.n!r}")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"weight must be a positive number, got {self.weight!r}")

    @abstractmethod
    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        """The condition's residual block at ``n`` fresh points (``self.n`` wins), or None when imposed exactly."""

    def _count(self, n: int) -> int:
        return self.n if self.n is not None else n


def local_condition(
    equation: Equation,
    name: str,
    points: Tensor,
    weight: float,
    fn: Callable[..., Tensor | Sequence[Tensor]],
    data: tuple[Tensor, ...] = (),
    *,
    paired: bool = False,
) -> Condition:
    """A block of rows ``fn(x, d, *data)`` from named derivatives (:class:`~kansci.pde.equation.Partials`)."""
    probe = min(points.shape[0], 4)
    needs, width = equation.probe(fn, points[:probe], *(t[:probe] for t in data))

    def residual(x: Tensor, values: dict[tuple[int, ...], Tensor], *rows: Tensor) -> Tensor:
        return residual_columns(fn(x, Partials(equation, values), *rows), x.shape[0])

    return Condition(name, points, weight, residual, data, width=width, needs=needs, paired=paired)


def _boundary(equation: Equation, n: int, seed: int, where: Predicate | None, dtype) -> tuple[Tensor, Tensor]:
    """Boundary points and outward normals in all ``dim`` columns (zero along time)."""
    x, normal = equation.domain.boundary_points(n, seed=seed, where=where, dtype=dtype)
    if equation.time:
        normal = torch.cat([normal, normal.new_zeros(normal.shape[0], 1)], 1)
    return x, normal


def _normal_derivative(equation: Equation, d: Partials, field: str, normal: Tensor) -> Tensor:
    return sum(normal[:, a] * d(field, v) for a, v in enumerate(equation.space_variables))


class _BoundaryValue(ConditionSpec):
    """``a u + b du/dn = value`` on the boundary (or the part ``where`` selects): the shared rows."""

    value: Value
    field: str | None
    where: Predicate | None
    name = "robin"

    @abstractmethod
    def coefficients(self) -> tuple[float, float]:
        """(a, b)"""

    def validate(self, equation: Equation) -> None:
        super().validate(equation)
        equation.field_index(self._field(equation))
        a, b = self.coefficients()
        if not (math.isfinite(a) and math.isfinite(b)) or (a == 0 and b == 0):
            raise ValueError(f"a Robin condition needs finite a, b not both zero, got a={a}, b={b}")

    def _field(self, equation: Equation) -> str:
        return equation.fields[0] if self.field is None else self.field

    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        field = self._field(equation)
        x, normal = _boundary(equation, self._count(n), seed, self.where, dtype)
        target = values_of(self.value, x)
        a, b = self.coefficients()

        def fn(x: Tensor, d: Partials, normal: Tensor, target: Tensor) -> Tensor:
            out = -target
            if a:
                out = out + a * d(field)
            if b:
                out = out + b * _normal_derivative(equation, d, field, normal)
            return out

        return local_condition(equation, self.name, x, self.weight, fn, (normal, target))


@dataclass(frozen=True)
class Robin(_BoundaryValue):
    """``a u + b du/dn = value`` (outward normal) on the boundary or the part ``where`` selects."""

    a: float
    b: float
    value: Value = 0.0
    field: str | None = None
    where: Predicate | None = None
    n: int | None = None
    weight: float = 1.0

    def coefficients(self) -> tuple[float, float]:
        return self.a, self.b


@dataclass(frozen=True)
class Neumann(_BoundaryValue):
    """``du/dn = value`` (outward normal) on the boundary or the part ``where`` selects."""

    value: Value = 0.0
    field: str | None = None
    where: Predicate | None = None
    n: int | None = None
    weight: float = 1.0
    name = "neumann"

    def coefficients(self) -> tuple[float, float]:
        return 0.0, 1.0


@dataclass(frozen=True)
class Dirichlet(_BoundaryValue):
    """``u = value`` on the boundary (or the part ``where`` selects); exactly with ``hard=True``.

    ``hard=True`` builds ``u = value(x) + D(x) * net(x)`` (see :mod:`kansci.pde.hard`), with ``D``
    the domain's :meth:`~kansci.pde.geometry.Geometry.smooth_distance` or ``distance``; ``value``
    must then be defined inside the domain too, and ``where`` is not allowed.
    """

    value: Value = 0.0
    field: str | None = None
    where: Predicate | None = None
    n: int | None = None
    weight: float = 1.0
    hard: bool = False
    distance: Callable[[Tensor], Tensor] | None = None
    name = "boundary"

    def coefficients(self) -> tuple[float, float]:
        return 1.0, 0.0

    def validate(self, equation: Equation) -> None:
        super().validate(equation)
        if self.hard:
            if self.where is not None:
                raise ValueError("hard=True imposes the value on the whole boundary: drop where= or use hard=False")
            if equation.time:
                raise ValueError("hard Dirichlet values are for steady problems; use hard=False with a SpaceTime")
            if self.distance is None:
                equation.domain.smooth_distance(equation.domain.interior_points(2))  # raises when it has none

    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        return None if self.hard else super().rows(equation, n, seed, dtype)


@dataclass(frozen=True)
class BoundaryResidual(ConditionSpec):
    """Any condition on the boundary: ``residual(x, d, normal) -> (batch,)`` or (batch, c), zero where it holds."""

    residual: Callable[[Tensor, Partials, Tensor], Tensor | Sequence[Tensor]]
    where: Predicate | None = None
    n: int | None = None
    weight: float = 1.0
    name: str = "boundary_residual"

    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        x, normal = _boundary(equation, self._count(n), seed, self.where, dtype)
        return local_condition(equation, self.name, x, self.weight, self.residual, (normal,))


@dataclass(frozen=True)
class Initial(ConditionSpec):
    """``d^order u / dt^order = value`` at the initial time of a SpaceTime domain (``order`` 0: the value)."""

    value: Value = 0.0
    field: str | None = None
    order: int = 0
    n: int | None = None
    weight: float = 1.0

    def validate(self, equation: Equation) -> None:
        super().validate(equation)
        if not equation.time:
            raise ValueError("an Initial condition needs a SpaceTime domain (time as the last input)")
        equation.field_index(equation.fields[0] if self.field is None else self.field)
        if self.order not in range(4):
            raise ValueError(f"order must be 0 to 3 (a time derivative at t0), got {self.order!r}")

    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        field = equation.fields[0] if self.field is None else self.field
        x = equation.domain.initial_points(self._count(n), "sobol", seed=seed, dtype=dtype)
        target = values_of(self.value, x)
        spec = equation.variables[-1] * self.order

        def fn(x: Tensor, d: Partials, target: Tensor) -> Tensor:
            return d(field, spec) - target

        name = "initial" if not self.order else f"initial_d{self.order}t"
        return local_condition(equation, name, x, self.weight, fn, (target,))


@dataclass(frozen=True)
class Periodic(ConditionSpec):
    """Fields equal on the faces ``variable = lower`` and ``variable = upper`` of a box, with derivatives.

    ``order`` 1 (the default) also matches the first derivative along the
    variable: for a second-order equation that makes the solution periodic.
    ``fields`` defaults to all of them.
    """

    variable: str
    fields: Sequence[str] | None = None
    order: int = 1
    n: int | None = None
    weight: float = 1.0

    def validate(self, equation: Equation) -> None:
        super().validate(equation)
        space = equation.domain.space if equation.time else equation.domain
        if not isinstance(space, Box):
            raise ValueError("a Periodic condition pairs the faces of a box: use a Box (or a SpaceTime over one)")
        if self.variable not in equation.space_variables:
            raise ValueError(f"variable must be one of the spatial variables {equation.space_variables}")
        for f in self.fields or ():
            equation.field_index(f)
        if self.order not in range(4):
            raise ValueError(f"order must be 0 to 3, got {self.order!r}")

    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        n = self._count(n)
        axis = equation.variables.index(self.variable)
        space = equation.domain.space if equation.time else equation.domain
        x = equation.interior_points(n, "uniform", seed=seed, dtype=dtype)
        low, high = x.clone(), x.clone()
        low[:, axis], high[:, axis] = float(space.lower[axis]), float(space.upper[axis])
        fields = tuple(self.fields or equation.fields)
        specs = [self.variable * k for k in range(self.order + 1)]

        def fn(x: Tensor, d: Partials) -> list[Tensor]:
            return [d(f, spec) for f in fields for spec in specs]

        return local_condition(equation, f"periodic_{self.variable}", torch.cat([low, high]), self.weight, fn,
                               paired=True)  # fmt: skip


@dataclass(frozen=True)
class Data(ConditionSpec):
    """Observed values of a field at given points: ``points`` (n, dim), ``values`` (n,)."""

    points: Tensor
    values: Tensor
    field: str | None = None
    weight: float = 1.0
    n: int | None = None

    def validate(self, equation: Equation) -> None:
        super().validate(equation)
        equation.field_index(equation.fields[0] if self.field is None else self.field)
        p, v = self.points, self.values
        if not isinstance(p, Tensor) or p.ndim != 2 or p.shape[1] != equation.dim:
            raise ValueError(f"points must be a tensor (n, {equation.dim})")
        if not isinstance(v, Tensor) or v.reshape(-1).shape[0] != p.shape[0]:
            raise ValueError(f"values must hold one number per point ({p.shape[0]})")
        if not (torch.isfinite(p).all() and torch.isfinite(v).all()):
            raise ValueError("observations contain NaN or inf; drop those samples")

    def rows(self, equation: Equation, n: int, seed: int, dtype: torch.dtype) -> Condition | None:
        field = equation.fields[0] if self.field is None else self.field
        x, target = self.points.to(dtype), self.values.reshape(-1).to(dtype)

        def fn(x: Tensor, d: Partials, target: Tensor) -> Tensor:
            return d(field) - target

        return local_condition(equation, "data", x, self.weight, fn, (target,))


def equation_conditions(
    equation: Equation, interior: Tensor, *, alpha: float, n_boundary: int, n_initial: int, seed: int = 0
) -> list[Condition]:
    """The residual at ``interior`` (weight ``alpha``), then each condition's rows (exact ones left out).

    Condition ``i`` draws its points with seed ``seed + 7 * (i + 1)``; names repeat
    with a suffix (``boundary``, ``boundary_2``) so that each is logged apart.
    """
    out = [local_condition(equation, "residual", interior, alpha, equation.residual)]
    seen = {"residual": 1}
    for i, spec in enumerate(equation.conditions):
        n = n_initial if isinstance(spec, Initial) else n_boundary
        block = spec.rows(equation, n, seed + 7 * (i + 1), interior.dtype)
        if block is None:
            continue
        seen[block.name] = seen.get(block.name, 0) + 1
        if seen[block.name] > 1:
            block = dataclasses.replace(block, name=f"{block.name}_{seen[block.name]}")
        out.append(dataclasses.replace(block, points=block.points.to(interior.device),
                                       data=tuple(t.to(interior.device) for t in block.data)))  # fmt: skip
    return out
