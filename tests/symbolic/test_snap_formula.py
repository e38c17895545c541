"""Snapping a KAN to symbols and reading its formula: constants, composition, the paper's workflows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

import kansci
from kansci import KAN
from kansci.datasets import from_function, load
from kansci.symbolic import (
    auto_symbolic,
    evaluate,
    fix_symbolic,
    formula,
    latex,
    register,
    snap_constants,
    symbols,
    tidy,
    unregister,
)
from tests.conftest import float64

X, Y = sympy.symbols("x y", real=True)


pytestmark = pytest.mark.usefixtures("one_thread")


def _exp_sin_model(inner_shift=0.0, outer_scale=1.0):
    """[2,1,1] computing exp(sin(pi x) + y^2) exactly, constants spread over the layers."""
    model = KAN([2, 1, 1], grid=5, seed=0, dtype=torch.float64)
    model.layers[0].symbolic.set(0, 0, "sin", (math.pi, 0.0, 1.0, inner_shift))
    model.layers[0].symbolic.set(1, 0, "x^2", (1.0, 0.0, 1.0, -inner_shift))
    model.layers[1].symbolic.set(0, 0, "exp", (1.0, -math.log(outer_scale), outer_scale, 0.0))
    return model


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_snap_constants_to_simple_numbers_and_digits():
    expr = (
        sympy.Float(3.14159265) * X
        + sympy.Float(0.3333333) * Y
        + sympy.Float(2e-6) * X * Y
        + sympy.Float(2.718281828)
        + sympy.Float(123456.7) * Y**2
    )
    snapped = snap_constants(expr, 4)
    expected = sympy.pi * X + Y / 3 + sympy.Float(2.718, 4) + sympy.Float(123500.0, 4) * Y**2
    assert sympy.simplify(snapped - expected) == 0
    assert snap_constants(sympy.Float(-1.50004) * X, 4) == -sympy.Rational(3, 2) * X
    # physics' other simple numbers: 1/(4 pi) and a normal distribution's 1/sqrt(2 pi)
    assert snap_constants(sympy.Float(0.0795775) * X, 4) == X / (4 * sympy.pi)
    assert snap_constants(sympy.Float(0.3989423) * X, 4) == X / sympy.sqrt(2 * sympy.pi)
    assert snap_constants(sympy.Float(0.412345) * X, 4) == sympy.Float(0.4123, 4) * X
    with pytest.raises(ValueError, match="precision"):
        snap_constants(expr, 0)


def test_tidy_pulls_constant_factors_out_of_fractional_powers_before_rounding():
    # a KAN's sqrt edge fed by x^2 edges (Feynman III.10.19): every constant rounded alone reads 0.9999
    c = 0.0194858
    expr = sympy.Float(1 / math.sqrt(c)) * sympy.sqrt(c * X**2 + c * Y**2 + c)
    assert tidy(expr, 4) == sympy.sqrt(X**2 + Y**2 + 1)
    assert sympy.expand(snap_constants(sympy.expand(expr), 4)) != sympy.sqrt(X**2 + Y**2 + 1)  # the old reading
    # a negative largest coefficient: its magnitude is pulled out, the branch of the root is kept
    assert tidy(sympy.Float(1 / math.sqrt(0.3)) * sympy.sqrt(0.1 - 0.3 * X), 4) == sympy.sqrt(sympy.Rational(1, 3) - X)
    assert tidy(sympy.sqrt(X**2 + 1), 4) == sympy.sqrt(X**2 + 1)  # nothing to pull out
    assert tidy((2 * X + 3) ** 2, 4) == 4 * X**2 + 12 * X + 9  # integer powers are expanded as before


def test_tidy_snaps_exponents_before_expanding_so_like_terms_cancel_exactly():
    # the KAN formula of Feynman II.38.3 (a/b), as read: two 1/b terms whose constants cancel only at full precision
    expr = sympy.sympify(
        "-1.1788878463959511*(1.0 - 0.84825711141937536*x)**0.99999999995678589"
        "/(1.0*y - 6.942539997174982e-10)**0.99999999917301869 + 5.0992576827724179e-10"
        " - 0.52010524405712244/(-0.44118297229644729*y - 1.2861207627319545e-11*sqrt(1.0 - 0.92493545157421777*x)"
        " + 1.4297706944711892e-10)",
        locals={"x": X, "y": Y},
    )
    assert tidy(expr, 4) == X / Y  # before: 1.0*x/y - 0.0001678/y
    kept = tidy(X ** sympy.Float(1.3719), 4)  # no simple rational within 1e-4: the exponent stays a number
    assert kept.exp.is_Float and float(kept.exp) == pytest.approx(1.372, abs=1e-4)


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.3, 2.0)])
def test_formula_of_an_exact_model(shift, scale):
    model = _exp_sin_model(shift, scale)
    [expr] = formula(model, ["x", "y"])
    assert expr == sympy.exp(sympy.sin(sympy.pi * X) + Y**2)
    # unrounded: reproduces the model to rounding error on held-out points
    x = float64(500, 2, seed=3)
    [raw] = formula(model, ["x", "y"], precision=None)
    np.testing.assert_allclose(evaluate(raw, symbols(model, ["x", "y"]), x), model(x).detach()[:, 0], atol=1e-12)
    assert latex(expr) == r"e^{y^{2} + \sin{\left(\pi x \right)}}"


def test_formula_needs_every_active_edge_symbolic_and_names_follow_input_ids():
    model = KAN([3, 1], grid=5, seed=0, dtype=torch.float64, input_ids=(0, 2, 4))
    model.layers[0].symbolic.set(0, 0, "x", (2.0, 0.0, 1.0, 0.0))
    model.layers[0].symbolic.set(2, 0, "cos", (1.0, 0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match=r"1 active edges are not symbolic.*\(0,1,0\)"):
        formula(model)
    with torch.no_grad():
        model.layers[0].mask[1, 0] = 0.0
    assert formula(model) == [2 * sympy.Symbol("x_1", real=True) + sympy.cos(sympy.Symbol("x_5", real=True))]
    names = ["a", "b", "c", "d", "e"]
    assert formula(model, names) == [2 * sympy.Symbol("a", real=True) + sympy.cos(sympy.Symbol("e", real=True))]
    with pytest.raises(ValueError, match="one name per column"):
        formula(model, ["a", "b"])


def test_auto_symbolic_recovers_exact_edges_and_reports():
    """A [2,1,1] whose splines are fit to known curves snaps back to them, constant edges to "0"."""
    model = _exp_sin_model(0.2, 1.5)
    x = float64(2000, 2, seed=1)
    target = model(x).detach()
    report = auto_symbolic(model, x, refit=True)  # refits the exact symbolic edges from their own data
    assert [(c.layer, c.i, c.o, c.fit.name) for c in report] == [(0, 0, 0, "sin"), (0, 1, 0, "x^2"), (1, 0, 0, "exp")]
    assert all(c.fixed and c.fit.r2 > 1 - 1e-12 for c in report)
    torch.testing.assert_close(model(x).detach(), target, rtol=0, atol=1e-8)
    # a flat edge becomes the constant; a threshold of 1 keeps imperfect edges numeric
    flat = KAN([1, 1], grid=5, seed=0, dtype=torch.float64, noise_scale=0.0, scale_base_sigma=0.0)
    [choice] = auto_symbolic(flat, float64(50, 1))
    assert choice.fit.name == "0" and choice.fixed
    noisy = KAN([1, 1], grid=5, seed=0, dtype=torch.float64)
    [choice] = auto_symbolic(noisy, float64(50, 1), r2_threshold=1.0, lib=["x", "x^2"])
    assert not choice.fixed and len(noisy.layers[0].symbolic) == 0
    with pytest.raises(ValueError, match="needs data as a kansci Dataset"):
        auto_symbolic(noisy, float64(50, 1), retrain_steps=5)


def test_fix_symbolic_fits_one_edge():
    data = from_function(lambda t: 0.5 * torch.sin(2 * t[:, :1] + 0.3) + 0.1, 1, n_train=400, dtype=torch.float64)
    model = KAN([1, 1], grid=20, seed=0, dtype=torch.float64)
    kansci.fit(model, data, steps=20)
    fit = fix_symbolic(model, 0, 0, 0, "sin", x=data.train_input, refine_steps=20)
    assert fit.r2 > 1 - 1e-8
    expected = 0.5 * torch.sin(2 * data.test_input + 0.3) + 0.1
    torch.testing.assert_close(model(data.test_input).detach(), expected, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="exactly one of"):
        fix_symbolic(model, 0, 0, 0, "sin")
    with pytest.raises(IndexError, match="layer 3 does not exist"):
        fix_symbolic(model, 3, 0, 0, "sin", params=(1, 0, 1, 0))


# --- the paper's workflows (issue acceptance) ----------------------------------------


def _first_success(workflow, seeds) -> None:
    """Run ``workflow(seed)`` over a fixed set of seeds until one succeeds; fail naming each seed's outcome.

    A workflow returns None when it recovers the formula, else what went wrong. Training is chaotic in round-off,
    so which seeds land in the right basin depends on the CPU's kernels; the pipeline is broken only when every
    seed of the set fails. The first seed succeeds on the machines measured, so the test costs one run there.
    """
    outcomes = {}
    for seed in seeds:
        outcome = workflow(seed)
        if outcome is None:
            return
        outcomes[seed] = outcome
    pytest.fail(f"no seed of {tuple(seeds)} recovered the formula: {outcomes}")


def _exp_sin_workflow(seed: int) -> str | None:
    f = lambda t: torch.exp(torch.sin(torch.pi * t[:, :1]) + t[:, 1:2] ** 2)  # noqa: E731
    data = from_function(f, 2, n_train=1000, n_test=1000, seed=0, dtype=torch.float64)
    model = KAN([2, 5, 1], grid=5, seed=seed, dtype=torch.float64)
    kansci.fit(model, data, steps=50, lamb=1e-2)
    model = kansci.prune(model, data.train_input)
    if model.width != (2, 1, 1):
        return f"pruned to {model.width}"
    kansci.fit(model, data, steps=50)
    names = [c.fit.name for c in auto_symbolic(model, data)]
    if names != ["sin", "x^2", "exp"]:
        return f"snapped to {names}"
    kansci.fit(model, data, steps=50, update_grid=False)
    error = kansci.rmse(model, data.train_input, data.train_label)
    if not error < 1e-8:  # a spline fit stays above 1e-6
        return f"train RMSE {error:.2g} after snapping"
    [expr] = formula(model, ["x", "y"], precision=4)
    if sympy.simplify(expr - sympy.exp(sympy.sin(sympy.pi * X) + Y**2)) != 0:
        return f"formula {expr}"
    return None


def test_paper_workflow_exp_sin():
    """exp(sin(pi x) + y^2): [2,5,1], sparsify, prune to [2,1,1], auto_symbolic, retrain (arXiv 2404.19756, §2.5).

    Seed 1 measured: prunes to [2,1,1], snaps to sin, x^2, exp, train RMSE 4.4e-16 (4.5e-11 earlier), the exact
    formula, under OMP_NUM_THREADS=1 and MKL_CBWR=COMPATIBLE (and passes with the default settings); seed 2
    prunes to [2,2,1].
    """
    _first_success(_exp_sin_workflow, (1, 2, 3))


def _xy_workflow(seed: int) -> str | None:
    data = from_function(lambda t: t[:, :1] * t[:, 1:2], 2, n_train=1000, n_test=1000, seed=0, dtype=torch.float64)
    model = KAN([2, 2, 1], grid=5, seed=seed, dtype=torch.float64)
    for grid in (5, 10, 20):
        model = model if grid == 5 else model.refine(grid, data.train_input)
        kansci.fit(model, data, steps=50)
    names = [c.fit.name for c in auto_symbolic(model, data, retrain_steps=20)]
    if names != ["x"] * 4 + ["x^2"] * 2:
        return f"snapped to {names}"
    kansci.fit(model, data, steps=50, update_grid=False)
    error = kansci.rmse(model, data.test_input, data.test_label)
    if not error < 1e-8:  # a spline fit stays above 1e-6
        return f"test RMSE {error:.2g} after snapping"
    if formula(model, ["x", "y"]) != [X * Y]:
        return f"formula {formula(model, ['x', 'y'])}"
    return None


def test_xy_recovered_exactly():
    """x*y with [2,2,1]: snap layer by layer (retraining in between) to x edges then x^2 edges.

    Seed 0 measured: test RMSE 2.3e-16 under OMP_NUM_THREADS=1, 1.2e-16 under MKL_CBWR=COMPATIBLE, 3.7e-10 on
    CI's CPU (LBFGS stops at a different point), the formula x*y each time.
    """
    _first_success(_xy_workflow, (0, 1, 2))


def test_toy_bessel_with_a_registered_function():
    """J0(20x) with [1,1]: a user-registered Bessel function; formula RMSE within 10x of the numeric KAN's."""
    register("J0", torch.special.bessel_j0, lambda t: sympy.besselj(0, t), 3)
    try:
        data = from_function(
            lambda t: torch.special.bessel_j0(20 * t), 1, n_train=1000, n_test=1000, seed=0, dtype=torch.float64
        )
        model = KAN([1, 1], grid=20, seed=0, dtype=torch.float64)
        kansci.fit(model, data, steps=50)
        model = model.refine(50, data.train_input)
        kansci.fit(model, data, steps=50)
        numeric = kansci.rmse(model, data.test_input, data.test_label)  # measured 3.4e-4
        [choice] = auto_symbolic(model, data, a_range=(-30.0, 30.0))
        assert choice.fit.name == "J0"
        kansci.fit(model, data, steps=50, update_grid=False)
        [expr] = formula(model)
        assert expr == sympy.besselj(0, 20 * sympy.Symbol("x_1", real=True))
        error = _rmse(evaluate(expr, symbols(model), data.test_input), data.test_label[:, 0])
        assert error < 10 * numeric  # measured 5e-8
    finally:
        unregister("J0")


def _deep_workflow(seed: int) -> str | None:
    data = load("toy/exp_sin_4", n_train=3000, n_test=1000, seed=0, dtype=torch.float64)
    model = KAN([4, 4, 2, 1], grid=5, seed=seed, dtype=torch.float64)
    kansci.fit(model, data, steps=100, lamb=1e-3)
    model = kansci.prune(model, data.train_input)
    if model.width != (4, 2, 1, 1):
        return f"pruned to {model.width}"
    kansci.fit(model, data, steps=100)
    numeric = kansci.rmse(model, data.test_input, data.test_label)  # measured 1.8e-3
    report = auto_symbolic(model, data, retrain_steps=20)
    names = sorted(c.fit.name for c in report if c.fit.name != "0")
    if names != ["exp", "sin", "sin"] + ["x^2"] * 4:
        return f"snapped to {names}"
    kansci.fit(model, data, steps=50, update_grid=False)
    [expr] = formula(model, precision=4)
    x1, x2, x3, x4 = symbols(model)
    truth = sympy.exp((sympy.sin(sympy.pi * (x1**2 + x2**2)) + sympy.sin(sympy.pi * (x3**2 + x4**2))) / 2)
    if sympy.simplify(expr - truth) != 0:
        return f"formula {expr}"
    error = _rmse(evaluate(expr, symbols(model), data.test_input), data.test_label[:, 0])
    # the bar is 10x the numeric KAN's error; the formula is exact: measured 1.7e-16 (round-off)
    if not (error < 10 * numeric and error < 1e-10):
        return f"formula RMSE {error:.2g} against the numeric KAN's {numeric:.2g}"
    return None


@pytest.mark.slow  # about 2 minutes when the first seed succeeds, up to 10 when none does
def test_toy_four_inputs_deep_formula_after_sparsify_and_prune():
    """exp((sin(pi(x1^2+x2^2)) + sin(pi(x3^2+x4^2)))/2): [4,4,2,1], sparsify, prune to [4,2,1,1], snap.

    The paper's deepest toy function. Most seeds of [4,4,2,1] (and of [4,2,1,1] trained directly, as in
    pykan's example) stop in a basin that mixes the two input pairs (test RMSE 0.05-0.4); seed 0 with
    3000 points separates them (measured: 1 of 5 seeds at lamb 1e-3). That basin held under two BLAS
    threads and a 1e-12 relative perturbation of the initial parameters (both prune to [4,2,1,1]). The other
    seeds of the set give a CPU whose round-off sends seed 0 elsewhere more chances; at about 1 in 5 seeds
    separating, that is a weak guarantee, and only seed 0 is measured here.
    """
    _first_success(_deep_workflow, (0, 1, 2, 3, 4))
