"""Finite-element reference solutions of ``-Laplace(u) + c u = f`` on 2-D polygons with holes.

Meshes come from Shewchuk's Triangle (the ``triangle`` package: quality
triangles below a maximum area), the solve from scikit-fem (P1 or P2 Lagrange
elements, Dirichlet data interpolated at the boundary nodes, a sparse direct
solve). Both are the optional extra ``fem``: ``pip install "kansci[fem]"``.

The result, :class:`FEMSolution`, is plain arrays (nodes, triangles, nodal
values) and evaluates the finite-element function itself: it finds each
point's triangle with Matplotlib's trapezoid-map finder and sums the Lagrange
basis in barycentric coordinates. A cached reference is therefore read and
evaluated without the engines.

Circles are meshed as inscribed polygons: a disk-shaped hole's polygon lies
inside the disk, so the mesh covers the whole true domain and every point of
the domain can be evaluated.

Shipped references (see each for its mesh and measured accuracy):

* :func:`l_shape_poisson`: ``-Laplace(u) = 1`` on :func:`kansci.pde.geometry.l_shape`,
  ``u = 0`` on the boundary; the mesh is graded toward the re-entrant corner,
  where ``u ~ r^(2/3)``.
* :func:`holes_poisson`: PINNacle's Poisson 2d-C (Hao et al. 2023), Laplace's
  equation on ``[-0.5, 0.5]^2`` minus four disks, ``u = 1`` on the square and
  ``u = 0`` on the circles.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kansci.pde.meshing import (
    PlanarDomain,
    cross,
    engines,
    holes_domain,
    l_shape_domain,
    segment_distance,
    triangulate,
)

__all__ = ["FEM_LAYOUT", "FEMSolution", "holes_poisson", "l_shape_poisson", "poisson"]

logger = logging.getLogger(__name__)

Array = NDArray[np.float64]
Data = float | Callable[[Array], ArrayLike]

FEM_LAYOUT = "kansci.pde.fem/1"
"""Value of the ``layout`` attribute of a file written by :meth:`FEMSolution.to_netcdf`."""

ON_MESH = 1e-6
"""A point at most this far outside the mesh (relative to the mesh's size) is evaluated as on it."""

_EDGES = ((0, 1), (1, 2), (2, 0))
"""Local edges whose midpoints are the P2 nodes 3, 4 and 5 of a triangle."""


# --- the solution -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FEMSolution:
    """A continuous piecewise-polynomial function on a triangle mesh (P1 or P2 Lagrange).

    Parameters
    ----------
    nodes : array_like, shape (n, 2)
        Coordinates of the Lagrange nodes: the vertices, then (P2) the edge midpoints.
    triangles : array_like of int, shape (m, 3) or (m, 6)
        Node indices of each triangle: its three vertices, then (P2) the
        midpoints of its edges (0, 1), (1, 2) and (2, 0).
    values : array_like, shape (n,)
        The function's value at each node.
    metadata : dict
        How it was computed (problem, element order, mesh size, counts); JSON-serialisable.

    Examples
    --------
    >>> reference = l_shape_poisson()  # doctest: +SKIP
    >>> reference(np.array([[-0.5, 0.5]]))  # doctest: +SKIP
    array([0.13105292])
    """

    nodes: Array
    triangles: NDArray[np.int64]
    values: Array
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        nodes = np.array(self.nodes, dtype=np.float64)
        triangles = np.array(self.triangles)
        values = np.array(self.values, dtype=np.float64)
        if nodes.ndim != 2 or nodes.shape[1] != 2:
            raise ValueError(f"nodes must have shape (n, 2), got {nodes.shape}")
        if triangles.ndim != 2 or triangles.shape[1] not in (3, 6) or not len(triangles):
            raise ValueError(f"triangles must have shape (m, 3) for P1 or (m, 6) for P2, got {triangles.shape}")
        if not np.issubdtype(triangles.dtype, np.integer):
            raise ValueError(f"triangles must hold integer node indices, got dtype {triangles.dtype}")
        if triangles.min() < 0 or triangles.max() >= len(nodes):
            raise ValueError(f"triangles index nodes 0..{len(nodes) - 1}, got {triangles.min()}..{triangles.max()}")
        if values.shape != (len(nodes),):
            raise ValueError(f"values must have one entry per node, shape ({len(nodes)},), got {values.shape}")
        if not (np.isfinite(nodes).all() and np.isfinite(values).all()):
            raise ValueError("nodes or values contain NaN or inf")
        try:
            metadata = json.loads(json.dumps(self.metadata))
        except TypeError as err:
            raise ValueError(f"metadata must be JSON-serialisable: {err}") from err
        for array in (nodes, triangles, values):
            array.setflags(write=False)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "triangles", triangles.astype(np.int64, copy=False))
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "metadata", metadata)

    @property
    def order(self) -> int:
        """1 (linear) or 2 (quadratic) Lagrange elements."""
        return 1 if self.triangles.shape[1] == 3 else 2

    @cached_property
    def _finder(self) -> Callable[[Array, Array], NDArray[np.int64]]:
        from matplotlib.tri import Triangulation

        return Triangulation(self.nodes[:, 0], self.nodes[:, 1], self.triangles[:, :3]).get_trifinder()

    @cached_property
    def _centroids(self) -> Any:
        from scipy.spatial import cKDTree

        return cKDTree(self.nodes[self.triangles[:, :3]].mean(axis=1))

    def _locate(self, x: Array) -> NDArray[np.int64]:
        """The triangle of each point; points just outside (within :data:`ON_MESH`) get the nearest one."""
        cell = np.array(self._finder(x[:, 0], x[:, 1]), dtype=np.int64)
        lost = np.flatnonzero(cell < 0)
        if not len(lost):
            return cell
        _, candidates = self._centroids.query(x[lost], k=min(12, len(self.triangles)))
        candidates = candidates.reshape(len(lost), -1)
        corners = [self.nodes[self.triangles[candidates, i]] for i in range(3)]
        gap = np.minimum.reduce(
            [segment_distance(x[lost, None, :], corners[i], corners[j]) for i, j in _EDGES]
        )  # outside every triangle: the distance to a triangle is the distance to its nearest edge
        best = gap.argmin(axis=1)
        rows = np.arange(len(lost))
        extent = float((self.nodes.max(axis=0) - self.nodes.min(axis=0)).max())
        outside = gap[rows, best] > ON_MESH * extent
        if outside.any():
            first = x[lost[np.flatnonzero(outside)[0]]].tolist()
            raise ValueError(
                f"{int(outside.sum())} of {len(x)} points lie outside the mesh (the first: {first}); "
                "the reference is defined on its domain only"
            )
        cell[lost] = candidates[rows, best]
        return cell

    def __call__(self, points: ArrayLike) -> Array:
        """The finite-element function at ``points`` (n, 2), shape (n,).

        Points outside the mesh by less than :data:`ON_MESH` of its size
        (rounding, float32 points on a circle) take the nearest triangle's polynomial.

        Raises
        ------
        ValueError
            If ``points`` is not (n, 2) and finite, or a point lies outside the mesh.
        """
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or not np.isfinite(x).all():
            raise ValueError(f"points must be a finite array of shape (n, 2), got shape {x.shape}")
        cell = self._locate(x)
        a, b, c = (self.nodes[self.triangles[cell, i]] for i in range(3))
        area = cross(b - a, c - a)
        second = cross(x - a, c - a) / area
        third = cross(b - a, x - a) / area
        lam = np.stack([1 - second - third, second, third], axis=1)
        if self.order == 1:
            weights = lam
        else:
            vertex = lam * (2 * lam - 1)
            edge = np.stack([4 * lam[:, i] * lam[:, j] for i, j in _EDGES], axis=1)
            weights = np.concatenate([vertex, edge], axis=1)
        return (weights * self.values[self.triangles[cell]]).sum(axis=1)

    def to_netcdf(self, path: str | os.PathLike) -> Path:
        """Write the solution to a NetCDF file (layout :data:`FEM_LAYOUT`), atomically; return the path."""
        import xarray as xr

        from kansci import netcdf

        record = xr.Dataset(
            {
                "nodes": (("node", "coordinate"), self.nodes),
                "triangles": (("triangle", "local_node"), self.triangles),
                "values": (("node",), self.values),
            },
            attrs={"layout": FEM_LAYOUT, "metadata": json.dumps(self.metadata)},
        )
        for name in record.data_vars:
            record[name].encoding["_FillValue"] = None
        return netcdf.write(record, path)

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike) -> FEMSolution:
        """Read a solution written by :meth:`to_netcdf`.

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        ValueError
            If the file is unreadable or not a finite-element solution.
        """
        from kansci import netcdf

        record = netcdf.read(path, remedy="a finite-element solution is written by FEMSolution.to_netcdf")
        missing = {"nodes", "triangles", "values"} - set(record.data_vars)
        if record.attrs.get("layout") != FEM_LAYOUT or missing or "metadata" not in record.attrs:
            raise ValueError(f"{path} is not a kansci finite-element solution (layout {FEM_LAYOUT!r})")
        return cls(
            record["nodes"].values,
            record["triangles"].values,
            record["values"].values,
            json.loads(record.attrs["metadata"]),
        )


# --- solving ------------------------------------------------------------------------------------


def _evaluate(data: Data, points: Array, name: str) -> Array:
    if callable(data):
        out = np.asarray(data(points), dtype=np.float64)
        if out.size != len(points) or out.ndim > 2:
            raise ValueError(f"{name} must map points (n, 2) to n values, got shape {out.shape} for n = {len(points)}")
        out = out.reshape(len(points))
    else:
        out = np.full(len(points), float(data))
    if not np.isfinite(out).all():
        raise ValueError(f"{name} returned NaN or inf")
    return out


def poisson(
    domain: PlanarDomain,
    source: Data = 0.0,
    dirichlet: Data = 0.0,
    *,
    mesh_size: float,
    order: int = 2,
    reaction: float = 0.0,
    grade_toward: Sequence[float] | None = None,
    grading_levels: int = 0,
) -> FEMSolution:
    """Solve ``-Laplace(u) + reaction * u = source`` on ``domain`` with ``u = dirichlet`` on its boundary.

    Parameters
    ----------
    domain : PlanarDomain
    source, dirichlet : float or callable
        A constant, or a function of points (n, 2) returning n values
        (``dirichlet`` is interpolated at the boundary nodes).
    mesh_size : float
        Edge length of the triangles (:func:`triangulate`).
    order : {1, 2}
        Lagrange elements: linear or quadratic.
    reaction : float
        Non-negative coefficient ``c`` of ``u``.
    grade_toward, grading_levels
        Refine toward a point, e.g. a re-entrant corner (:func:`triangulate`).

    A Poisson-Boltzmann problem such as PINNacle's Poisson 2d-CG
    (``-Laplace(u) + 64 u = f``) is ``reaction=64``.

    Returns
    -------
    FEMSolution
        The discrete solution; ``metadata`` records the order, mesh size,
        grading, reaction and the node and triangle counts.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 (P1) or 2 (P2), got {order!r}")
    if not (math.isfinite(reaction) and reaction >= 0):
        raise ValueError(f"reaction must be a finite non-negative number, got {reaction!r}")
    skfem, _ = engines()
    from skfem.models.poisson import laplace, mass

    nodes, triangles = triangulate(domain, mesh_size, grade_toward=grade_toward, grading_levels=grading_levels)
    mesh = skfem.MeshTri(np.ascontiguousarray(nodes.T), np.ascontiguousarray(triangles.T), sort_t=False)
    basis = skfem.Basis(mesh, skfem.ElementTriP2() if order == 2 else skfem.ElementTriP1())

    @skfem.LinearForm
    def load(v: Any, w: Any) -> Any:
        shape = w.x.shape[1:]
        return _evaluate(source, w.x.reshape(2, -1).T, "source").reshape(shape) * v

    matrix = laplace.assemble(basis)
    if reaction:
        matrix = matrix + reaction * mass.assemble(basis)
    boundary = basis.get_dofs().all()
    u = np.zeros(basis.N)
    u[boundary] = _evaluate(dirichlet, basis.doflocs[:, boundary].T, "dirichlet")
    u = skfem.solve(*skfem.condense(matrix, load.assemble(basis), x=u, D=boundary))
    metadata = {
        "order": order,
        "mesh_size": float(mesh_size),
        "grade_toward": None if grade_toward is None else [float(t) for t in grade_toward],
        "grading_levels": int(grading_levels),
        "reaction": float(reaction),
        "nodes": int(basis.N),
        "triangles": int(mesh.t.shape[1]),
    }
    logger.debug("finite elements: %s", metadata)
    return FEMSolution(basis.doflocs.T, _local_nodes(basis, mesh.t.T), u, metadata)


def _local_nodes(basis: Any, triangles: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each triangle's node indices in :class:`FEMSolution`'s order (edge nodes matched by position)."""
    if basis.element_dofs.shape[0] == 3:
        return triangles
    location = basis.doflocs.T
    candidates = basis.element_dofs[3:6].T  # (m, 3) edge nodes in scikit-fem's order
    edge_nodes = []
    for i, j in _EDGES:
        midpoint = (location[triangles[:, i]] + location[triangles[:, j]]) / 2
        distance = np.linalg.norm(location[candidates] - midpoint[:, None, :], axis=2)
        edge_nodes.append(candidates[np.arange(len(candidates)), distance.argmin(axis=1)])
    return np.concatenate([triangles, np.stack(edge_nodes, axis=1)], axis=1)


def _cached(key: str, make: Callable[[], FEMSolution]) -> FEMSolution:
    from kansci.datasets.storage import cache_dir

    path = cache_dir() / "pde" / f"{key}.nc"
    if path.is_file():
        try:
            return FEMSolution.from_netcdf(path)
        except ValueError as err:
            raise ValueError(f"{err}; delete {path} to regenerate it") from err
    solution = make()
    solution.to_netcdf(path)
    return solution


# --- shipped references -------------------------------------------------------------------------


def l_shape_poisson(
    *,
    mesh_size: float = 0.02,
    grading_levels: int = 8,
    cache: bool = False,
) -> FEMSolution:
    """``-Laplace(u) = 1`` on the L-shape ``[-1, 1]^2`` minus ``[0, 1] x [-1, 0]``, ``u = 0`` on its boundary.

    P2 elements on a mesh graded toward the re-entrant corner at the origin
    (:func:`triangulate`). The defaults give 64,048 nodes in about 1.3 s; the
    relative L2 difference from a solution with 15 times the nodes
    (``mesh_size=0.005``, 16 levels) is 1.5e-6, and 1.4e-6 at distances above
    0.1 from the corner; ``max u = 0.149412``. With ``cache=True`` the
    solution is read from (or, the first time, written to)
    ``kansci.datasets.cache_dir()/pde/``.
    """
    key = f"fem-l_shape-p2-h{mesh_size!r}-levels{grading_levels}"

    def make() -> FEMSolution:
        solution = poisson(
            l_shape_domain(), 1.0, 0.0, mesh_size=mesh_size, grade_toward=(0.0, 0.0), grading_levels=grading_levels
        )
        return replace(solution, metadata={"problem": "l_shape_poisson", **solution.metadata})

    return _cached(key, make) if cache else make()


def holes_poisson(*, mesh_size: float = 0.01, segments: int = 1024, cache: bool = False) -> FEMSolution:
    """PINNacle's Poisson 2d-C: ``Laplace(u) = 0`` on ``[-0.5, 0.5]^2`` minus four disks.

    The disks have radius 0.1 and centres ``(+-0.3, +-0.3)``; ``u = 1`` on the
    square's sides and ``u = 0`` on the circles (PINNacle's ``Poisson2D_Classic``
    in ``src/pde/poisson.py``, the default ``scale=1``). P2 elements; each
    circle is an inscribed polygon of ``segments`` sides. The defaults give
    112,601 nodes in about 1.3 s; the relative L2 difference from a solution
    with 11 times the nodes (``mesh_size=0.0025``, 4096 segments) is 4.5e-6
    (largest pointwise 2.6e-5).
    ``cache`` as in :func:`l_shape_poisson`.
    """
    key = f"fem-holes-p2-h{mesh_size!r}-segments{segments}"

    def on_square(x: Array) -> Array:
        return (np.abs(x).max(axis=1) >= 0.5 * (1 - 1e-9)).astype(np.float64)

    def make() -> FEMSolution:
        solution = poisson(holes_domain(segments), 0.0, on_square, mesh_size=mesh_size)
        return replace(solution, metadata={"problem": "holes_poisson", "segments": int(segments), **solution.metadata})

    return _cached(key, make) if cache else make()
