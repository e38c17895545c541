"""Paper §3.4: solve Poisson (or another shipped PDE) with KANs and MLPs; error against size.

Run: ``python -m kansci.studies.poisson [--quick] [--out DIR] [--seed N] [--problem NAME]``

Writes into ``--out``: ``results.nc`` (xarray: errors per stage, loss curves,
solutions on a grid), ``solution.png``, ``error_vs_params.png``,
``losses.png`` and ``summary.md`` (our numbers beside the paper's). Finished
runs are stored in ``--out/runs`` at once, so an interrupted study resumes.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import platform
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

import kansci
from kansci import pde, published
from kansci.baselines import mlp
from kansci.core.lm import MAX_PARAMETERS
from kansci.core.model import KAN
from kansci.pde.catalog import EQUATIONS
from kansci.studies import common
from kansci.viz import plot_error_vs_params, plot_losses, plot_solution

log = logging.getLogger("kansci.studies.poisson")

PROBLEMS: dict[str, Callable[[], pde.Problem | pde.Equation]] = {
    "poisson_paper": pde.poisson_paper,
    "poisson_sine": pde.poisson_sine,
    "helmholtz": pde.helmholtz,
    "heat": pde.heat,
    "burgers": pde.burgers,
    "allen_cahn": pde.allen_cahn,
    "inverse_poisson": pde.inverse_poisson,
    **EQUATIONS,
}
"""Every shipped problem: the box problems of :mod:`kansci.pde.problems`, the equations of :mod:`kansci.pde.catalog`."""

PAPER = published.PDE
"""Published relative L2 errors to place ours beside, by problem (:data:`kansci.published.PDE`, with sources)."""
TARGET = {"poisson_paper": ("KAN [2,10,1]", PAPER["poisson_paper"]["KAN [2,10,1] (paper, MSE ~1e-7)"].value)}
PRECISION_TARGET = 1e-6
"""kansci's own target for the KAN [2,10,1] on the paper's Poisson: relative L2 at most this, median over seeds."""
VALIDATION_POINTS = 2000
VALIDATION_SEED = 7919
"""Validation points: uniform random in the domain (seed: the run's plus this), apart from the Sobol test points;
the claims choose among runs by their error there, never by the test error they report."""
TRAINING: dict[str, dict[str, Any]] = {
    # Helmholtz's LBFGS training is chaotic (runs that differ only by round-off end 1.7e-3 vs 1.3e-2 without a
    # warm-up): 1000 Adam steps at lr 1e-2 before LBFGS, 100 LBFGS steps per grid, and the KAN [2,10,1] over two
    # seeds. The MLPs keep 200 LBFGS steps (400 took the width-100 MLP 30 minutes).
    "helmholtz": {"steps": 100, "adam_steps": 1000, "adam_lr": 1e-2, "alpha": 1e-4, "kan_seeds": 2, "mlp_steps": 200},
}
SPLINE_ORDER: dict[str, int] = {"biharmonic": 5, "kdv": 5}
"""KAN spline order k per problem (default 3): a residual with derivatives of order 4 needs k >= 4, and the
third-order KdV converged faster with quintic splines (relative L2 3.6e-2 after grids 5-20, 30 LM steps each)."""
"""Full-run settings per problem for LBFGS beyond the shared ones (the ``--quick`` run keeps its own)."""
LM_TRAINING: dict[str, Any] = {"steps": 45, "n_interior": 10000, "kan_seeds": 3, "grids": [5, 10, 20, 40, 80]}
"""Full-run settings with Levenberg-Marquardt: 45 steps per grid up to G = 80 (KAN [2,10,1]: 2550 parameters)
on the paper's 10,000 interior points, three seeds of the first KAN; every MLP gets as many steps as a KAN's
schedule. Measured on the paper's Poisson (exact Dirichlet values, one thread per run, 2 runs at a time): KAN
[2,10,1] relative L2 5.9e-7, 1.0e-6 and 4.8e-7 for seeds 0-2 in 190-240 s each, the whole study in 7.7
minutes. With 30 steps per grid: 9.0e-7, 8.1e-7 and 1.5e-6 in 135 s each (5.2 minutes)."""
OPTIMIZERS: dict[str, tuple[str, ...]] = {"poisson_paper": ("lm",), "poisson_sine": ("lm",)}
"""The optimizers a study runs by default (``--opt`` overrides): Levenberg-Marquardt alone where it is the
best for every model; both LBFGS and LM on the other problems, so their summaries show both."""
PLOT_POINTS = 101
CHECKPOINT_STEPS = common.CHECKPOINT_STEPS
"""Steps between checkpoints of a run (an interrupted run loses well under a minute)."""


def configs(
    problem: str, quick: bool, seed: int, dtype: str, device: str, optimizers: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The runs of the study: KANs with grid extension, MLPs of a few depths and widths, per optimizer.

    Levenberg-Marquardt runs impose Dirichlet (and initial) values exactly (:class:`kansci.pde.HardDirichlet`)
    where the problem allows it, and every model up to its parameter limit gets it; a larger one falls back to
    LBFGS (the run records which optimizer trained it).
    """
    optimizers = tuple(optimizers or OPTIMIZERS.get(problem, ("lbfgs", "lm")))
    runs: list[dict[str, Any]] = []
    for opt in optimizers:
        suffix = f" {opt.upper()}" if len(optimizers) > 1 else ""
        runs += _configs_for(problem, quick, seed, dtype, device, opt, suffix)
    return runs


def _configs_for(
    problem: str, quick: bool, seed: int, dtype: str, device: str, opt: str, suffix: str
) -> list[dict[str, Any]]:
    shared = {"problem": problem, "seed": seed, "dtype": dtype, "device": device, "version": kansci.__version__}
    shared |= {"opt": opt, "hard_boundary": opt == "lm" and _hard_boundary_allowed(PROBLEMS[problem]())}
    if problem in SPLINE_ORDER:
        shared["k"] = SPLINE_ORDER[problem]
    if quick:
        shared |= {"n_interior": 400, "n_boundary": 100, "steps": 8}
        kans, mlps, grids = [[2, 5, 1]], [[2, 10, 10, 1]], [5, 10]
    elif opt == "lm":
        settings = dict(LM_TRAINING)
        grids = settings.pop("grids")
        shared |= {"n_boundary": 800, **settings}
        kans, mlps = [[2, 10, 1], [2, 5, 1]], [[2, 20, 20, 20, 1], [2, 10, 10, 1]]
    else:  # the paper's boundary points; a quarter of its interior points, to finish in ~10 minutes on 2 cores
        shared |= {"n_interior": 2500, "n_boundary": 800, "steps": 50}
        kans, grids = [[2, 10, 1], [2, 5, 1]], [5, 10, 20, 40]
        mlps = [[2, 100, 100, 1], [2, 20, 20, 20, 1], [2, 10, 10, 1]]
        shared |= TRAINING.get(problem, {})
    n_seeds = shared.pop("kan_seeds", 1)
    built = PROBLEMS[problem]()
    n_in, n_out = built.dim, built.n_fields  # an inverse problem learns its coefficient as a second output
    kans, mlps = [[n_in, *w[1:-1], n_out] for w in kans], [[n_in, *w[1:-1], n_out] for w in mlps]
    mlp_steps = shared.pop("mlp_steps", shared["steps"] * len(grids))  # by default as many as a KAN's schedule
    mlp_runs = [
        dict(shared, name=_name("MLP", w) + suffix, kind="mlp", width=w, grids=[], steps=mlp_steps) for w in mlps
    ]
    kan_runs = [dict(shared, name=_name("KAN", w) + suffix, kind="kan", width=w, grids=grids) for w in kans]
    kan_runs[1:1] = [  # further seeds of the first KAN, right after it
        dict(kan_runs[0], name=f"{kan_runs[0]['name']} seed {seed + i}", seed=seed + i) for i in range(1, n_seeds)
    ]
    return mlp_runs[:1] + kan_runs + mlp_runs[1:]  # the longest runs first: they start on the free workers


def _hard_boundary_allowed(problem: pde.Problem | pde.Equation) -> bool:
    """Whether :class:`kansci.pde.HardDirichlet` can impose the problem's Dirichlet values.

    Never for an Equation: its Dirichlet conditions say themselves whether they are exact.
    """
    if isinstance(problem, pde.Equation):
        return False
    return problem.boundary is not None and problem.boundary_fields == (0,) and problem.n_fields == 1


def _exact_boundary(problem: pde.Problem | pde.Equation, config: Mapping[str, Any]) -> bool:
    """Whether the run imposed Dirichlet values exactly."""
    if isinstance(problem, pde.Equation):
        return any(getattr(c, "hard", False) for c in problem.conditions)
    return bool(config.get("hard_boundary"))


def _name(kind: str, width: Sequence[int]) -> str:
    return f"{kind} [{','.join(map(str, width))}]"


def _bounds(problem: pde.Problem | pde.Equation) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return problem.bounds() if isinstance(problem, pde.Equation) else (problem.lower, problem.upper)


def _plot_grid(problem: pde.Problem | pde.Equation) -> tuple[np.ndarray, np.ndarray]:
    """The plotting axes of the first two inputs."""
    lower, upper = _bounds(problem)
    return tuple(np.linspace(lo, hi, PLOT_POINTS) for lo, hi in zip(lower[:2], upper[:2]))  # type: ignore[return-value]


def _on_grid(problem: pde.Problem | pde.Equation, fn: Callable[[torch.Tensor], torch.Tensor], ax, ay) -> np.ndarray:
    """``fn``'s first output on the plotting grid (rows: the second axis), NaN outside a non-box domain.

    With more than two inputs, on the plane of the first two through the centre of the domain's bounding box.
    """
    mesh = torch.cartesian_prod(torch.tensor(np.asarray(ay)), torch.tensor(np.asarray(ax)))[:, [1, 0]]
    lower, upper = _bounds(problem)
    centre = [(lo + hi) / 2 for lo, hi in zip(lower[2:], upper[2:])]
    mesh = torch.cat([mesh, torch.tensor(centre, dtype=mesh.dtype).expand(len(mesh), len(centre))], 1)
    inside = problem.contains(mesh) if isinstance(problem, pde.Equation) else torch.ones(len(mesh), dtype=torch.bool)
    values = torch.full((len(mesh),), math.nan, dtype=torch.float64)
    with torch.no_grad():  # only inside: a reference may not extend beyond the domain
        values[inside] = fn(mesh[inside])[:, 0].detach().cpu().to(torch.float64)
    return values.reshape(len(ay), len(ax)).numpy()


def _axis_names(time_axis: bool) -> tuple[str, str]:
    return ("x", "t") if time_axis else ("x", "y")


def validation_errors(problem: pde.Problem, model: torch.nn.Module, config: Mapping[str, Any]) -> dict[str, Any]:
    """The final model's relative L2 error at :data:`VALIDATION_POINTS` validation points, as a run variable.

    Empty when the problem has no exact solution. The claims select among runs by this error (the test error is
    what they report).
    """
    if problem.exact is None:
        return {}
    seed, dtype = config["seed"] + VALIDATION_SEED, getattr(torch, config["dtype"])
    if isinstance(problem, pde.Equation):
        points = problem.interior_points(VALIDATION_POINTS, "uniform", seed=seed, dtype=dtype)
    else:
        points = pde.interior_points(problem, VALIDATION_POINTS, "random", seed=seed, dtype=dtype)
    points = points.to(config["device"])
    return {"validation_relative_l2": ((), pde.errors(problem, model, points)["relative_l2"])}


def run_config(config: Mapping[str, Any], checkpoint: str | os.PathLike | None = None) -> xr.Dataset:
    """Train one model on one problem; its stages, loss curve and solution as an xarray Dataset.

    With ``checkpoint`` (a folder, which the sweep gives each run) training is checkpointed every
    :data:`CHECKPOINT_STEPS` steps and resumes from there; progress is logged every few seconds.
    """
    problem = PROBLEMS[config["problem"]]()
    dtype, device = getattr(torch, config["dtype"]), torch.device(config["device"])
    width = config["width"]
    if config["kind"] == "kan":
        grids = config["grids"]
        spacing = {"grid_eps": config["grid_eps"]} if "grid_eps" in config else {}  # 1: evenly spaced knots
        model = KAN(
            width, grid=grids[0], k=config.get("k", 3), seed=config["seed"], dtype=dtype, device=device, **spacing
        )
        schedule = grids[1:]
    else:
        model = mlp(width, "tanh", seed=config["seed"], dtype=dtype, device=device)
        schedule = []
    keys = (
        "adam_steps",
        "adam_lr",
        "alpha",
        "hard_boundary",
        "refresh_every",
        "adaptive",
        "rad_power",
        "rad_floor",
        "causal",
    )
    extra = {key: config[key] for key in keys if key in config}
    opt = training_optimizer(config, model)
    total = config.get("adam_steps", 0) + config["steps"] * (1 + len(schedule))
    result = pde.solve(
        problem, model, steps=config["steps"], opt=opt, n_interior=config["n_interior"],
        n_boundary=config["n_boundary"], grid_schedule=schedule, seed=config["seed"], progress=False, **extra,
        callbacks=[common.step_logger(config["name"], total)], checkpoint=checkpoint, checkpoint_every=CHECKPOINT_STEPS,
    )  # fmt: skip
    stages = result.stages
    data: dict[str, Any] = {
        "n_params": ("stage", [float(s.n_params) for s in stages]),
        "grid": ("stage", [float(s.grid) if s.grid is not None else math.nan for s in stages]),
        "seconds": ("stage", [s.seconds for s in stages]),
    }
    for key in stages[-1].errors:
        data[key] = ("stage", [s.errors.get(key, math.nan) for s in stages])
    data["loss"] = ("step", [v for h in result.histories for v in h.loss])
    for part in result.histories[0].parts:
        data[part] = ("step", [v for h in result.histories for v in h.parts.get(part, [])])
    ax, ay = _plot_grid(problem)
    names = _axis_names(problem.time)
    u = _on_grid(problem, lambda mesh: result.model(mesh.to(dtype=dtype, device=device)), ax, ay)
    data["u"] = ((names[1], names[0]), u)
    data |= validation_errors(problem, result.model, config)
    coords = {"stage": np.arange(len(stages)), "step": np.arange(len(data["loss"][1])), names[0]: ax, names[1]: ay}
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {
        "name": config["name"],
        "kind": config["kind"],
        "width": json.dumps(width),
        "status": result.histories[-1].status,
        "optimizer": opt,
        "boundary": "exact (hard)" if _exact_boundary(problem, config) else "penalty",
    }
    return ds


def training_optimizer(config: Mapping[str, Any], model: torch.nn.Module) -> str:
    """The run's optimizer: its configured one, LBFGS where Levenberg-Marquardt is above its parameter limit.

    A KAN's count is the one at its last grid (the largest).
    """
    opt = config.get("opt", "lbfgs")
    if opt != "lm":
        return opt
    if isinstance(model, KAN):
        widths, grid, k = config["width"], config["grids"][-1], model.config.k
        n_params = sum(a * b * (grid + k + 1) for a, b in zip(widths[:-1], widths[1:]))
    else:
        n_params = sum(p.numel() for p in model.parameters())
    return "lm" if n_params <= MAX_PARAMETERS else "lbfgs"


def gather(runs: Sequence[xr.Dataset], problem: pde.Problem, run_configs: Sequence[Mapping[str, Any]]) -> xr.Dataset:
    """One Dataset over all runs (NaN-padded stages and steps) with the exact solution and the study's config."""
    names = [r.attrs["name"] for r in runs]
    combined = xr.concat(
        [r.assign_attrs({}) for r in runs], dim=xr.DataArray(names, dims="run", name="run"),
        join="outer", fill_value=math.nan, combine_attrs="drop",
    )  # fmt: skip
    combined["kind"] = ("run", [r.attrs["kind"] for r in runs])
    combined["width"] = ("run", [r.attrs["width"] for r in runs])
    combined["status"] = ("run", [r.attrs["status"] for r in runs])
    combined["optimizer"] = ("run", [r.attrs.get("optimizer", "lbfgs") for r in runs])
    combined["boundary_condition"] = ("run", [r.attrs.get("boundary", "penalty") for r in runs])
    if problem.exact is not None:
        ax_name, ay_name = _axis_names(problem.time)
        ax, ay = combined[ax_name].values, combined[ay_name].values
        combined["u_exact"] = ((ay_name, ax_name), _on_grid(problem, problem.exact, ax, ay))
    describe(combined)
    combined.attrs = {
        "problem": problem.name,
        "test_points": f"{TEST_POINTS} scrambled Sobol points in the domain (seed: the run's + 1)",
        "configs": json.dumps(list(run_configs)),
        "kansci_version": kansci.__version__,
        "torch_version": str(torch.__version__),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return combined


TEST_POINTS = int(inspect.signature(pde.solve).parameters["n_test"].default)
"""Points where :func:`kansci.pde.solve` measures each stage's errors (``n_test``, its default here)."""
_ON_TEST = f"at the {TEST_POINTS} scrambled Sobol test points in the domain (seed: the run's + 1)"
_ON_GRID = f"on the {PLOT_POINTS}x{PLOT_POINTS} plotting grid (boundary included)"
VARIABLES: dict[str, tuple[str, str]] = {
    "n_params": ("trainable parameters at the end of the stage", "1"),
    "grid": ("KAN grid intervals G of the stage (NaN for an MLP)", "1"),
    "seconds": ("training wall time of the stage", "s"),
    "relative_l2": (f"relative L2 error of u {_ON_TEST}", "1"),
    "mse": (f"mean squared error of u {_ON_TEST}", "1"),
    "max_error": (f"largest absolute error of u {_ON_TEST}", "1"),
    "relative_h1": (f"relative H1 error of u {_ON_TEST}", "1"),
    "validation_relative_l2": (
        f"relative L2 error of the final model at {VALIDATION_POINTS} uniform random validation points "
        "(seed: the run's + 7919); used to choose among runs",
        "1",
    ),
    "loss": ("training loss: alpha * residual + boundary (+ initial, data) terms", "1"),
    "residual": ("mean squared PDE residual at the collocation points", "1"),
    "boundary": ("mean squared boundary misfit", "1"),
    "initial": ("mean squared initial-condition misfit", "1"),
    "data": ("mean squared misfit to the observations", "1"),
    "u": (f"the model's solution (first output) {_ON_GRID}", "1"),
    "u_exact": (f"the exact or reference solution {_ON_GRID}", "1"),
    "kind": ("model family: kan or mlp", ""),
    "width": ("layer widths (JSON)", ""),
    "status": ("how the last training call ended", ""),
    "optimizer": ("optimizer that trained the run: lm (Levenberg-Marquardt), lbfgs or adam", ""),
    "boundary_condition": ("how Dirichlet values were imposed: a penalty term, or exactly (hard)", ""),
}
"""Variable -> (long_name, units) of ``results.nc``; quantities of the dimensionless problems have units "1"."""


def describe(ds: xr.Dataset) -> xr.Dataset:
    """Set ``long_name`` and ``units`` on every variable :data:`VARIABLES` (or a field suffix) names; in place."""
    for name in ds.data_vars:
        field = str(name).removeprefix("relative_l2_") if str(name).startswith("relative_l2_") else ""
        if field:
            long_name, units = f"relative L2 error of the field {field} {_ON_TEST}", "1"
        elif name in VARIABLES:
            long_name, units = VARIABLES[str(name)]
        elif ds[name].dims == ("run", "step"):  # another condition's loss part (neumann, periodic_x, ...)
            long_name, units = f"mean squared misfit of the condition {name}", "1"
        else:
            continue
        ds[name].attrs.update(long_name=long_name, units=units)
    return ds


def grid_relative_l2(ds: xr.Dataset) -> np.ndarray:
    """Relative L2 error of each run's stored ``u`` against ``u_exact`` on the plotting grid (NaN without one).

    Not the table's error: that one is measured at the Sobol test points inside the domain, this one on the
    evenly spaced grid whose edge lies on the boundary, so the two differ.
    """
    if "u_exact" not in ds:
        return np.full(ds.sizes["run"], np.nan)
    exact = ds["u_exact"].values
    diff = ds["u"].values - exact[None]  # NaN outside a non-box domain
    return np.sqrt(np.nansum(diff**2, axis=(1, 2)) / np.nansum(exact**2))


def _final(ds: xr.Dataset, var: str) -> np.ndarray:
    """The last finite stage value of ``var`` for every run."""
    values = ds[var].values
    out = np.full(values.shape[0], np.nan)
    for i, row in enumerate(values):
        finite = row[np.isfinite(row)]
        if finite.size:
            out[i] = finite[-1]
    return out


def figures(ds: xr.Dataset) -> dict[str, Figure]:
    """The figures ``solution``, ``error_vs_params`` and ``losses`` of a gathered Dataset, by file stem."""
    out: dict[str, Figure] = {}
    ax_name, ay_name = _axis_names("t" in ds.dims)
    axes = (ds[ax_name].values, ds[ay_name].values)
    best = {kind: choose_run(ds, kind.upper(), "")[0] for kind in ("kan", "mlp") if (ds["kind"].values == kind).any()}
    fields = {} if "u_exact" not in ds else {"exact": ds["u_exact"].values}
    fields |= {str(ds["run"].values[i]): ds["u"].values[i] for i in best.values()}
    out["solution"] = plot_solution(
        axes, fields, labels=(ax_name, ay_name), exact=ds["u_exact"].values if "u_exact" in ds else None
    )

    series: dict[str, tuple[list[float], list[float]]] = {}
    for i, name in enumerate(ds["run"].values):
        params, errs = ds["n_params"].values[i], ds["relative_l2"].values[i]
        keep = np.isfinite(params) & np.isfinite(errs)
        if ds["kind"].values[i] == "kan":
            series[f"{name} (G={'→'.join(str(int(g)) for g in ds['grid'].values[i][keep])})"] = (
                params[keep],
                errs[keep],
            )
        else:
            depth = len(json.loads(ds["width"].values[i])) - 1
            line = series.setdefault(f"MLP depth {depth}", ([], []))
            line[0].extend(params[keep][-1:])
            line[1].extend(errs[keep][-1:])
    refs = {k: (v.params, v.value) for k, v in PAPER.get(ds.attrs["problem"], {}).items() if v.params is not None}
    out["error_vs_params"] = plot_error_vs_params(series, references=refs)

    parts = [p for p in ("loss", "residual", "boundary", "initial", "data") if p in ds]
    curves = {str(n): {p: ds[p].values[i] for p in parts} for i, n in enumerate(ds["run"].values)}
    out["losses"] = plot_losses(curves)
    return out


def summary(ds: xr.Dataset, wall_seconds: float, command: str) -> str:
    """summary.md: a table of every run and the paper's numbers beside ours."""
    problem = ds.attrs["problem"]
    train = float(np.nansum(ds["seconds"].values))
    lines = [f"# {problem}: KAN vs MLP", "", f"Command: `{command}`", ""]
    lines += [f"Wall time of this invocation {wall_seconds:.0f} s; training time of all runs {train:.0f} s.", ""]
    cols = [c for c in ("relative_l2", "mse", "max_error", "relative_h1") if c in ds]
    cols += sorted(c for c in ds.data_vars if c.startswith("relative_l2_"))  # other fields, e.g. a coefficient
    extra = ["validation relative_l2"] if "validation_relative_l2" in ds else []
    extra += ["relative_l2 on the stored grid"] if "u_exact" in ds else []
    lines += [
        "| run | optimizer | grids | params | " + " | ".join([*cols, *extra]) + " | train s |",
        "|---" * (5 + len(cols) + len(extra)) + "|",
    ]
    finals = {c: _final(ds, c) for c in [*cols, "n_params"]}
    on_grid = grid_relative_l2(ds)
    for i, name in enumerate(ds["run"].values):
        grids = ds["grid"].values[i]
        grids = "→".join(str(int(g)) for g in grids[np.isfinite(grids)]) or "—"
        seconds = float(np.nansum(ds["seconds"].values[i]))
        optimizer = str(ds["optimizer"].values[i]).upper() if "optimizer" in ds else "LBFGS"
        if "boundary_condition" in ds and "hard" in str(ds["boundary_condition"].values[i]):
            optimizer += ", exact BC"
        row = [
            str(name),
            optimizer,
            grids,
            f"{int(finals['n_params'][i])}",
            *(f"{finals[c][i]:.2e}" for c in cols),
            *([f"{float(ds['validation_relative_l2'].values[i]):.2e}"] if "validation_relative_l2" in ds else []),
            *([f"{on_grid[i]:.2e}"] if "u_exact" in ds else []),
            f"{seconds:.0f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"The error columns are measured {_ON_TEST}, at the end of each run's last stage. "
        + (
            f"The last column is the relative L2 error of the solution stored in results.nc (`u`, {_ON_GRID}) "
            "against `u_exact` there: a different point set, so it differs from the table's relative_l2. "
            if "u_exact" in ds
            else ""
        )
        + (
            f"Validation errors are at {VALIDATION_POINTS} uniform random points apart from the test points; "
            "the claims choose among runs by them."
            if "validation_relative_l2" in ds
            else ""
        ),
    ]
    lines += _over_seeds(ds, finals.get("relative_l2"))
    lines += _stages(ds)
    refs = PAPER.get(problem)
    if refs:
        lines += ["", "Published (relative L2):", ""]
        lines += [
            f"- {k}: {ref.value:.2e}"
            + (f" with ~{ref.params:.0e} parameters" if ref.params else "")
            + f"; {ref.cite()}."
            for k, ref in refs.items()
        ]
    if problem in TARGET:
        run, limit = TARGET[problem]
        finals_l2 = _final(ds, "relative_l2")
        seeds = [i for i, name in enumerate(ds["run"].values) if _model_name(str(name)) == run]
        if seeds:
            median = float(np.nanmedian(finals_l2[seeds]))
            over = f"median of {len(seeds)} seeds" if len(seeds) > 1 else "one seed"
            lines += [""]
            for label, bound in (("the paper's (MSE 1e-7)", limit), ("kansci's", PRECISION_TARGET)):
                verdict = "met" if median <= bound else "not met"
                lines += [f"Target, {label}: {run} relative L2 <= {bound:.1e}: {median:.2e} ({over}), {verdict}."]
    lines += [
        "",
        f"kansci {ds.attrs['kansci_version']}, torch {ds.attrs['torch_version']}, created {ds.attrs['created']}.",
    ]
    return "\n".join(lines) + "\n"


def _stages(ds: xr.Dataset) -> list[str]:
    """The relative L2 error and the cumulative training time at the end of every grid of each KAN."""
    rows = [i for i, kind in enumerate(ds["kind"].values) if kind == "kan"]
    if not rows or "relative_l2" not in ds:
        return []
    lines = ["", "Relative L2 at the end of each grid (cumulative training seconds):", ""]
    for i in rows:
        grids, errs, secs = ds["grid"].values[i], ds["relative_l2"].values[i], ds["seconds"].values[i]
        keep = np.isfinite(grids)
        cells = [f"G={int(g)}: {e:.2e} ({t:.0f} s)" for g, e, t in zip(grids[keep], errs[keep], np.cumsum(secs[keep]))]
        lines.append(f"- {ds['run'].values[i]}: " + ", ".join(cells))
    return lines


def _over_seeds(ds: xr.Dataset, errors: np.ndarray | None) -> list[str]:
    """Median and spread of the relative L2 of every model trained over several seeds, and the seed chosen on
    validation points (:func:`choose_run`) with its test error."""
    if errors is None:
        return []
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(ds["run"].values):
        groups.setdefault(str(name).split(" seed ")[0], []).append(i)
    lines = []
    for name, rows in groups.items():
        errs = errors[rows]
        if len(rows) < 2 or not np.isfinite(errs).any():
            continue
        line = f"{name} over {len(rows)} seeds: relative L2 median {np.nanmedian(errs):.2e}, "
        line += f"from {np.nanmin(errs):.2e} to {np.nanmax(errs):.2e}"
        chosen, rule = choose_run(ds, name.split()[0], name)
        if "validation" in rule:
            line += f"; chosen on validation points: {ds['run'].values[chosen]}, {errors[chosen]:.2e}"
        lines.append(line + ".")
    return ["", *lines] if lines else []


def choose_run(ds: xr.Dataset, kind: str, label: str, ref: published.Published | None = None) -> tuple[int, str]:
    """The run to set beside a published number, and how it was chosen; never by its test error.

    Candidates are the runs of ``kind`` ("KAN" or "MLP"); when ``label`` names a width (``"KAN [2,10,1]"``) and
    runs of that width exist (any seed), only those. Among several candidates the lowest
    ``validation_relative_l2`` wins; without validation errors (runs stored by an older version) the
    candidate whose parameter count is nearest the published one, else the first in the study's order.

    Returns
    -------
    (int, str)
        Index on ``run`` (-1 when no run of ``kind`` exists) and the rule that picked it.
    """
    names = [str(r) for r in ds["run"].values]
    candidates = [i for i, r in enumerate(names) if r.split()[0] == kind]
    width = re.search(r"\[[\d,\s]+\]", label)
    if width is not None:
        named = _name(kind, json.loads(width.group(0)))
        same = [i for i in candidates if _model_name(names[i]) == named]
        candidates = same or candidates
    if not candidates:
        return -1, ""
    if len(candidates) == 1:
        return candidates[0], "the only candidate"
    if "validation_relative_l2" in ds:
        valid = ds["validation_relative_l2"].values[candidates]
        if np.isfinite(valid).any():
            return candidates[int(np.nanargmin(valid))], f"lowest validation error of {len(candidates)}"
    if ref is not None and ref.params:
        params = _final(ds, "n_params")[candidates]
        return candidates[int(np.nanargmin(np.abs(np.log(params / ref.params))))], "size nearest the published"
    return candidates[0], "the first configured"


def _model_name(run: str) -> str:
    """``"KAN [2,10,1]"`` of a run name such as ``"KAN [2,10,1] LM seed 1"``."""
    return " ".join(run.split(" seed ")[0].split()[:2])


def claims(ds: xr.Dataset) -> list[common.Claim]:
    """The paper's (or the published anchors') relative L2 beside ours: the named model, or the KAN / MLP chosen
    on validation points (:func:`choose_run`); the test error is reported, never used to choose."""
    refs = PAPER.get(ds.attrs["problem"], {})
    errors = _final(ds, "relative_l2")
    out = []
    for label, ref in refs.items():
        kind = "KAN" if ("KAN" in label and "MLP" not in label) else "MLP"
        index, rule = choose_run(ds, kind, label, ref)
        if index < 0 or not np.isfinite(errors[index]):
            continue
        experiment = f"{ds.attrs['problem']}: relative L2 at the test points, {ds['run'].values[index]} vs {label}"
        out.append(common.error_claim(experiment, ref.value, float(errors[index]), note=f"{rule}; {ref.cite()}"))
    return out


def main(argv: Sequence[str] | None = None) -> xr.Dataset:
    parser = common.parser("poisson", __doc__.splitlines()[0], default_out="<problem>")
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="poisson_paper")
    parser.add_argument("--device", type=common.torch_device, default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument(
        "--opt", choices=["lm", "lbfgs", "both"], default=None,
        help="optimizer: lm (Levenberg-Marquardt, the default on the Poisson problems), lbfgs, or both (the "
        "default elsewhere)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    common.logging_setup()
    out = common.output_folder(args.problem, args)
    optimizers = None if args.opt is None else (("lbfgs", "lm") if args.opt == "both" else (args.opt,))
    run_configs = configs(args.problem, args.quick, args.seed, args.dtype, args.device, optimizers)
    runs, wall = common.run_sweep(run_config, run_configs, args, out, args.problem)
    ds = gather(runs, PROBLEMS[args.problem](), run_configs)
    common.write_outputs(ds, out, figures(ds), summary(ds, wall, common.command_line("poisson", argv).strip()), runs)
    return ds


if __name__ == "__main__":
    main()
