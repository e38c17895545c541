"""Paper §3.5: continual learning — five Gaussian peaks shown one at a time; a KAN keeps the earlier ones.

Run: ``python -m kansci.studies.continual [--quick] [--out DIR] [--seed N]``

A KAN [1,1] with G = 200 on a fixed uniform grid (no grid updates: they would
move every knot to the current phase's data), trained through its spline
coefficients only (the SiLU branch off, the edge scales frozen: both act on
the whole domain, so training them on one peak moves the others; pykan's
continual-learning example does the same), and an MLP of about the same size
train on the five phases in order. After every phase the study records the
prediction over the whole domain and the RMSE on each phase's window. Writes
``results.nc``, ``phases.png`` (the paper's figure: one column per phase) and
``summary.md`` with the target: after phase 5, KAN RMSE on the phase-1 window
<= 1/10 of the MLP's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

import kansci
from kansci.baselines import mlp
from kansci.datasets import continual
from kansci.studies import common

KAN_GRID = 200
MLP_WIDTH = (1, 12, 12, 1)  # 193 parameters beside the KAN's 205
PLOT_POINTS = 401
TARGET_RATIO = 0.1


def configs(quick: bool, seed: int) -> list[dict[str, Any]]:
    steps = 5 if quick else 50
    n = 50 if quick else 100
    base = {"steps": steps, "n_per_phase": n, "seed": seed}
    return [{"name": "KAN", "kind": "kan", **base}, {"name": "MLP", "kind": "mlp", **base}]


def _model(config: Mapping[str, Any]) -> torch.nn.Module:
    if config["kind"] == "kan":
        model = kansci.KAN([1, 1], grid=KAN_GRID, seed=config["seed"], dtype=torch.float64, noise_scale=0.1)
        layer = model.layers[0]
        with torch.no_grad():  # locality: no global SiLU branch, no edge-wide scales that move every region
            layer.scale_base.zero_()
        layer.scale_base.requires_grad_(False)
        layer.scale_spline.requires_grad_(False)
        return model
    return mlp(MLP_WIDTH, "tanh", seed=config["seed"], dtype=torch.float64)


def run_config(config: Mapping[str, Any]) -> xr.Dataset:
    """Train one model through the five phases; predictions and per-window RMSE after each."""
    phases = continual.phases(config["n_per_phase"], seed=config["seed"], dtype=torch.float64)
    model = _model(config)
    grid = torch.linspace(*continual.DOMAIN, PLOT_POINTS, dtype=torch.float64)[:, None]
    predictions, errors = [], []
    for phase in phases:
        kansci.fit(model, phase, steps=config["steps"], update_grid=False, progress=False, seed=config["seed"])
        with torch.no_grad():
            predictions.append(model(grid)[:, 0].numpy())
            errors.append([kansci.rmse(model, p.test_input, p.test_label) for p in phases])
    n = len(phases)
    return xr.Dataset(
        {
            "prediction": (("phase", "x"), np.array(predictions)),
            "rmse": (("phase", "window"), np.array(errors)),
        },
        coords={"phase": np.arange(1, n + 1), "window": np.arange(1, n + 1), "x": grid[:, 0].numpy()},
        attrs={"name": config["name"], "n_params": sum(p.numel() for p in model.parameters())},
    )


VARIABLES: dict[str, tuple[str, str]] = {
    "prediction": ("the model's output on the plotting grid after each phase", "1"),
    "rmse": ("root mean squared error at each phase's test points, after each phase", "1"),
    "n_params": ("trainable and frozen parameters of the model", "1"),
    "target": ("the target function (five peaks) on the plotting grid", "1"),
}
"""Variable -> (long_name, units) of ``results.nc``."""


def gather(runs: Sequence[xr.Dataset]) -> xr.Dataset:
    names = [r.attrs["name"] for r in runs]
    ds = xr.concat([r.assign_attrs({}) for r in runs], dim=xr.DataArray(names, dims="model", name="model"))
    ds["n_params"] = ("model", [r.attrs["n_params"] for r in runs])
    ds["target"] = ("x", continual.peaks(ds["x"].values))
    ds.attrs = common.provenance_attrs(study="continual")
    return common.describe(ds, VARIABLES)


def figure(ds: xr.Dataset) -> Figure:
    """The paper's figure: data of each phase and the prediction over the whole domain after it."""
    models = list(ds["model"].values)
    fig = Figure(figsize=(2.4 * ds.sizes["phase"], 1.9 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), ds.sizes["phase"], sharex=True, sharey=True, squeeze=False)
    for row, name in enumerate(models):
        for col, phase in enumerate(ds["phase"].values):
            ax = axes[row, col]
            centre = continual.CENTRES[col]
            ax.axvspan(centre - continual.HALF_WIDTH, centre + continual.HALF_WIDTH, color="0.9")
            ax.plot(ds["x"], ds["target"], color="0.6", lw=0.8)
            ax.plot(ds["x"], ds["prediction"].sel(model=name, phase=phase), color="tab:red", lw=1.2)
            ax.set_title(f"{name}, after phase {phase}", fontsize=8)
            ax.set_ylim(-0.3, 1.3)
    return fig


def summary(ds: xr.Dataset, wall: float, command: str) -> str:
    final = ds["rmse"].isel(phase=-1)
    lines = [
        "# Continual learning (paper §3.5)",
        "",
        f"Command: `{command.strip()}` ({wall:.0f} s).",
        "",
        "RMSE on each phase's window after the last phase (lower is better; the paper's KAN keeps every peak):",
        "",
        "| model | params | " + " | ".join(f"window {w}" for w in ds["window"].values) + " |",
        "|---|---|" + "---|" * ds.sizes["window"],
    ]
    for name in ds["model"].values:
        values = " | ".join(f"{v:.2e}" for v in final.sel(model=name).values)
        lines.append(f"| {name} | {int(ds['n_params'].sel(model=name))} | {values} |")
    if {"KAN", "MLP"} <= set(ds["model"].values):
        kan, net = (float(final.sel(model=m, window=1)) for m in ("KAN", "MLP"))
        ratio = kan / net if net > 0 else float("inf")
        verdict = "met" if ratio <= TARGET_RATIO else "not met"
        lines += [
            "",
            f"Target: KAN RMSE on window 1 after phase 5 <= {TARGET_RATIO} x the MLP's: "
            f"{kan:.2e} / {net:.2e} = {ratio:.3f}, {verdict}.",
        ]
    lines += ["", f"kansci {ds.attrs['kansci_version']}, torch {ds.attrs['torch_version']}, {ds.attrs['created']}."]
    return "\n".join(lines) + "\n"


def claims(ds: xr.Dataset) -> list[common.Claim]:
    """The paper's statement (the KAN keeps the earlier peaks, the MLP forgets) against our window-1 errors."""
    final = ds["rmse"].isel(phase=-1)
    kan, net = (float(final.sel(model=m, window=1)) for m in ("KAN", "MLP"))
    return [
        common.target_claim(
            "continual learning: RMSE on the first peak's window after the fifth phase",
            "KAN keeps the earlier peaks, MLP forgets them (figure only)",
            f"KAN {kan:.1e}, MLP {net:.1e}",
            kan <= TARGET_RATIO * net,
            note=f"target: KAN <= {TARGET_RATIO} x MLP",
        )
    ]


def main(argv: Sequence[str] | None = None) -> xr.Dataset:
    args = common.parser("continual", __doc__.splitlines()[0]).parse_args(argv)
    common.logging_setup()
    out = common.output_folder("continual", args)
    runs, wall = common.run_sweep(run_config, configs(args.quick, args.seed), args, out, "continual")
    ds = gather(runs)
    command = common.command_line("continual", argv)
    common.write_outputs(ds, out, {"phases": figure(ds)}, summary(ds, wall, command), runs)
    return ds


if __name__ == "__main__":
    main()
