"""The continual-learning study: outputs written, and the KAN keeps the first peak while the MLP forgets it."""

import numpy as np

from kansci.datasets import continual as continual_data
from kansci.studies import continual


def test_quick_study_writes_outputs_and_the_kan_remembers(tmp_path):
    ds = continual.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "phases.png", "summary.md", "runs"}
    final = ds["rmse"].isel(phase=-1)
    kan, net = float(final.sel(model="KAN", window=1)), float(final.sel(model="MLP", window=1))
    assert kan <= continual.TARGET_RATIO * net  # quick run measured: 2.9e-2 vs 4.8
    # the KAN's phase-1 window is untouched by later phases: its error there does not grow after phase 1
    kan_window1 = ds["rmse"].sel(model="KAN", window=1).values
    assert kan_window1[-1] <= kan_window1[0] * 1.01 + 1e-12
    assert "met" in (tmp_path / "summary.md").read_text()
    # the same comparison from the stored predictions on the plotting points of window 1, against the peaks
    x = ds["x"].values
    window = (x >= continual_data.CENTRES[0] - continual_data.HALF_WIDTH) & (
        x < continual_data.CENTRES[0] + continual_data.HALF_WIDTH
    )
    after = ds["prediction"].isel(phase=-1).values[:, window] - continual_data.peaks(x[window])
    own = dict(zip(ds["model"].values, np.sqrt((after**2).mean(axis=1))))
    assert own["KAN"] <= continual.TARGET_RATIO * own["MLP"]
    (claim,) = continual.claims(ds)
    assert claim.verdict == "within" and claim.ours == f"KAN {kan:.1e}, MLP {net:.1e}"
