"""The sweep runner: results in config order, one record per run, resume without rerunning."""

import datetime
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import kansci
from kansci import netcdf, sweep
from kansci.datasets.base import from_function


def square(config):
    """A run: records its input and a value; fails loudly when asked to."""
    if config.get("fail"):
        raise RuntimeError("asked to fail")
    return xr.Dataset({"value": ((), float(config["a"]) ** 2)}, attrs={"a": config["a"]})


def test_runs_in_order_and_resumes_from_records(tmp_path):
    configs = [{"name": "sq", "a": a} for a in range(5)]
    results = sweep.run(square, configs, store=tmp_path, workers=0, progress=False)
    assert [float(r["value"]) for r in results] == [0.0, 1.0, 4.0, 9.0, 16.0]
    records = sorted(tmp_path.glob("*.nc"))
    assert len(records) == 5 and all(p.name.startswith("sq-") for p in records)
    # a rerun reads the records: a function that would fail is never called for stored configs
    boom = [dict(c, fail=False) for c in configs]  # different configs: different keys, so they would run
    assert sweep.config_key(boom[0]) != sweep.config_key(configs[0])
    again = sweep.run(lambda c: pytest.fail("stored runs must not rerun"), configs, store=tmp_path, workers=0)
    assert [float(r["value"]) for r in again] == [0.0, 1.0, 4.0, 9.0, 16.0]


def test_worker_processes_give_the_same_results(tmp_path):
    configs = [{"a": a} for a in (1.5, -2.0, 3.0)]
    results = sweep.run(square, configs, store=tmp_path, workers=2, progress=False)
    np.testing.assert_allclose([float(r["value"]) for r in results], [2.25, 4.0, 9.0], rtol=0, atol=0)
    assert math.isclose(results[1].attrs["a"], -2.0)


def test_a_failed_run_keeps_the_finished_ones(tmp_path):
    configs = [{"a": 1}, {"a": 2, "fail": True}, {"a": 3}]
    with pytest.raises(RuntimeError, match="asked to fail"):
        sweep.run(square, configs, store=tmp_path, workers=0, progress=False)
    assert len(list(tmp_path.glob("*.nc"))) == 1  # the run before the failure was stored
    with pytest.raises(ValueError, match="duplicates"):
        sweep.run(square, [{"a": 1}, {"a": 1}], workers=0)
    with pytest.raises(TypeError, match="xarray.Dataset"):
        sweep.run(lambda c: 1.0, [{"a": 1}], workers=0)


@pytest.mark.needs("distributed")
def test_a_dask_local_cluster_runs_the_sweep_and_resumes(tmp_path):
    distributed = netcdf.import_distributed()  # beside SnapPy's 'snappy' module, as the sweep imports it

    configs = [{"name": "dask", "a": a} for a in (1.0, 2.0, -3.0)]
    sweep.run(square, configs[:1], store=tmp_path, workers=0, progress=False)  # one run stored before
    # thread workers: a loaded 2-core CI machine can time out starting worker processes (nannies)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        results = sweep.run(square, configs, store=tmp_path, scheduler=cluster.scheduler_address, progress=False)
    assert [float(r["value"]) for r in results] == [1.0, 4.0, 9.0]
    assert len(list(tmp_path.glob("dask-*.nc"))) == 3


@pytest.mark.needs("distributed")
def test_an_unreachable_scheduler_is_named(monkeypatch):
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(ConnectionError, match="tcp://127.0.0.1:1"):
        sweep.run(square, [{"a": 1}], scheduler="tcp://127.0.0.1:1", progress=False)


def logged_square(config):
    """A run that logs, as a long run logs its progress."""
    logging.getLogger("kansci.tests").info("computing a=%s", config["a"])
    return square(config)


def test_log_records_of_worker_processes_reach_this_process(tmp_path, caplog):
    configs = [{"a": a} for a in (2.0, 3.0)]
    with caplog.at_level(logging.INFO, logger="kansci"):
        results = sweep.run(logged_square, configs, store=tmp_path, workers=2, progress=False, desc="sq")
    np.testing.assert_allclose([float(r["value"]) for r in results], [4.0, 9.0], rtol=0, atol=0)
    messages = [r.getMessage() for r in caplog.records]
    assert {"computing a=2.0", "computing a=3.0"} <= set(messages)  # logged in the workers, shown here
    assert sum(m.startswith("sq: run ") and " finished in " in m for m in messages) == 2


def test_records_carry_when_and_by_what_code_they_were_computed(tmp_path):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    (result,) = sweep.run(square, [{"a": 2}], store=tmp_path, workers=0, progress=False)
    stored = netcdf.read(next(tmp_path.glob("*.nc")))
    for ds in (result, stored):
        computed = datetime.datetime.strptime(ds.attrs["sweep_computed_at"], "%Y-%m-%dT%H:%M:%S%z")
        assert before <= computed <= datetime.datetime.now(datetime.timezone.utc)
        assert ds.attrs["sweep_kansci_version"] == kansci.__version__
        assert ds.attrs["sweep_code_fingerprint"] == sweep.code_fingerprint(square)
        assert ds.attrs["sweep_seconds"] >= 0.0
    # the fingerprint covers the run function's own file outside the package, and only changes with the code
    assert sweep.code_fingerprint(square) != sweep.code_fingerprint()
    assert sweep.code_fingerprint(square) == sweep.code_fingerprint(logged_square)


@pytest.mark.parametrize("changed", ["version", "code"])
def test_a_run_stored_by_other_code_is_computed_again_or_refused(tmp_path, monkeypatch, caplog, changed):
    configs = [{"name": "sq", "a": a} for a in (1.0, 2.0)]
    old = sweep.run(square, configs, store=tmp_path, workers=0, progress=False)
    if changed == "version":
        monkeypatch.setattr(kansci, "__version__", kansci.__version__ + ".post1")
    else:
        monkeypatch.setattr(sweep, "code_fingerprint", lambda fn=None: "0123456789ab")
    with pytest.raises(ValueError, match=r"sq-\w+\.nc was computed by other code: .*stale='rerun'"):
        sweep.run(square, configs, store=tmp_path, workers=0, progress=False, stale="error")
    calls = []

    def counted(config):
        calls.append(config["a"])
        return square(config)

    with caplog.at_level(logging.WARNING, logger="kansci.sweep"):
        new = sweep.run(counted, configs, store=tmp_path, workers=0, progress=False)
    assert calls == [1.0, 2.0]  # both stale runs ran again, none was reported from the old records
    assert sum("computed by other code" in r.getMessage() for r in caplog.records) == 2
    key = "sweep_kansci_version" if changed == "version" else "sweep_code_fingerprint"
    assert all(n.attrs[key] != o.attrs[key] for n, o in zip(new, old))
    assert len(list(tmp_path.glob("*.nc"))) == 2  # the records were replaced, not kept beside
    again = sweep.run(lambda c: pytest.fail("current runs must not rerun"), configs, store=tmp_path, workers=0)
    assert [float(r["value"]) for r in again] == [1.0, 4.0]


INTERRUPT = {"after": None}
"""Steps after which :func:`checkpointed_fit` raises, as a killed run stops (None: never)."""


class Interrupted(Exception):
    pass


def checkpointed_fit(config, checkpoint=None):
    """A run that trains a small KAN for 12 LBFGS steps, checkpointed every 4, counting the steps it takes."""
    data = from_function(lambda x: torch.sin(3 * x[:, :1]) * x[:, 1:], 2, n_train=100, n_test=20, dtype=torch.float64)
    model = kansci.KAN([2, 3, 1], grid=5, seed=config["seed"], dtype=torch.float64)
    taken = []

    def count(step, model, history):
        taken.append(step)
        if INTERRUPT["after"] is not None and len(taken) == INTERRUPT["after"]:
            raise Interrupted(f"stopped after step {step}")

    path = None if checkpoint is None else Path(checkpoint) / "fit.pt"
    history = kansci.fit(
        model,
        data,
        steps=12,
        checkpoint=path,
        checkpoint_every=4,
        lbfgs_iters=5,
        resume=path is not None,
        callbacks=[count],
    )
    return xr.Dataset(
        {"train_rmse": ("step", history.train_rmse), "loss": ("step", history.loss)},
        attrs={"steps_taken": len(taken), "events": "; ".join(history.events)},
    )


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    config = [{"name": "fit", "seed": 1}]
    (whole,) = sweep.run(checkpointed_fit, config, store=tmp_path / "whole", workers=0, progress=False)
    assert whole.attrs["steps_taken"] == 12
    monkeypatch.setitem(INTERRUPT, "after", 7)  # the checkpoint of step 4 is the last one written
    with pytest.raises(Interrupted):
        sweep.run(checkpointed_fit, config, store=tmp_path / "cut", workers=0, progress=False)
    assert [p.name for p in (tmp_path / "cut").iterdir()] == [
        f"{sweep.config_key(config[0])}.{sweep.code_fingerprint(checkpointed_fit)}.partial"
    ]
    monkeypatch.setitem(INTERRUPT, "after", None)
    (resumed,) = sweep.run(checkpointed_fit, config, store=tmp_path / "cut", workers=0, progress=False)
    assert resumed.attrs["steps_taken"] == 8 and "resumed at step 4" in resumed.attrs["events"]
    # the same 12 steps as the uninterrupted run: LBFGS and the data draws continue from the saved state
    np.testing.assert_allclose(resumed["loss"].values, whole["loss"].values, rtol=1e-9, atol=0)
    np.testing.assert_allclose(resumed["train_rmse"].values, whole["train_rmse"].values, rtol=1e-9, atol=0)
    assert [p.suffix for p in (tmp_path / "cut").iterdir()] == [".nc"]  # the checkpoints went with the record


def test_a_poisson_run_resumes_in_the_stage_it_was_interrupted(tmp_path, monkeypatch):
    from kansci.studies import common, poisson

    config = next(c for c in poisson.configs("poisson_paper", True, 0, "float64", "cpu") if c["kind"] == "kan")
    config = dict(config, n_interior=100, n_boundary=40, steps=4)  # grids 5 and 10, 4 steps each
    whole = poisson.run_config(config, checkpoint=tmp_path / "whole")
    taken, stop = [], {"after": 7}  # stop at the third step of the second stage

    def counting_logger(name, total, every=common.PROGRESS_SECONDS):
        assert total == 8

        def callback(step, model, history):
            taken.append(step)
            if len(taken) == stop["after"]:
                raise Interrupted(f"stopped at step {step}")

        return callback

    monkeypatch.setattr(common, "step_logger", counting_logger)
    monkeypatch.setattr(poisson, "CHECKPOINT_STEPS", 2)
    with pytest.raises(Interrupted):
        poisson.run_config(config, checkpoint=tmp_path / "cut")
    taken.clear()
    stop["after"] = None
    resumed = poisson.run_config(config, checkpoint=tmp_path / "cut")
    assert len(taken) == 2  # the first stage restored, not retrained; the second resumed at its step 2
    np.testing.assert_allclose(resumed["loss"].values, whole["loss"].values, rtol=1e-9, atol=0)
    np.testing.assert_allclose(resumed["relative_l2"].values, whole["relative_l2"].values, rtol=1e-9, atol=0)


def test_a_run_of_several_fit_calls_restores_the_finished_ones_and_resumes_the_interrupted_one(tmp_path):
    from kansci.studies import common

    data = from_function(lambda x: torch.sin(3 * x[:, :1]) * x[:, 1:], 2, n_train=100, n_test=20, dtype=torch.float64)
    taken = []

    def run(folder, stop_after=None):
        def count(step, model, history):
            taken.append(step)
            if len(taken) == stop_after:
                raise Interrupted(f"stopped at step {step}")

        fits = common.FitCheckpoints(folder, every=2)
        model = kansci.KAN([2, 3, 1], grid=3, seed=0, dtype=torch.float64)
        fits.fit(model, data, steps=6, opt="adam", lr=1e-2, callbacks=[count])
        model = model.refine(6, data.train_input)
        history = fits.fit(model, data, steps=6, lbfgs_iters=5, callbacks=[count])
        return model, history

    whole, _ = run(tmp_path / "whole")
    taken.clear()
    with pytest.raises(Interrupted):
        run(tmp_path / "cut", stop_after=9)  # the third step of the second call; its checkpoint of step 2 is kept
    taken.clear()
    resumed, history = run(tmp_path / "cut")
    assert taken == [2, 3, 4, 5]  # the first call restored, not retrained; the second from its step 2
    assert "resumed at step 2" in history.events
    for a, b in zip(resumed.parameters(), whole.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_an_unreadable_stored_run_is_computed_again_or_refused(tmp_path, caplog):
    configs = [{"name": "sq", "a": 3.0}]
    sweep.run(square, configs, store=tmp_path, workers=0, progress=False)
    [record] = tmp_path.glob("*.nc")
    record.write_bytes(record.read_bytes()[:100])  # truncated, as by a full disk
    with pytest.raises(ValueError, match=r"sq-\w+\.nc is not a readable NetCDF"):
        sweep.run(square, configs, store=tmp_path, workers=0, progress=False, stale="error")
    with caplog.at_level(logging.WARNING, logger="kansci.sweep"):
        [again] = sweep.run(square, configs, store=tmp_path, workers=0, progress=False)
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(float(again["value"]), float(square(configs[0])["value"]), rtol=1e-12)
    assert float(netcdf.read(record)["value"]) == pytest.approx(float(again["value"]), rel=1e-12)
