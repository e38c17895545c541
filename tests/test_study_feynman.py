"""The Feynman study, quick: outputs written, formulas read from every KAN, verdicts recorded."""

import numpy as np
import pytest
import sympy
import xarray as xr

from kansci.studies import feynman


@pytest.mark.needs("pyoperon")
def test_quick_study(tmp_path):
    ds = feynman.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "rmse.png", "summary.md", "runs"}
    assert list(ds["equation"].values) == list(feynman.QUICK_EQUATIONS)
    assert set(ds["verdict"].values) <= {"agree", "agree numerically only", "disagree", feynman.NO_FORMULA}
    # I.12.11 = 1 + a sin(theta): the KAN [2,[0,1]] (one multiplication node with its bias, a factor per input) reads
    # it exactly, and the engine finds it in the quick budget of 20 generations (measured: seeds 0-5 all exact; 4 of 6
    # at 10 generations)
    row = ds.sel(equation="I.12.11")
    assert bool(row["kan_exact"]) and row["kan_shape"].item() == "[2,[0,1]] masked"
    assert ds["engine_vs_truth"].sel(equation="I.12.11").item() == "agree" and bool(row["engine_exact"])
    assert bool(row["hybrid_exact"])
    assert set(ds["engine_stopped_by"].values) == {"generations"}
    assert set(ds["outcome"].values) <= set(feynman.OUTCOMES)
    summary = (tmp_path / "summary.md").read_text()
    assert "| I.12.11 |" in summary and "KAN alone" in summary and "Hybrid" in summary
    kan, hybrid, consistent = feynman.claims(ds)
    assert kan.ours == f"{feynman.counts(ds)['kan']} of {len(feynman.QUICK_EQUATIONS)}"
    assert hybrid.ours == f"{feynman.counts(ds)['hybrid']} of {len(feynman.QUICK_EQUATIONS)}"
    assert consistent.ours.endswith("no formula)")


def test_exact_needs_the_formula_and_the_numbers():
    a, b = sympy.symbols("a b")
    x = np.random.default_rng(0).uniform(0.5, 2.0, (200, 2))
    truth = a / (1 + a * b)
    assert feynman.exact(1 / (b + 1 / a), truth, ["a", "b"], x)[0]
    ok, error = feynman.exact(sympy.Float(1.0001) * a / (1 + a * b), truth, ["a", "b"], x)
    assert not ok and 5e-5 < error < 2e-4  # equal to 4 digits, but not below the error bound
    assert feynman.exact(None, truth, ["a", "b"], x) == (False, float("inf"))
    assert feynman.exact(a * sympy.Symbol("c"), truth, ["a", "b"], x) == (False, float("inf"))


def test_exact_reads_variables_with_the_sign_of_their_points():
    # the normal density's truth has Abs(sigma) from sqrt(2 pi sigma^2): on sigma > 0 it is sigma
    theta, sigma = sympy.symbols("theta sigma", real=True)
    truth = sympy.exp(-(theta**2) / (2 * sigma**2)) / sympy.sqrt(2 * sympy.pi * sigma**2)
    found = sympy.sqrt(2) * sympy.exp(-(theta**2) / (2 * sigma**2)) / (2 * sympy.sqrt(sympy.pi) * sigma)
    rng = np.random.default_rng(0)
    positive = np.column_stack([rng.uniform(-1, 1, 200), rng.uniform(0.5, 2, 200)])
    assert feynman.exact(found, truth, ["theta", "sigma"], positive)[0]
    both = np.column_stack([rng.uniform(-1, 1, 200), rng.uniform(-2, 2, 200)])
    assert not feynman.exact(found, truth, ["theta", "sigma"], both)[0]  # sigma < 0: not the same function


@pytest.mark.parametrize(
    "between, kan, engine, expected",
    [
        ("agree", "agree", "agree", "consistent"),
        ("agree numerically only", "agree", "agree", "inconsistent"),  # both exact: the check must say agree
        ("disagree", "agree", "disagree", "consistent"),
        ("agree", "disagree", "agree", "inconsistent"),
        ("agree", "disagree", "disagree", "both wrong"),  # the check cannot tell: not counted as consistent
        ("disagree", "agree numerically only", "disagree", "both wrong"),
        (feynman.NO_FORMULA, feynman.NO_FORMULA, "agree", feynman.NO_FORMULA),
    ],
)
def test_outcome_separates_both_wrong_from_consistent(between, kan, engine, expected):
    assert feynman.outcome(between, kan, engine) == expected


def test_claims_count_consistency_only_where_a_formula_is_right():
    outcomes = ["consistent", "both wrong", "both wrong", "inconsistent", feynman.NO_FORMULA]
    exact = {f"{k}_exact": ("equation", [True, False, False, False, False]) for k in ("kan", "engine", "hybrid")}
    ds = xr.Dataset({"outcome": ("equation", outcomes), **exact}, coords={"equation": [f"e{i}" for i in range(5)]})
    assert feynman.outcome_counts(ds) == {"consistent": 1, "inconsistent": 1, "both wrong": 2, "no formula": 1}
    kan, hybrid, consistent = feynman.claims(ds)
    assert consistent.ours == "1 of 2 (2 both wrong, 1 no formula)" and consistent.verdict == "short"
    assert kan.ours == hybrid.ours == "1 of 5" and kan.verdict == hybrid.verdict == "short"
    all_wrong = ds.assign(outcome=("equation", ["both wrong"] * 5))
    assert feynman.claims(all_wrong)[2].verdict == "short"  # nothing the cross-check could confirm


def test_configs_stop_the_engine_on_generations():
    quick = feynman.configs(True, 3, None, "operon")
    assert [c["equation"] for c in quick] == list(feynman.QUICK_EQUATIONS)
    assert all(c["engine"] == "operon" and c["engine_generations"] == 20 and c["seed"] == 3 for c in quick)
    full = feynman.configs(False, 0, ["I.12.11"], "pysr")[0]
    assert full["engine"] == "pysr" and full["engine_generations"] == 50 and full["engine_seconds_cap"] == 600


def test_unknown_equation_is_named():
    with pytest.raises(ValueError, match=r"unknown equations \['I.99'\]"):
        feynman.configs(False, 0, ["I.99"], "operon")
