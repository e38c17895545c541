"""Planar domains with holes and their quality triangle meshes, for the finite-element references.

A :class:`PlanarDomain` is a polygon with convex polygonal holes (circles as
inscribed polygons, so that a mesh covers the whole true domain);
:func:`triangulate` meshes it with Shewchuk's Triangle (the ``triangle``
package, extra ``fem``), optionally graded toward a corner. Used by
:mod:`kansci.pde.fem`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MIN_ANGLE",
    "PINNACLE_HOLES",
    "PlanarDomain",
    "cross",
    "engines",
    "holes_domain",
    "l_shape_domain",
    "segment_distance",
    "triangulate",
]

Array = NDArray[np.float64]

MIN_ANGLE = 30.0
"""Smallest triangle angle (degrees) asked of Triangle."""


def engines() -> tuple:
    """The modules ``skfem`` and ``triangle``, or ModuleNotFoundError naming the extra that installs them."""
    try:
        import skfem
        import triangle
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"finite-element references need scikit-fem and triangle, and {err.name} is missing: "
            'pip install "kansci[fem]"'
        ) from err
    return skfem, triangle


# --- domains ------------------------------------------------------------------------------------


def _polygon(vertices: ArrayLike, name: str) -> Array:
    v = np.array(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
        raise ValueError(f"{name} needs at least 3 vertices of 2 coordinates, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} has NaN or inf vertices")
    if (np.linalg.norm(v - np.roll(v, -1, axis=0), axis=1) == 0).any():
        raise ValueError(f"{name} repeats a vertex; drop the duplicate")
    if _signed_area(v) == 0:
        raise ValueError(f"{name} has zero area; list its vertices in order around it")
    v.setflags(write=False)
    return v


def cross(a: Array, b: Array) -> Array:
    """z-component of the cross product of 2-D vectors (last axis)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _signed_area(v: Array) -> float:
    nxt = np.roll(v, -1, axis=0)
    return 0.5 * float((v[:, 0] * nxt[:, 1] - nxt[:, 0] * v[:, 1]).sum())


@dataclass(frozen=True, eq=False)
class PlanarDomain:
    """A polygon minus convex polygonal holes: what :func:`triangulate` meshes.

    Parameters
    ----------
    outer : array_like, shape (k, 2)
        Vertices of the outer boundary, in order around it (either orientation).
    holes : sequence of array_like, shape (k_i, 2)
        Vertices of each hole; each convex, inside ``outer``, and apart from the others.
    """

    outer: Array
    holes: tuple[Array, ...] = ()

    def __post_init__(self) -> None:
        from matplotlib.path import Path as Outline

        object.__setattr__(self, "outer", _polygon(self.outer, "outer"))
        holes = tuple(_polygon(h, f"holes[{i}]") for i, h in enumerate(self.holes))
        outline = Outline(self.outer)
        for i, hole in enumerate(holes):
            turns = cross(np.roll(hole, -1, axis=0) - hole, np.roll(hole, -2, axis=0) - np.roll(hole, -1, axis=0))
            if (turns > 0).any() and (turns < 0).any():
                raise ValueError(f"holes[{i}] is not convex; split it into convex holes")
            if not outline.contains_points(hole).all():
                raise ValueError(f"holes[{i}] is not inside the outer polygon")
        object.__setattr__(self, "holes", holes)

    def pslg(self) -> dict[str, np.ndarray]:
        """The planar straight-line graph Triangle takes: vertices, segments and a point in each hole."""
        loops = (self.outer, *self.holes)
        starts = np.cumsum([0] + [len(loop) for loop in loops])
        segments = [
            np.stack([start + np.arange(len(loop)), start + (np.arange(len(loop)) + 1) % len(loop)], axis=1)
            for start, loop in zip(starts, loops)
        ]
        graph = {"vertices": np.concatenate(loops), "segments": np.concatenate(segments)}
        if self.holes:
            graph["holes"] = np.stack([hole.mean(axis=0) for hole in self.holes])  # inside: the holes are convex
        return graph


def l_shape_domain() -> PlanarDomain:
    """The vertices of :func:`kansci.pde.geometry.l_shape`: ``[-1, 1]^2`` minus ``[0, 1] x [-1, 0]``."""
    from kansci.pde.geometry import l_shape

    return PlanarDomain(l_shape().vertices.numpy())


PINNACLE_HOLES = ((0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3))
"""Centres of the four disks cut out of PINNacle's Poisson 2d-C square ``[-0.5, 0.5]^2``; radius 0.1."""


def holes_domain(
    segments: int = 1024,
    *,
    half_side: float = 0.5,
    centers: Sequence[Sequence[float]] = PINNACLE_HOLES,
    radius: float = 0.1,
) -> PlanarDomain:
    """A square minus disks, each disk an inscribed regular polygon of ``segments`` sides.

    The polygon is at most ``radius * (1 - cos(pi / segments))`` inside its circle
    (4.7e-7 for the defaults, PINNacle's Poisson 2d-C).
    """
    if isinstance(segments, bool) or int(segments) != segments or segments < 8:
        raise ValueError(f"segments must be an integer >= 8, got {segments!r}")
    angle = 2 * np.pi * np.arange(int(segments)) / int(segments)
    circle = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    square = half_side * np.array([(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)])
    return PlanarDomain(square, tuple(np.asarray(c, dtype=np.float64) + circle for c in centers))


def triangulate(
    domain: PlanarDomain,
    mesh_size: float,
    *,
    grade_toward: Sequence[float] | None = None,
    grading_levels: int = 0,
    grading_radius: float | None = None,
) -> tuple[Array, NDArray[np.int64]]:
    """A quality triangle mesh of ``domain`` with edges of about ``mesh_size``.

    Triangle meshes the domain with a maximum area of an equilateral triangle of
    side ``mesh_size`` and angles of at least :data:`MIN_ANGLE`. With
    ``grade_toward``, the triangles near that point are then refined
    ``grading_levels`` times (red-green-blue, conforming), level ``j`` refining
    those within ``grading_radius / 2**j`` (default radius ``4 * mesh_size``):
    sizes shrink in proportion to the distance there, which resolves a corner
    singularity.

    Returns
    -------
    nodes : ndarray, shape (n, 2)
    triangles : ndarray, shape (m, 3)
        Vertex indices of each triangle, counter-clockwise.
    """
    if not (math.isfinite(mesh_size) and mesh_size > 0):
        raise ValueError(f"mesh_size must be a positive number, got {mesh_size!r}")
    if isinstance(grading_levels, bool) or int(grading_levels) != grading_levels or grading_levels < 0:
        raise ValueError(f"grading_levels must be a non-negative integer, got {grading_levels!r}")
    skfem, triangle = engines()
    max_area = math.sqrt(3) / 4 * mesh_size**2
    mesh = triangle.triangulate(domain.pslg(), f"pq{MIN_ANGLE:g}a{max_area:.20f}Q")  # no exponent: 'e' is a switch
    nodes, triangles = mesh["vertices"], mesh["triangles"]
    if grade_toward is not None and grading_levels:
        target = np.asarray(grade_toward, dtype=np.float64)
        radius = 4 * mesh_size if grading_radius is None else float(grading_radius)
        fine = skfem.MeshTri(np.ascontiguousarray(nodes.T), np.ascontiguousarray(triangles.T))
        for level in range(int(grading_levels)):
            centroids = fine.p[:, fine.t].mean(axis=1).T
            fine = fine.refined(np.flatnonzero(np.linalg.norm(centroids - target, axis=1) < radius / 2**level))
        nodes, triangles = fine.p.T, fine.t.T
    return _counter_clockwise(np.ascontiguousarray(nodes, dtype=np.float64), triangles.astype(np.int64))


def segment_distance(x: Array, start: Array, end: Array) -> Array:
    edge = end - start
    t = np.clip(((x - start) * edge).sum(-1) / (edge * edge).sum(-1), 0.0, 1.0)
    return np.linalg.norm(x - start - t[..., None] * edge, axis=-1)


def _counter_clockwise(nodes: Array, triangles: NDArray[np.int64]) -> tuple[Array, NDArray[np.int64]]:
    a, b, c = (nodes[triangles[:, i]] for i in range(3))
    clockwise = cross(b - a, c - a) < 0
    triangles = triangles.copy()
    triangles[clockwise] = triangles[clockwise][:, [0, 2, 1]]
    return nodes, triangles
