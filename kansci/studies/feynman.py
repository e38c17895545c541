"""Paper §3.3: the dimensionless Feynman equations — a KAN's formula cross-checked with a symbolic-regression engine.

Run: ``python -m kansci.studies.feynman [--quick] [--equations I.6.2 I.16.6 ...] [--engine operon] [--out DIR]``

Per equation: train a KAN [n, 5, 1] with sparsity, prune it, extend its grid
(5, 10, 20) so the splines are accurate, snap every edge
(:func:`kansci.symbolic.auto_symbolic`, layer by layer with retraining), retrain
the affine constants and read its formula; fit the engine on the same
training data; cross-check both against each other and against the true
formula on held-out points (:func:`kansci.sr.crosscheck`). Equations run in
parallel through the sweep runner (local processes or ``--scheduler``). Writes
``results.nc``, ``rmse.png`` and ``summary.md``.

An interrupted run resumes: the KAN's fit calls are checkpointed in the run's
folder (:class:`kansci.studies.common.FitCheckpoints`); the retraining inside
:func:`kansci.symbolic.auto_symbolic` and the engine's search are not, and run
again.
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

import kansci
from kansci import sr
from kansci.datasets import feynman, load
from kansci.studies import common
from kansci.symbolic import auto_symbolic, formula, snap_constants, tidy

log = logging.getLogger("kansci.studies.feynman")

PRECISION = 4
QUICK_EQUATIONS = ("I.12.11", "I.16.6")
NO_FORMULA = "no formula"
OUTCOMES = ("consistent", "inconsistent", "both wrong", NO_FORMULA)
"""Outcomes of a cross-check against the truth (:func:`outcome`)."""


def configs(quick: bool, seed: int, equations: Sequence[str] | None, engine: str) -> list[dict[str, Any]]:
    ids = list(equations) if equations else list(QUICK_EQUATIONS if quick else feynman.DIMENSIONLESS)
    unknown = sorted(set(ids) - set(feynman.DIMENSIONLESS))
    if unknown:
        raise ValueError(f"unknown equations {unknown}; choose from {list(feynman.DIMENSIONLESS)}")
    # the engine stops on generations, so the same command gives the same formulas on any machine; the seconds are
    # a safety cap that a normal run never reaches (quick: 20 generations took 3-18 s on 2 cores)
    search = {"engine_generations": 20, "engine_seconds_cap": 600.0}
    settings = (
        {"n_train": 200, "steps": 10, "hidden": 3, "grids": [5], **search}
        if quick
        else {"n_train": 1000, "steps": 50, "hidden": 5, "grids": [5, 10, 20], **search, "engine_generations": 50}
    )
    return [{"name": eq, "equation": eq, "seed": seed, "engine": engine, **settings} for eq in ids]


def train_kan(data, config: Mapping[str, Any], fits: common.FitCheckpoints) -> tuple[kansci.KAN, dict[str, Any]]:
    """Sparsify, prune, snap, retrain; the model and what happened on the way.

    Every fit call goes through ``fits``, in the same order on every run, so a resumed run restores the calls
    that finished; pruning, refining and snapping are computed again from the restored model.
    """
    steps = config["steps"]
    model = kansci.KAN([data.n_inputs, config["hidden"], 1], grid=5, seed=config["seed"], dtype=torch.float64)
    fits.fit(model, data, steps=steps, lamb=1e-2, progress=False)
    model = kansci.prune(model, data.train_input)
    for grid in config["grids"]:  # accurate splines first: a snap is only as good as the curve it reads
        model = model if grid == model.config.grid else model.refine(grid, data.train_input)
        fits.fit(model, data, steps=steps, progress=False)
    numeric = kansci.rmse(model, data.test_input, data.test_label)
    shape = list(model.width)
    # r2_threshold 0: snap every edge to its best candidate, so every equation gets a formula to check
    auto_symbolic(model, data, r2_threshold=0.0, retrain_steps=steps // 2, progress=False)
    fits.fit(model, data, steps=steps, update_grid=False, progress=False)
    return model, {"kan_shape": str(shape), "kan_numeric_rmse": numeric}


def run_config(config: Mapping[str, Any], checkpoint: str | os.PathLike | None = None) -> xr.Dataset:
    """One equation: the KAN's formula, the engine's, and their cross-check.

    With ``checkpoint`` (a folder, which the sweep gives each run) the KAN's fit calls are checkpointed and an
    interrupted run resumes from them (:class:`kansci.studies.common.FitCheckpoints`); ``kan_seconds`` then
    counts the time after resuming only. The engine's search cannot be checkpointed: a resumed run searches again.
    """
    name = f"feynman_dimless/{config['equation']}"
    data = load(name, n_train=config["n_train"], n_test=1000, seed=config["seed"], dtype=torch.float64)
    started = time.perf_counter()
    model, record = train_kan(data, config, common.FitCheckpoints(checkpoint))
    record["kan_seconds"] = time.perf_counter() - started
    try:
        kan_expr = formula(model, data.input_names, precision=None)[0]
    except ValueError as err:  # an edge stayed numeric: no formula to check
        log.info("%s: %s", name, err)
        kan_expr = None
    x_train, y_train = data.train_input.numpy(), data.train_label[:, 0].numpy()
    x_test, y_test = data.test_input.numpy(), data.test_label[:, 0].numpy()
    engine = sr.get_engine(config["engine"])
    budget = sr.Budget(
        seconds=config["engine_seconds_cap"], iterations=config["engine_generations"], seed=config["seed"]
    )
    result = engine.fit(x_train, y_train, data.input_names, budget)
    record["engine_seconds"] = result.seconds
    record["engine_stopped_by"] = result.settings.get("stopped_by", "unknown")
    record["kan_symbolic_rmse"] = float(np.sqrt(np.mean((model(data.test_input).detach().numpy()[:, 0] - y_test) ** 2)))
    if kan_expr is None:
        stand_in = sympy.Integer(0)  # checked only for the engine's side; the KAN's verdicts say "no formula"
        check = sr.crosscheck(stand_in, result, x_test, y_test, data.input_names, data.formula, PRECISION)
        verdicts = {"verdict": NO_FORMULA, "kan_vs_truth": NO_FORMULA}
        kan_text = NO_FORMULA
    else:
        check = sr.crosscheck(kan_expr, result, x_test, y_test, data.input_names, data.formula, PRECISION)
        verdicts = {"verdict": check.verdict, "kan_vs_truth": check.kan_vs_truth.verdict}
        kan_text = str(tidy(kan_expr, PRECISION))
    record.update(
        verdicts,
        engine_vs_truth=check.engine_vs_truth.verdict,
        kan_formula=kan_text,
        engine_formula=str(snap_constants(check.engine, PRECISION)),
        truth=str(data.formula),
        engine_rmse=float(check.engine_rmse),
        outcome=outcome(verdicts["verdict"], verdicts["kan_vs_truth"], check.engine_vs_truth.verdict),
    )
    return xr.Dataset({k: ((), v) for k, v in record.items()}, attrs={"name": config["name"]})


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
    "kan_shape": ("layer widths of the pruned KAN", ""),
    "kan_numeric_rmse": ("test RMSE of the KAN with spline edges, at the dataset's test points", "1"),
    "kan_symbolic_rmse": ("test RMSE of the KAN after snapping every edge to a formula", "1"),
    "kan_seconds": ("wall time of the KAN's training, pruning and snapping", "s"),
    "engine_seconds": ("wall time of the symbolic-regression engine", "s"),
    "engine_stopped_by": ("the engine's limit that stopped it (generations or the seconds cap)", ""),
    "engine_rmse": ("RMSE of the engine's formula at the test points, relative to the targets' RMS", "1"),
    "verdict": ("cross-check of the KAN's formula against the engine's", ""),
    "kan_vs_truth": ("the KAN's formula against the true formula", ""),
    "engine_vs_truth": ("the engine's formula against the true formula", ""),
    "kan_formula": ("the KAN's formula", ""),
    "engine_formula": ("the engine's formula", ""),
    "truth": ("the true formula", ""),
    "outcome": ("what the cross-check tells, judged against the truth", ""),
}
"""Variable -> (long_name, units) of ``results.nc`` (the equations are dimensionless)."""


def gather(runs: Sequence[xr.Dataset]) -> xr.Dataset:
    ids = [r.attrs["name"] for r in runs]
    ds = xr.concat([r.assign_attrs({}) for r in runs], dim=xr.DataArray(ids, dims="equation", name="equation"))
    ds.attrs = common.provenance_attrs(study="feynman", precision=PRECISION)
    return common.describe(ds, VARIABLES)


def figure(ds: xr.Dataset) -> Figure:
    """Test RMSE of the numeric KAN, the snapped KAN and the engine per equation (log scale)."""
    ids = list(ds["equation"].values)
    fig = Figure(figsize=(max(6.0, 0.35 * len(ids)), 3.2), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(len(ids))
    for offset, (var, label) in zip(
        (-0.25, 0.0, 0.25),
        (("kan_numeric_rmse", "KAN (splines)"), ("kan_symbolic_rmse", "KAN (formula)"), ("engine_rmse", "engine")),
    ):
        values = np.maximum(ds[var].values.astype(float), 1e-16)
        ax.bar(pos + offset, values, width=0.25, label=label)
    ax.set_yscale("log")
    ax.set_xticks(pos, ids, rotation=90, fontsize=7)
    ax.set_ylabel("test RMSE (engine: relative)")
    ax.legend(fontsize=7)
    return fig


def summary(ds: xr.Dataset, wall: float, command: str) -> str:
    n = ds.sizes["equation"]
    exact = int((ds["kan_vs_truth"] == "agree").sum())
    engine_exact = int((ds["engine_vs_truth"] == "agree").sum())
    count = outcome_counts(ds)
    checked = count["consistent"] + count["inconsistent"]
    lines = [
        "# Feynman equations (paper §3.3): KAN formulas cross-checked with a symbolic-regression engine",
        "",
        f"Command: `{command.strip()}` ({wall:.0f} s).",
        "",
        f"- KAN formula symbolically exact (constants to {PRECISION} digits): {exact} of {n}.",
        f"- Engine formula exact: {engine_exact} of {n}.",
        f"- Cross-check verdict consistent with the truth: {count['consistent']} of the {checked} equations where "
        "at least one formula is right (target: all).",
        f"- KAN and engine both wrong (the cross-check cannot tell): {count['both wrong']} of {n}; "
        f"KAN gave no formula: {count[NO_FORMULA]} of {n}.",
        "",
        "| equation | pruned KAN | KAN RMSE (splines) | KAN RMSE (formula) | KAN formula | engine formula | "
        "KAN vs engine | KAN vs truth | engine vs truth | outcome | KAN s | engine s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for eq in ds["equation"].values:
        r = ds.sel(equation=eq)
        lines.append(
            f"| {eq} | {r['kan_shape'].item()} | {float(r['kan_numeric_rmse']):.1e} | "
            f"{float(r['kan_symbolic_rmse']):.1e} | `{r['kan_formula'].item()}` | `{r['engine_formula'].item()}` | "
            f"{r['verdict'].item()} | {r['kan_vs_truth'].item()} | {r['engine_vs_truth'].item()} | "
            f"{r['outcome'].item()} | {float(r['kan_seconds']):.0f} | {float(r['engine_seconds']):.0f} |"
        )
    lines += [
        "",
        f"Verdicts: symbolic equality after rounding constants to {PRECISION} digits, numeric agreement when the "
        f"relative RMSE between formulas is <= {sr.NUMERIC_AGREEMENT:g} on 1000 held-out points.",
        "The paper reports the pruned shapes and that KAN formulas are exact or close for most equations; "
        "it gives no count to compare with.",
        "",
        f"kansci {ds.attrs['kansci_version']}, torch {ds.attrs['torch_version']}, {ds.attrs['created']}.",
    ]
    return "\n".join(lines) + "\n"


def claims(ds: xr.Dataset) -> list[common.Claim]:
    """How many KAN formulas are exact (the paper: most, no count) and whether the cross-check told the truth."""
    n = ds.sizes["equation"]
    exact = int((ds["kan_vs_truth"] == "agree").sum())
    count = outcome_counts(ds)
    checked = count["consistent"] + count["inconsistent"]
    return [
        common.target_claim(
            "Feynman (dimensionless): KAN formulas symbolically exact",
            "exact or close for most equations (no count given)",
            f"{exact} of {n}",
            exact > n / 2,
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
