"""Shipped problems are manufactured solutions; sampling covers the box; bad problems fail clearly."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from kansci.pde import (
    Problem,
    allen_cahn,
    boundary_points,
    burgers,
    derivatives,
    heat,
    helmholtz,
    initial_points,
    interior_points,
    inverse_poisson,
    outward_normals,
    poisson_paper,
    poisson_sine,
)


class Exact(nn.Module):
    """A problem's exact solution as a module (one dummy parameter so it can be 'trained')."""

    def __init__(self, problem):
        super().__init__()
        self.problem = problem
        self.dummy = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return self.problem.exact(x) + self.dummy


@pytest.mark.parametrize("make", [poisson_paper, poisson_sine, helmholtz, heat, lambda: inverse_poisson(noise=0.0)])
def test_exact_solutions_satisfy_their_problems(make):
    problem = make()
    x = interior_points(problem, 500, "random", seed=3)
    residual = problem.residual(x, *derivatives(Exact(problem), x))
    assert residual.abs().max() < 1e-10
    xb = boundary_points(problem, 200)
    fields = list(problem.boundary_fields)
    torch.testing.assert_close(problem.exact(xb)[:, fields], problem.boundary(xb), rtol=0, atol=1e-12)
    if problem.time:
        x0 = initial_points(problem, 50)
        torch.testing.assert_close(problem.exact(x0)[:, :1], problem.initial(x0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [burgers, allen_cahn])
def test_reference_solutions_meet_their_conditions(make):
    problem = make()
    x0, xb = initial_points(problem, 200), boundary_points(problem, 200)
    torch.testing.assert_close(problem.exact(x0), problem.initial(x0), rtol=0, atol=1e-9)
    torch.testing.assert_close(problem.exact(xb), problem.boundary(xb), rtol=0, atol=1e-9)
    assert problem.reference["u"].shape == (201, problem.reference["x"].size)


def test_inverse_problem_observes_noisy_u_on_a_grid():
    problem = inverse_poisson(noise=0.1, n_side=50, seed=0)
    points, values = problem.observations
    assert points.shape == (2500, 2) and values.shape == (2500, 1)
    noise = values - problem.exact(points)[:, :1]
    assert abs(float(noise.std()) - 0.1) < 0.005 and abs(float(noise.mean())) < 0.006  # 2500 draws: 3 sigma bounds
    assert problem.fields == ("u", "a") and problem.boundary_fields == (1,)


def test_sampling_covers_the_box_and_its_faces():
    problem = Problem("box", (-1.0, 0.0), (1.0, 2.0), lambda x, u, du, d2u: u, lambda x: x[:, :1] * 0)
    grid = interior_points(problem, 100, "grid")
    assert grid.shape == (100, 2)
    assert grid[:, 0].min() > -1 and grid[:, 1].max() < 2
    sobol = interior_points(problem, 256, "sobol", seed=1)
    assert sobol.shape == (256, 2) and 0.9 < sobol[:, 1].mean() < 1.1
    faces = boundary_points(problem, 400)
    on_x = (faces[:, 0].abs() == 1.0).sum()
    on_y = ((faces[:, 1] == 0.0) | (faces[:, 1] == 2.0)).sum()
    assert on_x == 200 and on_y == 200
    normals = outward_normals(problem, faces)
    torch.testing.assert_close(normals.norm(dim=1), torch.ones(400, dtype=torch.float64))
    inward = faces - 0.01 * normals  # one step inside along -n stays in the box
    assert (inward[:, 0].abs() < 1).all() and ((inward[:, 1] > 0) & (inward[:, 1] < 2)).all()
    with pytest.raises(ValueError, match="spatial face"):
        outward_normals(problem, grid[:3])
    with pytest.raises(ValueError, match="no time axis"):
        initial_points(problem, 10)


def test_evolution_problems_sample_space_faces_and_the_initial_time():
    problem = heat()
    faces = boundary_points(problem, 100)
    assert (faces[:, 0].abs() == 1).all() and faces[:, 1].min() >= 0 and faces[:, 1].max() <= 1
    x0 = initial_points(problem, 64)
    assert (x0[:, 1] == 0).all() and x0[:, 0].min() >= -1 and x0[:, 0].max() <= 1


def test_residual_weight_scales_with_the_operator():
    # 0.01 for the paper's Poisson; Helmholtz's residual is (a1^2 + a2^2) pi^2 - k^2 times u, not ~2 pi^2
    assert poisson_paper().alpha == 0.01
    scale = 17 * math.pi**2 - 1
    assert helmholtz().alpha == pytest.approx(0.01 * (2 * math.pi**2 / scale) ** 2, rel=1e-12)
    assert helmholtz(a2=1.0).alpha == pytest.approx(0.01 * (2 * math.pi**2 / (2 * math.pi**2 - 1)) ** 2, rel=1e-12)


def test_bad_problems_are_named():
    residual = lambda x, u, du, d2u: u  # noqa: E731
    with pytest.raises(ValueError, match="lower bound"):
        Problem("bad", (1.0,), (0.0,), residual, residual)
    with pytest.raises(ValueError, match="initial="):
        Problem("bad", (0.0, 0.0), (1.0, 1.0), residual, lambda x: x[:, :1], time=True)
    with pytest.raises(ValueError, match="well posed"):
        Problem("bad", (0.0,), (1.0,), residual)
    with pytest.raises(ValueError, match="alpha"):
        Problem("bad", (0.0,), (1.0,), residual, residual, alpha=-1.0)
    points = torch.zeros(4, 2, dtype=torch.float64)
    values = torch.tensor([[0.0], [float("nan")], [0.0], [0.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="NaN"):
        Problem("bad", (0.0, 0.0), (1.0, 1.0), residual, observations=(points, values))
    with pytest.raises(ValueError, match=r"observations must be \(points \(n, 2\)"):
        Problem("bad", (0.0, 0.0), (1.0, 1.0), residual, observations=(points[:, :1], values))
    # a boundary function written for 3 inputs on a 2-D box
    wrong = Problem("wrong", (0.0, 0.0), (1.0, 1.0), residual, lambda x: x.sum(1))
    with pytest.raises(ValueError, match=r"boundary must return shape \(batch, 1\)"):
        wrong.check(points)


def test_reference_solution_round_trips_through_the_dataset_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    computed = burgers().reference
    cached = burgers(cache=True)  # written to the cache the first time
    (path,) = tmp_path.glob("pde/burgers-*.nc")
    for key in ("x", "t", "u"):
        np.testing.assert_array_equal(cached.reference[key], computed[key])  # lossless
    stamp = path.stat().st_mtime_ns
    again = burgers(cache=True)  # read back, not rewritten
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.reference["u"], computed["u"])
    points = initial_points(again, 20)
    torch.testing.assert_close(again.exact(points), burgers().exact(points), rtol=0, atol=0)


def test_reference_files_are_checked(tmp_path):
    from kansci.datasets import reference_from_netcdf, reference_to_netcdf, to_netcdf
    from kansci.datasets.base import from_arrays

    grid = {"x": np.linspace(0, 1, 5), "t": np.linspace(0, 1, 3), "u": np.zeros((3, 5))}
    path = reference_to_netcdf(grid, tmp_path / "ref.nc", attrs={"solver": "none"})
    np.testing.assert_array_equal(reference_from_netcdf(path)["x"], grid["x"])
    with pytest.raises(ValueError, match=r"need x \(nx,\), t \(nt,\) and u \(nt, nx\)"):
        reference_to_netcdf({**grid, "u": np.zeros((5, 3))}, tmp_path / "bad.nc")
    with pytest.raises(ValueError, match="missing \\['t'\\]"):
        reference_to_netcdf({"x": grid["x"], "u": grid["u"]}, tmp_path / "bad.nc")
    with pytest.raises(ValueError, match="NaN or inf"):
        reference_to_netcdf({**grid, "u": np.full((3, 5), np.nan)}, tmp_path / "bad.nc")
    data = to_netcdf(from_arrays(np.zeros((10, 1)), np.zeros((10, 1))), tmp_path / "data.nc")
    with pytest.raises(ValueError, match="not a kansci reference solution"):
        reference_from_netcdf(data)
    with pytest.raises(FileNotFoundError, match="no reference solution file"):
        reference_from_netcdf(tmp_path / "missing.nc")
