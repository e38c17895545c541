"""Run many independent training runs, storing each result the moment it finishes.

A sweep is a function ``fn(config) -> xarray.Dataset`` and a list of configs
(plain JSON-able dicts). Every finished run is written atomically to
``store/<key>.nc`` (the key is derived from the config), so a sweep that is
interrupted resumes where it stopped: configs whose record exists are read,
not rerun. Runs go to local worker processes (one torch thread each: small
networks do not gain from intra-op threads, and processes do not share the
GIL), to a Dask distributed cluster when a scheduler address is given (extra
``distributed``), or run in this process when ``workers=0``. Results always
come back to this process, which alone writes the records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import torch
import xarray as xr
from tqdm.auto import tqdm

from kansci import netcdf

__all__ = ["config_key", "run"]

log = logging.getLogger(__name__)

RunFn = Callable[[Mapping[str, Any]], xr.Dataset]

CONNECT_TIMEOUT = "30s"
"""How long to wait for a Dask scheduler before giving up."""

WORKER_TIMEOUT = 45.0
"""Seconds a sweep waits while a Dask scheduler has no workers (at the start, or after losing all) before giving up."""

_POLL_SECONDS = 5.0
"""How often a Dask sweep with no finished run checks that the cluster still has workers."""


def config_key(config: Mapping[str, Any]) -> str:
    """A short stable name for a config: its ``name`` entry (if any) and a hash of the whole."""
    text = json.dumps(config, sort_keys=True, default=str)
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(config.get("name", "run")))
    return f"{name}-{digest}"


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _call(fn: RunFn, config: Mapping[str, Any], threads: int | None = None) -> xr.Dataset:
    if threads is not None:  # a Dask worker: no initializer runs there
        torch.set_num_threads(threads)
    result = fn(config)
    if not isinstance(result, xr.Dataset):
        raise TypeError(f"a sweep function must return an xarray.Dataset, got {type(result).__name__}")
    return result


def run(
    fn: RunFn,
    configs: Sequence[Mapping[str, Any]],
    *,
    store: str | os.PathLike | None = None,
    workers: int | None = None,
    threads_per_worker: int = 1,
    scheduler: str | None = None,
    progress: bool | None = None,
    desc: str = "runs",
) -> list[xr.Dataset]:
    """Run ``fn`` on every config; results in the order of ``configs``.

    Parameters
    ----------
    fn : callable
        ``fn(config) -> xarray.Dataset``; must be importable by name (a
        module-level function) when ``workers > 0``, and a script that starts
        workers must do so under ``if __name__ == "__main__":`` (processes are
        spawned, so they import the script).
    configs : sequence of dict
        JSON-able; two configs with the same content are the same run.
    store : path, optional
        Folder for one NetCDF record per finished run; existing records are
        reused, so an interrupted sweep resumes.
    workers : int, optional
        Local worker processes (default: CPU count, at most the runs left);
        0 runs everything in this process.
    threads_per_worker : int
        ``torch.set_num_threads`` in each worker.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://HOST:PORT``): the runs
        go to its workers instead of local processes (``workers`` is then
        ignored). ``fn`` must be importable on the workers.
    progress : bool, optional
        A progress bar over runs (default: when stderr is a terminal).

    Returns
    -------
    list of xarray.Dataset
    """
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs contain duplicates; give each run a distinct config")
    folder = None if store is None else Path(store)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    results: dict[int, xr.Dataset] = {}
    for i, key in enumerate(keys):
        if folder is not None and (folder / f"{key}.nc").exists():
            results[i] = netcdf.read(folder / f"{key}.nc")
    todo = [i for i in range(len(configs)) if i not in results]
    if results:
        log.info("resuming: %d of %d runs already stored in %s", len(results), len(configs), folder)
    bar = tqdm(total=len(configs), initial=len(results), desc=desc, disable=None if progress is None else not progress)

    def finish(i: int, ds: xr.Dataset) -> None:
        if folder is not None:
            netcdf.write(ds, folder / f"{keys[i]}.nc")
        results[i] = ds
        bar.update()

    n_workers = min(os.cpu_count() or 1, len(todo)) if workers is None else min(workers, len(todo))
    try:
        if scheduler is not None:
            _run_on_dask(fn, configs, todo, scheduler, threads_per_worker, finish)
        elif n_workers <= 0 or (len(todo) == 1 and workers is None):
            for i in todo:
                finish(i, _call(fn, configs[i]))
        else:
            context = multiprocessing.get_context("spawn")  # fork and torch's thread pools do not mix
            with ProcessPoolExecutor(n_workers, context, _init_worker, (threads_per_worker,)) as pool:
                pending = {pool.submit(_call, fn, configs[i]): i for i in todo}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        finish(pending.pop(future), future.result())
    finally:
        bar.close()
    return [results[i] for i in range(len(configs))]


def _run_on_dask(
    fn: RunFn,
    configs: Sequence[Mapping[str, Any]],
    todo: list[int],
    address: str,
    threads: int,
    finish: Callable[[int, xr.Dataset], None],
) -> None:
    """Submit the runs to a Dask cluster and store each as it completes.

    Raises ConnectionError when the scheduler cannot be reached within ``CONNECT_TIMEOUT``, and RuntimeError
    when it has no workers for ``WORKER_TIMEOUT`` seconds (checked at the start and whenever no run finished
    for a few seconds), instead of waiting for ever.
    """
    if not todo:
        return
    distributed = netcdf.import_distributed()
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {address}: {err}; start one with: python -m kansci.cluster scheduler"
        ) from err
    with client:
        _wait_for_workers(client, address)
        futures = {client.submit(_call, fn, configs[i], threads, pure=False): i for i in todo}
        pending = set(futures)
        while pending:
            try:
                done, pending = distributed.wait(pending, timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED")
            except distributed.TimeoutError:  # long runs, or a cluster that lost its workers
                _wait_for_workers(client, address)
                continue
            for future in done:
                finish(futures[future], future.result())


def _wait_for_workers(client: Any, address: str) -> None:
    """Return once the Dask cluster has a worker; RuntimeError saying how to start one after ``WORKER_TIMEOUT`` s."""
    if client.nthreads():
        return
    command = f"python -m kansci.cluster worker {address}"
    log.warning("the Dask scheduler at %s has no workers; waiting %g s for one (%s)", address, WORKER_TIMEOUT, command)
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except netcdf.import_distributed().TimeoutError as err:
        raise RuntimeError(
            f"the Dask scheduler at {address} has had no workers for {WORKER_TIMEOUT:g} s; start workers in the "
            f"environment of this study (same kansci and extras), e.g.: {command}"
        ) from err
