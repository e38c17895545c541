"""What every study shares: its command line, the sweep call, provenance attributes, writing outputs."""

from __future__ import annotations

import argparse
import logging
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

__all__ = [
    "VERDICTS",
    "Claim",
    "error_claim",
    "score_claim",
    "target_claim",
    "command_line",
    "logging_setup",
    "output_folder",
    "parser",
    "provenance_attrs",
    "run_sweep",
    "write_outputs",
]


def parser(name: str, description: str, default_out: str | None = None) -> argparse.ArgumentParser:
    """The arguments every study takes: --quick, --out, --seed, --workers, --scheduler."""
    p = argparse.ArgumentParser(prog=f"python -m kansci.studies.{name}", description=description)
    p.add_argument("--quick", action="store_true", help="a tiny run (about a minute): a smoke test")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default results/{default_out or name})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="local worker processes (0: run in this process)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT (extra 'distributed')")
    return p


def logging_setup() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def output_folder(name: str, args: argparse.Namespace) -> Path:
    out = args.out or Path("results") / (name + ("_quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_sweep(
    fn: Callable[[Mapping[str, Any]], xr.Dataset],
    configs: Sequence[Mapping[str, Any]],
    args: argparse.Namespace,
    out: Path,
    desc: str,
) -> tuple[list[xr.Dataset], float]:
    """Run the study's configs (stored in ``out/runs``, resumable); the results and the wall time in seconds."""
    started = time.perf_counter()
    runs = sweep.run(
        fn, configs, store=out / "runs", workers=args.workers, scheduler=args.scheduler, progress=True, desc=desc
    )
    return runs, time.perf_counter() - started


def provenance_attrs(**extra: Any) -> dict[str, Any]:
    """NetCDF attributes naming the software and the time of a result."""
    return {
        "kansci_version": kansci.__version__,
        "torch_version": str(torch.__version__),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }


def command_line(name: str, argv: Sequence[str] | None) -> str:
    return f"python -m kansci.studies.{name} " + " ".join(argv if argv is not None else sys.argv[1:])


def write_outputs(ds: xr.Dataset, out: Path, figures: Mapping[str, Figure], summary: str) -> None:
    """``results.nc``, one PNG per figure and ``summary.md`` into ``out``."""
    netcdf.write(ds, out / "results.nc")
    for stem, fig in figures.items():
        fig.savefig(out / f"{stem}.png", dpi=120, bbox_inches="tight")
    (out / "summary.md").write_text(summary)
    log = logging.getLogger("kansci.studies")
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
