"""The Feynman study, quick: outputs written, formulas read from every KAN, verdicts recorded."""

import pytest

from kansci.studies import feynman


@pytest.mark.needs("pyoperon")
def test_quick_study(tmp_path):
    ds = feynman.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "rmse.png", "summary.md", "runs"}
    assert list(ds["equation"].values) == list(feynman.QUICK_EQUATIONS)
    assert all(text != feynman.NO_FORMULA for text in ds["kan_formula"].values)  # every edge was snapped
    assert set(ds["verdict"].values) <= {"agree", "agree numerically only", "disagree"}
    # the engine finds I.12.11 = 1 + a sin(theta) within the quick budget (measured: exact)
    assert ds["engine_vs_truth"].sel(equation="I.12.11").item() == "agree"
    assert float(ds["kan_numeric_rmse"].max()) < 0.1  # 10 LBFGS steps: measured 2e-2
    summary = (tmp_path / "summary.md").read_text()
    assert "| I.12.11 |" in summary and "KAN formula symbolically exact" in summary
    exact, consistent = feynman.claims(ds)
    assert exact.ours == f"{int((ds['kan_vs_truth'] == 'agree').sum())} of {len(feynman.QUICK_EQUATIONS)}"
    assert consistent.verdict == ("within" if bool(ds["consistent"].all()) else "short")


def test_unknown_equation_is_named():
    with pytest.raises(ValueError, match=r"unknown equations \['I.99'\]"):
        feynman.configs(False, 0, ["I.99"], "operon")
