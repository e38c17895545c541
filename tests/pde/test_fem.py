"""Finite-element references: exactness, convergence rates, evaluation, the cache, the shipped problems."""

import sys

import numpy as np
import pytest

from kansci.pde import fem, meshing

engines = pytest.mark.needs("skfem", "triangle")


def _inside(domain: str, n: int, seed: int = 0) -> np.ndarray:
    """Random points of the L-shape or of PINNacle's perforated square."""
    rng = np.random.default_rng(seed)
    if domain == "l_shape":
        x = rng.uniform(-1, 1, (2 * n, 2))
        return x[~((x[:, 0] > 0) & (x[:, 1] < 0))][:n]
    x = rng.uniform(-0.5, 0.5, (2 * n, 2))
    distance = np.linalg.norm(x[:, None, :] - np.array(meshing.PINNACLE_HOLES)[None], axis=2).min(axis=1)
    return x[distance > 0.1][:n]


def _domain(name: str) -> meshing.PlanarDomain:
    return meshing.l_shape_domain() if name == "l_shape" else meshing.holes_domain(16)  # coarse circles: h rules


def _exact(x):
    return np.sin(np.pi * x[:, 0]) * np.exp(x[:, 1])


def _source(x):  # -Laplace(sin(pi x) e^y)
    return (np.pi**2 - 1) * _exact(x)


# --- solving ------------------------------------------------------------------------------------


@engines
@pytest.mark.parametrize("domain", ["l_shape", "holes"])
def test_quadratic_solution_is_reproduced_to_rounding(domain):
    def exact(x):
        return x[:, 0] ** 2 + 3 * x[:, 0] * x[:, 1] - 0.5 * x[:, 1] ** 2 + x[:, 1]

    solution = fem.poisson(_domain(domain), -1.0, exact, mesh_size=0.2)  # -Laplace(exact) = -1
    x = _inside(domain, 500)
    np.testing.assert_allclose(solution(x), exact(x), rtol=0, atol=1e-12)


@engines
@pytest.mark.parametrize(("order", "rate", "tolerance"), [(1, 2, 2e-3), (2, 3, 2e-5)])
@pytest.mark.parametrize("domain", ["l_shape", "holes"])
def test_manufactured_solution_converges_at_the_element_rate(domain, order, rate, tolerance):
    # u = sin(pi x) e^y with its Dirichlet data; the polygonal circles carry u's own values, so
    # the discrete problem has this exact solution and only the element error remains
    x = _inside(domain, 4000)
    errors = []
    for mesh_size in (0.1, 0.05):
        solution = fem.poisson(_domain(domain), _source, _exact, mesh_size=mesh_size, order=order)
        errors.append(np.linalg.norm(solution(x) - _exact(x)) / np.linalg.norm(_exact(x)))
    assert errors[1] < tolerance
    observed = np.log2(errors[0] / errors[1])
    assert rate - 0.4 < observed < rate + 0.6, errors  # Triangle's meshes are not nested: rates are approximate


@engines
def test_reaction_term():
    solution = fem.poisson(
        meshing.l_shape_domain(), lambda x: _source(x) + 4 * _exact(x), _exact, mesh_size=0.05, reaction=4
    )
    x = _inside("l_shape", 2000)
    assert np.linalg.norm(solution(x) - _exact(x)) / np.linalg.norm(_exact(x)) < 2e-5


@engines
def test_grading_refines_toward_the_corner_only():
    nodes, triangles = meshing.triangulate(meshing.l_shape_domain(), 0.1, grade_toward=(0, 0), grading_levels=6)
    area = meshing.cross(*(nodes[triangles[:, i]] - nodes[triangles[:, 0]] for i in (1, 2))) / 2
    assert (area > 0).all()  # counter-clockwise
    distance = np.linalg.norm(nodes[triangles].mean(axis=1), axis=1)
    assert area[distance > 0.5].min() > 1e-3  # untouched away from the corner (Triangle's areas: at most 4.3e-3)
    assert area[distance < 0.01].max() < area[distance > 0.5].min() / 500  # 6 levels: 4**6 smaller, about


@engines
def test_solve_errors_name_the_fix():
    domain = meshing.l_shape_domain()
    with pytest.raises(ValueError, match="order must be 1"):
        fem.poisson(domain, mesh_size=0.5, order=3)
    with pytest.raises(ValueError, match="reaction"):
        fem.poisson(domain, mesh_size=0.5, reaction=-1.0)
    with pytest.raises(ValueError, match="mesh_size"):
        fem.poisson(domain, mesh_size=0.0)
    with pytest.raises(ValueError, match="dirichlet must map points"):
        fem.poisson(domain, 1.0, lambda x: np.zeros((len(x), 2)), mesh_size=0.5)
    with pytest.raises(ValueError, match="source returned NaN"):
        fem.poisson(domain, lambda x: np.full(len(x), np.nan), mesh_size=0.5)


def test_missing_engine_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "skfem", None)  # `import skfem` now fails as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r'skfem is missing: pip install "kansci\[fem\]"'):
        fem.poisson(meshing.l_shape_domain(), mesh_size=0.5)


def test_domain_validation():
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    with pytest.raises(ValueError, match="not convex"):
        meshing.PlanarDomain(square, [[(0.2, 0.2), (0.8, 0.2), (0.5, 0.3), (0.5, 0.8)]])
    with pytest.raises(ValueError, match="not inside"):
        meshing.PlanarDomain(square, [[(2, 2), (3, 2), (3, 3)]])
    with pytest.raises(ValueError, match="repeats a vertex"):
        meshing.PlanarDomain([(0, 0), (1, 0), (1, 0), (0, 1)])
    with pytest.raises(ValueError, match="zero area"):
        meshing.PlanarDomain([(0, 0), (1, 0), (2, 0)])
    with pytest.raises(ValueError, match="segments"):
        meshing.holes_domain(4)


def test_l_shape_domain_matches_the_geometry():
    from kansci.pde.geometry import l_shape

    np.testing.assert_array_equal(meshing.l_shape_domain().outer, l_shape().vertices.numpy())


# --- evaluation ---------------------------------------------------------------------------------


def _one_triangle(order: int) -> fem.FEMSolution:
    nodes = np.array([(0, 0), (2, 0), (0, 1), (1, 0), (1, 0.5), (0, 0.5)], dtype=np.float64)[: 3 * order]
    values = 1 + nodes[:, 0] - 2 * nodes[:, 1] + (order - 1) * nodes[:, 0] * nodes[:, 1]
    return fem.FEMSolution(nodes, np.arange(3 * order)[None], values)


@pytest.mark.parametrize("order", [1, 2])
def test_evaluation_reproduces_polynomials_of_the_element_order(order):
    solution = _one_triangle(order)
    lam = np.random.default_rng(0).dirichlet(np.ones(3), 200)
    x = lam @ solution.nodes[:3]
    expected = 1 + x[:, 0] - 2 * x[:, 1] + (order - 1) * x[:, 0] * x[:, 1]
    np.testing.assert_allclose(solution(x), expected, rtol=0, atol=1e-14)
    assert solution.order == order


@engines
def test_evaluation_at_the_nodes_returns_the_nodal_values():
    solution = fem.poisson(meshing.holes_domain(32), _source, _exact, mesh_size=0.1)
    np.testing.assert_allclose(solution(solution.nodes), solution.values, rtol=0, atol=1e-12)


@engines
def test_points_outside_raise_and_rounding_off_the_boundary_does_not():
    solution = fem.poisson(meshing.holes_domain(256), 0.0, 1.0, mesh_size=0.1)  # u = 1
    for outside in ([0.3, 0.3], [0.6, 0.0], [0.3 + 0.1 * (1 - 1e-3), 0.3]):
        with pytest.raises(ValueError, match="1 of 2 points lie outside the mesh"):
            solution(np.array([[0.0, 0.0], outside]))
    # float32 points on a circle may fall a rounding error inside the inscribed polygon
    angle = np.linspace(0, 2 * np.pi, 20001)
    circle = np.array([-0.3, 0.3]) + 0.1 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    np.testing.assert_allclose(solution(circle.astype(np.float32)), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        solution(np.zeros((3, 3)))


def test_solution_validation():
    nodes = np.array([(0, 0), (1, 0), (0, 1)], dtype=np.float64)
    with pytest.raises(ValueError, match="one entry per node"):
        fem.FEMSolution(nodes, [[0, 1, 2]], np.zeros(2))
    with pytest.raises(ValueError, match="triangles index nodes"):
        fem.FEMSolution(nodes, [[0, 1, 3]], np.zeros(3))
    with pytest.raises(ValueError, match=r"\(m, 3\) for P1"):
        fem.FEMSolution(nodes, [[0, 1, 2, 0]], np.zeros(3))
    with pytest.raises(ValueError, match="JSON"):
        fem.FEMSolution(nodes, [[0, 1, 2]], np.zeros(3), {"bad": object()})


# --- storage ------------------------------------------------------------------------------------


def test_netcdf_round_trip(tmp_path):
    solution = fem.FEMSolution(*(getattr(_one_triangle(2), k) for k in ("nodes", "triangles", "values")), {"a": 1})
    back = fem.FEMSolution.from_netcdf(solution.to_netcdf(tmp_path / "u.nc"))
    for name in ("nodes", "triangles", "values"):
        np.testing.assert_array_equal(getattr(back, name), getattr(solution, name))
    assert back.metadata == {"a": 1}
    (tmp_path / "other.nc").write_bytes(b"not netcdf")
    with pytest.raises(ValueError, match="not a readable NetCDF"):
        fem.FEMSolution.from_netcdf(tmp_path / "other.nc")


@engines
def test_cache_writes_once_then_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    first = fem.l_shape_poisson(mesh_size=0.2, grading_levels=2, cache=True)
    files = list((tmp_path / "pde").glob("*.nc"))
    assert [f.name for f in files] == ["fem-l_shape-p2-h0.2-levels2.nc"]

    def fail(*args, **kwargs):
        raise AssertionError("the cached solution should have been read")

    monkeypatch.setattr(fem, "poisson", fail)
    monkeypatch.setitem(sys.modules, "skfem", None)  # a cached reference needs neither engine
    monkeypatch.setitem(sys.modules, "triangle", None)
    second = fem.l_shape_poisson(mesh_size=0.2, grading_levels=2, cache=True)
    np.testing.assert_array_equal(second.values, first.values)
    assert second.metadata == first.metadata and second.metadata["problem"] == "l_shape_poisson"
    x = _inside("l_shape", 100)
    np.testing.assert_array_equal(second(x), first(x))
    files[0].write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="delete .* to regenerate it"):
        fem.l_shape_poisson(mesh_size=0.2, grading_levels=2, cache=True)


# --- shipped references -------------------------------------------------------------------------


@engines
def test_l_shape_reference_agrees_across_refinements():
    coarse = fem.l_shape_poisson(mesh_size=0.04)
    default = fem.l_shape_poisson()
    x = _inside("l_shape", 5000)
    assert np.linalg.norm(default(x) - coarse(x)) / np.linalg.norm(default(x)) < 2e-5  # measured 9.2e-6
    # max u of -Laplace(u) = 1 on this L-shape: 0.149412 on a mesh of 0.9 M nodes; nodal maxima sit a little below
    assert default.values.max() == pytest.approx(0.149412, abs=1e-5)
    assert coarse.values.max() == pytest.approx(0.149412, abs=2e-5)
    assert default.values.min() >= 0


@engines
def test_holes_reference_symmetry_and_refinement():
    coarse = fem.holes_poisson(mesh_size=0.02, segments=512)
    default = fem.holes_poisson()
    x = _inside("holes", 5000)
    u = default(x)
    assert np.linalg.norm(u - coarse(x)) / np.linalg.norm(u) < 5e-5  # measured 2.4e-5
    assert 0 <= u.min() and u.max() <= 1  # maximum principle
    for mirror in (x * [-1, 1], x * [1, -1], x[:, ::-1]):  # the square's symmetries
        np.testing.assert_allclose(default(mirror), u, atol=5e-5)  # within the pointwise error, 2.6e-5
    assert default(np.zeros((1, 2)))[0] == pytest.approx(0.233586, abs=2e-6)
