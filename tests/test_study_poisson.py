"""python -m kansci.studies.poisson --quick: every output, sane numbers, resume."""

import numpy as np
import xarray as xr

from kansci import KAN, pde
from kansci.studies import poisson


def test_quick_study_writes_its_outputs_and_resumes(tmp_path):
    # measured (--quick, Levenberg-Marquardt with exact Dirichlet values): KAN [2,5,1] G 5->10 relative L2
    # 2.7e-3, MLP [2,10,10,1] 0.159, about 6 s on 2 cores; the KAN over seeds 0-4: 2.0e-3 to 3.7e-3 at G = 10
    # (0.086 to 0.42 at G = 5). With LBFGS it was 0.049-0.148 at G = 10
    out = tmp_path / "study"
    ds = poisson.main(["--quick", "--out", str(out), "--workers", "0"])
    for name in ("results.nc", "summary.md", "solution.png", "error_vs_params.png", "losses.png"):
        assert (out / name).stat().st_size > 0
    assert sorted(ds["run"].values) == ["KAN [2,5,1]", "MLP [2,10,10,1]"]
    kan = ds.sel(run="KAN [2,5,1]")
    assert list(kan["grid"].values) == [5.0, 10.0]
    assert kan["relative_l2"].values[1] < kan["relative_l2"].values[0] < 1.0
    assert float(kan["relative_l2"].values[1]) < 1e-2
    assert list(ds["optimizer"].values) == ["lm", "lm"]
    assert ds["u"].shape == (2, poisson.PLOT_POINTS, poisson.PLOT_POINTS)
    summary = (out / "summary.md").read_text()
    assert "| KAN [2,5,1] | LM, exact BC | 5→10 |" in summary and "7.30e-04" in summary
    assert "- KAN [2,5,1]: G=5: " in summary  # the error at the end of every grid
    # the report's claims: our best KAN and best MLP beside the paper's (quick errors are far above them)
    claims = poisson.claims(ds)
    final = {name: row[np.isfinite(row)][-1] for name, row in zip(ds["run"].values, ds["relative_l2"].values)}
    assert [(c.paper, c.ours, c.verdict) for c in claims] == [
        ("7.30e-04", f"{final['KAN [2,5,1]']:.2e}", "short"),
        ("7.30e-03", f"{final['MLP [2,10,10,1]']:.2e}", "short"),
    ]
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as saved:
        xr.testing.assert_allclose(saved["relative_l2"].load(), ds["relative_l2"])
        # every stored variable says what it is and in which units; the errors say where they were measured
        assert all({"long_name", "units"} <= set(saved[v].attrs) for v in saved.data_vars)
        assert "Sobol" in saved["relative_l2"].attrs["long_name"] and "101x101" in saved["u"].attrs["long_name"]
    # the validation error (chooses among runs) and the stored grid's error (not the table's) are in the summary
    assert np.isfinite(ds["validation_relative_l2"].values).all()
    assert "Sobol test points" in summary and "relative_l2 on the stored grid" in summary
    # a second invocation reads the stored runs instead of training again
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.nc")}
    again = poisson.main(["--quick", "--out", str(out), "--workers", "0"])
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*.nc")} == stamps
    xr.testing.assert_allclose(again["relative_l2"], ds["relative_l2"])


def test_inverse_problem_runs_with_two_output_models():
    # measured (--quick settings): KAN [2,5,2] relative L2 of u 1.8e-2, of the coefficient a 2.8e-2
    configs = poisson.configs("inverse_poisson", True, 0, "float64", "cpu", ("lbfgs",))
    assert sorted(c["name"] for c in configs) == ["KAN [2,5,2]", "MLP [2,10,10,2]"]
    both = poisson.configs("inverse_poisson", True, 0, "float64", "cpu")  # its default: both optimizers
    names = ["KAN [2,5,2] LBFGS", "KAN [2,5,2] LM", "MLP [2,10,10,2] LBFGS", "MLP [2,10,10,2] LM"]
    assert sorted(c["name"] for c in both) == names
    assert not any(c["hard_boundary"] for c in both)  # two fields: no exact Dirichlet values
    kan = next(c for c in configs if c["kind"] == "kan")
    ds = poisson.run_config(kan)
    assert float(ds["relative_l2"][-1]) < 0.05 and float(ds["relative_l2_a"][-1]) < 0.08
    assert set(ds["data"].dims) == {"step"}  # the observation misfit is logged beside residual and boundary


def test_every_shipped_equation_is_a_study_problem():
    # measured (--quick, LM): Kovasznay KAN [2,5,3] relative L2 of u 1.1e-2 (v 4.3e-2, p 2.5e-2) in about 1 s
    assert {"biharmonic", "kovasznay", "kdv", "robin", "anisotropic", "wave_periodic"} <= set(poisson.PROBLEMS)
    configs = poisson.configs("kovasznay", True, 0, "float64", "cpu", ("lm",))
    assert sorted(c["name"] for c in configs) == ["KAN [2,5,3]", "MLP [2,10,10,3]"]
    assert poisson.configs("biharmonic", True, 0, "float64", "cpu", ("lm",))[1]["k"] == 5  # 4th derivatives
    kan = next(c for c in configs if c["kind"] == "kan")
    ds = poisson.run_config(kan)
    assert float(ds["relative_l2"][-1]) < 0.05
    assert float(ds["relative_l2_v"][-1]) < 0.2 and float(ds["relative_l2_p"][-1]) < 0.2
    assert ds.attrs["boundary"] == "penalty" and np.isfinite(ds["u"].values).all()
    hard = poisson.run_config(poisson.configs("anisotropic", True, 0, "float64", "cpu", ("lm",))[1])
    assert hard.attrs["boundary"] == "exact (hard)" and float(hard["relative_l2"][-1]) < 1e-3


def test_a_five_dimensional_problem_is_plotted_on_a_plane_through_the_centre():
    config = poisson.configs("poisson_nd", True, 0, "float64", "cpu", ("lm",))[1]
    assert config["width"] == [5, 5, 1]
    ds = poisson.run_config(config)
    assert ds["u"].shape == (poisson.PLOT_POINTS, poisson.PLOT_POINTS) and np.isfinite(ds["u"].values).all()
    assert float(ds["relative_l2"][-1]) < 0.05


def test_run_config_builds_the_kan_with_the_configured_knot_spacing(monkeypatch):
    seen = []
    solve = pde.solve

    def spy(problem, model, **options):
        seen.append(model.config.grid_eps)
        return solve(problem, model, **options)

    monkeypatch.setattr(pde, "solve", spy)
    config = poisson.configs("robin", True, 0, "float64", "cpu", ("lm",))[1]
    assert config["kind"] == "kan" and "grid_eps" not in config
    for extra in ({}, {"grid_eps": 1.0}):
        ds = poisson.run_config(config | {"steps": 1, "grids": [4], "n_interior": 50, "n_boundary": 20} | extra)
        assert np.isfinite(ds["relative_l2"].values).all()
    assert seen == [KAN([2, 1], grid=4).config.grid_eps, 1.0]  # the default, then evenly spaced knots
