"""A PDE of your own: residuals written with named derivatives, on any domain, for any number of fields.

An :class:`Equation` holds a domain (a :class:`~kansci.pde.geometry.Geometry`,
or a :class:`~kansci.pde.geometry.SpaceTime` for evolution problems), a
residual and its conditions (:mod:`kansci.pde.conditions`). The residual reads
the model's fields and their partial derivatives by name through
:class:`Partials`::

    def residual(x, d):
        return d("u", "xxxx") + 2 * d("u", "xxyy") + d("u", "yyyy") - f(x)

Which derivatives a residual uses is found once, by calling it on a few points
with a recorder; only those are computed (exactly through a KAN's Taylor jets,
:mod:`kansci.pde.multiindex`). A residual returns one tensor of shape
(batch,) or (batch, c), or a sequence of (batch,) tensors (a system).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from kansci.pde.geometry import Geometry, SpaceTime
from kansci.pde.multiindex import MAX_ORDER, multi_index

__all__ = ["Equation", "Partials", "values_of"]

Domain = Geometry | SpaceTime
ResidualFn = Callable[..., "Tensor | Sequence[Tensor]"]
Value = float | Callable[[Tensor], Tensor]

_DEFAULT_VARIABLES = "xyz"


class Partials:
    """The fields and their partial derivatives at a batch of points, by name.

    ``d("u")`` is field u, ``d("u", "xy")`` its mixed derivative u_xy (a string
    of variable names, or a tuple of counts per input), both of shape (batch,).
    ``d.laplacian("u")`` sums the pure second derivatives over the spatial
    variables (not time); ``d.gradient("u")`` stacks the spatial first
    derivatives (batch, n_space).
    """

    def __init__(
        self,
        equation: Equation,
        values: Mapping[tuple[int, ...], Tensor] | None = None,
        *,
        record: set[tuple[int, ...]] | None = None,
        batch: int = 0,
        like: Tensor | None = None,
    ) -> None:
        self._eq = equation
        self._values = values
        self._record = record
        self._batch = batch
        self._like = like

    def index(self, spec: str | Sequence[int]) -> tuple[int, ...]:
        """The multi-index (counts per input) of ``spec``; ``""`` is the value."""
        eq = self._eq
        if isinstance(spec, str) and not spec:
            return (0,) * eq.dim
        return multi_index(spec, eq.variables, eq.dim)

    def __call__(self, name: str, spec: str | Sequence[int] = "") -> Tensor:
        f = self._eq.field_index(name)
        counts = self.index(spec)
        if self._record is not None:
            self._record.add(counts)
            return torch.ones(self._batch, dtype=self._like.dtype, device=self._like.device)
        if counts not in self._values:
            raise KeyError(
                f"derivative {spec!r} of {name!r} was not computed: the residual asked for it only on some "
                "calls (a branch?); ask for every derivative on every call"
            )
        return self._values[counts][:, f]

    def laplacian(self, name: str) -> Tensor:
        return sum(self(name, v + v) for v in self._eq.space_variables)

    def gradient(self, name: str) -> Tensor:
        return torch.stack([self(name, v) for v in self._eq.space_variables], 1)


@dataclass(frozen=True, eq=False)
class Equation:
    """A PDE (or a system) on a domain, with its conditions and, where known, its solution.

    Parameters
    ----------
    domain : Geometry or SpaceTime
        Where the residual holds; with a :class:`~kansci.pde.geometry.SpaceTime`
        the last input is time.
    residual : callable
        ``residual(x, d) -> (batch,), (batch, c) or a sequence of (batch,)``:
        zero at the solution. ``x`` holds the points (batch, dim), ``d`` is a
        :class:`Partials`.
    conditions : sequence
        Boundary, initial, periodic conditions and data from
        :mod:`kansci.pde.conditions` (``Dirichlet``, ``Neumann``, ``Robin``,
        ``Periodic``, ``Initial``, ``Data``, ``BoundaryResidual``).
    fields : str or sequence of str
        Names of the model's outputs, in column order (default one field, "u").
    variables : str or sequence of str, optional
        One-character names of the inputs, in column order; default "x", "xy"
        or "xyz" for the space, with "t" appended for a SpaceTime.
    exact : callable, optional
        The solution, ``x -> (batch, n_fields)`` (or (batch,) for one field),
        for the errors :func:`~kansci.pde.solve` reports.
    alpha : float
        Weight of the residual's mean square in the loss; every condition has its own weight (default 1).
    name : str
    """

    domain: Domain
    residual: ResidualFn
    conditions: Sequence[object] = ()
    fields: str | Sequence[str] = "u"
    variables: str | Sequence[str] | None = None
    exact: Callable[[Tensor], Tensor] | None = None
    alpha: float = 1.0
    name: str = "equation"

    def __post_init__(self) -> None:
        if not isinstance(self.domain, (Geometry, SpaceTime)):
            raise TypeError(
                f"domain must be a kansci.pde Geometry (Box, Ball, Polygon, ...) or SpaceTime, "
                f"got {type(self.domain).__name__}"
            )
        if not callable(self.residual):
            raise TypeError("residual must be a function residual(x, d) of the points and the derivatives")
        fields = (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)
        if not fields or len(set(fields)) != len(fields) or not all(isinstance(f, str) and f for f in fields):
            raise ValueError(f"fields must be distinct non-empty names, got {self.fields!r}")
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "variables", self._variables())
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha (the residual's weight) must be a positive number, got {self.alpha!r}")
        from kansci.pde.conditions import ConditionSpec

        for c in self.conditions:
            if not isinstance(c, ConditionSpec):
                raise TypeError(
                    f"conditions must come from kansci.pde.conditions (Dirichlet, Neumann, ...), got {type(c).__name__}"
                )
            c.validate(self)
        if self.exact is not None:
            object.__setattr__(self, "exact", _columns_of(self.exact, len(fields)))

    def _variables(self) -> tuple[str, ...]:
        n_space = self.space_dims
        if self.variables is None:
            if n_space > len(_DEFAULT_VARIABLES):
                raise ValueError(f"name the {self.dim} inputs with variables=, e.g. 'abcd'; no default above 3-D")
            names = tuple(_DEFAULT_VARIABLES[:n_space]) + (("t",) if self.time else ())
        else:
            names = tuple(self.variables)
        if len(names) != self.dim or any(len(v) != 1 for v in names) or len(set(names)) != len(names):
            raise ValueError(f"variables must be {self.dim} distinct one-character names, got {self.variables!r}")
        return names

    # --- shape of the problem -----------------------------------------------------------------

    @property
    def time(self) -> bool:
        return isinstance(self.domain, SpaceTime)

    @property
    def dim(self) -> int:
        return self.domain.dim

    @property
    def space_dims(self) -> int:
        return self.dim - 1 if self.time else self.dim

    @property
    def space_variables(self) -> tuple[str, ...]:
        return tuple(self.variables[: self.space_dims])

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Lower and upper corners of a box holding the domain (time last for a SpaceTime)."""
        space = self.domain.space if self.time else self.domain
        lower, upper = (tuple(float(v) for v in corner) for corner in space.bounds())
        if self.time:
            return (*lower, self.domain.t0), (*upper, self.domain.t1)
        return lower, upper

    def contains(self, x: Tensor) -> Tensor:
        """Whether each point (batch, dim) lies in the closed domain."""
        return self.domain.contains(x)

    def field_index(self, name: str) -> int:
        if name not in self.fields:
            raise ValueError(f"unknown field {name!r}; this equation's fields are {list(self.fields)}")
        return self.fields.index(name)

    # --- what the residual needs --------------------------------------------------------------

    def probe(self, fn: ResidualFn, x: Tensor, *extra: Tensor) -> tuple[tuple[tuple[int, ...], ...], int]:
        """The multi-indices ``fn(x, d, *extra)`` reads and its number of residual columns."""
        record: set[tuple[int, ...]] = set()
        out = residual_columns(fn(x, Partials(self, record=record, batch=x.shape[0], like=x), *extra), x.shape[0])
        if any(sum(c) > MAX_ORDER for c in record):
            raise ValueError(f"derivatives up to order {MAX_ORDER} are supported")
        return tuple(sorted(record)), out.shape[1]

    def interior_points(self, n: int, method: str = "sobol", *, seed: int = 0, dtype=torch.float64) -> Tensor:
        """``n`` collocation points in the domain (``method``: "sobol" or "uniform"/"random")."""
        if method == "random":
            method = "uniform"
        if method not in ("sobol", "uniform"):
            raise ValueError(f"an Equation samples its domain by 'sobol' or 'uniform', got {method!r}")
        return self.domain.interior_points(n, method, seed=seed, dtype=dtype)

    def check(self, x: Tensor) -> None:
        """Call the residual, the solution and every condition once on the points x: shape errors named early."""
        self.probe(self.residual, x)
        if self.exact is not None:
            self.exact(x)


def residual_columns(out: Tensor | Sequence[Tensor], batch: int) -> Tensor:
    """A residual's output as (batch, c): from (batch,), (batch, c) or a sequence of (batch,) / (batch, 1)."""
    if isinstance(out, Tensor):
        columns = out.unsqueeze(1) if out.ndim == 1 else out
    elif isinstance(out, (list, tuple)) and out and all(isinstance(t, Tensor) for t in out):
        columns = torch.cat([t.reshape(t.shape[0], -1) for t in out], 1)
    else:
        raise ValueError(f"a residual must return a tensor or a sequence of tensors, got {type(out).__name__}")
    if columns.ndim != 2 or columns.shape[0] != batch:
        raise ValueError(f"a residual must return (batch,) or (batch, c) with batch = {batch}, got {tuple(out.shape)}")
    return columns


def _columns_of(fn: Callable[[Tensor], Tensor], n_fields: int) -> Callable[[Tensor], Tensor]:
    """``fn`` with its output as (batch, n_fields), checked."""

    def wrapped(x: Tensor) -> Tensor:
        out = fn(x)
        out = out.unsqueeze(1) if isinstance(out, Tensor) and out.ndim == 1 else out
        if not isinstance(out, Tensor) or out.shape != (x.shape[0], n_fields):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"exact must return shape (batch, {n_fields}) (or (batch,) for one field), got {shape}")
        return out

    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapped


def values_of(value: Value, x: Tensor) -> Tensor:
    """A prescribed value at the points x, shape (batch,)."""
    if callable(value):
        out = value(x)
        if not isinstance(out, Tensor) or out.reshape(out.shape[0], -1).shape != (x.shape[0], 1):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"a prescribed value must map points (batch, dim) to (batch,), got {shape}")
        return out.reshape(-1).to(x)
    return torch.full((x.shape[0],), float(value), dtype=x.dtype, device=x.device)
