"""The sweep runner: results in config order, one record per run, resume without rerunning."""

import math

import numpy as np
import pytest
import xarray as xr

from kansci import sweep


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


def test_a_dask_local_cluster_runs_the_sweep_and_resumes(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] (extra 'distributed') not installed")
    configs = [{"name": "dask", "a": a} for a in (1.0, 2.0, -3.0)]
    sweep.run(square, configs[:1], store=tmp_path, workers=0, progress=False)  # one run stored before
    # thread workers: a loaded 2-core CI machine can time out starting worker processes (nannies)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        results = sweep.run(square, configs, store=tmp_path, scheduler=cluster.scheduler_address, progress=False)
    assert [float(r["value"]) for r in results] == [1.0, 4.0, 9.0]
    assert len(list(tmp_path.glob("dask-*.nc"))) == 3


def test_an_unreachable_scheduler_is_named(monkeypatch):
    pytest.importorskip("distributed", reason="dask[distributed] (extra 'distributed') not installed")
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(ConnectionError, match="tcp://127.0.0.1:1"):
        sweep.run(square, [{"a": 1}], scheduler="tcp://127.0.0.1:1", progress=False)
