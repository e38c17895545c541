"""Cross-checks: verdicts on equivalent, wrong and nearly equal formulas; KAN formulas; xarray and markdown output."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

from kansci import KAN
from kansci.netcdf import read, write
from kansci.sr import (
    CONSTANT_SLACK,
    NUMERIC_AGREEMENT,
    VERDICTS,
    Agreement,
    Candidate,
    EngineResult,
    crosscheck,
    markdown_table,
    symbolically_equal,
)
from kansci.symbolic import formula

X, Y = sympy.symbols("x y", real=True)
THETA = sympy.Symbol("theta", real=True)
GAUSS = sympy.exp(-(THETA**2) / 2) / sympy.sqrt(2 * sympy.pi)


def _heldout(truth: sympy.Expr, names: list[str], lo: float, hi: float, n: int = 300, seed: int = 7):
    x = np.random.default_rng(seed).uniform(lo, hi, (n, len(names)))
    fn = sympy.lambdify([sympy.Symbol(s, real=True) for s in names], truth, "numpy")
    return x, np.broadcast_to(fn(*x.T), (n,)).astype(np.float64)


def _check(kan, truth, names=("x",), lo=-1.0, hi=1.0, precision=4):
    x, y = _heldout(truth, list(names), lo, hi)
    return crosscheck(kan, truth, x, y, list(names), truth=truth, precision=precision)


# --- verdicts --------------------------------------------------------------------------


def test_thresholds_and_verdicts():
    assert NUMERIC_AGREEMENT == 1e-3 and CONSTANT_SLACK == 10
    assert Agreement(True, 0.0).verdict == "agree"
    assert Agreement(False, NUMERIC_AGREEMENT).verdict == "agree numerically only"
    assert Agreement(False, 2 * NUMERIC_AGREEMENT).verdict == "disagree"
    assert Agreement(True, 2 * NUMERIC_AGREEMENT).verdict == "disagree"  # equal only after rounding to 0
    assert VERDICTS == ("agree", "agree numerically only", "disagree")


@pytest.mark.parametrize(
    "kan, truth",
    [
        (sympy.sin(X + sympy.Float(1.5707963)), sympy.cos(X)),  # a KAN's numeric phase, read as pi/2
        ((X + 1) ** 2 * (Y - 2), X**2 * Y - 2 * X**2 + 2 * X * Y - 4 * X + Y - 2),  # factored vs expanded
        (2 * sympy.sin(X) * sympy.cos(X), sympy.sin(2 * X)),
        (sympy.exp(X) * sympy.exp(2 * Y) / 3, sympy.exp(X + 2 * Y) / 3),
        (sympy.Float(0.3989) * sympy.exp(-sympy.Float(0.4999) * THETA**2), GAUSS),  # rounded to 4 digits
        (Y * sympy.sech(X) / 2, Y / (sympy.exp(X) + sympy.exp(-X))),
        (Y / (2 * sympy.cosh(X)), Y / (sympy.exp(X) + sympy.exp(-X))),  # hyperbolic functions are exponentials
    ],
)
def test_equivalent_formulas_agree(kan, truth):
    names = sorted(s.name for s in truth.free_symbols)
    check = _check(kan, truth, names, lo=-2.0, hi=2.0)
    assert check.verdict == "agree"
    assert check.between.symbolic
    assert check.between.relative_rmse < 2e-4
    assert check.kan_vs_truth.verdict == "agree" and check.engine_vs_truth.verdict == "agree"


@pytest.mark.parametrize(
    "kan",
    [
        sympy.Float(1.05) * GAUSS,  # a constant off by 5%
        sympy.Float(0.3989) * sympy.exp(-sympy.Float(0.52) * THETA**2),  # off by 4% in the exponent
        sympy.Float(0.3989) * sympy.cos(sympy.Float(0.7) * THETA),  # a swapped function
    ],
)
def test_wrong_formulas_disagree(kan):
    check = _check(kan, GAUSS, ["theta"], lo=-3.0, hi=3.0)
    assert check.verdict == "disagree"
    assert check.kan_vs_truth.verdict == "disagree" and check.engine_vs_truth.verdict == "agree"
    assert not check.between.symbolic and check.between.relative_rmse > 0.01
    assert check.kan_rmse > 0.01 and check.engine_rmse < 1e-12


@pytest.mark.parametrize(
    "extra, precision, verdict",
    [
        (1e-7, 4, "agree"),  # below the precision: the term rounds away
        (2e-4, 4, "agree numerically only"),  # a real term, but relative RMSE 1.3e-4 < 1e-3
        (1e-7, 8, "agree numerically only"),  # at 8 digits 1e-7 is a real term
        (1e-2, 4, "disagree"),
    ],
)
def test_nearly_equal_formulas(extra, precision, verdict):
    truth = sympy.sin(X) + X**2 / 3
    check = _check(truth + sympy.Float(extra) * X**3, truth, precision=precision)
    assert check.verdict == verdict
    assert check.between.symbolic == (verdict == "agree")


def test_rounding_to_zero_is_not_agreement():
    """Constants below 10**-precision all snap to 0: the symbols match but the numbers show the difference."""
    truth = sympy.Float(3e-6) * X
    check = _check(sympy.Float(5e-6) * X**2, truth, lo=1.0, hi=2.0)
    assert check.between.symbolic
    assert check.verdict == "disagree"


def test_symbolic_equality_uses_the_constant_slack():
    rtol = CONSTANT_SLACK * 1e-4
    assert symbolically_equal(sympy.Float(1.2345 * (1 + 0.9 * rtol)) * sympy.exp(X), sympy.Float(1.2345) * sympy.exp(X))
    assert not symbolically_equal(
        sympy.Float(1.2345 * (1 + 2 * rtol)) * sympy.exp(X), sympy.Float(1.2345) * sympy.exp(X)
    )


# --- a KAN formula ---------------------------------------------------------------------


def _kan_exp_sin(phase: float = 0.0):
    """[2,1,1] KAN computing exp(sin(pi x + phase) + y^2) exactly, constants spread over layers."""
    model = KAN([2, 1, 1], grid=5, seed=0, dtype=torch.float64)
    model.layers[0].symbolic.set(0, 0, "sin", (math.pi, phase, 1.0, 0.5))
    model.layers[0].symbolic.set(1, 0, "x^2", (1.0, 0.0, 1.0, -0.5))
    model.layers[1].symbolic.set(0, 0, "exp", (1.0, 0.0, 1.0, 0.0))
    return model


@pytest.mark.parametrize("phase, verdict", [(0.0, "agree"), (0.1, "disagree")])
def test_kan_formula_against_truth(phase, verdict):
    truth = sympy.exp(sympy.sin(sympy.pi * X) + Y**2)
    kan = formula(_kan_exp_sin(phase), ["x", "y"])[0]
    check = _check(kan, truth, ["x", "y"])
    assert check.verdict == verdict
    assert check.kan_vs_truth.verdict == verdict


# --- inputs --------------------------------------------------------------------------


def test_engine_results_and_candidates_stand_for_their_formula():
    x, y = _heldout(GAUSS, ["theta"], -3, 3)
    candidate = Candidate(sympy.Float(0.398942) * sympy.exp(-(THETA**2) / 2), 1e-9, 8, GAUSS)
    result = EngineResult((candidate,), candidate, 0.1, "operon")
    for engine in (candidate, result):
        assert crosscheck(GAUSS, engine, x, y, ["theta"]).verdict == "agree"


def test_symbols_are_matched_by_name():
    x, y = _heldout(GAUSS, ["theta"], -3, 3)
    plain = sympy.Symbol("theta")  # no assumptions: a different sympy symbol, the same name
    check = crosscheck(GAUSS.subs(THETA, plain), GAUSS, x, y, ["theta"])
    assert check.verdict == "agree" and check.truth is None and check.kan_vs_truth is None


def test_inputs_are_validated():
    x, y = _heldout(GAUSS, ["theta"], -3, 3)
    with pytest.raises(ValueError, match="not among names"):
        crosscheck(X, GAUSS, x, y, ["theta"])
    with pytest.raises(ValueError, match="1 columns but got 2 names"):
        crosscheck(GAUSS, GAUSS, x, y, ["theta", "phi"])
    with pytest.raises(ValueError, match="shape"):
        crosscheck(GAUSS, GAUSS, x, y[:-1], ["theta"])
    with pytest.raises(ValueError, match="finite"):
        crosscheck(GAUSS, GAUSS, x, np.where(y > 0.3, np.nan, y), ["theta"])
    with pytest.raises(TypeError, match="pick one output"):
        crosscheck([GAUSS], GAUSS, x, y, ["theta"])
    with pytest.raises(ValueError, match="precision"):
        crosscheck(GAUSS, GAUSS, x, y, ["theta"], precision=0)


# --- output ----------------------------------------------------------------------------


def test_to_xarray_round_trips_through_netcdf(tmp_path):
    check = _check(sympy.Float(1.05) * GAUSS, GAUSS, ["theta"], lo=-3.0, hi=3.0)
    ds = check.to_xarray()
    assert list(ds["formula"].values) == ["kan", "engine", "truth"]
    assert str(ds["verdict"].values) == "disagree"
    assert list(ds["verdict_vs_truth"].values) == ["disagree", "agree", "agree"]
    assert ds.attrs["precision"] == 4 and ds.attrs["numeric_agreement"] == NUMERIC_AGREEMENT
    back = read(write(ds, tmp_path / "check.nc"))
    assert sympy.sympify(str(back["sympy"].values[2]), locals={"theta": THETA}) == check.truth
    np.testing.assert_allclose(back["relative_rmse_vs_data"].values, ds["relative_rmse_vs_data"].values)
    assert "\\theta" in str(back["latex"].values[0])


def test_markdown_table():
    good = _check(sympy.Float(0.3989) * sympy.exp(-(THETA**2) / 2), GAUSS, ["theta"], lo=-3.0, hi=3.0)
    bad = _check(sympy.Abs(X), X, lo=-1.0, hi=1.0)
    table = markdown_table([good, bad], ["I.6.2a", "abs|x"])
    lines = table.splitlines()
    assert lines[0].startswith("| case | KAN | engine | truth |")
    assert lines[2].startswith("| I.6.2a | $0.3989 e^{- \\frac{\\theta^{2}}{2}}$")
    assert "| agree |" in lines[2] and "| disagree |" in lines[3]
    assert all(line.count("|") - line.count("\\|") == 12 for line in lines[:4])  # pipes in cells are escaped
    assert "at most 0.001" in table
    with pytest.raises(ValueError, match="one label per check"):
        markdown_table([good], ["a", "b"])


def test_formulas_that_differ_at_sample_points_are_told_apart_before_sympy_simplifies():
    """An engine's product of cosines against a*sinc^2 (Feynman III.9.52): sympy's trigsimp ran for over an hour
    on such a difference in the study; the sample points answer first."""
    a, b, c = sympy.symbols("a b c", real=True)
    engine = (
        sympy.Float(0.4473)
        * a
        * sympy.cos(sympy.Float(0.2702) * b - sympy.Float(0.2711) * c)
        * sympy.cos(sympy.Float(0.4568) * b - sympy.Float(0.4553) * c)
        + sympy.Float(0.5525) * a * sympy.cos(sympy.Float(0.2702) * b - sympy.Float(0.2711) * c) ** 2
    )
    truth = a * sympy.sin(b / 2 - c / 2) ** 2 / (b / 2 - c / 2) ** 2
    assert not symbolically_equal(engine, truth)
    # equal formulas still pass, whatever their form
    assert symbolically_equal(sympy.sin(a) ** 2 + sympy.cos(a) ** 2, sympy.Integer(1))
    assert symbolically_equal(sympy.Float(2.0) * sympy.sin(a) * sympy.cos(a), sympy.sin(2 * a))
