"""python -m kansci.studies.pdebench --quick: one table of every problem, KAN and MLP, the better optimizer each."""

import numpy as np
import xarray as xr

from kansci.studies import pdebench


def test_quick_benchmark_writes_one_table(tmp_path):
    # measured (--quick): anisotropic KAN [2,5,1] LM 2.0e-5, MLP [2,10,10,1] about 1e-2; Kovasznay KAN 1.1e-2
    out = tmp_path / "bench"
    ds = pdebench.main(["--quick", "--problems", "anisotropic", "kovasznay", "--out", str(out), "--workers", "0"])
    for name in ("results.nc", "summary.md", "errors.png"):
        assert (out / name).stat().st_size > 0
    assert list(ds["problem"].values) == ["anisotropic", "kovasznay"]  # in the study's order
    assert ds["relative_l2"].shape == (2, 2, 2) and np.isfinite(ds["relative_l2"].values).all()
    chosen = pdebench.best(ds)
    valid = ds["validation_relative_l2"].values
    assert np.allclose(chosen["validation_relative_l2"].values, valid.min(axis=2))  # chosen on validation points
    assert float(chosen["relative_l2"].sel(problem="anisotropic", model="kan")) < 1e-3
    assert float(chosen["relative_l2"].sel(problem="kovasznay", model="kan")) < 0.05
    summary = (out / "summary.md").read_text()
    assert "| anisotropic | KAN [2,5,1], LM," in summary and "| kovasznay | KAN [2,5,3]" in summary
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as saved:
        assert all({"long_name", "units"} <= set(saved[v].attrs) for v in saved.data_vars)


def test_per_problem_settings_reach_the_runs():
    runs = pdebench.configs(["burgers", "inverse_poisson", "poisson_paper"], quick=True, seed=0)
    by = {(r["problem"], r["kind"], r["opt"]): r for r in runs}
    assert all(by[("burgers", "kan", opt)]["refresh_every"] == 10 for opt in pdebench.OPTIMIZERS)
    assert "refresh_every" not in by[("burgers", "mlp", "lm")]
    assert all(by[("inverse_poisson", kind, "lbfgs")]["alpha"] == 0.1 for kind in ("kan", "mlp"))
    assert not any("alpha" in r or "refresh_every" in r for r in runs if r["problem"] == "poisson_paper")
