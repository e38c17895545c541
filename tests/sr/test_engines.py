"""Symbolic-regression engines: budgets, cleaning, the operon engine recovering Feynman formulas, PySR detection."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import sympy

from kansci.sr import (
    BEST_LOSS_RATIO,
    Budget,
    Candidate,
    Engine,
    EngineResult,
    EngineUnavailable,
    OperonEngine,
    clean,
    complexity,
    crosscheck,
    get_engine,
    pysr_unavailable_reason,
    symbolically_equal,
)
from kansci.sr.base import check_data, pareto_front
from kansci.sr.operon_engine import operon_to_sympy
from kansci.symbolic import evaluate

X, Y = sympy.symbols("x y", real=True)
PYSR_MISSING = pysr_unavailable_reason()
OPERON = pytest.mark.needs("pyoperon")

# Budget of the recovery tests: 20 generations (deterministic for a seed), 120 s as a safety cap that never binds
# (measured 2-6 s per search on 2 cores). Which seed finds a formula depends on the CPU's floating point, so a
# formula counts as recovered when one of RECOVERY_SEEDS finds it (tried in order, stopping at the first).
# Seeds 0-5 that recovered it, measured: I.6.2a 5 of 6, I.12.2 5 of 6 (4 of 8 at 10 generations), I.34.8 6 of 6.
BUDGET = Budget(seconds=120, iterations=20, seed=0)
RECOVERY_SEEDS = (0, 1, 2)


def _feynman(name: str, n: int = 500, seed: int = 0):
    """Data of three Feynman formulas on the AI Feynman ranges (the Gaussian on a symmetric one)."""
    rng = np.random.default_rng(seed)
    if name == "I.6.2a":
        theta = sympy.Symbol("theta", real=True)
        x = rng.uniform(-3.0, 3.0, (n, 1))
        return (
            x,
            np.exp(-(x[:, 0] ** 2) / 2) / np.sqrt(2 * np.pi),
            ["theta"],
            sympy.exp(-(theta**2) / 2) / sympy.sqrt(2 * sympy.pi),
        )
    x = rng.uniform(1.0, 5.0, (n, 4))
    a, b, c, d = x.T
    if name == "I.12.2":
        q1, q2, eps, r = sympy.symbols("q1 q2 epsilon r", real=True)
        return x, a * b / (4 * np.pi * c * d**2), ["q1", "q2", "epsilon", "r"], q1 * q2 / (4 * sympy.pi * eps * r**2)
    q, v, B, p = sympy.symbols("q v B p", real=True)
    return x, a * b * c / d, ["q", "v", "B", "p"], q * v * B / p


# --- budget, data and engine lookup ------------------------------------------------


def test_budget_validates():
    assert Budget(seconds=None, iterations=5, seed=3).iterations == 5
    with pytest.raises(ValueError, match="seconds or iterations"):
        Budget(seconds=None, iterations=None)
    with pytest.raises(ValueError, match="seconds"):
        Budget(seconds=-1.0)
    with pytest.raises(ValueError, match="iterations"):
        Budget(iterations=0)
    with pytest.raises(ValueError, match="seed"):
        Budget(seed=-2)


def test_check_data_rejects_bad_inputs():
    x = np.ones((4, 2))
    check_data(x, np.ones((4, 1)), ["a", "b"])  # a column vector y is fine
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        check_data(x, np.ones(3), ["a", "b"])
    with pytest.raises(ValueError, match="X must have shape"):
        check_data(np.ones(4), np.ones(4), ["a"])
    with pytest.raises(ValueError, match="finite"):
        check_data(np.where(np.eye(4, 2) > 0, np.nan, 1.0), np.ones(4), ["a", "b"])
    with pytest.raises(ValueError, match="2 columns but got 1 names"):
        check_data(x, np.ones(4), ["a"])
    with pytest.raises(ValueError, match="distinct"):
        check_data(x, np.ones(4), ["a", "a"])


@OPERON
def test_get_engine_names_the_default():
    assert isinstance(get_engine(), OperonEngine)
    assert isinstance(get_engine("operon"), Engine)
    with pytest.raises(ValueError, match="'operon' is the default"):
        get_engine("eureqa")


@OPERON
def test_operon_options_are_checked():
    with pytest.raises(ValueError, match="through Budget"):
        OperonEngine(generations=5)
    with pytest.raises(ValueError, match="unknown pyoperon options"):
        OperonEngine(populaton_size=5)
    with pytest.raises(ValueError, match="precision"):
        OperonEngine(precision=0)
    assert OperonEngine(population_size=50).options["population_size"] == 50


def test_pysr_detection_imports_nothing():
    before = set(sys.modules)
    pysr_unavailable_reason()
    assert not {m for m in set(sys.modules) - before if m.split(".")[0] in ("pysr", "juliacall", "juliapkg")}


@pytest.mark.skipif(PYSR_MISSING is None, reason="PySR and Julia are installed here")
def test_pysr_unavailable_error_names_operon():
    with pytest.raises(EngineUnavailable, match="'operon'"):
        get_engine("pysr")


@pytest.mark.skipif(PYSR_MISSING is not None, reason=f"PySR/Julia missing: {PYSR_MISSING}")
def test_pysr_recovers_a_product():  # pragma: no cover - needs Julia
    x, y, names, truth = _feynman("I.34.8", n=200)
    result = get_engine("pysr").fit(x, y, names, Budget(seconds=120, iterations=20, seed=0))
    assert result.engine == "pysr"
    assert symbolically_equal(result.best.expr, truth)


# --- cleaning ---------------------------------------------------------------------------


def test_clean_snaps_simple_constants_and_keeps_others():
    raw = sympy.Float(0.50001) * X**2 + sympy.Float(3.1415927) * Y + sympy.Float(0.412345) * X + sympy.Float(2e-6)
    out = clean(raw, precision=4)
    assert out == X**2 / 2 + sympy.pi * Y + sympy.Float(0.412345) * X  # 0.412345 is no simple number: kept whole


def test_clean_drops_terms_negligible_on_the_data():
    x = np.random.default_rng(0).uniform(1, 2, (50, 2))
    raw = sympy.Float(2.4567) * X * Y + sympy.Float(3e-4) * X  # 3e-4 survives snapping, not the data test
    assert clean(raw, 4) == raw
    assert clean(raw, 4, x=x, variables=[X, Y]) == sympy.Float(2.4567) * X * Y
    with pytest.raises(ValueError, match="both x and variables"):
        clean(raw, 4, x=x)


def test_clean_undoes_genetic_detours():
    raw = sympy.log(sympy.exp(sympy.Float(0.25000001) * X / Y)) + sympy.exp(X) * sympy.exp(Y)
    assert clean(raw) == X / (4 * Y) + sympy.exp(X + Y)


def test_complexity_counts_tree_nodes():
    assert complexity(X) == 1
    assert complexity(2 * X) == 3
    assert complexity(X / Y) == 5
    assert complexity(sympy.exp(-(X**2) / 2)) == 6


def test_front_keeps_nondominated_and_picks_simplest_near_best():
    x = np.linspace(1, 2, 40)[:, None]
    y = 3 * x[:, 0] ** 2
    raw = [
        sympy.Float(4.5) * X,  # simple, poor
        sympy.Float(3.0) * X**2 + sympy.Float(0.001) * X**3,  # complex, nearly exact
        sympy.Float(3.0) * X**2,  # exact
        sympy.Float(2.0) * X**2 + X**3 + X,  # complex and worse: dominated
    ]
    front, best = pareto_front(raw, x, y, [X], precision=4)
    assert [c.complexity for c in front] == sorted(c.complexity for c in front)
    assert all(a.loss > b.loss for a, b in zip(front, front[1:]))
    assert best.expr == 3 * X**2 and best.loss < 1e-12
    assert all(isinstance(c, Candidate) for c in front) and len(front) == 2
    assert BEST_LOSS_RATIO > 1


@OPERON
def test_operon_trees_translate_with_argument_order():
    """Every tree of a short run, read as sympy, reproduces operon's own evaluation (sub/div/aq are not symmetric)."""
    from pyoperon.sklearn import SymbolicRegressor

    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 2.0, (100, 2))
    y = x[:, 0] / x[:, 1] - np.sqrt(x[:, 0]) + np.exp(-x[:, 1])
    regressor = SymbolicRegressor(
        allowed_symbols="add,sub,mul,div,aq,exp,log,sqrt,square,sin,tanh,constant,variable",
        objectives=["r2", "length"],
        population_size=100,
        generations=5,
        random_state=3,
        n_threads=1,
    )
    regressor.fit(x, y)
    symbol_of = dict(zip(regressor.variables_, (X, Y)))
    for entry in regressor.pareto_front_:
        expr = operon_to_sympy(entry["tree"], symbol_of)
        np.testing.assert_allclose(evaluate(expr, [X, Y], x), regressor.evaluate_model(entry["tree"], x), rtol=1e-4)


# --- recovery ------------------------------------------------------------------------


@OPERON
@pytest.mark.parametrize("name", ["I.6.2a", "I.12.2", "I.34.8"])
def test_operon_recovers_feynman_formulas(name):
    x, y, names, truth = _feynman(name)
    found = []
    for seed in RECOVERY_SEEDS:
        result = get_engine("operon").fit(x, y, names, dataclasses.replace(BUDGET, seed=seed))
        found.append(result.best.expr)
        if symbolically_equal(result.best.expr, truth, precision=4):
            break
    else:
        pytest.fail(f"no seed of {RECOVERY_SEEDS} recovered {truth}: {found}")
    assert isinstance(result, EngineResult) and result.engine == "operon"
    assert result.best in result.candidates
    assert result.best.loss < 1e-4  # cleaning drops terms below 1e-4 of the output (precision 4)
    assert result.settings["budget"] == {"seconds": 120, "iterations": 20, "seed": seed}
    assert result.settings["generations_run"] == 20 and result.settings["stopped_by"] == "generations"
    assert result.settings["versions"]["pyoperon"]
    x_new, y_new, _, _ = _feynman(name, n=200, seed=1)
    check = crosscheck(truth, result, x_new, y_new, names, truth=truth)
    assert check.verdict == "agree" and check.engine_vs_truth.verdict == "agree"


@OPERON
def test_operon_is_exact_on_a_product():
    x, y, names, _ = _feynman("I.34.8")
    q, v, B, p = sympy.symbols("q v B p", real=True)
    # every seed of 0-7 finds it within 10 generations (measured)
    result = get_engine().fit(x, y, names, Budget(seconds=120, iterations=10, seed=0))
    assert result.best.expr == q * v * B / p  # the exact formula after cleaning, no floats left


@OPERON
def test_the_same_budget_and_seed_give_the_same_formulas():
    """A search that stops on generations is a function of data, budget and seed, whatever the thread count."""
    x, y, names, _ = _feynman("I.12.2", n=200)
    budget = Budget(seconds=120, iterations=10, seed=1)  # a seed whose search wanders: a long, inexact formula
    runs = [get_engine(n_threads=threads).fit(x, y, names, budget) for threads in (1, 2)]
    fronts = [[(c.expr, c.loss) for c in run.candidates] for run in runs]
    assert fronts[0] == fronts[1]
    assert all(run.settings["stopped_by"] == "generations" for run in runs)


@OPERON
def test_a_seconds_budget_stops_the_search():
    x, y, names, _ = _feynman("I.34.8", n=200)
    result = get_engine().fit(x, y, names, Budget(seconds=1, iterations=None, seed=1))
    assert 1 <= result.settings["generations_run"] < 1000  # pyoperon's default is 1000 generations
    assert result.settings["stopped_by"] in ("seconds", "evaluations")
    assert result.seconds < 120  # a safety cap: 1 s of search plus start-up and cleaning (measured ~2 s)
