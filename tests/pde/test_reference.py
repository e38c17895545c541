"""Reference PDE solutions: spectral Burgers against Cole-Hopf, Allen-Cahn by convergence, interpolation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse
from scipy.integrate import solve_ivp
from scipy.optimize import minimize_scalar

from kansci.pde.reference import (
    _burgers_fourier,
    allen_cahn,
    burgers,
    burgers_cole_hopf,
    interpolate,
)
from kansci.pde.spectral import fourier_evaluate

NU = 0.01 / math.pi
# Basdevant et al. (1986), Comput. Fluids 14: the steepest slope of this problem is
# du/dx(0, t) = -152.00516 at t = 1.6037 / pi.
STEEPEST_SLOPE, STEEPEST_TIME = 152.00516, 1.6037 / math.pi


@pytest.fixture(scope="module")
def burgers_default():
    return burgers(nx=1025, nt=201)  # default solver resolution; t = 0, 0.005, ..., 1


@pytest.fixture(scope="module")
def allen_cahn_default():
    return allen_cahn(nx=2001, nt=11)  # default solver resolution; x = -1, -0.999, ..., 1; t = 0, 0.1, ..., 1


# ---------------------------------------------------------------------------- Burgers


def test_cole_hopf_initial_condition_boundary_and_symmetry():
    x = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(burgers_cole_hopf(x, 0.0), -np.sin(np.pi * x), rtol=0, atol=1e-15)
    u = burgers_cole_hopf(x[None, :], np.array([0.1, 0.5, 1.0])[:, None])
    np.testing.assert_allclose(u[:, [0, -1]], 0.0, atol=1e-13)
    np.testing.assert_allclose(u, -u[:, ::-1], rtol=0, atol=1e-13)
    # continuity at t = 0: u moves by O(t) (|u_t| <= pi + nu pi^2 at the start)
    small_t = burgers_cole_hopf(x, 1e-6)
    np.testing.assert_allclose(small_t, -np.sin(np.pi * x), rtol=0, atol=1e-5)


def test_cole_hopf_quadrature_is_converged():
    x, t = np.linspace(-1, 1, 257)[None, :], np.array([0.05, 0.25, 0.5, 1.0])[:, None]
    default = burgers_cole_hopf(x, t)
    fine = burgers_cole_hopf(x, t, nodes=4001)  # about 15x the default node count
    assert np.abs(default - fine).max() < 1e-13  # measured 7e-16


def test_burgers_matches_cole_hopf(burgers_default):
    x, t, u = burgers_default
    rows = [0, 50, 100, 150, 200]  # t = 0, 0.25, 0.5, 0.75, 1
    exact = burgers_cole_hopf(x[None, :], t[rows, None])
    error = np.abs(u[rows] - exact).max(axis=1)
    # measured 0, 7e-13, 7e-11, 1.8e-10, 5e-11 (ETDRK4 time error; 16x smaller when the step halves)
    assert error.max() < 1e-9, error


def test_burgers_grid_boundary_and_symmetry(burgers_default):
    x, t, u = burgers_default
    np.testing.assert_array_equal(x, np.linspace(-1, 1, 1025))
    np.testing.assert_array_equal(t, np.linspace(0, 1, 201))
    assert u.shape == (201, 1025) and u.dtype == np.float64
    np.testing.assert_allclose(u[0], -np.sin(np.pi * x), rtol=0, atol=1e-15)
    np.testing.assert_allclose(u[:, [0, -1]], 0.0, atol=0)
    np.testing.assert_allclose(u, -u[:, ::-1], rtol=0, atol=1e-12)
    assert np.abs(u).max() <= 1.0


def _cole_hopf_slope_at_zero(t: float, h: float = 1e-5) -> float:
    f = burgers_cole_hopf(np.array([-2 * h, -h, h, 2 * h]), t)
    return float((f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h))


def test_steepest_slope_matches_basdevant_benchmark():
    found = minimize_scalar(_cole_hopf_slope_at_zero, bounds=(0.45, 0.6), method="bounded", options={"xatol": 1e-8})
    assert found.x * math.pi == pytest.approx(1.6037, abs=1e-4)  # measured 1.603688
    assert -found.fun == pytest.approx(STEEPEST_SLOPE, abs=1e-5)  # measured 152.0051616
    # the spectral solver at the benchmark time: the slope is the exact derivative of its Fourier series
    points = 2048
    coefficients = _burgers_fourier(NU, STEEPEST_TIME, 2, points, 2.5e-4)
    slope = fourier_evaluate(coefficients[-1], points, np.array([0.0]), derivative=1)[0]
    assert -slope == pytest.approx(STEEPEST_SLOPE, abs=1e-5)  # measured 152.0051616
    assert slope == pytest.approx(_cole_hopf_slope_at_zero(STEEPEST_TIME), abs=1e-6)


# ---------------------------------------------------------------------------- Allen-Cahn


def test_allen_cahn_dirichlet_converges(allen_cahn_default):
    x, t, u = allen_cahn_default
    _, _, fine = allen_cahn(nx=201, nt=3, spatial_points=768)
    error = np.abs(u[[5, 10], ::10] - fine[1:]).max(axis=1)
    assert error[0] < 1e-10 and error[1] < 1e-8, error  # t = 0.5, 1: measured 2.4e-13 and 2.9e-9
    _, _, halved = allen_cahn(nx=201, nt=3, time_step=5e-4)
    error = np.abs(u[[5, 10], ::10] - halved[1:]).max(axis=1)
    assert error.max() < 1e-10, error  # time steps: measured 4e-12 and 9e-12


def test_allen_cahn_dirichlet_matches_finite_differences(allen_cahn_default):
    x, t, u = allen_cahn_default
    fd = _allen_cahn_finite_differences(d=1e-3, c=5.0, n=1000, times=t[[5, 10]])
    np.testing.assert_allclose(np.linspace(-1, 1, 1001), x[::2], rtol=0, atol=1e-15)
    error = np.abs(fd - u[[5, 10], ::2]).max(axis=1)
    # 4th-order differences, h = 0.002: measured 2.7e-9 and 2.6e-6 (1.6e-7 at h = 0.001)
    assert error[0] < 1e-8 and error[1] < 5e-6, error


def test_allen_cahn_dirichlet_values_bounds_and_plateaus(allen_cahn_default):
    x, t, u = allen_cahn_default
    np.testing.assert_allclose(u[0], x**2 * np.cos(np.pi * x), rtol=0, atol=0)
    np.testing.assert_array_equal(u[:, [0, -1]], -1.0)
    np.testing.assert_allclose(u, u[:, ::-1], rtol=0, atol=1e-12)
    assert u.min() >= -1.0 and u.max() <= 1.0
    # reference values from spatial_points=1024, time_step=2.5e-4 at x = 0, 0.25, 0.5, 0.75
    at = [1000, 1250, 1500, 1750]
    np.testing.assert_allclose(u[5, at], [0.012001441377, 0.468599401106, -0.03640253896, -0.981573600333], atol=1e-8)
    np.testing.assert_allclose(u[10, at], [0.275326457076, 0.987321159419, -0.247501076297, -0.999857028714], atol=1e-8)
    # plateaus: +1 for 0.2 <= |x| <= 0.4 and -1 for |x| >= 0.7 at t = 1
    assert np.all(u[10, np.abs(np.abs(x) - 0.3) <= 0.1] > 0.97)
    assert np.all(u[10, np.abs(x) >= 0.7] < -0.998)


def test_allen_cahn_dirichlet_energy_decreases(allen_cahn_default):
    x, t, u = allen_cahn_default
    ux = np.gradient(u, x, axis=1, edge_order=2)
    density = 0.5e-3 * ux**2 + 1.25 * (u**2 - 1) ** 2
    energy = ((density[:, 1:] + density[:, :-1]) / 2 * np.diff(x)).sum(axis=1)
    assert np.all(np.diff(energy) < 0), energy


def test_allen_cahn_periodic_raissi_setup_converges():
    x, t, u = allen_cahn(d=1e-4, nx=201, nt=3, boundary="periodic")
    _, _, fine = allen_cahn(d=1e-4, nx=201, nt=3, boundary="periodic", spatial_points=4096)
    error = np.abs(u - fine).max(axis=1)
    # the kink of the periodic initial data at x = +-1 limits early accuracy: measured 6.6e-8 and 3e-10
    assert error[1] < 3e-7 and error[2] < 2e-9, error
    np.testing.assert_allclose(u[:, 0], u[:, -1], rtol=0, atol=1e-13)
    np.testing.assert_allclose(u, u[:, ::-1], rtol=0, atol=1e-12)
    assert u.min() >= -1.0 - 1e-12 and u.max() <= 1.0
    # reference values from spatial_points=8192 at x = 0, 0.25, 0.5, 0.75, t = 1
    np.testing.assert_allclose(
        u[2, [100, 125, 150, 175]], [0.029579720998, 0.988474647666, -0.064076797728, -0.999877244578], atol=1e-8
    )


def _allen_cahn_finite_differences(d: float, c: float, n: int, times: np.ndarray) -> np.ndarray:
    """Independent check: 4th-order finite differences on n + 1 points, Radau in time."""
    x = np.linspace(-1, 1, n + 1)
    h2 = (x[1] - x[0]) ** 2
    m = n - 1
    a = sparse.diags(
        [-np.ones(m - 2), 16 * np.ones(m - 1), -30 * np.ones(m), 16 * np.ones(m - 1), -np.ones(m - 2)],
        [-2, -1, 0, 1, 2],
        format="lil",
    )
    a[0, :5] = a[m - 1, m - 5 :] = 0.0
    a[0, :5] = [-15, -4, 14, -6, 1]  # one-sided stencil with the boundary value 10 u(-1)
    a[m - 1, m - 5 :] = [1, -6, 14, -4, -15]
    a = (d / (12 * h2)) * a.tocsr()
    b = np.zeros(m)
    b[[0, -1]] = -10 * d / (12 * h2)
    b[[1, -2]] = d / (12 * h2)

    def rhs(_: float, u: np.ndarray) -> np.ndarray:
        return a @ u + b + c * (u - u**3)

    def jacobian(_: float, u: np.ndarray) -> sparse.csr_matrix:
        return a + sparse.diags(c * (1 - 3 * u**2))

    inner = x[1:-1]
    u0 = inner**2 * np.cos(np.pi * inner)
    sol = solve_ivp(rhs, (0, times[-1]), u0, "Radau", times, jac=jacobian, rtol=1e-10, atol=1e-12)
    assert sol.success, sol.message
    full = -np.ones((len(times), n + 1))
    full[:, 1:-1] = sol.y.T
    return full


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: burgers(nu=0.0), "nu must be a finite positive"),
        (lambda: burgers(nx=1), "nx must be an integer >= 2"),
        (lambda: burgers(nt=1), "nt must be an integer >= 2"),
        (lambda: burgers(t_end=-1.0), "t_end must be"),
        (lambda: burgers(spatial_points=1001), "spatial_points must be even"),
        (lambda: burgers(time_step=float("nan")), "time_step must be"),
        (lambda: burgers_cole_hopf(0.0, -1.0), "t must be finite and >= 0"),
        (lambda: burgers_cole_hopf(0.0, 1.0, nu=-1.0), "nu must be"),
        (lambda: allen_cahn(d=-1e-3), "d must be"),
        (lambda: allen_cahn(c=0.0), "c must be"),
        (lambda: allen_cahn(boundary="neumann"), "boundary must be 'dirichlet' or 'periodic'"),
        (lambda: allen_cahn(spatial_points=4), "spatial_points must be an integer >= 8"),
        (lambda: allen_cahn(nx=2.5), "nx must be an integer"),
    ],
)
def test_invalid_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unresolved_burgers_blows_up_with_advice():
    with pytest.raises(RuntimeError, match="more spatial_points"):
        burgers(nu=1e-4, nt=2, spatial_points=64, time_step=5e-3)


# ---------------------------------------------------------------------------- interpolation


def _smooth(x, t):
    return np.sin(3 * x) * np.exp(-t) + x**2 * t


def test_interpolate_smooth_function():
    x, t = np.linspace(-1, 1, 65), np.linspace(0, 1, 33)
    u = _smooth(x[None, :], t[:, None])
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-1, 1, 1000), rng.uniform(0, 1, 1000)])
    exact = _smooth(points[:, 0], points[:, 1])
    cubic = interpolate(x, t, u, points)
    assert cubic.shape == (1000,)
    assert np.abs(cubic - exact).max() < 1e-6  # measured 4.9e-7
    linear = interpolate(x, t, u, points, method="linear")
    bound = (x[1] - x[0]) ** 2 / 8 * 11 + (t[1] - t[0]) ** 2 / 8 * 1  # h^2/8 max|f''| per axis
    assert np.abs(linear - exact).max() < bound  # measured 9.5e-4 against 1.2e-3
    grid = np.column_stack([np.repeat(x[::8], 5), np.tile(t[::8], 9)])
    np.testing.assert_allclose(interpolate(x, t, u, grid), _smooth(grid[:, 0], grid[:, 1]), rtol=0, atol=1e-13)


def test_interpolate_linear_is_exact_for_bilinear_functions():
    x, t = np.linspace(-1, 1, 7), np.linspace(0, 2, 3)

    def f(x, t):
        return 1 + 2 * x - 3 * t + 4 * x * t

    points = np.column_stack([np.linspace(-1, 1, 50), np.linspace(2, 0, 50)])
    values = interpolate(x, t, f(x[None, :], t[:, None]), points, method="linear")
    np.testing.assert_allclose(values, f(points[:, 0], points[:, 1]), rtol=0, atol=1e-13)


def test_interpolate_burgers_against_cole_hopf(burgers_default):
    x, t, u = burgers_default
    rng = np.random.default_rng(1)
    points = np.column_stack([rng.uniform(-1, 1, 5000), rng.uniform(0, 1, 5000)])
    exact = burgers_cole_hopf(points[:, 0], points[:, 1])
    error = interpolate(x, t, u, points) - exact
    assert np.linalg.norm(error) / np.linalg.norm(exact) < 1e-5  # measured 3e-6 (max 9e-5, at the shock)


@pytest.mark.parametrize(
    ("points", "match"),
    [
        (np.array([[1.5, 0.5]]), r"points\[:, 0\] \(x\) must lie in"),
        (np.array([[0.0, -0.1]]), r"points\[:, 1\] \(t\) must lie in"),
        (np.zeros((3, 3)), r"points must have shape \(n, 2\)"),
    ],
)
def test_interpolate_rejects_bad_points(points, match):
    x, t = np.linspace(-1, 1, 5), np.linspace(0, 1, 4)
    with pytest.raises(ValueError, match=match):
        interpolate(x, t, np.zeros((4, 5)), points)


def test_interpolate_rejects_bad_grids():
    x, t = np.linspace(-1, 1, 5), np.linspace(0, 1, 4)
    with pytest.raises(ValueError, match=r"u must have shape \(len\(t\), len\(x\)\)"):
        interpolate(x, t, np.zeros((5, 4)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="x must be strictly increasing"):
        interpolate(x[::-1], t, np.zeros((4, 5)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="needs >= 4"):
        interpolate(x, t[:3], np.zeros((3, 5)), np.zeros((1, 2)))


@pytest.mark.slow
def test_burgers_high_resolution_matches_cole_hopf():
    x, t, u = burgers(nx=2001, nt=11, time_step=5e-5)
    error = np.abs(u - burgers_cole_hopf(x[None, :], t[:, None])).max()
    # the time step is the only error left: measured 1.8e-12 (2.4e-11 at time_step=1e-4, with either
    # 2048 or 4096 spatial_points, which agree to 6e-15)
    assert error < 5e-12
