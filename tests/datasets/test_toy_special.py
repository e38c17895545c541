"""Toy (§3.1) and special-function (§3.2) datasets: loading, hand-computed values, mpmath references."""

import math

import mpmath
import numpy as np
import pytest
import scipy.special
import sympy
import torch

from kansci.datasets import load, names, spec
from kansci.datasets import special as special_module

TOY = ["toy/bessel_j0", "toy/exp_mean_sin2_100", "toy/exp_sin", "toy/exp_sin_4", "toy/xy"]
SPECIAL = sorted(
    ["special/ellipj", "special/ellipkinc", "special/ellipeinc", "special/jv", "special/yv", "special/kv"]
    + ["special/iv", "special/lpmv_m0", "special/lpmv_m1", "special/lpmv_m2"]
    + [f"special/sph_harm_{mn}" for mn in ("01", "11", "02", "12", "22")]
)


def test_registered_names():
    assert names("toy/") == TOY
    assert names("special/") == SPECIAL
    assert names("continual/") == ["continual/peaks"]


N_INPUTS = {"toy/bessel_j0": 1, "toy/exp_mean_sin2_100": 100, "toy/exp_sin_4": 4, "continual/peaks": 1}


@pytest.mark.parametrize("name", [*TOY, *SPECIAL, "continual/peaks"])
def test_every_dataset_loads(name):
    ds = load(name, n_train=64, n_test=16, seed=3, dtype=torch.float64)
    n_inputs = N_INPUTS.get(name, 2)
    assert ds.train_input.shape == (64, n_inputs) and ds.test_input.shape == (16, n_inputs)
    assert ds.train_label.shape == (64, 1) and ds.test_label.shape == (16, 1)
    assert ds.dtype == torch.float64
    for t in (ds.train_input, ds.train_label, ds.test_input, ds.test_label):
        assert bool(torch.isfinite(t).all())
    assert len(ds.input_names) == n_inputs and len(set(ds.input_names)) == n_inputs
    assert not set(ds.output_names) & set(ds.input_names)
    for column, (lo, hi) in enumerate(ds.input_ranges):
        assert lo <= float(ds.train_input[:, column].min()) and float(ds.train_input[:, column].max()) <= hi
    if name.startswith("special/"):
        assert ds.input_names == ("x", "y")
    again = load(name, n_train=64, n_test=16, seed=3, dtype=torch.float64)
    assert torch.equal(again.train_label, ds.train_label)


@pytest.mark.parametrize("name", TOY + SPECIAL)
def test_labels_are_the_spec_at_the_inputs(name):
    ds = load(name, n_train=32, n_test=8, dtype=torch.float64)
    expected = spec(name).evaluate(ds.train_input.numpy())
    np.testing.assert_allclose(ds.train_label[:, 0].numpy(), expected, rtol=0, atol=0)
    assert ds.formula == spec(name).expr


def test_toy_variable_names_and_descriptions():
    assert spec("toy/bessel_j0").variables == ("x",)
    assert spec("toy/exp_sin").variables == ("x", "y")
    assert spec("toy/exp_sin_4").variables == ("x_1", "x_2", "x_3", "x_4")
    assert spec("toy/exp_mean_sin2_100").variables == tuple(f"x_{i}" for i in range(1, 101))
    shapes = {"bessel_j0": "[1,1]", "exp_sin": "[2,1,1]", "xy": "[2,2,1]"}
    shapes |= {"exp_mean_sin2_100": "[100,1,1]", "exp_sin_4": "[4,4,2,1]"}
    for short, shape in shapes.items():
        assert f"KAN {shape}" in spec(f"toy/{short}").description
        assert spec(f"toy/{short}").ranges == ((-1.0, 1.0),) * len(spec(f"toy/{short}").variables)


HAND_VALUES = [
    ("toy/bessel_j0", [0.0], 1.0),
    ("toy/bessel_j0", [0.1], 0.22389077914123567),  # J0(2)
    ("toy/bessel_j0", [-0.05], 0.76519768655796655),  # J0(-1) = J0(1)
    ("toy/exp_sin", [0.5, 0.5], math.exp(1.25)),
    ("toy/exp_sin", [0.0, 0.0], 1.0),
    ("toy/exp_sin", [-0.5, 1.0], 1.0),
    ("toy/xy", [0.3, -0.7], -0.21),
    ("toy/xy", [1.0, 1.0], 1.0),
    ("toy/exp_mean_sin2_100", [1.0] * 100, math.e),
    ("toy/exp_mean_sin2_100", [0.0] * 100, 1.0),
    ("toy/exp_mean_sin2_100", [1.0, 0.0] * 50, math.exp(0.5)),
    ("toy/exp_mean_sin2_100", [-0.5] * 100, math.exp(0.5)),
    ("toy/exp_sin_4", [0.5, 0.5, 0.0, 0.0], math.exp(0.5)),
    ("toy/exp_sin_4", [1.0, 0.0, 0.5, -0.5], math.exp(0.5)),
    ("toy/exp_sin_4", [0.5, -0.5, 0.5, 0.5], math.e),
    ("toy/exp_sin_4", [0.0, 0.0, 0.0, 0.0], 1.0),
]


@pytest.mark.parametrize(("name", "point", "value"), HAND_VALUES)
def test_toy_hand_values(name, point, value):
    function_spec = spec(name)
    got_fn = function_spec.evaluate(np.array([point]))[0]
    got_expr = float(sympy.lambdify(function_spec.symbols(), function_spec.expr, modules="mpmath")(*point))
    assert got_fn == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert got_expr == pytest.approx(value, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", TOY)
def test_toy_fn_matches_expr(name):
    function_spec = spec(name)
    x = np.random.default_rng(0).uniform(-1, 1, size=(200, len(function_spec.variables)))
    lambdified = sympy.lambdify(function_spec.symbols(), function_spec.expr, modules=["scipy", "numpy"])
    np.testing.assert_allclose(function_spec.evaluate(x), lambdified(*x.T), rtol=1e-12, atol=1e-14)


def _sph(n, m):
    return lambda x, y: mpmath.spherharm(n, m, y, x).real  # mpmath: polar angle first, then azimuth


MPMATH = {
    "special/ellipj": (lambda x, y: mpmath.ellipfun("sn", x, m=y), [(0.3, 0.2), (-0.7, 0.5), (1.0, 0.95), (0.9, 1.0)]),
    "special/ellipkinc": (mpmath.ellipf, [(0.3, 0.2), (-0.7, 0.5), (1.0, 0.95), (0.9, 1.0)]),
    "special/ellipeinc": (mpmath.ellipe, [(0.3, 0.2), (-0.7, 0.5), (1.0, 0.95), (0.9, 1.0)]),
    "special/jv": (mpmath.besselj, [(0.0, 0.5), (0.7, 1.3), (1.5, 2.9), (2.0, 3.0)]),
    "special/yv": (mpmath.bessely, [(0.0, 0.5), (0.7, 1.3), (1.5, 2.9), (2.0, 0.5)]),
    "special/kv": (mpmath.besselk, [(0.0, 0.5), (0.7, 1.3), (1.5, 2.9), (2.0, 3.0)]),
    "special/iv": (mpmath.besseli, [(0.0, 0.5), (0.7, 1.3), (1.5, 2.9), (2.0, 3.0)]),
    "special/lpmv_m0": (lambda x, y: mpmath.legenp(x, 0, y), [(0.3, 0.5), (1.7, -0.6), (2.5, 0.8), (3.0, 0.7)]),
    "special/lpmv_m1": (lambda x, y: mpmath.legenp(x, 1, y), [(0.3, 0.5), (1.7, -0.6), (2.5, 0.8), (3.0, 0.3)]),
    "special/lpmv_m2": (lambda x, y: mpmath.legenp(x, 2, y), [(0.3, 0.5), (1.7, -0.6), (2.5, 0.8), (3.0, 0.3)]),
    "special/sph_harm_01": (_sph(1, 0), [(0.4, 0.3), (2.0, 2.5), (5.0, 1.2)]),
    "special/sph_harm_11": (_sph(1, 1), [(0.4, 0.3), (2.0, 2.5), (5.0, 1.2)]),
    "special/sph_harm_02": (_sph(2, 0), [(0.4, 0.3), (2.0, 2.5), (5.0, 1.2)]),
    "special/sph_harm_12": (_sph(2, 1), [(0.4, 0.3), (2.0, 2.5), (5.0, 1.2)]),
    "special/sph_harm_22": (_sph(2, 2), [(0.4, 0.3), (2.0, 2.5), (5.0, 1.2)]),
}


def test_every_special_function_has_mpmath_references():
    assert sorted(MPMATH) == SPECIAL


@pytest.mark.parametrize("name", SPECIAL)
def test_special_matches_mpmath(name):
    reference, points = MPMATH[name]
    function_spec = spec(name)
    for x, y in points:
        (lo_x, hi_x), (lo_y, hi_y) = function_spec.ranges
        assert lo_x <= x <= hi_x and lo_y <= y <= hi_y, (name, x, y)
    with mpmath.workdps(30):
        expected = np.array([float(reference(x, y)) for x, y in points])
    assert np.all(np.abs(expected) > 1e-2)  # points away from zeros, so a relative error is meaningful
    np.testing.assert_allclose(function_spec.evaluate(np.array(points)), expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("name", [n for n in SPECIAL if n != "special/ellipj"])
def test_special_sympy_expr_matches_scipy(name):
    function_spec = spec(name)
    _, points = MPMATH[name]
    lambdified = sympy.lambdify(function_spec.symbols(), function_spec.expr, modules="mpmath")
    with mpmath.workdps(30):
        from_sympy = np.array([float(mpmath.re(lambdified(x, y))) for x, y in points])
    np.testing.assert_allclose(function_spec.evaluate(np.array(points)), from_sympy, rtol=1e-10, atol=0)


def test_ellipj_has_no_sympy_form():
    assert spec("special/ellipj").expr is None
    assert "sn" in spec("special/ellipj").description


@pytest.mark.parametrize("m,n", [(0, 1), (1, 1), (0, 2), (1, 2), (2, 2)])
def test_sph_harm_expr_is_real_part_of_sympy_ynm(m, n):
    function_spec = spec(f"special/sph_harm_{m}{n}")
    x, y = function_spec.symbols()
    assert sympy.simplify(function_spec.expr - sympy.re(sympy.Ynm(n, m, y, x).expand(func=True))) == 0
    assert function_spec.expr.free_symbols <= {x, y}


def test_sph_harm_closed_forms():
    # Re Y_n^m(polar y, azimuth x) with the Condon-Shortley phase, written out by hand
    x, y = 0.9, 1.1
    closed = {
        "01": math.sqrt(3 / (4 * math.pi)) * math.cos(y),
        "11": -math.sqrt(3 / (8 * math.pi)) * math.sin(y) * math.cos(x),
        "02": math.sqrt(5 / (16 * math.pi)) * (3 * math.cos(y) ** 2 - 1),
        "12": -math.sqrt(15 / (8 * math.pi)) * math.sin(y) * math.cos(y) * math.cos(x),
        "22": math.sqrt(15 / (32 * math.pi)) * math.sin(y) ** 2 * math.cos(2 * x),
    }
    for mn, value in closed.items():
        assert spec(f"special/sph_harm_{mn}").evaluate(np.array([[x, y]]))[0] == pytest.approx(value, rel=1e-13)


def test_sph_harm_real_uses_the_old_scipy_api_when_sph_harm_y_is_missing(monkeypatch):
    new_api = scipy.special.sph_harm_y
    azimuth, polar = np.array([0.4, 2.0, 5.0]), np.array([0.3, 2.5, 1.2])
    expected = special_module.sph_harm_real(1, 2, azimuth, polar)

    def old_api(m, n, theta, phi):  # SciPy < 1.15: order, degree, azimuth, polar
        return new_api(n, m, phi, theta)

    monkeypatch.delattr(scipy.special, "sph_harm_y")
    monkeypatch.setattr(scipy.special, "sph_harm", old_api, raising=False)
    np.testing.assert_array_equal(special_module.sph_harm_real(1, 2, azimuth, polar), expected)


@pytest.mark.parametrize("name", SPECIAL)
def test_special_finite_on_a_dense_grid(name):
    (lo_x, hi_x), (lo_y, hi_y) = spec(name).ranges
    gx, gy = np.meshgrid(np.linspace(lo_x, hi_x, 201), np.linspace(lo_y, hi_y, 201))
    values = spec(name).evaluate(np.column_stack([gx.ravel(), gy.ravel()]))
    assert np.isfinite(values).all()
    assert np.abs(values).max() < 20.0  # no blow-up near a singularity


@pytest.mark.parametrize("name", SPECIAL)
def test_special_matches_mpmath_over_the_range(name):
    # a coarse grid (non-integer lpmv degrees: mpmath cannot converge on exact zeros)
    reference, _ = MPMATH[name]
    (lo_x, hi_x), (lo_y, hi_y) = spec(name).ranges
    points = [(x, y) for x in np.linspace(lo_x, hi_x, 6)[1:-1] + 0.013 for y in np.linspace(lo_y, hi_y, 6)]
    with mpmath.workdps(30):
        expected = np.array([float(reference(x, y)) for x, y in points])
    scale = np.abs(expected).max()
    np.testing.assert_allclose(spec(name).evaluate(np.array(points)), expected, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("name", TOY)
def test_toy_finite_on_a_dense_sample(name):
    function_spec = spec(name)
    n_var = len(function_spec.variables)
    if n_var <= 2:
        axes = np.meshgrid(*[np.linspace(-1, 1, 401)] * n_var)
        x = np.column_stack([a.ravel() for a in axes])
    else:
        x = np.random.default_rng(1).uniform(-1, 1, size=(20_000, n_var))
    assert np.isfinite(function_spec.evaluate(x)).all()
