"""python -m kansci.studies.pdebench --quick: one table of every problem, KAN and MLP, the better optimizer each."""

import numpy as np
import pytest
import xarray as xr

from kansci.studies import pdebench, poisson


def test_quick_benchmark_writes_one_table(tmp_path):
    # measured (--quick): anisotropic KAN [2,5,1] LM 2.0e-5, MLP [2,10,10,1] about 1e-2; Kovasznay KAN 1.1e-2
    out = tmp_path / "bench"
    ds = pdebench.main(["--quick", "--problems", "anisotropic", "kovasznay", "--out", str(out), "--workers", "0"])
    for name in ("results.nc", "summary.md", "errors.png"):
        assert (out / name).stat().st_size > 0
    assert list(ds["problem"].values) == ["anisotropic", "kovasznay"]  # in the study's order
    assert ds["relative_l2"].shape == (2, 2, 2, 1) and np.isfinite(ds["relative_l2"].values).all()
    chosen = pdebench.best(ds)
    valid = ds["validation_relative_l2"].values
    assert np.allclose(chosen["validation_relative_l2"].values, valid.min(axis=2))  # chosen on validation points
    assert float(pdebench.median(chosen["relative_l2"]).sel(problem="anisotropic", model="kan")) < 1e-3
    assert float(pdebench.median(chosen["relative_l2"]).sel(problem="kovasznay", model="kan")) < 0.05
    summary = (out / "summary.md").read_text()
    assert "| anisotropic | KAN [2,5,1], LM," in summary and "| kovasznay | KAN [2,5,3]" in summary
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as saved:
        assert all({"long_name", "units"} <= set(saved[v].attrs) for v in saved.data_vars)


def test_per_problem_settings_reach_the_runs():
    runs = pdebench.configs(["burgers", "inverse_poisson", "poisson_paper"], quick=True, seed=0)
    by = {(r["problem"], r["kind"], r["opt"]): r for r in runs}
    assert by[("burgers", "kan", "lm")]["refresh_every"] == 10 and by[("burgers", "kan", "lm")]["adaptive"] == "both"
    assert by[("burgers", "kan", "lm")]["grids"] == [5, 10]  # --quick keeps its own grids and points
    assert (
        "refresh_every" not in by[("burgers", "kan", "lbfgs")] and "refresh_every" not in by[("burgers", "mlp", "lm")]
    )
    assert all(by[("inverse_poisson", kind, "lbfgs")]["alpha"] == 0.1 for kind in ("kan", "mlp"))
    assert not any("alpha" in r or "refresh_every" in r for r in runs if r["problem"] == "poisson_paper")


def test_the_per_problem_kan_settings_reach_the_runs_but_quick_keeps_its_points():
    for quick, points in ((False, (10000, 4000)), (True, (400, 400))):  # --quick keeps its own point counts
        for run in pdebench.configs(["robin"], quick=quick, seed=0):
            tuned = run["kind"] == "kan" and run["opt"] == "lm"
            assert (run.get("alpha"), run["n_interior"]) == ((1e-2, points[0]) if tuned else (None, points[1]))
    kdv = {(r["kind"], r["opt"]): r for r in pdebench.configs(["kdv"], quick=False, seed=0)}
    lm = kdv[("kan", "lm")]
    assert lm["grid_eps"] == 1.0 and lm["refresh_every"] == 10 and lm["k"] == 5 and lm["steps"] == 60
    lbfgs = kdv[("kan", "lbfgs")]  # LBFGS keeps the shared settings
    assert "grid_eps" not in lbfgs and lbfgs["k"] == 5 and (lbfgs["steps"], lbfgs["n_interior"]) == (30, 4000)
    assert kdv[("mlp", "lm")]["steps"] == 30 * 4  # the KAN's steps per grid are its own
    burgers = {r["opt"]: r for r in pdebench.configs(["burgers"], quick=False, seed=0) if r["kind"] == "kan"}
    assert (burgers["lm"]["grids"][-1], burgers["lm"]["n_interior"]) == (80, 10000)
    assert (burgers["lbfgs"]["grids"][-1], burgers["lbfgs"]["n_interior"]) == (40, 4000)
    inverse = [r for r in pdebench.configs(["inverse_poisson"], quick=False, seed=0) if r["kind"] == "kan"]
    assert [r["width"] for r in inverse] == [[2, 5, 2]] * 2 and "[2,5,2]" in inverse[0]["name"]
    holes = {r["opt"]: r for r in pdebench.configs(["poisson_holes"], quick=False, seed=0) if r["kind"] == "kan"}
    assert (holes["lm"]["alpha"], holes["lm"]["n_interior"], holes["lm"]["steps"]) == (1e-5, 10000, 45)
    assert holes["lm"]["width"] == holes["lbfgs"]["width"] == [2, 10, 10, 1] and holes["lm"]["grids"] == [5, 10, 20]
    assert holes["lbfgs"]["grids"] == [5, 10, 20, 40]


def test_chaotic_problems_run_several_seeds_and_the_table_gives_their_median():
    runs = pdebench.configs(["burgers", "robin"], quick=False, seed=4)
    seeds = {p: sorted({r["seed"] for r in runs if r["problem"] == p}) for p in ("burgers", "robin")}
    assert seeds == {"burgers": [4, 5, 6], "robin": [4]} and len(runs) == 4 * 4
    names = [r["name"] for r in runs if r["problem"] == "burgers" and r["kind"] == "kan" and r["opt"] == "lm"]
    assert names[0].endswith("LM") and names[1:] == [names[0] + " seed 5", names[0] + " seed 6"]
    assert {r["seed"] for r in pdebench.configs(["burgers"], quick=True, seed=0)} == {0}
    assert {r["seed"] for r in pdebench.configs(["robin"], quick=True, seed=0, seeds=2)} == {0, 1}

    # made-up outcomes: burgers' KAN LM wins on the median validation error over three seeds although LBFGS has
    # the single best seed; robin has one seed, so the other two stay NaN
    def outcome(config):
        test, valid = {("burgers", "kan", "lm"): ([3e-2, 1e-2, 2e-2], [3e-2, 1e-2, 2e-2]),
                       ("burgers", "kan", "lbfgs"): ([5e-3, 5e-2, 6e-2], [5e-3, 5e-2, 6e-2])}.get(
            (config["problem"], config["kind"], config["opt"]), ([1e-3] * 3, [2e-3] * 3))  # fmt: skip
        draw = config["seed"] - 4
        return xr.Dataset(
            {
                "relative_l2": ("stage", [0.1, test[draw]]),
                "validation_relative_l2": valid[draw],
                "seconds": ("stage", [1.0, 2.0 + draw]),
                "n_params": ("stage", [10, 20]),
            }  # fmt: skip
        )

    ds = pdebench.gather([outcome(c) for c in runs], runs)
    assert ds["relative_l2"].dims == ("problem", "model", "optimizer", "seed") and list(ds["seed"].values) == [4, 5, 6]
    assert np.isnan(ds["relative_l2"].sel(problem="robin", seed=5).values).all()
    chosen = pdebench.best(ds)
    assert chosen["optimizer"].sel(problem="burgers", model="kan").item() == "lm"
    assert float(pdebench.median(chosen["relative_l2"]).sel(problem="burgers", model="kan")) == pytest.approx(2e-2)
    assert float(pdebench.median(chosen["seconds"]).sel(problem="burgers", model="kan")) == pytest.approx(4.0)
    text = pdebench.summary(ds, 1.0, "python -m kansci.studies.pdebench")
    assert "| 2.00e-02 (1.0e-02–3.0e-02, 3 seeds) |" in text
    robin_row = next(line for line in text.splitlines() if line.startswith("| robin |"))
    assert "| 1.00e-03 |" in robin_row and "seeds" not in robin_row
    assert pdebench.figures(ds)["errors"].axes


@pytest.mark.slow
@pytest.mark.parametrize(("problem", "limit"), [("robin", 1e-5)])
def test_the_kan_lm_run_of_the_full_benchmark(problem, limit):
    # measured, seed 0, one thread: robin 4.0e-7 at G = 20, 2.1e-6 at G = 40 in 190 s (7.0e-5 with the shared
    # settings). kdv (7.5e-5, 474 s) and poisson_holes (3.3e-5, 1,080 s) are measured by the study itself: with
    # them the slow tests would take CI past its 30 minutes
    run = next(c for c in pdebench.configs([problem], quick=False, seed=0) if c["kind"] == "kan" and c["opt"] == "lm")
    ds = poisson.run_config(run)
    assert float(ds["relative_l2"][-1]) < limit
    assert float(ds["validation_relative_l2"]) < limit
