"""The scaling study: the exponent fit and Pareto front on known numbers, and a quick run's outputs."""

import math

import numpy as np
import pytest

from kansci.studies import scaling


def test_fit_exponent_recovers_a_known_power_law_with_its_error():
    n = np.array([10.0, 20.0, 40.0, 80.0, 160.0, 320.0])
    rmse = 3.0 * n**-4.0
    alpha, se, used = scaling.fit_exponent(n, rmse)
    assert math.isclose(alpha, 4.0, rel_tol=1e-12) and se < 1e-10 and used == 6
    noisy = rmse * np.exp(np.array([0.1, -0.1, 0.1, -0.1, 0.1, -0.1]))
    alpha, se, _ = scaling.fit_exponent(n, noisy)
    assert abs(alpha - 4.0) < 0.1 and 0.01 < se < 0.1  # alternating +-0.1 in log: slope error ~0.04
    floored = np.append(rmse, 1e-13)  # below the precision floor: left out
    assert scaling.fit_exponent(np.append(n, 640.0), floored)[2] == 6


def test_pareto_front():
    n = np.array([10, 20, 30, 40, 50])
    rmse = np.array([1.0, 2.0, 0.5, 0.6, 0.1])
    assert scaling.pareto(n, rmse).tolist() == [0, 2, 4]


def test_quick_study_writes_outputs(tmp_path):
    ds = scaling.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "scaling.png", "time_vs_grid.png", "summary.md"}
    kan = ds.sel(run="KAN")
    assert kan["grid"].values.tolist() == [3, 5, 10]
    assert kan["n_params"].values.tolist() == [24, 30, 45]  # [2,1,1]: 3 edges x (G + 3 + 2)
    all_inside = kan["test_outside"].values == 0  # then the two test errors are one and the same
    np.testing.assert_array_equal(kan["test_rmse_inside"].values[all_inside], kan["test_rmse"].values[all_inside])
    assert (kan["test_outside"].values < 1000).all()
    assert np.isfinite(ds.attrs["mlp_alpha"])
    # the exponent and its standard error recomputed from the stored stages (all three above the precision floor)
    x, y = np.log(kan["n_params"].values.astype(float)), np.log(kan["test_rmse"].values)
    slope, intercept = np.polyfit(x, y, 1)
    se = np.sqrt(((y - slope * x - intercept) ** 2).sum() / (len(x) - 2) / ((x - x.mean()) ** 2).sum())
    assert ds.attrs["kan_alpha"] == pytest.approx(-slope, rel=1e-9) and ds.attrs["kan_alpha_points"] == 3
    assert ds.attrs["kan_alpha_se"] == pytest.approx(se, rel=1e-6)
    assert "KAN alpha" in (tmp_path / "summary.md").read_text()
    (claim,) = scaling.claims(ds)  # no G = 100 in the quick run, so only the exponent is claimed
    assert claim.ours.startswith(f"{-slope:.2f} +- ")
    assert claim.verdict == ("within" if -slope - se >= 3.5 else "short")
