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

Provenance. A record is reused only when it was computed by the same code: it
carries the kansci and torch versions and :func:`code_fingerprint` (a hash of
the source of every module of the kansci package, and of the run function's own
file when that lies outside the package) in its attributes, beside when it was
computed (``sweep_computed_at``, UTC) and how long it took. A record from other
code is stale: it is computed again (or refused, ``stale="error"``) and never
returned as current. Hashing the whole package is deliberately coarse: any edit
to kansci (even a docstring) reruns the stored runs, where a finer rule (only
the modules a run imports) could miss a dependency; hashing ~100 small files
takes milliseconds, once per process.

Checkpoints. A run function that takes a ``checkpoint`` keyword gets a folder
of its own, ``store/<key>.<fingerprint>.partial``, to keep checkpoints of a run
in progress (e.g. ``kansci.fit(checkpoint=..., resume=True)``), so an
interrupted run resumes instead of starting over; the folder is removed when
the run's record is written, and not part of the config's key. Checkpoints of
other code are removed, never resumed.

Progress. Each finished run is logged (``logging``, INFO) and ticks a progress
bar; log records that runs emit in local worker processes are forwarded to this
process, so a run that logs its own progress (the studies log a line every few
seconds) is seen within the run, also when the output is redirected.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import logging
import logging.handlers
import multiprocessing
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import xarray as xr
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import kansci
from kansci import netcdf

__all__ = ["ClusterError", "code_fingerprint", "config_key", "provenance", "run"]

log = logging.getLogger(__name__)

RunFn = Callable[[Mapping[str, Any]], xr.Dataset]

CONNECT_TIMEOUT = "30s"
"""How long to wait for a Dask scheduler before giving up."""

WORKER_TIMEOUT = 45.0
"""Seconds a sweep waits while a Dask scheduler has no workers (at the start, or after losing all) before giving up."""

_POLL_SECONDS = 5.0
"""How often a Dask sweep with no finished run checks that the cluster still has workers."""

STAMP = ("sweep_kansci_version", "sweep_torch_version", "sweep_code_fingerprint")
"""Record attributes that must match the running code for a stored run to be reused."""


class ClusterError(RuntimeError):
    """A Dask cluster that cannot run the sweep: no workers, or workers running other code."""


def config_key(config: Mapping[str, Any]) -> str:
    """A short stable name for a config: its ``name`` entry (if any) and a hash of the whole."""
    text = json.dumps(config, sort_keys=True, default=str)
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(config.get("name", "run")))
    return f"{name}-{digest}"


@functools.cache
def _files_digest(files: tuple[str, ...], root: str) -> str:
    digest = hashlib.sha1()
    for file in files:
        digest.update(os.path.relpath(file, root).replace(os.sep, "/").encode() + b"\0")
        digest.update(Path(file).read_bytes() + b"\0")
    return digest.hexdigest()


def code_fingerprint(fn: Callable[..., Any] | None = None) -> str:
    """A hash of the kansci package's source (every ``.py`` file), and of ``fn``'s file outside the package.

    Parameters
    ----------
    fn : callable, optional
        A run function; when its module lies outside kansci (a script, a test),
        its source file joins the hash.

    Returns
    -------
    str
        12 hex digits; computed once per process and file set.
    """
    package = Path(kansci.__file__).resolve().parent
    files = sorted(str(p) for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    extra = _source_file(fn)
    if extra is not None and package not in extra.parents:
        files.append(str(extra))
    return _files_digest(tuple(files), str(package.parent))[:12]


def _source_file(fn: Callable[..., Any] | None) -> Path | None:
    fn = fn.fn if isinstance(fn, _WithCheckpoint) else fn
    try:
        name = inspect.getsourcefile(inspect.unwrap(fn)) if fn is not None else None
    except TypeError:  # a builtin, a partial or another callable without a source file of its own
        return None
    return None if name is None else Path(name).resolve()


def provenance(fn: Callable[..., Any] | None = None) -> dict[str, str]:
    """The attributes a stored run must carry to be reused: kansci and torch versions, the code's fingerprint."""
    return dict(zip(STAMP, (kansci.__version__, str(torch.__version__), code_fingerprint(fn))))


@dataclass(frozen=True)
class _WithCheckpoint:
    """``fn(config, checkpoint=FOLDER)`` with a folder per run under ``store``: picklable for worker processes."""

    fn: Callable[..., xr.Dataset]
    store: str
    fingerprint: str

    def __call__(self, config: Mapping[str, Any]) -> xr.Dataset:
        return self.fn(config, checkpoint=_checkpoint_folder(Path(self.store), config_key(config), self.fingerprint))


def _checkpoint_folder(store: Path, key: str, fingerprint: str) -> Path:
    return store / f"{key}.{fingerprint}.partial"


def _takes_checkpoint(fn: Callable[..., Any]) -> bool:
    try:
        return "checkpoint" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature to inspect
        return False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _ToLocalLoggers(logging.Handler):
    """Hands a record forwarded from a worker process to this process's logger of the same name."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def _init_worker(threads: int, queue: Any = None, level: int = logging.WARNING) -> None:
    torch.set_num_threads(threads)
    if queue is not None:  # the worker's log records go to the parent, which shows them
        root = logging.getLogger()
        root.handlers[:] = [logging.handlers.QueueHandler(queue)]
        root.setLevel(level)


def _call(fn: RunFn, config: Mapping[str, Any], threads: int | None = None) -> xr.Dataset:
    if threads is not None:  # a Dask worker: no initializer runs there
        torch.set_num_threads(threads)
    started = time.perf_counter()
    result = fn(config)
    if not isinstance(result, xr.Dataset):
        raise TypeError(f"a sweep function must return an xarray.Dataset, got {type(result).__name__}")
    return result.assign_attrs(sweep_seconds=time.perf_counter() - started)


def _read_record(path: Path, stamp: Mapping[str, str], stale: str) -> xr.Dataset | None:
    """The stored run at ``path`` if the running code computed it; None (after a warning) if stale or unreadable."""
    try:
        ds = netcdf.read(path)
    except ValueError as err:  # a corrupt or truncated record: a cache entry, computed again
        if stale == "error":
            raise
        log.warning("%s is unreadable (%s): running it again", path.name, err)
        return None
    found = {k: ds.attrs.get(k) for k in STAMP}
    if found == dict(stamp):
        return ds
    what = ", ".join(f"{k.removeprefix('sweep_')} {found[k]} (now {stamp[k]})" for k in STAMP if found[k] != stamp[k])
    if stale == "error":
        raise ValueError(
            f"{path} was computed by other code: {what}; delete it (or the store) or pass stale='rerun' to recompute"
        )
    log.warning("%s was computed by other code (%s): running it again", path.name, what)
    return None


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
    stale: Literal["rerun", "error"] = "rerun",
) -> list[xr.Dataset]:
    """Run ``fn`` on every config; results in the order of ``configs``.

    Parameters
    ----------
    fn : callable
        ``fn(config) -> xarray.Dataset``, or ``fn(config, checkpoint=None)``
        to be given a checkpoint folder per run (with ``store``); must be
        importable by name (a module-level function) when ``workers > 0``, and
        a script that starts workers must do so under ``if __name__ ==
        "__main__":`` (processes are spawned, so they import the script).
    configs : sequence of dict
        JSON-able; two configs with the same content are the same run.
    store : path, optional
        Folder for one NetCDF record per finished run; existing records of the
        same code are reused, so an interrupted sweep resumes.
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
    desc : str
        The progress bar's label.
    stale : {"rerun", "error"}
        What to do with a stored record computed by other code (another kansci
        or torch version, or changed source): compute it again, or raise.

    Returns
    -------
    list of xarray.Dataset
        Each with attributes ``sweep_computed_at`` (UTC, when its record was
        written), ``sweep_seconds`` and the :func:`provenance` of its code.

    Raises
    ------
    ValueError
        For duplicate configs, a negative ``workers``, or a stale record with ``stale="error"``.
    """
    keys = [config_key(c) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("configs contain duplicates; give each run a distinct config")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0 (0 runs in this process), got {workers}")
    if stale not in ("rerun", "error"):
        raise ValueError(f"stale must be 'rerun' or 'error', got {stale!r}")
    folder = None if store is None else Path(store).resolve()
    stamp = provenance(fn)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        if _takes_checkpoint(fn):
            fn = _WithCheckpoint(fn, str(folder), stamp["sweep_code_fingerprint"])
    results: dict[int, xr.Dataset] = {}
    for i, key in enumerate(keys):
        if folder is not None and (folder / f"{key}.nc").exists():
            ds = _read_record(folder / f"{key}.nc", stamp, stale)
            if ds is not None:
                results[i] = ds
    todo = [i for i in range(len(configs)) if i not in results]
    if folder is not None:
        _remove_stale_checkpoints(folder, [keys[i] for i in todo], stamp["sweep_code_fingerprint"])
    if results:
        log.info("resuming: %d of %d runs already stored in %s", len(results), len(configs), folder)
    bar = tqdm(total=len(configs), initial=len(results), desc=desc, disable=None if progress is None else not progress)

    def finish(i: int, ds: xr.Dataset) -> None:
        ds = ds.assign_attrs(stamp, sweep_computed_at=_now())
        if folder is not None:
            netcdf.write(ds, folder / f"{keys[i]}.nc")
            shutil.rmtree(_checkpoint_folder(folder, keys[i], stamp["sweep_code_fingerprint"]), ignore_errors=True)
        results[i] = ds
        bar.update()
        seconds = ds.attrs.get("sweep_seconds", float("nan"))
        log.info("%s: run %s finished in %.0f s (%d of %d)", desc, keys[i], seconds, len(results), len(configs))

    n_workers = min(os.cpu_count() or 1, len(todo)) if workers is None else min(workers, len(todo))
    try:
        with logging_redirect_tqdm() if not bar.disable else contextlib.nullcontext():
            if scheduler is not None:
                _run_on_dask(fn, configs, todo, scheduler, threads_per_worker, finish)
            elif n_workers <= 0 or (len(todo) == 1 and workers is None):
                for i in todo:
                    finish(i, _call(fn, configs[i]))
            else:
                _run_on_processes(fn, configs, todo, n_workers, threads_per_worker, finish)
    finally:
        bar.close()
    return [results[i] for i in range(len(configs))]


def _run_on_processes(
    fn: RunFn,
    configs: Sequence[Mapping[str, Any]],
    todo: list[int],
    n_workers: int,
    threads: int,
    finish: Callable[[int, xr.Dataset], None],
) -> None:
    """Run on spawned local processes, forwarding their log records to this process's loggers."""
    context = multiprocessing.get_context("spawn")  # fork and torch's thread pools do not mix
    queue = context.Queue()
    listener = logging.handlers.QueueListener(queue, _ToLocalLoggers())
    level = logging.getLogger("kansci").getEffectiveLevel()
    listener.start()
    try:
        with ProcessPoolExecutor(n_workers, context, _init_worker, (threads, queue, level)) as pool:
            pending = {pool.submit(_call, fn, configs[i]): i for i in todo}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    finish(pending.pop(future), future.result())
    finally:
        listener.stop()
        queue.close()


def _remove_stale_checkpoints(folder: Path, keys: Sequence[str], fingerprint: str) -> None:
    """Delete the checkpoint folders of these runs that other code wrote: they must not be resumed."""
    for key in keys:
        for partial in folder.glob(f"{key}.*.partial"):
            if partial.name != _checkpoint_folder(folder, key, fingerprint).name:
                log.warning("removing %s: checkpoints of other code are not resumed", partial.name)
                shutil.rmtree(partial, ignore_errors=True)


def _run_on_dask(
    fn: RunFn,
    configs: Sequence[Mapping[str, Any]],
    todo: list[int],
    address: str,
    threads: int,
    finish: Callable[[int, xr.Dataset], None],
) -> None:
    """Submit the runs to a Dask cluster and store each as it completes.

    The runs' ``kansci`` log records (progress within a run) are forwarded from the workers to this process.
    A worker refuses to run with other code than this process's (another kansci or torch version, changed
    source), whose records would otherwise carry this process's stamp; where a worker does not see the store
    folder (another machine, no shared file system), a run that takes checkpoints runs without them.
    Raises ConnectionError when the scheduler cannot be reached within ``CONNECT_TIMEOUT``, and ClusterError
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
        level = logging.getLogger("kansci").getEffectiveLevel()
        client.forward_logging("kansci", level=level)
        stamp = provenance()
        futures = {client.submit(_call_on_worker, fn, configs[i], threads, level, stamp, pure=False): i for i in todo}
        pending = set(futures)
        while pending:
            try:
                done, pending = distributed.wait(pending, timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED")
            except distributed.TimeoutError:  # long runs, or a cluster that lost its workers
                _wait_for_workers(client, address)
                continue
            for future in done:
                finish(futures[future], future.result())


def _call_on_worker(
    fn: RunFn, config: Mapping[str, Any], threads: int, level: int, stamp: Mapping[str, str]
) -> xr.Dataset:
    """:func:`_call` on a Dask worker running the code ``stamp`` names (:func:`provenance` of the package).

    Without checkpoints where the store folder is not on this machine; the ``kansci`` loggers handle records
    from ``level`` (the study's), which the client forwards.
    """
    here = provenance()
    if here != dict(stamp):
        what = ", ".join(
            f"{k.removeprefix('sweep_')} {here[k]} (the study's {stamp[k]})" for k in STAMP if here[k] != stamp[k]
        )
        raise ClusterError(
            f"the Dask worker on {platform.node()} runs other code than the study: {what}; "
            "install the study's kansci and torch in the workers' environment and restart them"
        )
    if isinstance(fn, _WithCheckpoint) and not Path(fn.store).is_dir():
        fn = functools.partial(fn.fn, checkpoint=None)
    logger = logging.getLogger("kansci")
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    return _call(fn, config, threads)


def _wait_for_workers(client: Any, address: str) -> None:
    """Return once the Dask cluster has a worker; ClusterError saying how to start one after ``WORKER_TIMEOUT`` s."""
    if client.nthreads():
        return
    command = f"python -m kansci.cluster worker {address}"
    log.warning("the Dask scheduler at %s has no workers; waiting %g s for one (%s)", address, WORKER_TIMEOUT, command)
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except netcdf.import_distributed().TimeoutError as err:
        raise ClusterError(
            f"the Dask scheduler at {address} has had no workers for {WORKER_TIMEOUT:g} s; start workers in the "
            f"environment of this study (same kansci and extras), e.g.: {command}"
        ) from err
