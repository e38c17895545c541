"""Domains beyond boxes: primitives, set operations, sampling inside and on the boundary.

Every domain is a closed set described by a signed distance ``sdf(x)`` (negative
inside, zero on the boundary, positive outside; exact for the primitives, a
bound with the right sign for set operations), which gives membership
(:meth:`Geometry.contains`), hard Dirichlet constraints (a distance that
vanishes on the boundary) and the boundary test of set operations.

Primitives: :class:`Interval`, :class:`Box`, :class:`Ball` (a disk in 2-D),
:class:`Polygon` (any simple polygon, e.g. :func:`l_shape`); :func:`annulus`.
Set operations: ``a | b`` (union), ``a & b`` (intersection), ``a - b``
(difference). :class:`SpaceTime` adds a time interval to a spatial domain.

Sampling is deterministic in ``seed``:

* :meth:`Geometry.interior_points` draws uniform or Sobol points in the
  bounding box and keeps those inside (in draw order, so a Sobol set keeps its
  low discrepancy);
* :meth:`Geometry.boundary_points` draws points uniformly on the boundary with
  their outward unit normals. A set operation draws on its operands'
  boundaries (in proportion to their lengths) and keeps the points on its own
  boundary: for ``a - b``, the part of ``b``'s boundary inside ``a``, with
  flipped normals. ``where`` keeps only boundary points a predicate selects
  (a condition on part of the boundary).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = [
    "Ball",
    "Box",
    "Geometry",
    "Interval",
    "Polygon",
    "SpaceTime",
    "annulus",
    "l_shape",
]

ON_BOUNDARY = 1e-9
"""|sdf| below this (relative to the domain's size) counts as on the boundary; below minus it, strictly inside."""

MAX_ROUNDS = 50
"""Rejection sampling gives up after this many rounds without enough points (an empty or tiny domain)."""

Predicate = Callable[[Tensor], Tensor]


class Geometry(ABC):
    """A closed domain in ``dim`` dimensions."""

    dim: int

    @abstractmethod
    def sdf(self, x: Tensor) -> Tensor:
        """Signed distance (batch,): negative inside, 0 on the boundary, positive outside."""

    @abstractmethod
    def bounds(self) -> tuple[Tensor, Tensor]:
        """Lower and upper corners (dim,) of a box holding the domain."""

    @abstractmethod
    def boundary_measure(self) -> float:
        """Length (2-D), area (3-D) or count (1-D) of the boundary of the pieces sampled on (for proportions)."""

    @abstractmethod
    def _boundary_candidates(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """About ``n`` points uniform on the boundary, with outward normals (both (m, dim), float64)."""

    def smooth_distance(self, x: Tensor) -> Tensor:
        """A smooth function (batch,), positive inside and zero on the boundary: the factor of exact Dirichlet values.

        Boxes and balls have one, and differences and intersections of domains that have one
        (a box with round holes); others raise ValueError.
        """
        raise ValueError(
            f"{type(self).__name__} has no smooth distance function; impose its Dirichlet values as a penalty "
            "(hard=False) or pass distance= (a smooth function of x, zero on the boundary, positive inside)"
        )

    # --- shared ---------------------------------------------------------------------------------

    def scale(self) -> float:
        lower, upper = self.bounds()
        return float((upper - lower).max())

    def contains(self, x: Tensor, *, strict: bool = False) -> Tensor:
        """Whether each point lies in the closed domain (or, with ``strict``, in its interior)."""
        _check_points(x, self.dim)
        d = self.sdf(x.to(torch.float64))
        tol = ON_BOUNDARY * self.scale()
        return d < -tol if strict else d <= tol

    def on_boundary(self, x: Tensor) -> Tensor:
        """Whether each point lies on the boundary (|sdf| within :data:`ON_BOUNDARY` of the size)."""
        _check_points(x, self.dim)
        return self.sdf(x.to(torch.float64)).abs() <= ON_BOUNDARY * self.scale()

    def interior_points(
        self, n: int, method: str = "uniform", *, seed: int = 0, dtype: torch.dtype = torch.float64
    ) -> Tensor:
        """``n`` points inside the domain, uniform or Sobol (scrambled), shape (n, dim)."""
        _check_count(n)
        if method not in ("uniform", "sobol"):
            raise ValueError(f"method must be 'uniform' or 'sobol', got {method!r}")
        lower, upper = self.bounds()
        sobol = torch.quasirandom.SobolEngine(self.dim, scramble=True, seed=seed) if method == "sobol" else None
        generator = torch.Generator().manual_seed(seed)
        kept: list[Tensor] = []
        count, batch = 0, max(64, 2 * n)
        for _ in range(MAX_ROUNDS):
            if sobol is not None:
                unit = sobol.draw(batch, dtype=torch.float64)
            else:
                unit = torch.rand(batch, self.dim, generator=generator, dtype=torch.float64)
            x = lower + unit * (upper - lower)
            x = x[self.contains(x)]
            kept.append(x)
            count += x.shape[0]
            if count >= n:
                return torch.cat(kept)[:n].to(dtype)
        raise ValueError(f"found {count} of {n} interior points in {MAX_ROUNDS} rounds: is the domain empty?")

    def boundary_points(
        self, n: int, *, seed: int = 0, where: Predicate | None = None, dtype: torch.dtype = torch.float64
    ) -> tuple[Tensor, Tensor]:
        """``n`` points uniform on the boundary (or on the part ``where(x)`` selects) and their outward normals."""
        _check_count(n)
        generator = torch.Generator().manual_seed(seed)
        points, normals, count = [], [], 0
        for _ in range(MAX_ROUNDS):
            x, normal = self._boundary_candidates(max(64, 2 * n), generator)
            if where is not None:
                keep = where(x)
                if keep.shape != (x.shape[0],) or keep.dtype != torch.bool:
                    raise ValueError("where must map points (m, dim) to a boolean tensor of shape (m,)")
                x, normal = x[keep], normal[keep]
            points.append(x)
            normals.append(normal)
            count += x.shape[0]
            if count >= n:
                return torch.cat(points)[:n].to(dtype), torch.cat(normals)[:n].to(dtype)
        raise ValueError(f"found {count} of {n} boundary points in {MAX_ROUNDS} rounds: does where select any?")

    def __or__(self, other: Geometry) -> Geometry:
        return _SetOperation("union", self, other)

    def __and__(self, other: Geometry) -> Geometry:
        return _SetOperation("intersection", self, other)

    def __sub__(self, other: Geometry) -> Geometry:
        return _SetOperation("difference", self, other)


# --- primitives ---------------------------------------------------------------------------------


class Box(Geometry):
    """The box ``[lower, upper]`` (any dimension)."""

    def __init__(self, lower: Sequence[float], upper: Sequence[float]) -> None:
        self.lower = torch.as_tensor(lower, dtype=torch.float64).flatten()
        self.upper = torch.as_tensor(upper, dtype=torch.float64).flatten()
        if self.lower.shape != self.upper.shape or not len(self.lower):
            raise ValueError(f"lower and upper need one entry per dimension, got {list(lower)} and {list(upper)}")
        if not bool(torch.isfinite(self.lower).all() and torch.isfinite(self.upper).all()):
            raise ValueError("box corners must be finite")
        if not bool((self.lower < self.upper).all()):
            raise ValueError(f"every lower bound must be below its upper bound: {list(lower)}, {list(upper)}")
        self.dim = len(self.lower)

    def sdf(self, x: Tensor) -> Tensor:
        center, half = (self.lower + self.upper) / 2, (self.upper - self.lower) / 2
        q = (x - center).abs() - half
        outside = q.clamp_min(0).norm(dim=1)
        inside = q.max(dim=1).values.clamp_max(0)
        return outside + inside

    def bounds(self) -> tuple[Tensor, Tensor]:
        return self.lower, self.upper

    def smooth_distance(self, x: Tensor) -> Tensor:
        """prod_i (x_i - lo_i)(hi_i - x_i) / ((hi_i - lo_i) / 2)^2: 1 at the centre."""
        lo, hi = self.lower.to(x), self.upper.to(x)
        return ((x - lo) * (hi - x) / ((hi - lo) / 2) ** 2).prod(1)

    def _face_areas(self) -> Tensor:
        sides = self.upper - self.lower
        return torch.stack([sides[torch.arange(self.dim) != d].prod() for d in range(self.dim)])

    def boundary_measure(self) -> float:
        return float(2 * self._face_areas().sum())

    def _boundary_candidates(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        areas = self._face_areas().repeat_interleave(2)  # faces (d, low), (d, high)
        face = torch.multinomial(areas / areas.sum(), n, replacement=True, generator=generator)
        unit = torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        x = self.lower + unit * (self.upper - self.lower)
        axis, high = face // 2, face % 2 == 1
        rows = torch.arange(n)
        x[rows, axis] = torch.where(high, self.upper[axis], self.lower[axis])
        normal = torch.zeros(n, self.dim, dtype=torch.float64)
        normal[rows, axis] = torch.where(high, 1.0, -1.0).to(torch.float64)
        return x, normal


class Interval(Box):
    """The interval ``[a, b]``: a one-dimensional box whose boundary is its two end points."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__([a], [b])

    def _face_areas(self) -> Tensor:
        return torch.ones(1, dtype=torch.float64)


class Ball(Geometry):
    """The closed ball (a disk in 2-D) of ``radius`` around ``center``."""

    def __init__(self, center: Sequence[float], radius: float) -> None:
        self.center = torch.as_tensor(center, dtype=torch.float64).flatten()
        if not len(self.center) or not bool(torch.isfinite(self.center).all()):
            raise ValueError(f"center must be a finite point, got {list(center)}")
        if not (math.isfinite(radius) and radius > 0):
            raise ValueError(f"radius must be a positive number, got {radius!r}")
        self.radius = float(radius)
        self.dim = len(self.center)

    def sdf(self, x: Tensor) -> Tensor:
        return (x - self.center).norm(dim=1) - self.radius

    def bounds(self) -> tuple[Tensor, Tensor]:
        return self.center - self.radius, self.center + self.radius

    def smooth_distance(self, x: Tensor) -> Tensor:
        """(r^2 - |x - c|^2) / r^2: 1 at the centre."""
        return 1 - (x - self.center.to(x)).square().sum(1) / self.radius**2

    def boundary_measure(self) -> float:
        d = self.dim
        return float(2 * math.pi ** (d / 2) / math.gamma(d / 2) * self.radius ** (d - 1))

    def _boundary_candidates(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        normal = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-300)
        return self.center + self.radius * normal, normal


class Polygon(Geometry):
    """A simple polygon (2-D) through ``vertices`` in order, either orientation."""

    def __init__(self, vertices: Sequence[Sequence[float]]) -> None:
        v = torch.as_tensor(vertices, dtype=torch.float64)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError(f"a polygon needs at least 3 vertices of 2 coordinates, got shape {tuple(v.shape)}")
        if not bool(torch.isfinite(v).all()):
            raise ValueError("polygon vertices must be finite")
        nxt = v.roll(-1, dims=0)
        area = 0.5 * float((v[:, 0] * nxt[:, 1] - nxt[:, 0] * v[:, 1]).sum())
        if abs(area) == 0.0:
            raise ValueError("the polygon has zero area; list its vertices in order around it")
        self.vertices = v if area > 0 else v.flip(0)  # counter-clockwise
        self.dim = 2
        self._start = self.vertices
        self._edge = self.vertices.roll(-1, dims=0) - self.vertices
        self._length = self._edge.norm(dim=1)
        if bool((self._length == 0).any()):
            raise ValueError("the polygon repeats a vertex; drop the duplicate")

    def sdf(self, x: Tensor) -> Tensor:
        # distance to each edge segment, then the sign from the even-odd crossing rule
        rel = x[:, None, :] - self._start[None]
        t = ((rel * self._edge[None]).sum(-1) / self._length**2).clamp(0, 1)
        distance = (rel - t[..., None] * self._edge[None]).norm(dim=-1).min(dim=1).values
        y0, dy = self._start[:, 1], self._edge[:, 1]
        y = x[:, 1:2]
        crosses = (y0 > y) != (y0 + dy > y)  # the horizontal line through x meets the edge
        at = self._start[:, 0] + (y - y0) / torch.where(dy == 0, 1.0, dy) * self._edge[:, 0]
        inside = (crosses & (x[:, 0:1] < at)).sum(dim=1) % 2 == 1  # crossings to the right: odd inside
        return torch.where(inside, -distance, distance)

    def bounds(self) -> tuple[Tensor, Tensor]:
        return self.vertices.min(dim=0).values, self.vertices.max(dim=0).values

    def boundary_measure(self) -> float:
        return float(self._length.sum())

    def _boundary_candidates(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        edge = torch.multinomial(self._length / self._length.sum(), n, replacement=True, generator=generator)
        t = torch.rand(n, 1, generator=generator, dtype=torch.float64)
        x = self._start[edge] + t * self._edge[edge]
        tangent = self._edge[edge] / self._length[edge, None]
        normal = torch.stack([tangent[:, 1], -tangent[:, 0]], dim=1)  # right of a counter-clockwise edge: outward
        return x, normal


# --- set operations -----------------------------------------------------------------------------


class _SetOperation(Geometry):
    def __init__(self, kind: str, a: Geometry, b: Geometry) -> None:
        if not isinstance(a, Geometry) or not isinstance(b, Geometry):
            raise TypeError(f"set operations join two Geometry objects, got {type(a).__name__} and {type(b).__name__}")
        if a.dim != b.dim:
            raise ValueError(f"cannot join a {a.dim}-D and a {b.dim}-D domain")
        self.kind, self.a, self.b, self.dim = kind, a, b, a.dim

    def sdf(self, x: Tensor) -> Tensor:
        da, db = self.a.sdf(x), self.b.sdf(x)
        if self.kind == "union":
            return torch.minimum(da, db)
        if self.kind == "intersection":
            return torch.maximum(da, db)
        return torch.maximum(da, -db)

    def smooth_distance(self, x: Tensor) -> Tensor:
        """The product of the operands' (for a difference, b's negated and bounded); a union has none.

        Inside ``a - b``, b's distance grows without bound away from b (a ball's like ``|x - c|^2``):
        ``-d_b / sqrt(1 + d_b^2)`` keeps its zero and sign but stays below 1, so that the product
        does not span orders of magnitude over the domain.
        """
        if self.kind == "union":
            return super().smooth_distance(x)
        da, db = self.a.smooth_distance(x), self.b.smooth_distance(x)
        return da * (db if self.kind == "intersection" else -db / torch.sqrt(1 + db * db))

    def bounds(self) -> tuple[Tensor, Tensor]:
        (la, ua), (lb, ub) = self.a.bounds(), self.b.bounds()
        if self.kind == "union":
            return torch.minimum(la, lb), torch.maximum(ua, ub)
        if self.kind == "intersection":
            lower, upper = torch.maximum(la, lb), torch.minimum(ua, ub)
            if not bool((lower < upper).all()):
                raise ValueError("the intersection is empty: the operands' bounding boxes do not overlap")
            return lower, upper
        return la, ua

    def boundary_measure(self) -> float:
        return self.a.boundary_measure() + self.b.boundary_measure()

    def _boundary_candidates(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        share = self.a.boundary_measure() / self.boundary_measure()
        n_a = int(torch.binomial(torch.tensor(float(n)), torch.tensor(share), generator=generator))
        xa, na = self.a._boundary_candidates(max(n_a, 1), generator)
        xb, nb = self.b._boundary_candidates(max(n - n_a, 1), generator)
        if self.kind == "union":  # each operand's boundary outside the other
            keep_a, keep_b, flip = ~self.b.contains(xa, strict=True), ~self.a.contains(xb), 1.0
        elif self.kind == "intersection":  # each operand's boundary inside the other
            keep_a, keep_b, flip = self.b.contains(xa), self.a.contains(xb, strict=True), 1.0
        else:  # a's boundary outside b, and b's boundary inside a, facing into b
            keep_a, keep_b, flip = ~self.b.contains(xa, strict=True), self.a.contains(xb, strict=True), -1.0
        x, normal = torch.cat([xa[keep_a], xb[keep_b]]), torch.cat([na[keep_a], flip * nb[keep_b]])
        order = torch.randperm(x.shape[0], generator=generator)  # mixed, so that the first n are uniform
        return x[order], normal[order]


# --- shapes and space-time ----------------------------------------------------------------------


def annulus(center: Sequence[float], inner: float, outer: float) -> Geometry:
    """The ring between radii ``inner`` and ``outer`` (a ball minus a ball)."""
    if not 0 < inner < outer:
        raise ValueError(f"an annulus needs 0 < inner < outer, got inner={inner}, outer={outer}")
    return Ball(center, outer) - Ball(center, inner)


def l_shape() -> Polygon:
    """The L-shaped domain ``[-1, 1]^2`` minus ``[0, 1] x [-1, 0]`` (re-entrant corner at the origin)."""
    return Polygon([(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)])


class SpaceTime:
    """A spatial domain times ``[t0, t1]``; points carry time in their last column."""

    def __init__(self, space: Geometry, t0: float, t1: float) -> None:
        if not isinstance(space, Geometry):
            raise TypeError(f"space must be a Geometry, got {type(space).__name__}")
        if not (math.isfinite(t0) and math.isfinite(t1) and t0 < t1):
            raise ValueError(f"need finite t0 < t1, got {t0}, {t1}")
        self.space, self.t0, self.t1 = space, float(t0), float(t1)
        self.dim = space.dim + 1

    def contains(self, x: Tensor) -> Tensor:
        _check_points(x, self.dim)
        t = x[:, -1]
        return self.space.contains(x[:, :-1]) & (t >= self.t0) & (t <= self.t1)

    def _times(self, n: int, seed: int) -> Tensor:
        generator = torch.Generator().manual_seed(seed + 1)
        return self.t0 + (self.t1 - self.t0) * torch.rand(n, 1, generator=generator, dtype=torch.float64)

    def interior_points(
        self, n: int, method: str = "uniform", *, seed: int = 0, dtype: torch.dtype = torch.float64
    ) -> Tensor:
        """``n`` points of the space interior at uniform times, shape (n, dim + 1)."""
        x = self.space.interior_points(n, method, seed=seed)
        return torch.cat([x, self._times(n, seed)], dim=1).to(dtype)

    def boundary_points(
        self, n: int, *, seed: int = 0, where: Predicate | None = None, dtype: torch.dtype = torch.float64
    ) -> tuple[Tensor, Tensor]:
        """``n`` points of the spatial boundary at uniform times and their spatial outward normals."""
        x, normal = self.space.boundary_points(n, seed=seed, where=where)
        return torch.cat([x, self._times(n, seed)], dim=1).to(dtype), normal.to(dtype)

    def initial_points(
        self, n: int, method: str = "uniform", *, seed: int = 0, dtype: torch.dtype = torch.float64
    ) -> Tensor:
        """``n`` points of the space interior at ``t0``."""
        x = self.space.interior_points(n, method, seed=seed)
        return torch.cat([x, torch.full((n, 1), self.t0, dtype=torch.float64)], dim=1).to(dtype)


def _check_points(x: Tensor, dim: int) -> None:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != dim:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"points must be a tensor of shape (batch, {dim}), got {shape}")


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of points must be a positive int, got {n!r}")
