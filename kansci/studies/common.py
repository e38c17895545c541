"""What every study shares: its command line, the sweep call, provenance attributes, writing outputs.

Outputs. A study writes into ``--out``, by default ``results/<name>`` (``_quick``
appended for ``--quick``, ``_seed<N>`` for a seed other than 0), so that every
seed keeps its own summary, results and figures; the runs are stored in
``<out>/runs`` and reused while the code is unchanged (:mod:`kansci.sweep`).
``results.nc`` and ``summary.md`` say when their runs were computed
(``runs_computed_from`` / ``runs_computed_to``, UTC) besides when the outputs
were written.

Progress. The sweep logs every finished run; a run logs a line every
:data:`PROGRESS_SECONDS` seconds through :func:`step_logger`, so progress shows
within long runs also when the output goes to a file.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import xarray as xr
from matplotlib.figure import Figure

import kansci
from kansci import netcdf, sweep
from kansci.core.io import read_checkpoint

__all__ = [
    "CHECKPOINT_STEPS",
    "MAX_CHECKPOINTS",
    "PROGRESS_SECONDS",
    "FitCheckpoints",
    "VERDICTS",
    "Claim",
    "error_claim",
    "score_claim",
    "target_claim",
    "command_line",
    "describe",
    "logging_setup",
    "non_negative_int",
    "output_folder",
    "output_path",
    "parser",
    "positive_int",
    "provenance_attrs",
    "run_sweep",
    "scheduler_address",
    "sr_engine",
    "step_logger",
    "torch_device",
    "write_outputs",
]

PROGRESS_SECONDS = 10.0
"""Seconds between two progress lines of a run in progress."""

CHECKPOINT_STEPS = 10
"""Steps between two checkpoints of a run (:class:`FitCheckpoints`): the slowest LBFGS steps in the studies take
about 2.5 s on 2 cores (a width-100 MLP on the Poisson problem), so an interrupted run loses well under a minute."""

MAX_CHECKPOINTS = 50
"""At most this many checkpoints per fit call (:class:`FitCheckpoints`), so that calls of many cheap steps do not
spend their time writing checkpoints."""

log = logging.getLogger("kansci.studies")


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def output_path(text: str) -> Path:
    """An argparse type: a folder to write into (new or existing), never an existing file."""
    path = Path(text)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise argparse.ArgumentTypeError(f"{part} is a file; give a folder (new or existing) for the outputs")
    return path


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address, accepted only where dask.distributed is installed."""
    if ":" not in text:  # first: a malformed address is named whether or not Dask is installed
        raise argparse.ArgumentTypeError(f"expected an address like tcp://HOST:PORT, got {text!r}")
    if importlib.util.find_spec("distributed") is None:
        raise argparse.ArgumentTypeError('a Dask scheduler needs dask.distributed: pip install "kansci[distributed]"')
    return text


def torch_device(text: str) -> str:
    """An argparse type: a torch device this build of torch can use (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA device is visible"
            raise argparse.ArgumentTypeError(
                f"{build} (torch {torch.__version__}); use --device cpu, or install a CUDA build of torch"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f"{text}: only {torch.cuda.device_count()} CUDA device(s) visible; use cuda:0 to cuda:"
                f"{torch.cuda.device_count() - 1}"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError("MPS is not available in this torch build or machine; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"device {text!r} is not supported by the studies; use cpu, cuda or mps")
    return str(device)


def sr_engine(name: str) -> str:
    """An argparse type: a symbolic-regression engine that is installed here (its extra named if not)."""
    from kansci import sr

    try:
        sr.get_engine(name)
    except (ValueError, sr.EngineUnavailable) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return name


def parser(name: str, description: str, default_out: str | None = None) -> argparse.ArgumentParser:
    """The arguments every study takes: --quick, --out, --seed, --workers, --scheduler (validated on parsing)."""
    p = argparse.ArgumentParser(prog=f"python -m kansci.studies.{name}", description=description)
    p.add_argument("--quick", action="store_true", help="a tiny run (about a minute): a smoke test")
    p.add_argument(
        "--out",
        type=output_path,
        default=None,
        help=f"output folder (default results/{default_out or name}, plus _quick for --quick, _seedN for --seed N>0)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="first random seed (default 0)")
    p.add_argument(
        "--workers", type=non_negative_int, default=None, help="local worker processes (0: run in this process)"
    )
    p.add_argument(
        "--scheduler",
        type=scheduler_address,
        default=None,
        help="Dask scheduler address tcp://HOST:PORT (extra 'distributed')",
    )
    return p


def logging_setup() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


def output_folder(name: str, args: argparse.Namespace) -> Path:
    """``--out``, or ``results/<name>[_quick][_seed<N>]`` (seed 0 keeps the plain name); created if missing."""
    default = name + ("_quick" if args.quick else "") + (f"_seed{args.seed}" if args.seed else "")
    out = args.out or Path("results") / default
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_sweep(
    fn: Callable[..., xr.Dataset],
    configs: Sequence[Mapping[str, Any]],
    args: argparse.Namespace,
    out: Path,
    desc: str,
) -> tuple[list[xr.Dataset], float]:
    """Run the study's configs (stored in ``out/runs``, resumable); the results and the wall time in seconds.

    Without ``--workers``, a study on an accelerator (``--device`` other than cpu) runs in this process.
    A Dask scheduler that cannot be reached or has no workers ends the study with its message (exit status 1).
    """
    started = time.perf_counter()
    workers = args.workers
    if workers is None and getattr(args, "device", "cpu") != "cpu":
        workers = 0
    try:
        runs = sweep.run(fn, configs, store=out / "runs", workers=workers, scheduler=args.scheduler, desc=desc)
    except (ConnectionError, sweep.ClusterError) as err:  # a cluster that cannot run the study: no traceback
        raise SystemExit(f"error: {err}") from None
    return runs, time.perf_counter() - started


def step_logger(name: str, total: int, every: float = PROGRESS_SECONDS) -> Callable[..., None]:
    """A :func:`kansci.fit` callback logging ``name``'s progress every ``every`` seconds.

    ``total`` is the number of optimizer steps the run takes over all its fit
    calls; each call of the callback counts one step (a resumed run counts
    the steps of this process only).
    """
    state = {"steps": 0, "started": time.monotonic(), "last": time.monotonic()}

    def callback(step: int, model: Any, history: Any) -> None:
        state["steps"] += 1
        now = time.monotonic()
        if now - state["last"] >= every:
            state["last"] = now
            loss = history.loss[-1] if history.loss else float("nan")
            log.info("%s: step %d of %d, loss %.3e (%.0f s)", name, state["steps"], total, loss, now - state["started"])

    return callback


class FitCheckpoints:
    """Numbered checkpoints for the :func:`kansci.fit` calls of one run, in the order the run makes them.

    A run started again with the same folder makes the same calls in the same
    order: its finished calls are restored from their checkpoints (no training)
    and the interrupted one resumes from its last checkpoint. A call of ``steps``
    steps writes a checkpoint every ``max(every, ceil(steps / MAX_CHECKPOINTS))``
    steps: at most :data:`MAX_CHECKPOINTS` writes (a few ms each) however cheap
    its steps. Without a folder, :meth:`fit` is plain :func:`kansci.fit`.

    Parameters
    ----------
    folder : path, optional
        Where the checkpoint files ``fit-<i>.pt`` go (the sweep gives each run one).
    every : int
        Steps between two checkpoints.
    """

    def __init__(self, folder: str | os.PathLike | None, every: int = CHECKPOINT_STEPS) -> None:
        self.folder = None if folder is None else Path(folder)
        self.every = every
        self.calls = 0

    def fit(self, model: torch.nn.Module, data: Any, *, steps: int = 100, **options: Any) -> Any:
        """:func:`kansci.fit` checkpointed to (and resumed from) this call's file; its History."""
        if self.folder is None:
            return kansci.fit(model, data, steps=steps, **options)
        path = self.folder / f"fit-{self.calls}.pt"
        self.calls += 1
        if path.exists():  # a call that ended early (NaN restore, a callback's stop) stays ended
            state = read_checkpoint(path)
            if state.get("history", {}).get("status", "completed") != "completed":
                steps = min(steps, int(state["step"]))
        every = max(self.every, math.ceil(steps / MAX_CHECKPOINTS))
        return kansci.fit(model, data, steps=steps, checkpoint=path, checkpoint_every=every, resume=True, **options)


def describe(ds: xr.Dataset, variables: Mapping[str, tuple[str, str]]) -> xr.Dataset:
    """Set ``long_name`` and ``units`` on the variables of ``ds`` that ``variables`` names; in place.

    Parameters
    ----------
    ds : xarray.Dataset
        A study's results.
    variables : mapping
        Variable name -> (long_name, units); units ``"1"`` for dimensionless numbers, ``""`` for labels.
    """
    for name, (long_name, units) in variables.items():
        if name in ds.variables:
            ds[name].attrs.update(long_name=long_name, units=units)
    return ds


def provenance_attrs(**extra: Any) -> dict[str, Any]:
    """NetCDF attributes naming the software and the time of a result (``created``: when it was assembled)."""
    return {
        "kansci_version": kansci.__version__,
        "torch_version": str(torch.__version__),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }


def command_line(name: str, argv: Sequence[str] | None) -> str:
    return f"python -m kansci.studies.{name} " + " ".join(argv if argv is not None else sys.argv[1:])


def computed_range(runs: Sequence[xr.Dataset]) -> tuple[str, str] | None:
    """The earliest and latest ``sweep_computed_at`` (UTC) of the runs; None if none records it."""
    stamps = sorted(str(r.attrs["sweep_computed_at"]) for r in runs if "sweep_computed_at" in r.attrs)
    return (stamps[0], stamps[-1]) if stamps else None


def write_outputs(
    ds: xr.Dataset,
    out: Path,
    figures: Mapping[str, Figure],
    summary: str,
    runs: Sequence[xr.Dataset] = (),
) -> None:
    """``results.nc``, one PNG per figure and ``summary.md`` into ``out``.

    With ``runs`` (the sweep's results), both say when those runs were computed
    and when the outputs were written: stored runs may be older than this invocation.
    """
    written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    span = computed_range(runs)
    if span is not None:
        ds = ds.assign_attrs(runs_computed_from=span[0], runs_computed_to=span[1], written=written)
        summary = summary.rstrip("\n") + (
            f"\n\nRuns computed {span[0]} to {span[1]} UTC ({len(runs)} runs, stored in `runs/`); "
            f"outputs written {written}.\n"
        )
    netcdf.write(ds, out / "results.nc")
    for stem, fig in figures.items():
        fig.savefig(out / f"{stem}.png", dpi=120, bbox_inches="tight")
    (out / "summary.md").write_text(summary)
    log.info("wrote %s", out)
    log.info("%s", summary)


VERDICTS = ("beyond", "within", "short")
"""How one of our numbers stands against the paper's: better, comparable, worse."""

ERROR_FACTOR = 2.0
"""Errors within this factor of the paper's (either way) count as "within"."""

SCORE_SLACK = 1.0
"""Accuracies within this many percentage points of the paper's count as "within"."""


@dataclass(frozen=True)
class Claim:
    """One of the paper's numbers beside ours, for the reproduction report.

    Attributes
    ----------
    experiment : str
        What was measured, e.g. ``"Poisson, KAN [2,10,1], relative L2"``.
    paper : str
        The paper's number (or target) as text.
    ours : str
        Our number as text.
    verdict : str
        One of :data:`VERDICTS`.
    note : str
        Why the numbers may differ (data, settings), if they may.
    """

    experiment: str
    paper: str
    ours: str
    verdict: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def error_claim(experiment: str, paper: float, ours: float, note: str = "", factor: float = ERROR_FACTOR) -> Claim:
    """A lower-is-better number: beyond below ``paper / factor``, within up to ``paper * factor``, else short."""
    if not ours == ours:  # NaN: the run produced nothing
        verdict = "short"
    elif ours < paper / factor:
        verdict = "beyond"
    else:
        verdict = "within" if ours <= paper * factor else "short"
    return Claim(experiment, f"{paper:.2e}", f"{ours:.2e}", verdict, note)


def score_claim(experiment: str, paper: float, ours: float, note: str = "", slack: float = SCORE_SLACK) -> Claim:
    """A higher-is-better percentage: within ``slack`` points of the paper's is within."""
    if not ours == ours:
        verdict = "short"
    elif ours > paper + slack:
        verdict = "beyond"
    else:
        verdict = "within" if ours >= paper - slack else "short"
    return Claim(experiment, f"{paper:.1f}%", f"{ours:.1f}%", verdict, note)


def target_claim(experiment: str, paper: str, ours: str, met: bool, note: str = "") -> Claim:
    """A qualitative result (the paper's statement, what we found): within when met, else short."""
    return Claim(experiment, paper, ours, "within" if met else "short", note)
