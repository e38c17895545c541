"""One command that reruns every study and writes a single reproduction report.

Run: ``python -m kansci.studies.report [--quick] [--out DIR] [--seed N] [--only NAME ...] [--scheduler ADDR]``

Each study runs into its own sub-folder of ``--out`` (its runs are stored as
they finish, so an interrupted report resumes where it stopped), then every
study's ``claims`` — the paper's number beside ours, with a verdict — are
collected into ``REPORT.md`` (one table: experiment, paper, ours,
beyond / within / short, the command that produced it; links to every study's
summary and figures), ``results.nc`` (the same table) and ``verdicts.png``. A
study that fails is reported as failed with its error; the others still run.
``--quick`` runs every study's smoke-test settings (minutes, in CI); its numbers
say that the pipeline works, not what the paper's experiments give.
"""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from kansci.studies import common

STUDIES: dict[str, tuple[str, ...]] = {
    "poisson": ("poisson",),
    "continual": ("continual",),
    "scaling": ("scaling",),
    "toy": ("toy",),
    "special": ("special",),
    "feynman": ("feynman",),
    "knots": ("knots",),
    "knot_relations": ("knots", "--unsupervised"),
    "anderson": ("anderson",),
    "unsupervised": ("unsupervised",),
}
"""Every part of the report (in the paper's order after the main job): the study module and its extra arguments."""

log = logging.getLogger("kansci.studies")


@dataclass
class StudyResult:
    """What one study gave the report."""

    name: str
    command: str
    seconds: float
    claims: list[common.Claim] = field(default_factory=list)
    error: str | None = None


def study_argv(name: str, args) -> list[str]:
    """The command-line arguments the report passes to part ``name`` of :data:`STUDIES`."""
    argv = [*STUDIES[name][1:], "--out", str(args.out_dir / name), "--seed", str(args.seed)]
    if args.quick:
        argv.append("--quick")
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.scheduler is not None:
        argv += ["--scheduler", args.scheduler]
    return argv


def run_study(name: str, argv: Sequence[str]) -> StudyResult:
    """Run part ``name`` (``python -m kansci.studies.<module> argv``) in this process and collect its claims."""
    module_name = STUDIES.get(name, (name,))[0]
    command = common.command_line(module_name, argv).strip()
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"kansci.studies.{module_name}")
        ds = module.main(list(argv))
        claims = list(module.claims(ds))
    except Exception as err:  # one broken study must not lose the others' results
        log.error("study %s failed:\n%s", name, traceback.format_exc())
        return StudyResult(name, command, time.perf_counter() - started, error=f"{type(err).__name__}: {err}")
    return StudyResult(name, command, time.perf_counter() - started, claims)


def to_xarray(results: Sequence[StudyResult]) -> xr.Dataset:
    """The report's table: one row per claim (experiment, paper, ours, verdict, note, source study, command)."""
    rows = [(r, c) for r in results for c in r.claims]
    columns = {key: [asdict(c)[key] for _, c in rows] for key in ("experiment", "paper", "ours", "verdict", "note")}
    columns["source"] = [r.name for r, _ in rows]
    columns["command"] = [r.command for r, _ in rows]
    ds = xr.Dataset({k: ("claim", np.array(v, dtype=str)) for k, v in columns.items()})
    ds["study_seconds"] = ("study", [r.seconds for r in results])
    ds["study_error"] = ("study", np.array([r.error or "" for r in results], dtype=str))
    ds = ds.assign_coords(study=[r.name for r in results])
    ds.attrs = common.provenance_attrs(study="report")
    return ds


def figure(results: Sequence[StudyResult]) -> Figure:
    """Stacked bars: per study, how many claims are beyond, within, short."""
    colours = {"beyond": "tab:green", "within": "tab:blue", "short": "tab:red"}
    names = [r.name for r in results]
    fig = Figure(figsize=(max(4.0, 0.8 * len(names)), 3.0), layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(names))
    for verdict in common.VERDICTS:
        counts = np.array([sum(c.verdict == verdict for c in r.claims) for r in results], dtype=float)
        ax.bar(names, counts, bottom=bottom, color=colours[verdict], label=verdict)
        bottom += counts
    failed = [i for i, r in enumerate(results) if r.error]
    for i in failed:
        ax.annotate("failed", (i, 0), ha="center", va="bottom", color="tab:red", fontsize=8)
    ax.set_ylabel("claims")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize=7)
    return fig


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results: Sequence[StudyResult], out: Path, quick: bool, wall: float, command: str) -> str:
    """REPORT.md: the claims table, failures, and links to each study's own summary and figures."""
    claims = [c for r in results for c in r.claims]
    counts = {v: sum(c.verdict == v for c in claims) for v in common.VERDICTS}
    lines = [
        "# kansci: reproduction report of the KAN paper (Liu et al. 2024, arXiv 2404.19756)",
        "",
        f"Command: `{command}` ({wall / 60:.1f} min).",
        "",
    ]
    if quick:
        lines += [
            "**Quick mode**: every study ran its smoke-test settings; these numbers check the pipeline, "
            "they are not the experiments' results. Run without `--quick` for those.",
            "",
        ]
    lines += [
        f"{len(claims)} claims: {counts['beyond']} beyond the paper, {counts['within']} within, "
        f"{counts['short']} short. Errors are within when inside a factor {common.ERROR_FACTOR:g} of the paper's, "
        f"accuracies within {common.SCORE_SLACK:g} percentage point.",
        "",
        "| study | experiment | paper | ours | verdict | note | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for c in r.claims:
            cells = (r.name, c.experiment, c.paper, c.ours, f"**{c.verdict}**", c.note, f"`{r.command}`")
            lines.append("| " + " | ".join(_escape(x) for x in cells) + " |")
    failed = [r for r in results if r.error]
    if failed:
        lines += ["", "## Failed studies", ""]
        lines += [f"- {r.name} (`{r.command}`): {_escape(r.error)}" for r in failed]
    lines += ["", "## Each study", ""]
    for r in results:
        folder = out / r.name
        pictures = sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []
        links = ", ".join(f"[{p}]({r.name}/{p})" for p in pictures)
        summary = f"[summary]({r.name}/summary.md)" if (folder / "summary.md").is_file() else "no summary"
        lines.append(f"- **{r.name}** ({r.seconds:.0f} s): {summary}" + (f"; figures {links}" if links else ""))
    lines += ["", "![verdicts](verdicts.png)", ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> xr.Dataset:
    parser = common.parser("report", __doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(STUDIES), default=None, help="run only these parts")
    args = parser.parse_args(argv)
    common.logging_setup()
    args.out_dir = common.output_folder("report", args)
    command = common.command_line("report", argv).strip()
    started = time.perf_counter()
    results = []
    for name in args.only or STUDIES:
        log.info("report: running %s", name)
        results.append(run_study(name, study_argv(name, args)))
    wall = time.perf_counter() - started
    ds = to_xarray(results)
    text = markdown(results, args.out_dir, args.quick, wall, command)
    common.write_outputs(ds, args.out_dir, {"verdicts": figure(results)}, text)
    (args.out_dir / "REPORT.md").write_text(text)
    return ds


if __name__ == "__main__":
    main()
