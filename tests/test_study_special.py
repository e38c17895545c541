"""The special-functions study: front comparison on hand-computed numbers, and a quick run's outputs."""

import math

import numpy as np
import pytest
import torch
import xarray as xr

from kansci.studies import scaling, special


def test_best_below_is_the_front_as_a_step_function():
    n = np.array([10.0, 20.0, 30.0])
    rmse = np.array([1.0, 0.5, math.nan])  # a diverged run is ignored
    got = special.best_below(n, rmse, np.array([5.0, 10.0, 25.0, 100.0]))
    assert got.tolist() == [math.inf, 1.0, 0.5, 0.5]


def test_front_advantage_compares_at_the_shared_model_sizes():
    # shared range [20, 100]: at 20 and 50 an MLP is lower, at 100 the KAN; the 1000-parameter MLP is outside
    share = special.front_advantage(
        np.array([10.0, 100.0]),
        np.array([1e-2, 1e-4]),
        np.array([20.0, 50.0, 1000.0]),
        np.array([1e-3, 5e-4, 1e-5]),
    )
    assert share == pytest.approx(1 / 3, rel=1e-12)
    same = special.front_advantage(np.array([10.0]), np.array([1e-3]), np.array([10.0]), np.array([1e-3]))
    assert same == pytest.approx(0.0, abs=1e-12)  # a tie is not a win
    assert math.isnan(special.front_advantage(np.array([10.0]), np.array([math.nan]), np.array([5.0]), np.ones(1)))
    assert math.isnan(special.front_advantage(np.array([10.0]), np.ones(1), np.array([50.0]), np.ones(1)))


def _run(function: str, name: str, kind: str, n_params: list[float], rmse: list[float]) -> xr.Dataset:
    values = np.array(rmse)
    return xr.Dataset(
        {
            "grid": ("stage", np.arange(len(rmse), dtype=float)),
            "n_params": ("stage", np.array(n_params, dtype=float)),
            "train_rmse": ("stage", values),
            "test_rmse": ("stage", values),
            "seconds": ("stage", np.ones(len(rmse))),
        },
        coords={"stage": np.arange(len(rmse))},
        attrs={"name": scaling.tag(function, name), "kind": kind},
    )


def test_gather_finds_the_minimal_shape_and_compares_the_fronts():
    f = "special/jv"
    runs = [
        _run(f, "KAN [2, 1, 1]", "kan", [24, 30, 45], [5e-2, 3e-2, 2e-2]),  # never below 1e-2
        _run(f, "KAN [2, 2, 1]", "kan", [48, 60, 90], [2e-2, 8e-3, 5e-3]),
        _run(f, "KAN [2, 3, 1]", "kan", [72, 90, 135], [1e-2, 4e-3, 1e-3]),
        _run(f, "MLP d2 w5", "mlp", [21], [6e-2]),
        _run(f, "MLP d2 w10", "mlp", [41], [3e-2]),
        _run(f, "MLP d3 w10", "mlp", [151], [4e-3]),
        _run(f, "MLP d3 w50", "mlp", [2751], [1e-3]),
    ]
    r = special.gather(runs).sel(function=f)
    assert r["minimal_shape"].item() == "KAN [2, 2, 1]"
    assert float(r["minimal_rmse"]) == pytest.approx(5e-3, rel=1e-12) and int(r["minimal_params"]) == 90
    assert float(r["mlp_similar_rmse"]) == pytest.approx(4e-3, rel=1e-12)  # best MLP with <= 180 parameters
    # shared sizes 24-135 (9 of them): the KAN front is lower at all but 41, where both are 3e-2
    assert float(r["front_fraction"]) == pytest.approx(8 / 9, rel=1e-12)
    assert bool(r["kan_better"])


def test_configs_and_unknown_function_names():
    with pytest.raises(ValueError, match="unknown special functions.*choose from"):
        special.configs(False, 0, ["bessel"])
    assert special.resolve_functions(["jv", "special/kv"], quick=False) == ["special/jv", "special/kv"]
    full = special.configs(False, 0)
    # 15 functions x (3 KAN shapes + the 12 of scaling's 16 MLPs with at most 1000 parameters)
    assert len(full) == 15 * (3 + 12)
    # an MLP gets as many LBFGS steps as a KAN over its four grids: 4 x 50
    assert {c["steps"] for c in full if c["kind"] == "mlp"} == {200}
    assert {(c["steps"], tuple(c["grids"])) for c in full if c["kind"] == "kan"} == {(50, (3, 5, 10, 20))}
    assert special.mlp_params(2, 5, 10) == 371 and special.mlp_params(2, 3, 50) == 2751


@pytest.fixture
def one_thread():
    """Tiny networks gain nothing from intra-op threads, and on a busy machine two threads stall each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_quick_study(tmp_path, one_thread):
    ds = special.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "pareto.png", "summary.md"}
    r = ds.sel(function="special/lpmv_m0")
    assert r.sel(run="KAN [2, 2, 1]")["n_params"].values.tolist() == [48, 60, 90]  # 6 edges x (G + 3 + 2)
    # quick run measured: [2,1,1] stays at 4.7e-2; [2,2,1] reaches 6.2e-3 at G = 10 (the paper's minimal shape)
    assert float(r.sel(run="KAN [2, 1, 1]")["test_rmse"].min()) > special.RMSE_TARGET
    assert r["minimal_shape"].item() == "KAN [2, 2, 1]"
    assert float(r["minimal_rmse"]) < special.RMSE_TARGET
    # At 10 steps per grid the share of the 10 shared sizes where the KAN front is lower is chance: seed 0 gave 0.7,
    # 0.5, 0.4 and 0.3 after changes of the layers' round-off alone, seeds 1-3 0.5-0.7. So only its form is checked
    # here; front_advantage is checked on known fronts above, the claim itself by the default run of the study.
    fraction = float(r["front_fraction"])
    assert 0.0 <= fraction <= 1.0 and fraction * 10 == pytest.approx(round(fraction * 10))
    assert float(r["best_kan_rmse"]) < float(r["best_mlp_rmse"])
    assert "| lpmv_m0 | [2, 2, 1] |" in (tmp_path / "summary.md").read_text()
    # the share recomputed from the raw numbers: at every model size in the range both families cover, the best
    # test RMSE with at most that many parameters, KAN against MLP (a tie counts for the MLP)
    kans, mlps = r.sel(run=r["kind"] == "kan"), r.sel(run=r["kind"] == "mlp").isel(stage=0)
    kan_points = [
        (n, e) for n, e in zip(kans["n_params"].values.ravel(), kans["test_rmse"].values.ravel()) if np.isfinite(e)
    ]
    mlp_points = list(zip(mlps["n_params"].values, mlps["test_rmse"].values))
    low = max(min(n for n, _ in kan_points), min(n for n, _ in mlp_points))
    high = min(max(n for n, _ in kan_points), max(n for n, _ in mlp_points))
    sizes = sorted({n for n, _ in kan_points + mlp_points if low <= n <= high})
    wins = sum(min(e for n, e in kan_points if n <= s) < min(e for n, e in mlp_points if n <= s) for s in sizes)
    assert fraction == pytest.approx(wins / len(sizes), abs=1e-12)
    front, shape, error = special.claims(ds)
    # the front claim counts the function when its KAN front is lower at more than half of the shared sizes
    assert front.verdict == ("within" if wins > len(sizes) / 2 else "short")
    assert shape.verdict == "within"
    assert error.paper == "5.25e-05" and error.verdict == "short"  # quick: 10 steps per grid, G <= 10


def test_minimal_shape_is_judged_at_the_grid_chosen_on_training_data():
    f = "special/jv"
    kan = _run(f, "KAN [2, 1, 1]", "kan", [24, 30, 45], [5e-2, 3e-2, 2e-2])
    # test RMSE below the target only at the grid whose training RMSE is not the lowest: not counted
    kan["test_rmse"] = ("stage", np.array([5e-2, 8e-3, 2e-2]))
    wide = _run(f, "KAN [2, 2, 1]", "kan", [48, 60, 90], [2e-2, 6e-3, 4e-3])
    wide["test_rmse"] = ("stage", np.array([2e-2, 3e-3, 7e-3]))  # best on test at G index 1; chosen: index 2
    part = scaling.stack_runs([kan.assign_attrs(name="KAN [2, 1, 1]"), wide.assign_attrs(name="KAN [2, 2, 1]")])
    assert special.minimal_kan(part) == ("KAN [2, 2, 1]", 7e-3, 90.0)
