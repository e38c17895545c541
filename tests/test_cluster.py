"""A Dask cluster started with ``python -m kansci.cluster`` stores what a local run stores; no workers: a clear error.

The cluster commands must start where SnapPy (extra ``knots``) is installed, which breaks Dask's own commands.
"""

import contextlib
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from kansci import cluster, netcdf, sweep
from kansci.studies import continual

needs_distributed = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="dask.distributed not installed (extra 'distributed')",
)

ROOT = Path(__file__).resolve().parents[1]
"""The repository: the workers import this module's run functions from it."""

START_TIMEOUT = 180.0
"""Seconds to wait for the cluster's processes: each imports torch and kansci, slow on a loaded 2-core machine."""


def one(config):
    """A run that returns its input."""
    return xr.Dataset({"value": ((), float(config["a"]))})


def logs(config):
    """A run that logs (as a study's progress does) and returns the id of the process it ran in."""
    logging.getLogger("kansci.test_cluster").info("run %s in process %d", config["a"], os.getpid())
    return xr.Dataset({"process": ((), os.getpid())})


def test_worker_arguments_default_to_one_thread_per_process():
    assert cluster.worker_arguments(["tcp://h:8786"], cpus=4) == [
        "tcp://h:8786",
        "--nthreads",
        "1",
        "--nworkers",
        "4",
    ]
    given = ["tcp://h:8786", "--nthreads=2", "--nworkers", "3"]
    assert cluster.worker_arguments(given, cpus=4) == given


def test_the_command_needs_a_role_and_names_the_extra(monkeypatch, capsys):
    with pytest.raises(SystemExit) as stop:
        cluster.main([])
    assert stop.value.code == 2
    assert "scheduler" in capsys.readouterr().err

    def missing():
        raise ImportError('a Dask scheduler needs dask.distributed: pip install "kansci[distributed]"')

    monkeypatch.setattr(netcdf, "import_distributed", missing)
    with pytest.raises(SystemExit):
        cluster.main(["scheduler"])
    assert "kansci[distributed]" in capsys.readouterr().err


@needs_distributed
def test_a_scheduler_without_workers_is_named_quickly(monkeypatch):
    distributed = netcdf.import_distributed()
    monkeypatch.setattr(sweep, "WORKER_TIMEOUT", 1.0)
    with distributed.LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as empty:
        started = time.monotonic()
        with pytest.raises(sweep.ClusterError, match="no workers for 1 s.*python -m kansci.cluster worker tcp://"):
            sweep.run(one, [{"a": 1}], scheduler=empty.scheduler_address, progress=False)
        waited = time.monotonic() - started
    assert 1.0 <= waited < 60.0  # it waited for a worker, then stopped (before: silence until interrupted)


@needs_distributed
def test_a_study_pointed_at_a_cluster_without_workers_ends_with_the_message_alone(monkeypatch, tmp_path, capsys):
    distributed = netcdf.import_distributed()
    monkeypatch.setattr(sweep, "WORKER_TIMEOUT", 1.0)
    with distributed.LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as empty:
        with pytest.raises(SystemExit) as stop:
            continual.main(["--quick", "--out", str(tmp_path), "--scheduler", empty.scheduler_address])
    assert "no workers for 1 s" in str(stop.value.code) and "python -m kansci.cluster worker" in str(stop.value.code)


def slow(config):
    """A run that takes ``config["seconds"]``."""
    time.sleep(config["seconds"])
    return xr.Dataset({"value": ((), 1.0)})


@needs_distributed
def test_a_cluster_that_loses_its_workers_mid_sweep_is_named(monkeypatch):
    distributed = netcdf.import_distributed()
    monkeypatch.setattr(sweep, "WORKER_TIMEOUT", 1.0)
    monkeypatch.setattr(sweep, "_POLL_SECONDS", 0.2)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=":0"
    ) as shrinking:
        stop = threading.Timer(1.0, shrinking.scale, (0,))  # the only worker goes while the first run is running
        stop.start()
        try:
            with pytest.raises(sweep.ClusterError, match="no workers for 1 s"):
                sweep.run(slow, [{"seconds": 2.0}, {"seconds": 2.1}], scheduler=shrinking.scheduler_address)
        finally:
            stop.cancel()


def checkpointed(config, checkpoint=None):
    """A run that reports the checkpoint folder it was given."""
    return xr.Dataset({"value": ((), float(config["a"]))}, attrs={"checkpoint": str(checkpoint)})


def test_a_worker_refuses_other_code_and_skips_checkpoints_it_cannot_see(tmp_path):
    stamp = sweep.provenance()
    ds = sweep._call_on_worker(one, {"a": 2.5}, 1, logging.INFO, stamp)
    np.testing.assert_allclose(float(ds["value"]), 2.5, rtol=0, atol=0)
    older = {**stamp, "sweep_code_fingerprint": "0123456789ab"}
    with pytest.raises(sweep.ClusterError, match="runs other code than the study: code_fingerprint .* install"):
        sweep._call_on_worker(one, {"a": 2.5}, 1, logging.INFO, older)
    # the store folder on this machine: checkpoints go there; on another machine (absent here): none
    seen = sweep._WithCheckpoint(checkpointed, str(tmp_path), stamp["sweep_code_fingerprint"])
    assert sweep._call_on_worker(seen, {"a": 1}, 1, logging.INFO, stamp).attrs["checkpoint"].startswith(str(tmp_path))
    unseen = sweep._WithCheckpoint(checkpointed, str(tmp_path / "elsewhere"), stamp["sweep_code_fingerprint"])
    assert sweep._call_on_worker(unseen, {"a": 1}, 1, logging.INFO, stamp).attrs["checkpoint"] == "None"


def _start(args, log: Path) -> subprocess.Popen:
    """``python -m kansci.cluster ARGS`` in a process group of its own (a worker command spawns processes)."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kansci.cluster", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        )


def _stop(process: subprocess.Popen) -> None:
    """Ask the group to stop (workers close, then their nanny), kill it if it does not within 30 s."""
    for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
            break
    with contextlib.suppress(ProcessLookupError):  # nothing of the group outlives the test
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def _cluster(folder: Path, workers: int):
    """A scheduler and ``workers`` worker processes on 127.0.0.1 (free ports); yields a function giving the address."""
    folder.mkdir()
    address_file = folder / "scheduler.json"
    started: list[subprocess.Popen] = []
    try:
        started.append(
            _start(
                ["scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0"]
                + ["--scheduler-file", address_file],
                folder / "scheduler.log",
            )
        )

        def address() -> str:
            deadline = time.monotonic() + START_TIMEOUT
            while not address_file.exists():
                if started[0].poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the scheduler did not start:\n" + (folder / "scheduler.log").read_text())
                time.sleep(0.2)
            time.sleep(0.2)  # the file is written in one go, but give the writer a moment to close it
            return json.loads(address_file.read_text())["address"]

        worker = ["worker", address(), "--host", "127.0.0.1", "--nworkers", str(workers), "--dashboard-address", ":0"]
        started.append(_start([*worker, "--local-directory", folder / "scratch"], folder / "workers.log"))
        yield address
    finally:
        for process in reversed(started):
            _stop(process)


def _records(folder: Path) -> dict[str, xr.Dataset]:
    """The stored runs by their name (file names carry a hash of the config and code, not compared here)."""
    runs = [netcdf.read(path) for path in sorted((folder / "runs").glob("*.nc"))]
    return {run.attrs["name"]: run for run in runs}


@pytest.mark.slow
@needs_distributed
def test_a_study_on_a_real_cluster_stores_what_a_local_run_stores(tmp_path, caplog):
    distributed = netcdf.import_distributed()
    caplog.set_level(logging.INFO, logger="kansci")
    with _cluster(tmp_path / "cluster", workers=2) as address:
        # while the cluster starts: the local run, in this process with one torch thread as each worker has
        # (the study's training is chaotic: a different thread count changes its errors by up to 30%, measured)
        torch.set_num_threads(1)
        continual.main(["--quick", "--out", str(tmp_path / "local"), "--workers", "0"])
        with distributed.Client(address(), timeout="60s") as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
            assert len(client.nthreads()) == 2 and set(client.nthreads().values()) == {1}
        continual.main(["--quick", "--out", str(tmp_path / "cluster_run"), "--scheduler", address()])
        (logged,) = sweep.run(logs, [{"a": 7}], scheduler=address(), progress=False)
    local, remote = _records(tmp_path / "local"), _records(tmp_path / "cluster_run")
    assert sorted(local) == sorted(remote) == ["KAN", "MLP"]
    for name, ds in local.items():
        assert set(ds.data_vars) == set(remote[name].data_vars) == {"prediction", "rmse"}
        for var in ds.data_vars:
            # the same arithmetic on the same CPU: equal to round-off (a wrong config or seed differs by O(1))
            np.testing.assert_allclose(remote[name][var].values, ds[var].values, rtol=1e-9, atol=1e-12)
        assert remote[name].attrs["n_params"] == ds.attrs["n_params"]
    # the study's outputs from the cluster are complete too
    assert {p.name for p in (tmp_path / "cluster_run").iterdir()} >= {"results.nc", "summary.md", "phases.png"}
    # a run's log records come back from the worker process it ran in
    worker = int(logged["process"])
    assert worker != os.getpid()
    assert f"run 7 in process {worker}" in [r.getMessage() for r in caplog.records if r.name == "kansci.test_cluster"]
