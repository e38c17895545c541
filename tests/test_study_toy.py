"""The toy study, quick: one function through the shared scaling runs, stacked on a function dimension."""

import numpy as np

from kansci.studies import toy


def test_quick_study(tmp_path):
    ds = toy.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "pareto.png", "summary.md"}
    assert list(ds["function"].values) == ["toy/xy"]
    kan = ds.sel(function="toy/xy", run="KAN")
    assert kan["n_params"].values.tolist() == [48, 60, 90]  # [2,2,1]: 6 edges x (G + 3 coefficients + 2 scales)
    assert float(kan["test_rmse"][-1]) < 1e-2  # quick: 10 LBFGS steps per grid
    assert np.isfinite(float(ds["kan_alpha"].sel(function="toy/xy")))
    assert "| toy/xy | [2, 2, 1] |" in (tmp_path / "summary.md").read_text()
    (claim,) = toy.claims(ds)
    assert claim.experiment.startswith("toy toy/xy, KAN [2, 2, 1]")
    assert claim.ours.startswith(f"{float(ds['kan_alpha'].sel(function='toy/xy')):.2f}")
