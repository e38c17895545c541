"""Paper §3.3: the dimensionless Feynman equations — KAN formulas, an engine's, and both together.

Run: ``python -m kansci.studies.feynman [--quick] [--equations I.6.2 I.16.6 ...] [--engine operon] [--out DIR]``

Per equation, three ways to a formula, each judged against the truth:

- **KAN**: :func:`kansci.discover` on the training data without help: KAN
  shapes from the simplest up, with multiplication nodes (KAN 2.0), each
  fitted, snapped to library functions, retrained and verified on held-out
  training rows; the first that verifies is the answer.
- **engine**: the symbolic-regression engine alone on the same training data
  (budgeted by generations).
- **hybrid**: :func:`kansci.discover` where an edge's library fit is poor
  hands that edge's one-variable function to the engine
  (:func:`kansci.symbolic.edge_engine.engine_edge`), and of that formula and
  the engine's own, the one with the smaller error on the training data.

A formula is exact when it is sympy-equivalent to the truth with constants
read to :data:`PRECISION` digits and its largest error on 1000 held-out
points is below :data:`EXACT_ERROR` of the largest |f|. Equations run in
parallel through the sweep runner (local processes or ``--scheduler``).
Writes ``results.nc``, ``rmse.png`` and ``summary.md``.

An interrupted run resumes: finished equations are kept by the sweep, and
within an equation every finished KAN shape is kept in the run's folder
(``checkpoint`` of :func:`kansci.discover`); the engine's searches run again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy
import torch
import xarray as xr
from matplotlib.figure import Figure

from kansci import sr
from kansci.datasets import feynman, load
from kansci.sr.crosscheck import symbolically_equal
from kansci.studies import common
from kansci.symbolic import evaluate, snap_constants
from kansci.symbolic.discover import Discovery, discover

log = logging.getLogger("kansci.studies.feynman")

PRECISION = 4
EXACT_ERROR = 1e-6
"""A formula counts as exact only if its largest error on held-out points is below this share of the largest |f|."""
QUICK_EQUATIONS = ("I.12.11", "I.16.6")
NO_FORMULA = "no formula"
OUTCOMES = ("consistent", "inconsistent", "both wrong", NO_FORMULA)
"""Outcomes of a cross-check against the truth (:func:`outcome`)."""

PYKAN_REFERENCE = (2, 27, "2026-12-07")
"""pykan 0.2.8's MultKAN recipe on the same 27 equations (``benchmarks/bench_feynman_pykan.py``): (exact, of, date).

Measured on a 2-core VM, one thread, 600 s per equation (benchmarks/README.md has the table): II.2.42 and II.36.38
exact; 9 equations ended in pykan exceptions and 2 at the time limit."""


def configs(quick: bool, seed: int, equations: Sequence[str] | None, engine: str) -> list[dict[str, Any]]:
    ids = list(equations) if equations else list(QUICK_EQUATIONS if quick else feynman.DIMENSIONLESS)
    unknown = sorted(set(ids) - set(feynman.DIMENSIONLESS))
    if unknown:
        raise ValueError(f"unknown equations {unknown}; choose from {list(feynman.DIMENSIONLESS)}")
    # the engine stops on generations, so the same command gives the same formulas on any machine; the seconds are
    # a safety cap that a normal run never reaches (quick: 20 generations took 3-18 s on 2 cores)
    search = {"engine_generations": 20 if quick else 50, "edge_generations": 20, "engine_seconds_cap": 600.0}
    settings = (
        {"n_train": 200, "steps": 20, "seeds": [0], "grids": [5, 10], **search}
        if quick
        else {
            "n_train": 1000,
            "steps": 40,
            "seeds": [0, 1, 2],
            "grids": [5, 10, 20],
            **search,
            "engine_generations": 50,
        }
    )
    return [{"name": eq, "equation": eq, "seed": seed, "engine": engine, **settings} for eq in ids]


def exact(expr: sympy.Expr | None, truth: sympy.Expr, names: Sequence[str], x: np.ndarray) -> tuple[bool, float]:
    """Whether ``expr`` is the truth (see the module docstring), and its largest error at ``x`` relative to max |f|.

    Variables whose points ``x`` all have one sign are compared with that sign: the truth of I.6.2 has
    ``Abs(sigma)`` from ``sqrt(2 pi sigma^2)``, which is ``sigma`` on its range [0.5, 2]."""
    if expr is None:
        return False, float("inf")
    # a variable whose points are all positive (or all negative) is declared so: sqrt(sigma^2) is sigma there
    signs = [{"positive": True} if np.all(x[:, k] > 0) else {"negative": True} if np.all(x[:, k] < 0) else {}
             for k in range(len(names))]  # fmt: skip
    variables = [sympy.Symbol(n, real=True, **sign) for n, sign in zip(names, signs)]
    by_name = {v.name: v for v in variables}
    expr, truth = (e.subs({s: by_name[s.name] for s in e.free_symbols if s.name in by_name}) for e in (expr, truth))
    if not expr.free_symbols <= set(variables):
        return False, float("inf")
    want = evaluate(truth, variables, x)
    error = float(np.max(np.abs(evaluate(expr, variables, x) - want)) / max(float(np.max(np.abs(want))), 1e-300))
    error = error if np.isfinite(error) else float("inf")
    return bool(error < EXACT_ERROR and symbolically_equal(expr, truth, PRECISION)), error


def kan_alone(found: Discovery) -> tuple[sympy.Expr | None, str]:
    """The KAN's own formula: the best (by validation error) read from library functions only, and its shape."""
    own = [t for t in found.trials if t.expression is not None and not t.engine_edges]
    if not own:
        return None, ""
    best = min(own, key=lambda t: t.formula_error)
    return best.expression, str(best.shape)


def run_config(config: Mapping[str, Any], checkpoint: str | os.PathLike | None = None) -> xr.Dataset:
    """One equation: the KAN's formula, the engine's, the hybrid's, each against the truth.

    With ``checkpoint`` (a folder, which the sweep gives each run) every finished KAN shape is kept there, and an
    interrupted run resumes from them; ``kan_seconds`` then counts the time after resuming only.
    """
    name = f"feynman_dimless/{config['equation']}"
    data = load(name, n_train=config["n_train"], n_test=1000, seed=config["seed"], dtype=torch.float64)
    names = list(data.input_names)
    engine = sr.get_engine(config["engine"])
    cap, seed = config["engine_seconds_cap"], config["seed"]
    started = time.perf_counter()
    found = discover(
        data, seeds=config["seeds"], grids=config["grids"], steps=config["steps"], engine=engine,
        engine_budget=sr.Budget(seconds=cap, iterations=config["edge_generations"], seed=seed), checkpoint=checkpoint,
    )  # fmt: skip
    kan_seconds = time.perf_counter() - started
    kan_expr, kan_shape = kan_alone(found)
    x_train, y_train = data.train_input.numpy(), data.train_label[:, 0].numpy()
    x_test, y_test = data.test_input.numpy(), data.test_label[:, 0].numpy()
    result = engine.fit(
        x_train, y_train, names, sr.Budget(seconds=cap, iterations=config["engine_generations"], seed=seed)
    )
    engine_expr = result.best.expr
    hybrid, source = _hybrid(found, engine_expr, names, x_train, y_train)
    stand_in = sympy.Integer(0) if kan_expr is None else kan_expr  # checked only for the engine's side when None
    check = sr.crosscheck(stand_in, result, x_test, y_test, names, data.formula, PRECISION)
    verdicts = (NO_FORMULA, NO_FORMULA) if kan_expr is None else (check.verdict, check.kan_vs_truth.verdict)
    record: dict[str, Any] = {
        "kan_shape": kan_shape or "—",
        "kan_fit_error": min((t.fit_error for t in found.trials), default=float("inf")),
        "kan_seconds": kan_seconds,
        "engine_seconds": result.seconds,
        "engine_stopped_by": result.settings.get("stopped_by", "unknown"),
        "engine_rmse": float(check.engine_rmse),
        "verdict": verdicts[0],
        "kan_vs_truth": verdicts[1],
        "engine_vs_truth": check.engine_vs_truth.verdict,
        "kan_formula": NO_FORMULA if kan_expr is None else str(kan_expr),
        "engine_formula": str(snap_constants(check.engine, PRECISION)),
        "hybrid_formula": NO_FORMULA if hybrid is None else str(hybrid),
        "hybrid_source": source,
        "truth": str(data.formula),
        "outcome": outcome(verdicts[0], verdicts[1], check.engine_vs_truth.verdict),
    }
    for key, expr in (("kan", kan_expr), ("engine", engine_expr), ("hybrid", hybrid)):
        record[f"{key}_exact"], record[f"{key}_error"] = exact(expr, data.formula, names, x_test)
    ds = xr.Dataset({k: ((), v) for k, v in record.items()})
    ds.attrs["name"] = config["equation"]
    return ds


def _hybrid(
    found: Discovery, engine_expr: sympy.Expr, names: Sequence[str], x: np.ndarray, y: np.ndarray
) -> tuple[sympy.Expr | None, str]:
    """Of the KAN's formula with engine edges and the engine's own, the one closer to the training data."""
    options = []
    if found.expression is not None:
        edges = next((t.engine_edges for t in found.trials if t.expression is found.expression), 0)
        options.append((found.expression, "KAN + engine on edges" if edges else "KAN"))
    options.append((engine_expr, "engine"))
    variables = [sympy.Symbol(n, real=True) for n in names]
    scale = max(float(np.max(np.abs(y))), 1e-300)

    def error(expr: sympy.Expr) -> float:
        by_name = {v.name: v for v in variables}
        expr = expr.subs({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})
        value = float(np.max(np.abs(evaluate(expr, variables, x) - y))) / scale
        return value if np.isfinite(value) else float("inf")

    return min(options, key=lambda o: error(o[0]))


def outcome(between: str, kan: str, engine: str) -> str:
    """What the KAN-vs-engine cross-check of one equation tells, judged against the truth.

    Returns one of :data:`OUTCOMES`: "consistent" (both right and the verdict agrees, or one right and it does
    not), "inconsistent" (the verdict says the opposite), "both wrong" (the cross-check cannot tell; whatever it
    says, neither formula is the truth) or "no formula" (the KAN gave none).
    """
    if between == NO_FORMULA:
        return NO_FORMULA
    kan_right, engine_right = kan == "agree", engine == "agree"
    if not (kan_right or engine_right):
        return "both wrong"
    said_agree = between == "agree"
    return "consistent" if said_agree == (kan_right and engine_right) else "inconsistent"


VARIABLES: dict[str, tuple[str, str]] = {
    "kan_shape": ("shape of the KAN whose formula is the KAN's answer", ""),
    "kan_fit_error": (
        "validation RMSE of the best spline fit over the shapes tried, relative to the targets' spread",
        "1",
    ),
    "kan_seconds": ("wall time of the KAN search (shapes, fits, snapping, engine on edges)", "s"),
    "engine_seconds": ("wall time of the symbolic-regression engine on the data", "s"),
    "engine_stopped_by": ("the engine's limit that stopped it (generations or the seconds cap)", ""),
    "engine_rmse": ("RMSE of the engine's formula at the test points, relative to the targets' RMS", "1"),
    "verdict": ("cross-check of the KAN's formula against the engine's", ""),
    "kan_vs_truth": ("the KAN's formula against the true formula (cross-check verdict)", ""),
    "engine_vs_truth": ("the engine's formula against the true formula (cross-check verdict)", ""),
    "kan_formula": ("the KAN's formula (library functions only)", ""),
    "engine_formula": ("the engine's formula", ""),
    "hybrid_formula": ("the hybrid's formula", ""),
    "hybrid_source": ("where the hybrid's formula came from", ""),
    "truth": ("the true formula", ""),
    "outcome": ("what the cross-check tells, judged against the truth", ""),
    "kan_exact": ("the KAN's formula is exact", ""),
    "engine_exact": ("the engine's formula is exact", ""),
    "hybrid_exact": ("the hybrid's formula is exact", ""),
    "kan_error": ("largest error of the KAN's formula on the test points, relative to the largest |f|", "1"),
    "engine_error": ("largest error of the engine's formula on the test points, relative to the largest |f|", "1"),
    "hybrid_error": ("largest error of the hybrid's formula on the test points, relative to the largest |f|", "1"),
}
"""Variable -> (long_name, units) of ``results.nc`` (the equations are dimensionless)."""

KAN_TARGET, HYBRID_TARGET = 18, 23
"""Exact formulas wanted of the 27: the KAN alone, and the hybrid."""


def gather(runs: Sequence[xr.Dataset]) -> xr.Dataset:
    ids = [r.attrs["name"] for r in runs]
    ds = xr.concat([r.assign_attrs({}) for r in runs], dim=xr.DataArray(ids, dims="equation", name="equation"))
    ds.attrs = common.provenance_attrs(study="feynman", precision=PRECISION, exact_error=EXACT_ERROR)
    return common.describe(ds, VARIABLES)


def figure(ds: xr.Dataset) -> Figure:
    """Largest test error of each formula (KAN, engine, hybrid) per equation (log scale)."""
    ids = list(ds["equation"].values)
    fig = Figure(figsize=(max(6.0, 0.35 * len(ids)), 3.2), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(len(ids))
    for offset, (var, label) in zip(
        (-0.25, 0.0, 0.25), (("kan_error", "KAN"), ("engine_error", "engine"), ("hybrid_error", "hybrid"))
    ):
        values = np.clip(ds[var].values.astype(float), 1e-17, 1e3)  # no formula: drawn at the top
        ax.bar(pos + offset, values, width=0.25, label=label)
    ax.axhline(EXACT_ERROR, color="0.3", linewidth=0.8, linestyle="--", label="exact below")
    ax.set_yscale("log")
    ax.set_xticks(pos, ids, rotation=90, fontsize=7)
    ax.set_ylabel("largest test error / max |f|")
    ax.legend(fontsize=7)
    return fig


def counts(ds: xr.Dataset) -> dict[str, int]:
    """Exact formulas of the KAN, the engine and the hybrid."""
    return {key: int(ds[f"{key}_exact"].values.astype(bool).sum()) for key in ("kan", "engine", "hybrid")}


def summary(ds: xr.Dataset, wall: float, command: str) -> str:
    n = ds.sizes["equation"]
    exact_counts = counts(ds)
    count = outcome_counts(ds)
    checked = count["consistent"] + count["inconsistent"]
    reference = (
        f"- pykan 0.2.8, MultKAN with its own auto_symbolic recipe (`benchmarks/bench_feynman_pykan.py`, "
        f"{PYKAN_REFERENCE[2]}): {PYKAN_REFERENCE[0]} of {PYKAN_REFERENCE[1]} exact."
        if PYKAN_REFERENCE
        else "- pykan 0.2.8 reference: run `benchmarks/bench_feynman_pykan.py` (see benchmarks/README.md)."
    )
    lines = [
        "# Feynman equations (paper §3.3): formulas by a KAN, by a symbolic-regression engine, and by both",
        "",
        f"Command: `{command.strip()}` ({wall:.0f} s).",
        "",
        f"Exact: sympy-equivalent to the truth with constants read to {PRECISION} digits, and largest error on "
        f"1000 held-out points below {EXACT_ERROR:g} of max |f|.",
        "",
        f"- KAN alone (`kansci.discover`, library functions only): **{exact_counts['kan']} of {n}** exact "
        f"(target {KAN_TARGET} of 27).",
        f"- Engine alone on the data: **{exact_counts['engine']} of {n}**.",
        f"- Hybrid (engine on the KAN's edges where no library function fits, or the engine's own formula, "
        f"whichever fits the training data better): **{exact_counts['hybrid']} of {n}** "
        f"(target {HYBRID_TARGET} of 27).",
        reference,
        f"- KAN-vs-engine cross-check consistent with the truth: {count['consistent']} of the {checked} equations "
        f"where at least one formula is right; both wrong: {count['both wrong']}; KAN gave no formula: "
        f"{count[NO_FORMULA]}.",
        "",
        "| equation | truth | KAN shape | KAN formula | KAN exact | engine formula | engine exact | hybrid formula "
        "| from | hybrid exact | KAN s | engine s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for eq in ds["equation"].values:
        r = ds.sel(equation=eq)
        yes = {v: "yes" if bool(r[f"{v}_exact"].item()) else "no" for v in ("kan", "engine", "hybrid")}
        lines.append(
            f"| {eq} | `{r['truth'].item()}` | {r['kan_shape'].item()} | `{r['kan_formula'].item()}` | "
            f"{yes['kan']} | `{r['engine_formula'].item()}` | {yes['engine']} | "
            f"`{r['hybrid_formula'].item()}` | {r['hybrid_source'].item()} | {yes['hybrid']} | "
            f"{float(r['kan_seconds']):.0f} | {float(r['engine_seconds']):.0f} |"
        )
    lines += [
        "",
        "The paper reports the pruned shapes and that KAN formulas are exact or close for most equations; "
        "it gives no count to compare with.",
        "",
        f"kansci {ds.attrs['kansci_version']}, torch {ds.attrs['torch_version']}, {ds.attrs['created']}.",
    ]
    return "\n".join(lines) + "\n"


def claims(ds: xr.Dataset) -> list[common.Claim]:
    """Exact formulas of the KAN and the hybrid against their targets, and whether the cross-check told the truth."""
    n = ds.sizes["equation"]
    exact_counts = counts(ds)
    count = outcome_counts(ds)
    checked = count["consistent"] + count["inconsistent"]
    return [
        common.target_claim(
            "Feynman (dimensionless): KAN formulas exact",
            f"exact or close for most equations (no count given); kansci's target {KAN_TARGET} of 27",
            f"{exact_counts['kan']} of {n}",
            exact_counts["kan"] >= KAN_TARGET * n / 27,
        ),
        common.target_claim(
            "Feynman (dimensionless): hybrid formulas exact",
            f"(ours) target {HYBRID_TARGET} of 27; engine alone {exact_counts['engine']} of {n}",
            f"{exact_counts['hybrid']} of {n}",
            exact_counts["hybrid"] >= HYBRID_TARGET * n / 27,
        ),
        common.target_claim(
            "Feynman: KAN-vs-engine cross-check verdict consistent with the truth",
            "(ours; no paper number)",
            f"{count['consistent']} of {checked} ({count['both wrong']} both wrong, {count[NO_FORMULA]} no formula)",
            checked > 0 and count["consistent"] == checked,
            "counted where at least one formula is right; when both are wrong the cross-check cannot tell",
        ),
    ]


def outcome_counts(ds: xr.Dataset) -> dict[str, int]:
    """How many equations ended in each of :data:`OUTCOMES`."""
    values = [str(v) for v in ds["outcome"].values]
    return {name: values.count(name) for name in OUTCOMES}


def main(argv: Sequence[str] | None = None) -> xr.Dataset:
    parser = common.parser("feynman", __doc__.splitlines()[0])
    parser.add_argument("--equations", nargs="+", default=None, help="equation ids (default: the paper's 27)")
    parser.add_argument(
        "--engine", type=common.sr_engine, default="operon", help="symbolic-regression engine: operon (default) or pysr"
    )
    args = parser.parse_args(argv)
    common.logging_setup()
    out = common.output_folder("feynman", args)
    runs, wall = common.run_sweep(
        run_config, configs(args.quick, args.seed, args.equations, args.engine), args, out, "feynman"
    )
    ds = gather(runs)
    command = common.command_line("feynman", argv)
    common.write_outputs(ds, out, {"rmse": figure(ds)}, summary(ds, wall, command), runs)
    return ds


if __name__ == "__main__":
    main()
