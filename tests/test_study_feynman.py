"""The Feynman study, quick: outputs written, formulas read from every KAN, verdicts recorded."""

import inspect

import numpy as np
import pytest
import torch
import xarray as xr

import kansci
from kansci.datasets import load
from kansci.studies import common, feynman
from kansci.symbolic import formula


@pytest.mark.needs("pyoperon")
def test_quick_study(tmp_path):
    ds = feynman.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "rmse.png", "summary.md", "runs"}
    assert list(ds["equation"].values) == list(feynman.QUICK_EQUATIONS)
    assert all(text != feynman.NO_FORMULA for text in ds["kan_formula"].values)  # every edge was snapped
    assert set(ds["verdict"].values) <= {"agree", "agree numerically only", "disagree"}
    # the engine finds I.12.11 = 1 + a sin(theta) in the quick budget of 20 generations (measured: seeds 0-5 all
    # exact; 4 of 6 at 10 generations), and stops on generations, never on the seconds cap
    assert ds["engine_vs_truth"].sel(equation="I.12.11").item() == "agree"
    assert set(ds["engine_stopped_by"].values) == {"generations"}
    assert set(ds["outcome"].values) <= set(feynman.OUTCOMES)
    assert float(ds["kan_numeric_rmse"].max()) < 0.1  # 10 LBFGS steps: measured 2e-2
    summary = (tmp_path / "summary.md").read_text()
    assert "| I.12.11 |" in summary and "KAN formula symbolically exact" in summary
    exact, consistent = feynman.claims(ds)
    assert exact.ours == f"{int((ds['kan_vs_truth'] == 'agree').sum())} of {len(feynman.QUICK_EQUATIONS)}"
    assert consistent.ours.endswith("no formula)") and "both wrong" in summary


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
    ds = xr.Dataset(
        {"outcome": ("equation", outcomes), "kan_vs_truth": ("equation", ["agree", *["disagree"] * 4])},
        coords={"equation": [f"e{i}" for i in range(5)]},
    )
    assert feynman.outcome_counts(ds) == {"consistent": 1, "inconsistent": 1, "both wrong": 2, "no formula": 1}
    _, consistent = feynman.claims(ds)
    assert consistent.ours == "1 of 2 (2 both wrong, 1 no formula)" and consistent.verdict == "short"
    all_wrong = ds.assign(outcome=("equation", ["both wrong"] * 5))
    assert feynman.claims(all_wrong)[1].verdict == "short"  # nothing the cross-check could confirm


def test_configs_stop_the_engine_on_generations():
    quick = feynman.configs(True, 3, None, "operon")
    assert [c["equation"] for c in quick] == list(feynman.QUICK_EQUATIONS)
    assert all(c["engine"] == "operon" and c["engine_generations"] == 20 and c["seed"] == 3 for c in quick)
    full = feynman.configs(False, 0, ["I.12.11"], "pysr")[0]
    assert full["engine"] == "pysr" and full["engine_generations"] == 50 and full["engine_seconds_cap"] == 600


def test_unknown_equation_is_named():
    with pytest.raises(ValueError, match=r"unknown equations \['I.99'\]"):
        feynman.configs(False, 0, ["I.99"], "operon")


class Interrupted(Exception):
    """Stands for a run killed in the middle (a crash, a lost worker)."""


def test_an_interrupted_kan_training_resumes_from_the_fit_calls_it_finished(tmp_path, monkeypatch):
    assert "checkpoint" in inspect.signature(feynman.run_config).parameters  # so the sweep gives each run a folder
    # the quick settings with 20 steps per fit call, so that a call writes a checkpoint halfway (every 10 steps),
    # on 100 training points through a [2, 1, 1] KAN to stay fast (the snap costs grow with the edges)
    config = dict(feynman.configs(True, 0, ["I.12.11"], "operon")[0], steps=20, n_train=100, hidden=1)
    data = load("feynman_dimless/I.12.11", n_train=100, n_test=1000, seed=0, dtype=torch.float64)
    whole, whole_record = feynman.train_kan(data, config, common.FitCheckpoints(tmp_path / "whole"))
    taken, stop = [], {"after": 35}  # three fit calls of 20 steps: stop at step 15 of the second
    fit = kansci.fit

    def counted_fit(model, data, **options):
        def count(step, model, history):
            taken.append(step)
            if len(taken) == stop["after"]:
                raise Interrupted(f"stopped at step {step}")

        return fit(model, data, **options, callbacks=[count])

    monkeypatch.setattr(kansci, "fit", counted_fit)
    with pytest.raises(Interrupted):
        feynman.train_kan(data, config, common.FitCheckpoints(tmp_path / "cut"))
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["fit-0.pt", "fit-1.pt"]
    taken.clear()
    stop["after"] = None
    resumed, record = feynman.train_kan(data, config, common.FitCheckpoints(tmp_path / "cut"))
    # the first call restored, not retrained; the second from its checkpoint of step 10; the third in full
    assert taken == [*range(10, 20), *range(20)]
    assert record["kan_shape"] == whole_record["kan_shape"] == "[2, 1, 1]"
    # the same steps from the same states: equal to rounding (measured: bitwise)
    np.testing.assert_allclose(record["kan_numeric_rmse"], whole_record["kan_numeric_rmse"], rtol=1e-9, atol=0)
    for a, b in zip(resumed.parameters(), whole.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    names = data.input_names
    assert str(formula(resumed, names, precision=None)[0]) == str(formula(whole, names, precision=None)[0])
