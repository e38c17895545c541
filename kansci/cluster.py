"""Start a Dask scheduler and workers for kansci sweeps, also where SnapPy is installed (extra ``knots``).

Dask's own ``dask scheduler`` and ``dask worker`` commands stop at import there:
distributed probes the module name ``snappy`` for python-snappy compression, and
SnapPy owns that name (see :mod:`kansci.netcdf`). These commands import
distributed with the probe hidden, then hand the rest of the command line to
distributed's own scheduler and worker commands, so their options all apply::

    python -m kansci.cluster scheduler --port 8786
    python -m kansci.cluster worker tcp://HOST:8786 --nworkers 4
    python -m kansci.studies.toy --scheduler tcp://HOST:8786

A kansci worker command starts, unless told otherwise, one worker process per
CPU with one thread each (``--nworkers`` and ``--nthreads`` override): a run
trains a small network, which gains nothing from more threads, and the sweep
sets one torch thread per run, as local sweeps do. Workers must have kansci,
and the extras a study needs, installed in the same version as the machine
that starts the study. Extra ``distributed``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kansci import netcdf

__all__ = ["main", "worker_arguments"]

ROLES = ("scheduler", "worker")


def _guard() -> None:
    """Import distributed beside SnapPy; a no-op when distributed is missing (``main`` names the extra then)."""
    try:
        netcdf.import_distributed()
    except ImportError:
        pass


# Worker processes are spawned and import this module (as their main module) before they unpickle
# anything of distributed's, so the guard must run at import, not only in main().
_guard()


def worker_arguments(args: Sequence[str], cpus: int | None = None) -> list[str]:
    """``args`` for distributed's worker command with kansci's defaults added where not given.

    Parameters
    ----------
    args : sequence of str
        The worker command line after ``worker`` (scheduler address and options).
    cpus : int, optional
        CPU count for the default ``--nworkers`` (default: ``os.cpu_count()``).

    Returns
    -------
    list of str
        ``args`` plus ``--nthreads 1`` and ``--nworkers <cpus>`` unless they were given.
    """
    out = list(args)
    given = {a.split("=", 1)[0] for a in out if a.startswith("--")}
    if "--nthreads" not in given:
        out += ["--nthreads", "1"]
    if "--nworkers" not in given and "--nprocs" not in given:
        out += ["--nworkers", str(cpus or os.cpu_count() or 1)]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m kansci.cluster {scheduler,worker} [options of dask scheduler / dask worker]``."""
    parser = argparse.ArgumentParser(
        prog="python -m kansci.cluster",
        description="Start a Dask scheduler or workers for kansci sweeps (works beside SnapPy). "
        "Options after the role go to distributed's own command: see "
        "'python -m kansci.cluster scheduler --help' and 'python -m kansci.cluster worker --help'.",
    )
    parser.add_argument("role", choices=ROLES, help="scheduler, or worker (then the scheduler address tcp://HOST:PORT)")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="passed on to distributed's command")
    args = parser.parse_args(argv)
    try:
        netcdf.import_distributed()
    except ImportError as err:
        parser.error(str(err))
    if args.role == "scheduler":
        from distributed.cli.dask_scheduler import main as command

        options = list(args.options)
    else:
        from distributed.cli.dask_worker import main as command

        options = worker_arguments(args.options)
    command.main(args=options, prog_name=f"python -m kansci.cluster {args.role}")


if __name__ == "__main__":
    main(sys.argv[1:])
