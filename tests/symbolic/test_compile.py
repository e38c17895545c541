"""Compiling formulas into KANs: the round trip formula -> KAN -> formula, exact evaluation, the numeric path."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

from kansci import KAN
from kansci.datasets import spec
from kansci.datasets.feynman import DIMENSIONLESS
from kansci.symbolic import compile_formula, formula, register, to_numeric, unfix, unregister

X, Y = sympy.symbols("x y", real=True)

pytestmark = pytest.mark.usefixtures("one_thread")

# a fixed sample of the paper's dimensionless Feynman equations: a gaussian, six inputs, a quotient of sums,
# a square root of a sum with a product, sin^2 over sin^2, a sum of two exps of one input, sin(x)^2/x^2, cos + cos^2
FEYNMAN_SAMPLE = ("I.6.2", "I.9.18", "I.16.6", "I.29.16", "I.30.3", "II.35.18", "III.9.52", "I.50.26")


def _exact(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with its float constants as the exact numbers they round (1.0 -> 1, 0.3989... -> 1/sqrt(2 pi))."""
    return expr.xreplace({f: sympy.nsimplify(f, [sympy.pi]) for f in expr.atoms(sympy.Float)})


def _round_trip_error(name: str) -> tuple[bool, float]:
    """Whether the compiled model's formula equals the equation, and the model's largest relative error."""
    equation = spec(f"feynman_dimless/{name}")
    model = compile_formula(equation.expr, equation.symbols(), ranges=equation.ranges, n_samples=200)
    (read,) = formula(model, equation.variables, simplify=False)
    same = sympy.simplify(_exact(read) - equation.expr) == 0
    lo, hi = np.array(equation.ranges).T
    x = lo + (hi - lo) * np.random.default_rng(1).random((500, len(lo)))
    with torch.no_grad():
        y = model(torch.as_tensor(x))[:, 0].numpy()
    expected = equation.evaluate(x)
    return same, float(np.max(np.abs(y - expected) / np.maximum(1.0, np.abs(expected))))


@pytest.mark.parametrize("name", FEYNMAN_SAMPLE)
def test_feynman_equation_round_trips_exactly(name):
    same, error = _round_trip_error(name)
    assert same
    assert error < 1e-10  # measured: at most 3.5e-16 (float64 rounding)


@pytest.mark.slow
def test_every_dimensionless_feynman_equation_round_trips():
    results = {name: _round_trip_error(name) for name in DIMENSIONLESS}
    failed = {name: r for name, r in results.items() if not (r[0] and r[1] < 1e-10)}
    assert not failed  # measured: all 27 equivalent, largest relative error 3.5e-16


@pytest.mark.parametrize(
    "expr, width",
    [
        (X * Y, [2, [0, 1]]),
        (X / Y, [2, [0, 1]]),
        (sympy.sin(X) + Y**2, [2, 1]),
        (sympy.exp(-(X**2)) * sympy.cos(Y), [2, [0, 1]]),  # exp(-x^2) is one gaussian edge
        (sympy.sqrt(X**2 + Y**2), [2, 1, 1]),
        (3 * sympy.sin(2 * X + 1) - 0.5, [2, 1]),  # constants are the edge's a, b, c, d
        (X + X**2, [2, 2, 1]),  # x and x^2 cannot share the edge from x: x^2 gets a node of its own
        (X**7 * Y, [2, [1, 1], [0, 1]]),  # x^7 = x^3 * x^4
        (X ** sympy.Rational(1, 3) + Y, [2, 2, 1]),  # exp(log(x) / 3)
        (2**X * Y, [2, [0, 1]]),
        (X**Y, [2, [0, 1], 1]),  # exp(y * log(x))
        (X, [2, 1]),
        (sympy.Integer(3), [2, 1]),
    ],
)
def test_small_formulas_round_trip(expr, width):
    model = compile_formula(expr, [X, Y])
    assert model.config.display_width() == width
    (read,) = formula(model, ["x", "y"], simplify=False)
    positive = {X: sympy.Symbol("x", positive=True), Y: sympy.Symbol("y", positive=True)}
    assert sympy.simplify((_exact(read) - expr).xreplace(positive)) == 0  # exp(y log x) is x**y for x > 0
    x = 0.5 + 1.5 * torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = sympy.lambdify([X, Y], expr, "numpy")(*x.numpy().T)
    with torch.no_grad():
        np.testing.assert_allclose(model(x)[:, 0].numpy(), np.broadcast_to(expected, (200,)), rtol=1e-12, atol=1e-12)


def test_unused_edges_are_masked_and_every_active_edge_is_symbolic():
    model = compile_formula("x * sin(y) + 1", ["x", "y", "z"])
    assert model.config.display_width() == [3, [0, 1], 1]
    for layer in model.layers:
        assert int(layer.mask.sum()) == len(layer.symbolic)
    assert formula(model, ["x", "y", "z"]) == [X * sympy.sin(Y) + 1]


def test_unknown_function_names_it_and_register():
    erf = sympy.erf(X) + Y
    with pytest.raises(ValueError, match=r"erf\(x\).*kansci\.symbolic\.register"):
        compile_formula(erf, [X, Y])
    register("erf", torch.erf, sympy.erf, 3)
    try:
        model = compile_formula(erf, [X, Y])
        (read,) = formula(model, ["x", "y"], simplify=False)
        assert sympy.simplify(_exact(read) - erf) == 0
    finally:
        unregister("erf")


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"\['z'\], which are not among variables"):
        compile_formula(X + sympy.Symbol("z"), [X, Y])
    with pytest.raises(ValueError, match="not both"):
        compile_formula(X, [X], x=torch.zeros(4, 1, dtype=torch.float64), ranges=[(0, 1)])
    with pytest.raises(ValueError, match="one \\(lo, hi\\)"):
        compile_formula(X * Y, [X, Y], ranges=[(0, 1)])
    with pytest.raises(ValueError, match="repeated"):
        compile_formula(X, ["x", "x"])
    with pytest.raises(ValueError, match="margin"):
        compile_formula(X * Y, [X, Y], ranges=[(0, 1), (0, 1)], margin=2.0)
    with pytest.raises(ValueError, match="not a finite real"):
        compile_formula(X + sympy.sqrt(-2), [X])


def test_grids_span_what_every_layer_sees():
    ranges = [(0.5, 2.0), (-1.0, 1.0)]
    model = compile_formula(sympy.sqrt(X**2 + Y**2) * sympy.cos(Y), [X, Y], ranges=ranges, margin=0.0)
    lo, hi = torch.tensor(ranges, dtype=torch.float64).T
    x = lo + (hi - lo) * torch.rand(1000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.cat([x, torch.cartesian_prod(*torch.tensor(ranges, dtype=torch.float64))])  # the corners
    for layer, values in zip(model.layers, model.layer_inputs(x)[:-1]):
        span = layer.grid[:, -1] - layer.grid[:, 0]
        torch.testing.assert_close(layer.grid[:, 0], values.min(0).values, rtol=0, atol=0.02 * float(span.max()))
        torch.testing.assert_close(layer.grid[:, -1], values.max(0).values, rtol=0, atol=0.02 * float(span.max()))


@pytest.mark.parametrize(
    "expr, ranges, tolerance",
    [  # measured at grid=10 (max error on 2000 fresh points): 2.6e-6, 4.2e-5, 1.2e-4, 2.5e-4
        (sympy.sin(X) + Y**2, [(-1, 1), (-1, 1)], 3e-5),
        (sympy.exp(-(X**2)) * sympy.cos(Y), [(-1, 1), (-1, 1)], 3e-4),
        (sympy.sqrt(X**2 + Y**2), [(0.5, 1.5), (0.5, 1.5)], 1e-3),
        (X / Y, [(-1, 1), (0.5, 2)], 1e-3),
    ],
)
def test_to_numeric_stays_close_to_the_formula(expr, ranges, tolerance):
    model = compile_formula(expr, [X, Y], ranges=ranges, grid=10)
    lo, hi = torch.tensor(ranges, dtype=torch.float64).T
    fresh = lo + (hi - lo) * torch.rand(2000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    values = sympy.lambdify([X, Y], expr, "numpy")(*fresh.numpy().T)
    expected = torch.as_tensor(np.broadcast_to(values, (2000,)).copy())

    gen = torch.Generator().manual_seed(0)
    corners = torch.cartesian_prod(*torch.tensor(ranges, dtype=torch.float64))
    samples = torch.cat([lo + (hi - lo) * torch.rand(1000, 2, generator=gen, dtype=torch.float64), corners])
    numeric = to_numeric(model, samples)
    assert all(len(layer.symbolic) == 0 for layer in numeric.layers)
    assert all(len(layer.symbolic) > 0 for layer in model.layers)  # the caller's model is untouched
    assert [layer.mask.tolist() for layer in numeric.layers] == [layer.mask.tolist() for layer in model.layers]
    with torch.no_grad():
        assert float((numeric(fresh)[:, 0] - expected).abs().max()) < tolerance
        unfix(model)  # compiled with ranges, its splines were already fit: un-fixing alone makes it numeric
        assert float((model(fresh)[:, 0] - expected).abs().max()) < tolerance


def test_numeric_model_trains():
    model = to_numeric(compile_formula(X * sympy.sin(Y), [X, Y], ranges=[(-1, 1), (0, 3)]), _box([(-1, 1), (0, 3)]))
    assert isinstance(model, KAN)
    x = _box([(-1, 1), (0, 3)])
    loss = (model(x)[:, 0] - x[:, 0] * torch.sin(x[:, 1]) - 0.1 * x[:, 0]).square().mean()  # a correction to learn
    loss.backward()
    grads = [layer.coef.grad for layer in model.layers]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def _box(ranges) -> torch.Tensor:
    lo, hi = torch.tensor(ranges, dtype=torch.float64).T
    gen = torch.Generator().manual_seed(5)
    return lo + (hi - lo) * torch.rand(500, len(ranges), generator=gen, dtype=torch.float64)
