"""The held-out recovery formulas parse, use their declared variables, and are finite and smooth on their boxes."""

import numpy as np
import pytest
import sympy

from tests.fixtures.recovery_formulas import FORMULAS


def test_the_set_is_the_one_written_down():
    assert len(FORMULAS) >= 10
    assert len({f.name for f in FORMULAS}) == len(FORMULAS)
    assert all(2 <= len(f.variables) <= 3 and len(f.ranges) == len(f.variables) for f in FORMULAS)


@pytest.mark.parametrize("formula", FORMULAS, ids=lambda f: f.name)
def test_formula_is_finite_with_bounded_gradient_on_its_box(formula):
    symbols = sympy.symbols(formula.variables)
    expr = sympy.sympify(formula.expression, locals=dict(zip(formula.variables, symbols)))
    assert expr.free_symbols == set(symbols)
    rng = np.random.default_rng(0)
    lo, hi = np.array(formula.ranges).T
    points = lo + (hi - lo) * rng.random((2000, len(symbols)))
    values = sympy.lambdify(symbols, expr, "numpy")(*points.T)
    assert np.isfinite(values).all() and np.ptp(values) > 0.1
    for s in symbols:  # smooth on the box: no derivative blows up at the sampled points
        slope = sympy.lambdify(symbols, sympy.diff(expr, s), "numpy")(*points.T)
        assert np.isfinite(slope).all() and np.abs(slope).max() < 100
