"""Figures of a KAN (nodes, edges and the learned curve on every edge) and of its training history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from torch import Tensor

from kansci.core.layer import KANLayer
from kansci.core.model import KAN
from kansci.core.prune import edge_scores
from kansci.core.train import History

__all__ = ["plot", "plot_history"]

NUMERIC_COLOUR = "black"
SYMBOLIC_COLOUR = "tab:red"
MASKED_COLOUR = "0.6"
MIN_ALPHA = 0.05  # the faintest edge stays visible
# lengths in data units: rows of nodes lie 1 apart, neighbouring nodes of a row too
BOX_HEIGHT = 0.3
BOX_WIDTH = 0.45  # at most; less where a layer's boxes would overlap
BOX_MARGIN = 0.1  # share of a box left empty on every side of its curve
BOX_FRACTIONS = np.linspace(0.25, 0.75, 51)  # candidate box positions along an edge (0 = input node)
MARGIN_X, MARGIN_Y = 0.7, 0.45
SUBNODE_DROP = 0.2  # subnodes of a row with multiplication nodes sit this far below its nodes
MULT_MARKER_SIZE = 11  # points; the circle holding a multiplication node's "×"
INCHES_PER_UNIT = 1.3

_HISTORY_SERIES = (
    ("loss", "loss"),
    ("train_rmse", "train RMSE"),
    ("test_rmse", "test RMSE"),
    ("reg", "regularization"),
)


def plot(
    model: KAN,
    x: Tensor,
    *,
    in_names: Sequence[str] | None = None,
    out_names: Sequence[str] | None = None,
    beta: float = 3.0,
    samples: int = 101,
    scale: float = 1.0,
    ax: Axes | None = None,
    show_masked: bool = False,
) -> Figure:
    """Diagram of a KAN: nodes, edges, and the learned activation drawn on every edge.

    Node rows run from the inputs (bottom) to the outputs (top). Every active
    edge is a line between its nodes with a small box on it showing
    ``phi_{l,i,o}`` over the inputs the edge receives for ``x``. Line and curve
    get ``alpha = max(tanh(beta * s / s_max), 0.05)``, with ``s`` the edge
    score (:func:`kansci.edge_scores`) and ``s_max`` the largest in its layer.
    Symbolic edges are red and labelled with their function name.

    In a row with multiplication nodes (KAN 2.0, :mod:`kansci.core.mult`) the
    incoming edges end at the subnodes, a row of small dots just below the
    nodes; each multiplication node is a circle with a "×" joined by short
    lines to its factor subnodes, each sum node is joined to its one subnode.

    Every curve is a :class:`~matplotlib.lines.Line2D` with gid
    ``"edge:{l}:{i}:{o}"`` (``o`` is the output of layer ``l``: the node of row
    ``l + 1`` or, where it has multiplication nodes, the subnode); its box,
    edge line and symbolic label carry gids ``"box:..."``, ``"link:..."`` and
    ``"label:..."``. Sum nodes of row ``r`` are one Line2D ``"nodes:{r}"``;
    multiplication node ``m`` is a Line2D ``"mult:{r}:{m}"`` (its circle) and
    a text ``"times:{r}:{m}"``; subnodes are ``"subnodes:{r}"`` and their
    joins ``"join:{r}:{s}"``.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
        Samples that set each edge's input range and score (usually the training inputs).
    in_names, out_names : sequence of str, optional
        Names under the inputs and over the outputs; default ``x_1, ...``
        (following ``model.config.input_ids`` of a pruned model) and ``y_1, ...``.
    beta : float
        Contrast of the transparency; 0 draws every edge at the faintest alpha.
    samples : int
        Points per curve (at most the batch size).
    scale : float
        Figure size factor.
    ax : Axes, optional
        Draw into these axes instead of a new figure.
    show_masked : bool
        Also draw masked-off edges (grey, dotted).

    Returns
    -------
    Figure
        The new figure, or the one holding ``ax``.

    Raises
    ------
    TypeError
        If ``model`` is not a KAN, or ``x`` is not a tensor of the model's dtype.
    ValueError
        If ``x`` has the wrong shape or no rows, names have the wrong length, or
        ``beta``, ``samples`` or ``scale`` are out of range.

    Examples
    --------
    >>> model = KAN([2, 5, 1], seed=0)
    >>> fig = plot(model, torch.rand(100, 2) * 2 - 1)
    >>> fig.savefig("kan.png")  # doctest: +SKIP
    """
    _check_plot_args(model, x, beta, samples, scale)
    in_names = _names(in_names, _default_input_names(model), "in_names", "inputs")
    out_names = _names(out_names, [f"$y_{{{j + 1}}}$" for j in range(model.width[-1])], "out_names", "outputs")
    with torch.no_grad():
        curves = _edge_curves(model, x, samples)
        alphas = _alphas(edge_scores(model, x), beta)
    rows = _rows(model)
    fig, ax = _canvas(rows, scale, ax)
    for depth, layer in enumerate(model.layers):
        _draw_layer(ax, depth, layer, rows[depth].nodes, rows[depth + 1], curves[depth], alphas[depth], show_masked)
    for row in rows:
        _draw_row(ax, row)
    _draw_names(ax, rows, in_names, out_names)
    return fig


def plot_history(history: History, *, ax: Axes | None = None, logy: bool = True) -> Figure:
    """Training curves of :func:`kansci.fit`: one line per recorded series against the step.

    Drawn are the loss, the train and test RMSE, the regularization and every
    entry of ``history.parts`` that holds finite values (positive ones on a log
    axis); NaN entries (steps without evaluation) are left out.

    Parameters
    ----------
    history : History
    ax : Axes, optional
        Draw into these axes instead of a new figure.
    logy : bool
        Logarithmic y-axis.

    Returns
    -------
    Figure

    Raises
    ------
    TypeError
        If ``history`` is not a :class:`kansci.History`.
    ValueError
        If the history has no steps, or nothing plottable.
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a kansci.History (returned by kansci.fit), got {type(history).__name__}")
    if not history.step:
        raise ValueError("history has no recorded steps (fit ran for 0 steps?); there is nothing to plot")
    series = _history_series(history, logy)
    if not series:
        hint = " (positive values on a log axis; try logy=False)" if logy else ""
        raise ValueError(f"history has no finite values to plot{hint}")
    if ax is None:
        ax = Figure(figsize=(5.5, 4.0), layout="constrained").subplots()
    for label, steps, values in series:
        ax.plot(steps, values, label=label, gid=f"history:{label}")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel="step")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure.figure


# ------------------------------------------------------------------ checks
def _check_plot_args(model: KAN, x: Tensor, beta: float, samples: int, scale: float) -> None:
    if not isinstance(model, KAN):
        raise TypeError(f"model must be a kansci.KAN, got {type(model).__name__}")
    model.check_input(x)
    if x.shape[0] < 1:
        raise ValueError("x has no rows; pass the samples the edges should be shown on (e.g. the training inputs)")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2 (points per curve), got {samples!r}")
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be finite and >= 0, got {beta!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale!r}")


def _default_input_names(model: KAN) -> list[str]:
    ids = model.config.input_ids or range(model.width[0])
    return [f"$x_{{{i + 1}}}$" for i in ids]


def _names(given: Sequence[str] | None, default: list[str], what: str, nodes: str) -> list[str]:
    if given is None:
        return default
    if isinstance(given, str):
        raise TypeError(f"{what} must be a sequence of names, got the string {given!r}; pass [{given!r}]")
    names = [str(n) for n in given]
    if len(names) != len(default):
        raise ValueError(f"{what} has {len(names)} names but the model has {len(default)} {nodes}")
    return names


# ---------------------------------------------------------------- the data
def _edge_curves(model: KAN, x: Tensor, samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per layer: sorted, subsampled inputs (samples, in) and edge values (samples, in, out)."""
    out = []
    for layer, inputs in zip(model.layers, model.layer_inputs(x)[:-1]):
        n = inputs.shape[0]
        pick = torch.linspace(0, n - 1, min(samples, n), device=inputs.device).round().long()
        sorted_inputs = inputs.sort(dim=0).values[pick]  # column i: what edges (i, .) see
        values = layer.edge_activations(sorted_inputs)  # phi_io depends on column i only
        out.append((_numpy(sorted_inputs), _numpy(values)))
    return out


def _alphas(scores: list[Tensor], beta: float) -> list[np.ndarray]:
    """``max(tanh(beta * score / largest score of the layer), MIN_ALPHA)`` per edge."""
    out = []
    for s in scores:
        s = _numpy(s)
        top = s.max()
        relative = s / top if top > 0 else np.zeros_like(s)
        out.append(np.clip(np.tanh(beta * relative), MIN_ALPHA, 1.0))
    return out


def _history_series(history: History, logy: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, steps, values) of every series with plottable values."""
    named = [(label, getattr(history, field)) for field, label in _HISTORY_SERIES]
    named += list(history.parts.items())
    all_steps = np.asarray(history.step, dtype=float)
    out = []
    for label, values in named:
        values = np.asarray(values, dtype=float)
        if not values.size:
            continue
        steps = all_steps[-len(values) :] if len(values) <= len(all_steps) else np.arange(len(values), dtype=float)
        keep = np.isfinite(values) & (values > 0 if logy else True)
        if keep.any():
            out.append((label, steps[keep], values[keep]))
    return out


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


# ----------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Row:
    """Where one row of nodes and its subnodes are drawn.

    ``subnodes`` (x positions at height ``sub_y``) are where the incoming edges
    end and ``owners[s]`` is the node subnode ``s`` feeds; in a row without
    multiplication nodes they are the nodes themselves (``sub_y == y``).
    """

    y: int
    nodes: np.ndarray
    subnodes: np.ndarray
    sub_y: float
    owners: list[int]
    n_sum: int

    @property
    def has_mult(self) -> bool:
        return len(self.nodes) > self.n_sum


def _node_x(n: int) -> np.ndarray:
    """Horizontal positions of a row of n nodes, one apart and centred on 0."""
    return np.arange(n, dtype=float) - (n - 1) / 2


def _rows(model: KAN) -> list[_Row]:
    """Positions of every row of nodes: subnodes one apart, each node centred over its subnodes."""
    config = model.config
    rows = []
    for y, n in enumerate(model.width):
        owners = list(range(n)) if y == 0 else model.owners(y - 1)
        subnodes = _node_x(len(owners))
        nodes = np.bincount(owners, weights=subnodes, minlength=n) / np.bincount(owners, minlength=n)
        sub_y = y - SUBNODE_DROP if config.n_mult(y) else float(y)
        rows.append(_Row(y, nodes, subnodes, sub_y, owners, config.n_sum(y)))
    return rows


def _box_layout(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Where along its edges a layer's boxes sit, and their width.

    ``a`` and ``b`` are the x positions the edges start and end at. All boxes
    of a layer sit at the same fraction ``t`` of their edges, chosen (closest
    to the middle among equals) so that the box centres are spread most; the
    width stays below the least spacing so boxes never overlap.
    """
    best_t, best_gap = 0.5, -1.0
    for t in sorted(BOX_FRACTIONS, key=lambda f: abs(f - 0.5)):
        centres = np.sort(((1 - t) * a[:, None] + t * b[None, :]).ravel())
        gap = float(np.diff(centres).min()) if centres.size > 1 else math.inf
        if gap > best_gap + 1e-9:
            best_t, best_gap = float(t), gap
    return best_t, min(BOX_WIDTH, 0.85 * best_gap)


def _canvas(rows: Sequence[_Row], scale: float, ax: Axes | None) -> tuple[Figure, Axes]:
    """Axes spanning the diagram in data units, axis off; a new figure sized to it if none given."""
    half = max(float(np.abs(row.subnodes).max()) for row in rows) + MARGIN_X
    xlim = (-half, half)
    ylim = (-MARGIN_Y, len(rows) - 1 + MARGIN_Y)
    if ax is None:
        size = (2 * half * INCHES_PER_UNIT * scale, (ylim[1] - ylim[0]) * INCHES_PER_UNIT * scale)
        ax = Figure(figsize=size).add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_axis_off()
    return ax.figure.figure, ax


def _fit_into(values: np.ndarray, low: float, size: float) -> np.ndarray:
    """``values`` mapped linearly onto [low, low + size]; a constant lands in the middle."""
    vmin, vmax = float(values.min()), float(values.max())
    span = vmax - vmin
    if not span > 1e-12 * (1.0 + max(abs(vmin), abs(vmax))):
        return np.full(values.shape, low + size / 2)
    return low + (values - vmin) / span * size


# ---------------------------------------------------------------- drawing
def _draw_layer(
    ax: Axes,
    depth: int,
    layer: KANLayer,
    starts: np.ndarray,
    target: _Row,
    curves: tuple[np.ndarray, np.ndarray],
    alpha: np.ndarray,
    show_masked: bool,
) -> None:
    """Edge lines, boxes, curves and symbolic labels of one layer, from nodes at ``starts`` to ``target``'s subnodes."""
    a, b = starts, target.subnodes
    rise = target.sub_y - depth
    t, box_width = _box_layout(a, b)
    mask = _numpy(layer.mask)
    symbolic = {(i, o): name for (i, o), name in zip(layer.symbolic.edges.tolist(), layer.symbolic.names)}
    inputs, values = curves
    for i in range(layer.in_features):
        for o in range(layer.out_features):
            active = mask[i, o] != 0
            if not (active or show_masked):
                continue
            name = symbolic.get((i, o))
            colour = MASKED_COLOUR if not active else SYMBOLIC_COLOUR if name else NUMERIC_COLOUR
            gid = f"{depth}:{i}:{o}"
            ax.add_line(
                Line2D(
                    [a[i], b[o]], [depth, target.sub_y], color=colour, alpha=alpha[i, o], linewidth=0.8,
                    linestyle="-" if active else ":", zorder=1, gid=f"link:{gid}",
                )
            )  # fmt: skip
            centre = ((1 - t) * a[i] + t * b[o], depth + t * rise)
            _draw_curve(ax, centre, box_width, inputs[:, i], values[:, i, o], colour, alpha[i, o], gid)
            if name is not None:
                ax.text(
                    centre[0], centre[1] - BOX_HEIGHT / 2 - 0.02, name, color=colour, fontsize=7,
                    ha="center", va="top", zorder=4, gid=f"label:{gid}",
                )  # fmt: skip


def _draw_curve(
    ax: Axes,
    centre: tuple[float, float],
    box_width: float,
    inputs: np.ndarray,
    values: np.ndarray,
    colour: str,
    alpha: float,
    gid: str,
) -> None:
    """A white box at ``centre`` hiding the edge line, and the curve values(inputs) scaled into it."""
    left, bottom = centre[0] - box_width / 2, centre[1] - BOX_HEIGHT / 2
    ax.add_patch(
        Rectangle(
            (left, bottom), box_width, BOX_HEIGHT, facecolor="white", edgecolor=to_rgba(colour, alpha),
            linewidth=0.5, zorder=2, gid=f"box:{gid}",
        )
    )  # fmt: skip
    pad_x, pad_y = BOX_MARGIN * box_width, BOX_MARGIN * BOX_HEIGHT
    xs = _fit_into(inputs, left + pad_x, box_width - 2 * pad_x)
    ys = _fit_into(values, bottom + pad_y, BOX_HEIGHT - 2 * pad_y)
    ax.add_line(Line2D(xs, ys, color=colour, alpha=alpha, linewidth=1.2, zorder=3, gid=f"edge:{gid}"))


def _draw_row(ax: Axes, row: _Row) -> None:
    """A row of nodes: filled circles for sum nodes, "×" circles for multiplication nodes joined to their subnodes."""
    if row.n_sum:
        ax.add_line(
            Line2D(
                row.nodes[: row.n_sum], np.full(row.n_sum, float(row.y)), linestyle="none", marker="o", markersize=6,
                color=NUMERIC_COLOUR, zorder=5, gid=f"nodes:{row.y}",
            )
        )  # fmt: skip
    if not row.has_mult:
        return
    for m, x in enumerate(row.nodes[row.n_sum :]):
        ax.add_line(
            Line2D(
                [x], [row.y], linestyle="none", marker="o", markersize=MULT_MARKER_SIZE, markerfacecolor="white",
                markeredgecolor=NUMERIC_COLOUR, markeredgewidth=1.0, zorder=5, gid=f"mult:{row.y}:{m}",
            )
        )  # fmt: skip
        ax.text(x, row.y, "×", ha="center", va="center", fontsize=9, zorder=6, gid=f"times:{row.y}:{m}")
    _draw_subnodes(ax, row)


def _draw_subnodes(ax: Axes, row: _Row) -> None:
    """Small dots where a row's incoming edges end, each joined by a short line to the node it feeds."""
    for s, (x, owner) in enumerate(zip(row.subnodes, row.owners)):
        ax.add_line(
            Line2D(
                [x, row.nodes[owner]], [row.sub_y, row.y], color=NUMERIC_COLOUR, linewidth=0.8, zorder=4,
                gid=f"join:{row.y}:{s}",
            )
        )  # fmt: skip
    ax.add_line(
        Line2D(
            row.subnodes, np.full(len(row.subnodes), row.sub_y), linestyle="none", marker="o", markersize=3,
            color=NUMERIC_COLOUR, zorder=5, gid=f"subnodes:{row.y}",
        )
    )  # fmt: skip


def _draw_names(ax: Axes, rows: Sequence[_Row], in_names: list[str], out_names: list[str]) -> None:
    """Names under the inputs and over the outputs."""
    top = rows[-1]
    for j, name in enumerate(in_names):
        ax.text(rows[0].nodes[j], -0.12, name, ha="center", va="top", fontsize=10, gid=f"in:{j}")
    for j, name in enumerate(out_names):
        ax.text(top.nodes[j], top.y + 0.12, name, ha="center", va="bottom", fontsize=10, gid=f"out:{j}")
