"""Every variable a study stores in results.nc says what it is (long_name) and in which units."""

import numpy as np
import xarray as xr

from kansci.studies import common, continual, feynman, knot_relations, knots, scaling, special, toy, unsupervised


def _described(ds: xr.Dataset) -> list[str]:
    """Variables lacking a long_name or units."""
    return [str(v) for v in ds.data_vars if not {"long_name", "units"} <= set(ds[v].attrs)]


def _run(function: str, name: str, kind: str, n_params: list[float], rmse: list[float], **attrs) -> xr.Dataset:
    stages = len(rmse)
    values = np.array(rmse)
    return xr.Dataset(
        {
            "grid": ("stage", np.arange(stages, dtype=float)),
            "n_params": ("stage", np.array(n_params, dtype=float)),
            "train_rmse": ("stage", values),
            "test_rmse": ("stage", values),
            "seconds": ("stage", np.ones(stages)),
            "test_rmse_inside": ("stage", values),
            "test_outside": ("stage", np.zeros(stages)),
        },
        coords={"stage": np.arange(stages)},
        attrs={"name": scaling.tag(function, name), "kind": kind, **attrs},
    )


def _runs(function: str, kan_name: str) -> list[xr.Dataset]:
    return [
        _run(function, kan_name, "kan", [24, 30, 45], [5e-2, 8e-3, 2e-3], chosen_seed=0),
        _run(function, "MLP d2 w5", "mlp", [21], [6e-2]),
        _run(function, "MLP d3 w10", "mlp", [151], [4e-3]),
    ]


def test_describe_sets_long_name_and_units_of_the_named_variables_only():
    ds = xr.Dataset({"a": ("x", [1.0]), "b": ("x", [2.0])})
    common.describe(ds, {"a": ("first", "s"), "c": ("absent", "1")})
    assert ds["a"].attrs == {"long_name": "first", "units": "s"} and ds["b"].attrs == {}


def test_scaling_special_and_toy_results_describe_every_variable():
    assert _described(special.gather(_runs("special/jv", "KAN [2, 1, 1]"))) == []
    assert _described(toy.gather(_runs("toy/exp_sin", "KAN"))) == []
    ds = scaling.stack_runs([r.assign_attrs(name=r.attrs["name"].split("|")[1]) for r in _runs("f", "KAN")])
    assert _described(ds) == []
    assert "test points" in ds["test_rmse"].attrs["long_name"] and ds["seconds"].attrs["units"] == "s"


def test_continual_results_describe_every_variable():
    x = np.linspace(-1, 1, 5)
    runs = [
        xr.Dataset(
            {"prediction": (("phase", "x"), np.zeros((2, 5))), "rmse": (("phase", "window"), np.ones((2, 2)))},
            coords={"phase": [1, 2], "window": [1, 2], "x": x},
            attrs={"name": name, "n_params": 10},
        )
        for name in ("KAN", "MLP")
    ]
    assert _described(continual.gather(runs)) == []


def test_knots_results_describe_every_variable():
    classes = [-2, 0, 2]
    features = list(knots.knots.FEATURES)
    run = xr.Dataset(
        {
            "test_accuracy": ((), 0.8),
            "train_accuracy": ((), 0.9),
            "majority_accuracy": ((), 0.3),
            "n_params": ((), 100),
            "seconds": ((), 1.0),
            "final_loss": ((), 0.5),
            "confusion": (("true_signature", "predicted_signature"), np.eye(3)),
            "attribution": (("measure", "feature"), np.ones((2, len(features)))),
        },
        coords={"true_signature": classes, "predicted_signature": classes, "measure": ["a", "b"], "feature": features},
        attrs={"name": "KAN all seed 0", "training": "completed"},
    )
    config = {
        "name": "KAN all seed 0", "model": "KAN", "features": "all", "seed": 0, "n_train": 10, "n_test": 10,
        "kan_steps": 1, "mlp_steps": 1, "classes": classes,
    }  # fmt: skip
    assert _described(knots.gather([run], [config], "table")) == []


def test_unsupervised_and_knot_relations_results_describe_every_variable():
    names = ["a", "b"]
    record = {"group": "a, b", "relations": "a, b", "residual": 0.1, "accuracy": 0.9, "true_relations": True}
    record |= {"partition": "a, b", "partition_correct": True, "searches": 1}
    data = {k: ((), v) for k, v in record.items()}
    data |= {"score": ("variable", [1.0, 0.5]), "in_group": ("variable", [True, True])}
    data["relation_id"] = ("variable", [1, 1])
    run = xr.Dataset(data, coords={"variable": names}, attrs={"seed": 0})
    config = {"n_samples": 10, "steps": 1, "warmup": 1, "data_seed": 0}
    assert _described(unsupervised.gather([run], config)) == []
    group = xr.Dataset(
        {"group": ("relation", ["a + b"]), "size": ("relation", [2]), "residual": ("relation", [0.1])}
        | {"accuracy": ("relation", [0.9])},
        attrs={"name": "seed0", "seed": 0, "n_rows": 10},
    )
    assert _described(knot_relations.gather([group])) == []


def test_feynman_results_describe_every_variable():
    record = {"kan_shape": "[2,[0,1]]", "kan_fit_error": 1e-7, "kan_seconds": 1.0, "engine_seconds": 1.0}
    record |= {"engine_stopped_by": "iterations", "verdict": "agree", "hybrid_source": "KAN"}
    record |= {"kan_vs_truth": "agree", "engine_vs_truth": "agree", "kan_formula": "x*y", "engine_formula": "x*y"}
    record |= {"truth": "x*y", "engine_rmse": 1e-3, "outcome": "consistent", "hybrid_formula": "x*y"}
    record |= {f"{k}_exact": True for k in ("kan", "engine", "hybrid")}
    record |= {f"{k}_error": 0.0 for k in ("kan", "engine", "hybrid")}
    run = xr.Dataset({k: ((), v) for k, v in record.items()}, attrs={"name": "I.12.2"})
    assert _described(feynman.gather([run])) == []
