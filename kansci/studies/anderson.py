"""Paper §4.4: Anderson localization — a KAN classifier whose decision boundary is read as the mobility edge.

Run: ``python -m kansci.studies.anderson [--quick] [--models gaam maam mosaic2] [--seeds N] [--out DIR] [--seed N]``

Data (:mod:`kansci.datasets.anderson`): eigenstates of quasiperiodic rings,
labelled localized (1) or extended (0) by their fractal dimension, with inputs
(model parameters, phi, energy). The phase phi only shifts the potential along
the ring, so it carries no information about localization and is dropped: the
KANs see (alpha, lambda, E) for GAAM, (p, lambda, E) for MAAM and (lambda, E)
for the mosaic model with kappa = 2.

Per model and seed:

1. A KAN ending in ``[..., 1, 1]`` (GAAM and MAAM: [3, 3, 1, 1], the paper's
   [4, 2, 1, 1] without phi and with a third hidden node, the fewest that can
   write ``alpha E`` as a difference of squares beside a linear lambda term;
   mosaic: [2, 2, 1, 1]) outputs a logit: its last edge is fixed to the identity
   and it is trained with the logistic loss (cross-entropy on the 0/1 labels,
   which unlike a saturating step does not lose its gradient on confidently wrong
   states), first with sparsity, then pruned (hidden nodes and inputs) and refit.
   Its held-out accuracy is the numeric KAN's.
2. The edges are snapped by :func:`kansci.symbolic.boundary.snap_by_loss`: every
   assignment of a small per-model library (GAAM: linear first layer, x or x^2
   after it — a degree-2 boundary; MAAM: exp or cosh of p; mosaic: x, |x| or
   log|x| of each input) is retrained briefly and the simplest one within
   :data:`SEARCH_TIE` of the lowest training error wins; it is then retrained.
   With 0/1 labels a spline is only constrained near the boundary, so the R^2 of a
   fit to its shape, which ``auto_symbolic`` ranks by, is a poor guide here.
3. The decision boundary ``B(x) = g(x) - g*`` (``g``: the logit's formula, zero
   where the output crosses 0) is read with :func:`~kansci.symbolic.boundary.read_boundary`,
   its terms that the classification does not need are dropped
   (:func:`~kansci.symbolic.boundary.simplify_boundary`) and it is compared with the
   mobility edge (:func:`~kansci.symbolic.boundary.match_boundary`: ``B / c - r``
   term by term, ``c`` the least-squares scale, ``r`` the "localized when"
   ``lhs - rhs``; for the mosaic model also in the additive form
   ``ln lambda + ln|E| - ln 2``, the same edge, which a one-node KAN writes).

Accuracies on held-out states (other systems than the training ones) of the
numeric KAN, its formula, the simplified formula and the theory
(:func:`~kansci.datasets.anderson.theory_label`) go beside the paper's. Writes
``results.nc``, ``boundary_<model>.png`` (test states in the (E, lambda)
plane, coloured by label, with the theory's edge and the KAN's) and
``summary.md`` with the targets: the GAAM formula is the mobility edge up to
rounded constants; held-out KAN accuracy >= 98% (GAAM) and >= 96% (MAAM).

The full run (3000 training and 3000 held-out states per model, default ring
lengths) takes about 4 minutes on one core per seed for the three models, most
of it in the snap searches. ``--quick`` (300 / 300 states on 144- and
178-site rings, a few short LBFGS steps, smaller libraries) is a smoke test of
the pipeline: its formulas are rough.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy
import torch
import xarray as xr
from matplotlib.figure import Figure
from torch import Tensor

import kansci
from kansci import published
from kansci.datasets import Dataset, anderson
from kansci.studies import common
from kansci.symbolic import evaluate, fix_symbolic
from kansci.symbolic.boundary import match_boundary, read_boundary, round_floats, simplify_boundary, snap_by_loss
from kansci.symbolic.library import SymbolicFunction

log = logging.getLogger("kansci.studies.anderson")

COLUMNS = ("alpha", "p", "lambda", "energy")
"""Every input column some model has (phi dropped); the test states are stored under these names."""

LAMB = 1e-2
PRUNE_THRESHOLD = 1e-2
SEARCH_TIE = 0.002
"""Assignments within this training error rate of the best count as equally good; the simplest wins."""
SIMPLIFY_TOLERANCE = 0.002
"""A boundary term is dropped if the training error rate grows by at most this without it."""
MATCH_TOLERANCE = 0.05
"""Largest relative size of a term of ``B / c - r`` for the formula to count as the mobility edge."""
TARGET_KAN_ACCURACY = {"gaam": 0.98, "maam": 0.96}

COSH = SymbolicFunction("cosh", torch.cosh, lambda x: torch.cosh(x.clamp(-40.0, 40.0)), sympy.cosh, 2)
LOG_ABS = SymbolicFunction(
    "log|x|",
    lambda x: torch.log(x.abs()),
    lambda x: torch.log(x.abs().clamp_min(torch.finfo(x.dtype).eps ** 0.5)),
    lambda x: sympy.log(sympy.Abs(x)),
    2,
)
"""Candidates beyond the built-in library: cosh of the MAAM decay rate, log|x| of an energy of either sign."""
EXTRA_FUNCTIONS = {f.name: f for f in (COSH, LOG_ABS)}


@dataclass(frozen=True)
class Recipe:
    """How one model is learned and read.

    Attributes
    ----------
    width : tuple of int
        Initial KAN, inputs without phi; the last two entries are 1 (logit node, output).
    libraries, quick_libraries : mapping
        Candidates for :func:`snap_by_loss`: key ``"layer"`` (every edge of that layer) or
        ``"layer:column"`` (the edges leaving that input of layer 0); the quick ones are smaller.
    paper : tuple of float, optional
        The paper's accuracy (%) of its KAN formula and of the theory, where it gives them.
    """

    width: tuple[int, ...]
    libraries: Mapping[str, tuple[str, ...]]
    quick_libraries: Mapping[str, tuple[str, ...]]
    paper: tuple[float, float] | None = None


def _paper(model: str) -> tuple[float, float]:
    """The paper's formula and theory accuracies (%) for ``model``: :data:`kansci.published.ANDERSON`."""
    numbers = published.ANDERSON[model]
    return 100 * numbers["formula"].value, 100 * numbers["theory"].value


RECIPES: dict[str, Recipe] = {
    "gaam": Recipe((3, 3, 1, 1), {"0": ("x",), "1": ("x", "x^2")}, {"0": ("x",), "1": ("x", "x^2")}, _paper("gaam")),
    "maam": Recipe(
        (3, 3, 1, 1),
        {"0": ("x",), "0:p": ("exp", "cosh"), "1": ("x", "x^2")},
        {"0": ("x",), "0:p": ("cosh",), "1": ("x", "x^2")},
        _paper("maam"),
    ),
    "mosaic2": Recipe(
        (2, 2, 1, 1),
        {"0:lambda": ("x", "log|x|"), "0:energy": ("x", "abs", "log|x|"), "1": ("x",)},
        {"0:lambda": ("log|x|",), "0:energy": ("abs", "log|x|"), "1": ("x",)},
    ),
}
"""Model -> recipe. The paper reports accuracies for GAAM and MAAM (§4.4, :data:`kansci.published.ANDERSON`)."""

FULL_SIZES = {"n_train": 3000, "n_test": 3000, "steps": 20, "lbfgs_iters": 20, "search_rows": 800, "search_steps": 15}
QUICK_SIZES = {"n_train": 300, "n_test": 300, "steps": 6, "lbfgs_iters": 5, "search_rows": 300, "search_steps": 3}
"""States per split, LBFGS steps (and iterations per step) of every training, rows and steps of the snap search."""
QUICK_SITES = {"gaam": 144, "maam": 144, "mosaic2": 178}
"""Ring lengths of the quick run (Fibonacci numbers, times kappa)."""


def configs(quick: bool, seed: int, models: Sequence[str] | None = None, seeds: int = 1) -> list[dict[str, Any]]:
    """One config per model and seed."""
    names = list(models) if models else list(RECIPES)
    unknown = sorted(set(names) - set(RECIPES))
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {sorted(RECIPES)}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    sizes = dict(QUICK_SIZES if quick else FULL_SIZES)
    out = []
    for model in names:
        for s in range(seed, seed + seeds):
            n_sites = QUICK_SITES[model] if quick else anderson.MODELS[model].n_sites
            out.append(
                {"name": f"{model}-seed{s}", "model": model, "seed": s, "quick": quick, "n_sites": n_sites, **sizes}
            )
    return out


def logistic_loss(logit: Tensor, label: Tensor) -> Tensor:
    """Cross-entropy of 0/1 labels against the network's logit."""
    return torch.nn.functional.binary_cross_entropy_with_logits(logit, label)


def training_error(model: kansci.KAN, data: Dataset) -> float:
    """Error rate on the training split (logit > 0 means localized)."""
    return _error(model, data.train_input, data.train_label)


def _error(model: kansci.KAN, x: Tensor, label: Tensor) -> float:
    with torch.no_grad():
        return float(((model(x) > 0).to(label.dtype) != label).double().mean())


def _data(config: Mapping[str, Any]) -> Dataset:
    """The model's states without phi."""
    data = anderson.generate(
        config["model"],
        n_train=config["n_train"],
        n_test=config["n_test"],
        seed=config["seed"],
        dtype=torch.float64,
        n_sites=config["n_sites"],
        states_per_system=8,
    )
    return data.select_inputs([i for i, name in enumerate(data.input_names) if name != "phi"])


def _numeric_kan(data: Dataset, config: Mapping[str, Any], fits: common.FitCheckpoints) -> kansci.KAN:
    """Logit KAN: sparse training, pruning of hidden nodes and inputs, refit."""
    model = kansci.KAN(RECIPES[config["model"]].width, grid=5, seed=config["seed"], dtype=torch.float64)
    fix_symbolic(model, model.depth - 1, 0, 0, "x", params=(1.0, 0.0, 1.0, 0.0))  # the output is the logit g
    options = _fit_options(config)
    fits.fit(model, data, lamb=LAMB, **options)
    model = kansci.prune(model, data.train_input, PRUNE_THRESHOLD, inputs=True)
    fits.fit(model, data.select_inputs(model.config.input_ids), **options)
    return model


def _fit_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of every training call of a run."""
    return {
        "steps": config["steps"],
        "lbfgs_iters": config["lbfgs_iters"],
        "loss_fn": logistic_loss,
        "seed": config["seed"],
        "progress": False,
        "callbacks": [common.step_logger(config["name"], config["steps"])],
    }


def _libraries(config: Mapping[str, Any], names: Sequence[str]) -> dict[int | tuple[int, int], list]:
    """The recipe's libraries keyed as :func:`snap_by_loss` wants them, for the kept input ``names``."""
    recipe = RECIPES[config["model"]]
    spec = recipe.quick_libraries if config["quick"] else recipe.libraries
    out: dict[int | tuple[int, int], list] = {}
    for key, functions in spec.items():
        candidates = [EXTRA_FUNCTIONS.get(f, f) for f in functions]
        layer, _, column = key.partition(":")
        if not column:
            out[int(layer)] = candidates
        elif column in names:
            out[(int(layer), names.index(column))] = candidates
    return out


def _subsample(data: Dataset, rows: int) -> Dataset:
    return replace(data, train_input=data.train_input[:rows], train_label=data.train_label[:rows])


def references(model: str) -> list[sympy.Expr]:
    """The mobility edge as ``lhs - rhs`` of "localized when lhs > rhs", in every form the study compares with."""
    localized_when = anderson.mobility_edge(model)[1]
    forms = [sympy.expand(localized_when.lhs - localized_when.rhs)]
    if model == "mosaic2":  # lambda |E| > 2 for lambda > 0, additively: what a one-node KAN writes
        lam, energy = sympy.Symbol("lambda", real=True), sympy.Symbol("energy", real=True)
        forms.append(sympy.log(lam) + sympy.log(sympy.Abs(energy)) - sympy.log(2))
    return forms


def _theory_accuracy(model: str, data: Dataset) -> float:
    x = data.test_input.numpy()
    keyword = {"alpha": "alpha", "lambda": "strength", "p": "decay"}
    params = {keyword[n]: x[:, i] for i, n in enumerate(data.input_names) if n in keyword}
    predicted = anderson.theory_label(model, x[:, data.input_names.index("energy")], **params)
    return float(np.mean(predicted == data.test_label[:, 0].numpy()))


def _accuracy(expression: sympy.Expr, data: Dataset) -> float:
    values = evaluate(expression, data.symbols(), data.test_input)
    return float(np.mean((values > 0) == (data.test_label[:, 0].numpy() > 0.5)))


def _best_match(expression: sympy.Expr, model: str, data: Dataset):
    """The comparison with the form of the edge the expression is closest to, and that form."""
    matches = [
        (match_boundary(expression, ref, data.symbols(), data.test_input, tolerance=MATCH_TOLERANCE), ref)
        for ref in references(model)
    ]
    return min(matches, key=lambda m: (not m[0].equivalent, m[0].worst_term))


def run_config(config: Mapping[str, Any], checkpoint: str | os.PathLike | None = None) -> xr.Dataset:
    """One model and seed: numeric KAN, snapped KAN, boundary formula, their accuracies and the edge comparison.

    With ``checkpoint`` (a folder, which the sweep gives each run) the numeric KAN's and the final fit calls are
    checkpointed (:class:`kansci.studies.common.FitCheckpoints`); the library search in between reruns.
    """
    data = _data(config)
    started = time.perf_counter()
    fits = common.FitCheckpoints(checkpoint)
    numeric = _numeric_kan(data, config, fits)
    kept = data.select_inputs(numeric.config.input_ids)
    accuracy_kan = 1.0 - _error(numeric, kept.test_input, kept.test_label)
    libraries = _libraries(config, kept.input_names)
    symbolic, search = snap_by_loss(
        numeric,
        _subsample(kept, config["search_rows"]),
        libraries,
        loss_fn=logistic_loss,
        criterion=training_error,
        steps=config["search_steps"],
        tie=0.0,
        tie_absolute=SEARCH_TIE,
        seed=config["seed"],
        fit_options={"lbfgs_iters": config["lbfgs_iters"]},
    )
    fits.fit(symbolic, kept, update_grid=False, **_fit_options(config))
    boundary = read_boundary(symbolic, kept.train_input, data.input_names, level=0.0)
    simplified = simplify_boundary(
        boundary.expression, boundary.variables, kept.train_input, kept.train_label, tolerance=SIMPLIFY_TOLERANCE
    )
    raw_match, _ = _best_match(boundary.expression, config["model"], data)
    match, reference = _best_match(simplified.expression, config["model"], data)
    choice = "; ".join(f"{layer},{i},{o}:{name}" for (layer, i, o), name in zip(search.edges, search.chosen))
    record = {
        "accuracy_kan": accuracy_kan,
        "accuracy_formula": _accuracy(boundary.expression, data),
        "accuracy_simplified": _accuracy(simplified.expression, data),
        "accuracy_theory": _theory_accuracy(config["model"], data),
        "label_theory_agreement": float(data.metadata["theory_agreement"]),
        "pruned_width": str(list(numeric.width)),
        "kept_inputs": ", ".join(kept.input_names),
        "snap_choice": choice,
        "search_error": search.score,
        "formula": str(round_floats(boundary.expression, 3)),
        "simplified_formula": str(match.normalized),
        "simplified_srepr": sympy.srepr(simplified.expression),
        "dropped_terms": ", ".join(map(str, simplified.dropped)),
        "reference": str(reference),
        "scale": match.scale,
        "worst_term": match.worst_term,
        "residual": match.residual,
        "sign_agreement": match.sign_agreement,
        "equivalent": int(match.equivalent),
        "raw_worst_term": raw_match.worst_term,
        "raw_equivalent": int(raw_match.equivalent),
        "seconds": time.perf_counter() - started,
    }
    log.info("%s: KAN %.3f, formula %s", config["name"], accuracy_kan, record["simplified_formula"])
    variables = {k: ((), v) for k, v in record.items()}
    x = data.test_input.numpy()
    for column in COLUMNS:
        values = x[:, data.input_names.index(column)] if column in data.input_names else np.full(len(x), np.nan)
        variables[f"test_{column}"] = ("row", values)
    variables["test_label"] = ("row", data.test_label[:, 0].numpy())
    attrs = {"name": config["name"], "model": config["model"], "seed": config["seed"], "n_sites": config["n_sites"]}
    return xr.Dataset(variables, attrs=attrs)


_HELD_OUT = "on the held-out states"
VARIABLES: dict[str, tuple[str, str]] = {
    "accuracy_kan": (f"accuracy of the numeric KAN classifier {_HELD_OUT}", "1"),
    "accuracy_formula": (f"accuracy of the KAN's symbolic boundary {_HELD_OUT}", "1"),
    "accuracy_simplified": (f"accuracy of the simplified boundary formula {_HELD_OUT}", "1"),
    "accuracy_theory": (f"accuracy of the theory's mobility edge {_HELD_OUT}", "1"),
    "label_theory_agreement": ("share of all states whose label agrees with the theory's mobility edge", "1"),
    "pruned_width": ("layer widths of the pruned KAN", ""),
    "kept_inputs": ("inputs the pruned KAN keeps", ""),
    "snap_choice": ("symbolic function chosen per edge (layer, input, output)", ""),
    "search_error": ("training error rate of the chosen snap assignment", "1"),
    "formula": ("the KAN's boundary formula, B > 0: localized", ""),
    "simplified_formula": ("the simplified boundary formula, normalized", ""),
    "simplified_srepr": ("the simplified formula as a sympy srepr", ""),
    "dropped_terms": ("terms the simplification dropped", ""),
    "reference": ("the theory's mobility-edge form r it is compared with", ""),
    "scale": ("least-squares scale c of B / c - r", "1"),
    "worst_term": (f"largest RMS of a term of B / c - r relative to that of r, {_HELD_OUT}", "1"),
    "residual": (f"RMS of B / c - r relative to that of r, {_HELD_OUT}", "1"),
    "sign_agreement": (f"share of states where the formula and the theory agree on the side {_HELD_OUT}", "1"),
    "equivalent": ("1 when the simplified formula matches the mobility edge", "1"),
    "raw_worst_term": ("worst_term of the unsimplified formula", "1"),
    "raw_equivalent": ("1 when the unsimplified formula matches the mobility edge", "1"),
    "seconds": ("wall time of the run", "s"),
    "test_label": ("held-out state's label: 1 localized, 0 extended", "1"),
    "model": ("the Anderson model", ""),
    "seed": ("the run's seed", "1"),
    "n_sites": ("ring length", "1"),
    **{f"test_{c}": (f"held-out state's input {c}", "1") for c in COLUMNS},
}
"""Variable -> (long_name, units) of ``results.nc`` (energies and strengths in units of the hopping t)."""


def gather(runs: Sequence[xr.Dataset], run_configs: Sequence[Mapping[str, Any]]) -> xr.Dataset:
    names = [r.attrs["name"] for r in runs]
    ds = xr.concat([r.assign_attrs({}) for r in runs], dim=xr.DataArray(names, dims="run", name="run"))
    ds["model"] = ("run", [r.attrs["model"] for r in runs])
    ds["seed"] = ("run", [int(r.attrs["seed"]) for r in runs])
    ds["n_sites"] = ("run", [int(r.attrs["n_sites"]) for r in runs])
    first = run_configs[0]
    ds.attrs = common.provenance_attrs(
        study="anderson",
        quick=int(first["quick"]),
        n_train=first["n_train"],
        n_test=first["n_test"],
        steps=first["steps"],
        search_rows=first["search_rows"],
        search_steps=first["search_steps"],
        lamb=LAMB,
    )
    return common.describe(ds, VARIABLES)


# --- figures ------------------------------------------------------------------------

SLICES = {"gaam": ("alpha", (-0.5, 0.0, 0.5), 0.12), "maam": ("p", (1.0, 1.5, 2.0), 0.15)}
"""Models with a second parameter: which, the values of the panels, and the half-width of a slice of states."""


def figure(ds: xr.Dataset, model: str) -> Figure:
    """Test states of one model in the (E, lambda) plane with the theory's edge and the KAN's (first seed)."""
    run = ds.sel(run=ds["run"].values[ds["model"].values == model][0])
    column, values, half = SLICES.get(model, (None, (None,), None))
    fig = Figure(figsize=(3.4 * len(values), 3.0), layout="constrained")
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    kan = sympy.sympify(str(run["simplified_srepr"].item()))
    theory = references(model)[0]
    energy = run["test_energy"].values
    lo, hi = np.quantile(energy, [0.01, 0.99])
    for ax, value in zip(axes, values):
        keep = np.ones(energy.shape, bool) if column is None else np.abs(run[f"test_{column}"].values - value) < half
        label = run["test_label"].values[keep]
        ax.scatter(
            energy[keep], run["test_lambda"].values[keep], c=np.where(label > 0.5, "tab:orange", "tab:blue"), s=3
        )
        for expr, style, name in ((theory, "k--", "theory"), (kan, "r-", "KAN")):
            _edge(ax, expr, column, value, (lo, hi), run, style, name)
        ax.set_xlim(lo, hi)
        ax.set_xlabel("E")
        ax.set_ylabel("lambda")
        ax.set_title(model if column is None else f"{model}, {column} = {value:g}", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper right", title="orange: localized", title_fontsize=7)
    return fig


def _edge(ax, expr: sympy.Expr, column: str | None, value: float | None, energy_range, run, style: str, name: str):
    """The zero contour of ``expr`` over (E, lambda) at ``column = value``."""
    lam = run["test_lambda"].values
    e_grid, l_grid = np.meshgrid(np.linspace(*energy_range, 300), np.linspace(lam.min(), lam.max(), 200))
    symbols = {n: sympy.Symbol(n, real=True) for n in COLUMNS}
    points = {"energy": e_grid.ravel(), "lambda": l_grid.ravel()}
    if column is not None:
        points[column] = np.full(e_grid.size, value)
    used = [n for n in points if symbols[n] in expr.free_symbols] or ["energy"]
    z = evaluate(expr, [symbols[n] for n in used], np.column_stack([points[n] for n in used])).reshape(e_grid.shape)
    if np.nanmin(z) < 0 < np.nanmax(z):
        ax.contour(e_grid, l_grid, z, levels=[0.0], colors=style[0], linestyles=style[1:])
        ax.plot([], [], style, label=name)


# --- reports ------------------------------------------------------------------------


def _verdicts(r: xr.Dataset) -> list[tuple[str, bool]]:
    model = str(r["model"].item())
    out = []
    if model in TARGET_KAN_ACCURACY:
        target = TARGET_KAN_ACCURACY[model]
        out.append((f"KAN acc >= {100 * target:.0f}%", float(r["accuracy_kan"]) >= target))
    if model == "gaam":
        out.append(("formula = edge", bool(r["equivalent"])))
    return out


def summary(ds: xr.Dataset, wall: float, command: str) -> str:
    lines = [
        "# Anderson localization (paper §4.4): mobility edges read from KAN classifiers",
        "",
        f"Command: `{command.strip()}` ({wall:.0f} s). {ds.attrs['n_train']} training and {ds.attrs['n_test']} "
        "held-out states per run (8 eigenstates per diagonalized ring, train and test rings disjoint), phi dropped.",
        "",
        *(
            ["**Quick mode**: a smoke test of the pipeline (short rings, few steps); not the experiment's numbers.", ""]
            if ds.attrs["quick"]
            else []
        ),
        "| model | seed | pruned KAN | KAN acc | formula acc | simplified acc | theory acc | paper (formula / theory) "
        "| simplified formula, B > 0: localized | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in ds["run"].values:
        r = ds.sel(run=run)
        model = str(r["model"].item())
        paper = RECIPES[model].paper
        verdicts = "; ".join(f"{name}: {'met' if ok else 'not met'}" for name, ok in _verdicts(r)) or "no target"
        lines.append(
            f"| {model} | {int(r['seed'])} | {r['pruned_width'].item()} | {_pct(r['accuracy_kan'])} | "
            f"{_pct(r['accuracy_formula'])} | {_pct(r['accuracy_simplified'])} | {_pct(r['accuracy_theory'])} | "
            f"{f'{paper[0]:.1f}% / {paper[1]:.1f}%' if paper else '-'} | `{r['simplified_formula'].item()}` | "
            f"{verdicts} |"
        )
    lines += ["", "Boundary formulas against the mobility edge (`B / c - r`, c the least-squares scale):", ""]
    lines += ["| run | edge form r | snapped edges | worst term | residual | same side as theory | raw formula |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for run in ds["run"].values:
        r = ds.sel(run=run)
        lines.append(
            f"| {run} | `{r['reference'].item()}` | {r['snap_choice'].item()} | {float(r['worst_term']):.3f} | "
            f"{float(r['residual']):.3f} | {_pct(r['sign_agreement'])} | `{r['formula'].item()}` |"
        )
    lines += [
        "",
        f"The formula counts as the mobility edge when every term of `B / c - r` has an RMS over the held-out "
        f"states <= {MATCH_TOLERANCE} of that of r (constants within that fraction, extra terms negligible); the "
        f"simplified formula drops terms that cost at most {100 * SIMPLIFY_TOLERANCE:.1f} points of training "
        "accuracy and refits the rest by logistic regression. Theory accuracy is that of the mobility-edge "
        "formula on our labels (fractal dimension < 0.5 on a periodic approximant ring); the paper's labels "
        "came from its own finite chains, so the two theory rows need not agree.",
        "",
        f"kansci {ds.attrs['kansci_version']}, torch {ds.attrs['torch_version']}, {ds.attrs['created']}.",
    ]
    return "\n".join(lines) + "\n"


def _pct(value) -> str:
    return f"{100 * float(value):.1f}%"


def claims(ds: xr.Dataset) -> list[common.Claim]:
    """Per model with paper numbers: formula and theory accuracy (seed means), and the targets."""
    out = []
    note = "our labels: fractal dimension on periodic approximant rings"
    for model in dict.fromkeys(ds["model"].values):
        part = ds.sel(run=ds["model"] == model)
        paper = RECIPES[str(model)].paper
        if paper is not None:
            formula = 100 * float(part["accuracy_simplified"].mean())
            theory = 100 * float(part["accuracy_theory"].mean())
            cited = f"{note}; {published.ANDERSON[str(model)]['formula'].source}"
            out.append(common.score_claim(f"Anderson {model}: KAN formula held-out accuracy", paper[0], formula, cited))
            out.append(common.score_claim(f"Anderson {model}: theory held-out accuracy", paper[1], theory, cited))
        if model in TARGET_KAN_ACCURACY:
            target = TARGET_KAN_ACCURACY[str(model)]
            accuracy = float(part["accuracy_kan"].mean())
            out.append(
                common.target_claim(
                    f"Anderson {model}: numeric KAN held-out accuracy",
                    f">= {100 * target:.0f}% (target)",
                    f"{100 * accuracy:.1f}%",
                    accuracy >= target,
                )
            )
        if model == "gaam":
            equivalent = int(part["equivalent"].sum())
            out.append(
                common.target_claim(
                    "Anderson gaam: KAN formula is the mobility edge alpha E = 2 (1 - lambda)",
                    "alpha E + 2 lambda - 2 = 0",
                    f"{part['simplified_formula'].values[0]} ({equivalent} of {part.sizes['run']} seeds)",
                    equivalent == part.sizes["run"],
                    note=f"equal when every term of B/c - r is <= {MATCH_TOLERANCE} of r (RMS, held-out states)",
                )
            )
    return out


def _parser() -> argparse.ArgumentParser:
    parser = common.parser("anderson", __doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help=f"models (default all: {' '.join(RECIPES)})")
    parser.add_argument(
        "--seeds", type=common.positive_int, default=1, help="seeds --seed, --seed+1, ... per model (default 1)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> xr.Dataset:
    args = _parser().parse_args(argv)
    common.logging_setup()
    out = common.output_folder("anderson", args)
    run_configs = configs(args.quick, args.seed, args.models, args.seeds)
    runs, wall = common.run_sweep(run_config, run_configs, args, out, "anderson")
    ds = gather(runs, run_configs)
    figures = {f"boundary_{model}": figure(ds, model) for model in dict.fromkeys(ds["model"].values)}
    common.write_outputs(ds, out, figures, summary(ds, wall, common.command_line("anderson", argv)), runs)
    return ds


if __name__ == "__main__":
    main()
