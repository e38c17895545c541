"""Figures of PDE solutions and of solver comparisons, from arrays (no models needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_error_vs_params", "plot_losses", "plot_solution"]


def plot_solution(
    axes: tuple[np.ndarray, np.ndarray],
    fields: Mapping[str, np.ndarray],
    *,
    labels: tuple[str, str] = ("x", "y"),
    exact: np.ndarray | None = None,
) -> Figure:
    """One panel per field on a 2-D grid, plus the absolute error of each against ``exact``.

    Parameters
    ----------
    axes : (array (nx,), array (ny,))
        Grid coordinates.
    fields : dict of str to array (ny, nx)
        Solutions to show, e.g. ``{"exact": ..., "KAN [2,10,1]": ...}``.
    labels : (str, str)
        Axis names.
    exact : array (ny, nx), optional
        The reference; adds a row of |field - exact| panels (log colour scale).
    """
    from matplotlib.colors import LogNorm

    names = list(fields)
    rows = 1 if exact is None else 2
    fig = Figure(figsize=(3.6 * len(names), 3.2 * rows), layout="constrained")
    grid = fig.subplots(rows, len(names), squeeze=False)
    lo = min(float(np.nanmin(v)) for v in fields.values())
    hi = max(float(np.nanmax(v)) for v in fields.values())
    for j, name in enumerate(names):
        ax = grid[0, j]
        mesh = ax.pcolormesh(axes[0], axes[1], fields[name], vmin=lo, vmax=hi, cmap="RdBu_r", shading="auto")
        ax.set(title=name, xlabel=labels[0], ylabel=labels[1])
        fig.colorbar(mesh, ax=ax)
        if exact is not None:
            err = np.abs(fields[name] - exact)
            ax = grid[1, j]
            if not np.nanmax(err) > 0:  # the reference itself
                ax.set_visible(False)
                continue
            floor = max(float(np.nanmax(err)) * 1e-6, 1e-300)
            mesh = ax.pcolormesh(
                axes[0], axes[1], np.maximum(err, floor), norm=LogNorm(), cmap="viridis", shading="auto"
            )
            ax.set(title=f"|{name} - exact|", xlabel=labels[0], ylabel=labels[1])
            fig.colorbar(mesh, ax=ax)
    return fig


def plot_error_vs_params(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    ylabel: str = "relative L2 error",
    references: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """Error against parameter count, log-log: one line per model family.

    Parameters
    ----------
    series : dict of str to (params, errors)
        A KAN's grid-extension stages form one line; an MLP family (same depth, several widths) another.
    references : dict of str to (params, error), optional
        Published points to mark (e.g. the paper's).
    """
    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, (params, errs) in series.items():
        style = "o-" if name.startswith("KAN") else "s--"
        ax.loglog(params, errs, style, label=name)
    for name, (p, e) in (references or {}).items():
        ax.loglog([p], [e], "*", markersize=12, label=name)
    ax.set(xlabel="trainable parameters", ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_losses(curves: Mapping[str, Mapping[str, np.ndarray]]) -> Figure:
    """Training curves: one panel per run, one line per loss component (log scale).

    Parameters
    ----------
    curves : dict of str to (dict of str to array)
        ``{run name: {"loss": ..., "residual": ..., "boundary": ...}}``, NaN-padded.
    """
    names = list(curves)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(3.6 * cols, 2.8 * rows), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(grid.flat, names):
        for part, values in curves[name].items():
            values = np.asarray(values, dtype=float)
            keep = np.isfinite(values) & (values > 0)
            ax.semilogy(np.flatnonzero(keep), values[keep], label=part)
        ax.set(title=name, xlabel="step")
        ax.legend(fontsize=7)
    for ax in list(grid.flat)[len(names) :]:
        ax.set_visible(False)
    return fig
