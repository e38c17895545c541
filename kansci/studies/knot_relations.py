"""Paper §4.3, unsupervised: relations among the knot invariants, found with no target.

Run: ``python -m kansci.studies.knots --unsupervised [--quick] [--seed N] [--out DIR]``

On the rows of the shipped SnapPy table whose shortest-geodesic columns are
exact, the continuous invariants and the signature (the symmetry one-hot
columns left out) are split into groups of dependent variables by
:func:`kansci.discovery.partition` (a contrastive KAN classifier, sparsified;
found relations removed and the rest searched again), once per seed, each
seed on its own subsample. Writes ``results.nc`` (every group found, with its
seed, residual and classifier accuracy), ``relations.png`` (how many seeds
found each group) and ``summary.md`` with the checks: the cusp volume with
the longitudinal and a meridional translation (the paper's V ~ mu_r lambda;
in SnapPy's convention the cusp area is lambda mu_i), and the signature with
mu_r (the paper's main finding).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from kansci import discovery
from kansci.datasets import knots
from kansci.studies import common

SETTINGS: dict[str, dict[str, int]] = {
    "quick": {"n_rows": 2000, "steps": 30, "warmup": 10, "seeds": 1},
    "full": {"n_rows": 3000, "steps": 30, "warmup": 10, "seeds": 3},
}
EXPECTED: dict[str, tuple[frozenset[str], ...]] = {
    "cusp volume ~ longitudinal x meridional translation": (
        frozenset({"cusp_volume", "longitudinal_translation", "meridinal_translation_imag"}),
        frozenset({"cusp_volume", "longitudinal_translation", "meridinal_translation_real"}),
    ),
    "signature ~ mu_r": (frozenset({"signature", "meridinal_translation_real"}),),
}
"""Relations the paper reports (by what they say), and the groups that count as finding them."""
SEPARATOR = " + "


def variables(path: str | None = None) -> tuple[np.ndarray, list[str]]:
    """The exact-geodesic rows: continuous invariants and the signature, float64, and their names."""
    table = knots.read_table(path)
    names = [str(f) for f in table["feature"].values]
    keep = [i for i, n in enumerate(names) if not n.startswith("Symmetry_")]
    exact = table["geodesic_exact"].values == 1
    x = np.column_stack([table["inputs"].values[exact][:, keep], table["signature"].values[exact]])
    return x.astype(np.float64), [names[i] for i in keep] + ["signature"]


def configs(quick: bool, seed: int) -> list[dict[str, Any]]:
    settings = SETTINGS["quick" if quick else "full"]
    return [{"name": f"seed{s}", "seed": s, **settings} for s in range(seed, seed + settings["seeds"])]


def run_config(config: Mapping[str, Any]) -> xr.Dataset:
    """One partition of the variables on a subsample drawn with the config's seed."""
    x, names = variables()
    rows = np.random.default_rng(config["seed"]).choice(len(x), min(config["n_rows"], len(x)), replace=False)
    found = discovery.partition(x[rows], names, seed=config["seed"], steps=config["steps"], warmup=config["warmup"])
    residual, accuracy = {}, {}
    for search in found.searches:
        for relation, r in zip(search.relations, search.residuals):
            residual[relation], accuracy[relation] = r, search.accuracy
    groups = [SEPARATOR.join(sorted(g)) for g in found.groups]
    return xr.Dataset(
        {
            "group": ("relation", np.array(groups, dtype=str)),
            "size": ("relation", [len(g) for g in found.groups]),
            "residual": ("relation", [residual.get(g, np.nan) for g in found.groups]),
            "accuracy": ("relation", [accuracy.get(g, np.nan) for g in found.groups]),
        },
        attrs={"name": config["name"], "seed": config["seed"], "n_rows": len(rows)},
    )


VARIABLES: dict[str, tuple[str, str]] = {
    "group": ("variables of one group the partition found", ""),
    "size": ("number of variables in the group", "1"),
    "residual": ("variance of the sum of the group's edges over the sum of their variances (0: they cancel)", "1"),
    "accuracy": ("test accuracy of the search that found the group, real against shuffled samples", "1"),
    "seed": ("seed of the run that found the group", "1"),
}
"""Variable -> (long_name, units) of ``results.nc``."""


def gather(runs: Sequence[xr.Dataset]) -> xr.Dataset:
    """Every group of every seed on one ``relation`` dimension, with its seed."""
    parts = [r.assign(seed=("relation", [r.attrs["seed"]] * r.sizes["relation"])).assign_attrs({}) for r in runs]
    ds = xr.concat(parts, dim="relation")
    ds.attrs = common.provenance_attrs(study="knot_relations", seeds=len(runs))
    return common.describe(ds, VARIABLES)


def found(ds: xr.Dataset) -> dict[str, int]:
    """For each expected relation, in how many seeds a group matching it was found."""
    seeds_with = {}
    for label, accepted in EXPECTED.items():
        pairs = zip(ds["group"].values, ds["seed"].values)
        hits = {int(seed) for group, seed in pairs if frozenset(group.split(SEPARATOR)) in accepted}
        seeds_with[label] = len(hits)
    return seeds_with


def figure(ds: xr.Dataset) -> Figure:
    """How many seeds found each group of two or more variables."""
    counts = Counter(g for g, n in zip(ds["group"].values, ds["size"].values) if n > 1)
    labels = [g for g, _ in counts.most_common()]
    fig = Figure(figsize=(7.0, 0.45 * max(len(labels), 2) + 1.0), layout="constrained")
    ax = fig.subplots()
    ax.barh(range(len(labels)), [counts[g] for g in labels], color="tab:red")
    ax.set_yticks(range(len(labels)), [g.replace(SEPARATOR, "\n+ ") if len(g) > 60 else g for g in labels], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"seeds that found it (of {ds.attrs['seeds']})")
    return fig


def summary(ds: xr.Dataset, wall: float, command: str) -> str:
    n_seeds = int(ds.attrs["seeds"])
    lines = [
        "# Knot invariants: relations found with no target (paper §4.3, unsupervised)",
        "",
        f"Command: `{command.strip()}` ({wall:.0f} s). Rows: the shipped SnapPy table's knots whose "
        "shortest-geodesic columns are exact; variables: the continuous invariants and the signature.",
        "",
        "| seed | group | residual | classifier accuracy |",
        "|---|---|---|---|",
    ]
    for g, s, r, a in zip(ds["group"].values, ds["seed"].values, ds["residual"].values, ds["accuracy"].values):
        lines.append(f"| {int(s)} | {g} | {r:.1e} | {a:.3f} |" if np.isfinite(r) else f"| {int(s)} | {g} | alone | |")
    lines += ["", "Checks (relations the paper reports; found in the majority of seeds = met):", ""]
    for label, hits in found(ds).items():
        lines.append(f"- {label}: found in {hits} of {n_seeds} seeds: {'met' if 2 * hits > n_seeds else 'not met'}.")
    lines += [
        "",
        "The residual is var(sum of the group's edges) / sum of their variances on the real samples "
        "(0: the edges cancel exactly, a relation). In SnapPy's convention the cusp area is lambda * mu_i; the "
        "paper writes V ~ mu_r lambda for DeepMind's columns.",
        "",
        f"kansci {ds.attrs['kansci_version']}, torch {ds.attrs['torch_version']}, {ds.attrs['created']}.",
    ]
    return "\n".join(lines) + "\n"


def claims(ds: xr.Dataset) -> list[common.Claim]:
    n_seeds = int(ds.attrs["seeds"])
    return [
        common.target_claim(
            f"knots, unsupervised: {label}",
            "found (figure, no count)",
            f"{hits} of {n_seeds} seeds",
            2 * hits > n_seeds,
        )
        for label, hits in found(ds).items()
    ]


def run(args: argparse.Namespace, out: Path, command: str) -> xr.Dataset:
    """The relation search for the knots study's ``--unsupervised`` mode; outputs written into ``out``."""
    if getattr(args, "csv", None) is not None:
        raise ValueError("--unsupervised reads the shipped table only; drop --csv")
    runs, wall = common.run_sweep(run_config, configs(args.quick, args.seed), args, out, "knot relations")
    ds = gather(runs)
    common.write_outputs(ds, out, {"relations": figure(ds)}, summary(ds, wall, command), runs)
    return ds
