"""Snapping the edges of a trained KAN to symbolic functions, and un-snapping them.

:func:`auto_symbolic` fits every candidate function to every active edge of a
:class:`~kansci.KAN` (:func:`~kansci.symbolic.fit_affine` on the inputs and
outputs the edge sees for the data), ranks the fits with
:func:`~kansci.symbolic.rank` (those that reach the R^2 threshold first) and
fixes the first in place (``c * f(a*x + b) + d``, with trainable ``a, b, c,
d``). Layers are snapped in order and each layer's data is recomputed after the
layers before it were snapped, so a later edge is fit to the inputs it will
really receive. :func:`fix_symbolic` fixes one edge,
:func:`unfix` returns edges to their splines (kept untouched underneath).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from kansci.core.model import KAN
from kansci.core.train import fit
from kansci.datasets import Dataset
from kansci.symbolic.fit import R2_TOLERANCE, AffineFit, fit_affine, library_functions, rank
from kansci.symbolic.library import SymbolicFunction

__all__ = ["EdgeChoice", "auto_symbolic", "edge_data", "fix_symbolic", "unfix"]

logger = logging.getLogger(__name__)

Library = Mapping[str, SymbolicFunction] | Iterable[str | SymbolicFunction] | None


@dataclass(frozen=True)
class EdgeChoice:
    """What :func:`auto_symbolic` did with one edge.

    Attributes
    ----------
    layer, i, o : int
        The edge: input node ``i`` to output node ``o`` of layer ``layer``.
    fit : AffineFit or None
        The chosen fit (None if the edge stayed numeric).
    candidates : tuple of AffineFit
        The best ``topk`` candidates in :func:`~kansci.symbolic.rank`'s order,
        those reaching ``r2_threshold`` first.
    fixed : bool
        Whether the edge is now symbolic.
    r2_threshold : float
        The R^2 the candidates had to reach (0 for an edge fixed as flat).

    Examples
    --------
    When the chosen function does not survive retraining, fix the runner-up::

        choice = next(c for c in report if (c.layer, c.i, c.o) == (layer, i, o))
        second = choice.eligible[1]
        fix_symbolic(model, layer, i, o, second.function, params=(second.a, second.b, second.c, second.d))
    """

    layer: int
    i: int
    o: int
    fit: AffineFit | None
    candidates: tuple[AffineFit, ...]
    fixed: bool
    r2_threshold: float = 0.0

    @property
    def eligible(self) -> tuple[AffineFit, ...]:
        """The candidates reaching ``r2_threshold``, best first: ``eligible[1:]`` are the runners-up."""
        return tuple(fit for fit in self.candidates if fit.r2 >= self.r2_threshold)


def edge_data(
    model: KAN, x: Tensor, layer: int, i: int, o: int, max_samples: int | None = None
) -> tuple[Tensor, Tensor]:
    """Inputs and outputs of one edge for data x, sorted by input.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
    layer, i, o : int
    max_samples : int, optional
        Keep at most this many, evenly spaced in the sorted order (so the
        extremes of the range are kept).

    Returns
    -------
    (Tensor, Tensor), each of shape (n,), float64
    """
    _check_edge(model, layer, i, o)
    with torch.no_grad():
        inputs = model.layer_inputs(x)[layer]
        values = model.layers[layer].edge_activations(inputs)[:, i, o]
        return _sorted_subsample(inputs[:, i], values, max_samples)


def fix_symbolic(
    model: KAN,
    layer: int,
    i: int,
    o: int,
    function: SymbolicFunction | str,
    *,
    x: Tensor | None = None,
    params: tuple[float, float, float, float] | None = None,
    max_samples: int | None = 1024,
    **fit_options,
) -> AffineFit | None:
    """Fix one edge to ``c * f(a*x + b) + d`` (in place).

    Give either ``params = (a, b, c, d)`` or data ``x`` to fit them on (with
    :func:`fit_affine`; ``fit_options`` pass through, e.g. ``refine_steps``).

    Returns
    -------
    AffineFit or None
        The fit, when ``x`` was given.
    """
    _check_edge(model, layer, i, o)
    if (params is None) == (x is None):
        raise ValueError("pass exactly one of params=(a, b, c, d) or x=inputs to fit them on")
    if params is not None:
        model.layers[layer].symbolic.set(i, o, function, params)
        return None
    xe, ye = edge_data(model, _inputs(model, x), layer, i, o, max_samples)
    fit = fit_affine(xe, ye, function, **fit_options)
    model.layers[layer].symbolic.set(i, o, fit.function, (fit.a, fit.b, fit.c, fit.d))
    return fit


def unfix(model: KAN, layer: int | None = None, i: int | None = None, o: int | None = None) -> int:
    """Return symbolic edges to their splines (in place); None selects all.

    Returns
    -------
    int
        How many edges were un-fixed.
    """
    count = 0
    for depth, lay in enumerate(model.layers):
        if layer is not None and depth != layer:
            continue
        for ei, eo in lay.symbolic.edges.tolist():
            if (i is None or ei == i) and (o is None or eo == o):
                count += lay.symbolic.remove(ei, eo)
    return count


def auto_symbolic(
    model: KAN,
    data: Tensor | Dataset,
    lib: Library = None,
    *,
    r2_threshold: float = 0.9,
    weight_simple: float = 0.8,
    r2_tolerance: float = R2_TOLERANCE,
    max_samples: int = 512,
    refit: bool = False,
    zero_below: float = 1e-3,
    retrain_steps: int = 0,
    topk: int = 5,
    progress: bool | None = None,
    **fit_options,
) -> list[EdgeChoice]:
    """Snap every active edge to its best symbolic candidate (in place).

    Parameters
    ----------
    model : KAN
        Modified in place; :func:`unfix` undoes it.
    data : Tensor of shape (batch, width[0]) or Dataset
        Inputs the edges are fit on (a Dataset's training inputs).
    lib : candidates, optional
        As for :func:`~kansci.symbolic.suggest`; default all known functions.
    r2_threshold : float
        An edge stays numeric when no candidate reaches this R^2. Candidates
        that reach it rank before all that do not, however simple those are.
    weight_simple : float in [0, 1]
        Simplicity against fit quality in the ranking, among fits of
        comparable quality (see :func:`~kansci.symbolic.rank`).
    r2_tolerance : float in [0, 1]
        What counts as comparable: a candidate explaining this much less of
        the edge's variance than the best one (and with twice its residual)
        cannot win on simplicity; 1 ranks by score alone, as pykan does.
    max_samples : int
        Samples per edge fit (evenly spaced over the sorted inputs); the fit
        costs about linearly in it.
    refit : bool
        Also refit edges that are already symbolic (default: keep them).
    zero_below : float
        An edge whose output varies less than this fraction of the most
        varying edge of its layer (standard deviations over the samples) is
        fixed to the constant ``"0"`` candidate (``d`` = its mean) without a
        search: it carries no shape to read. Relative, because a layer may work
        at any scale (the next layer can undo it).
    retrain_steps : int
        After snapping a layer (all but the last), train the whole model this
        many LBFGS steps on ``data`` (a Dataset) before fitting the next layer:
        the numeric layers downstream absorb what the snap changed, so their
        edges are fit to what they must really compute. 0 (default) snaps all
        layers from one trained state.
    topk : int
        Candidates kept per edge in the report (every candidate is fit and
        ranked; the report keeps the first ``topk``).
    progress : bool, optional
        Progress bar over edges; None shows one on an interactive terminal.
    **fit_options
        ``a_range``, ``b_range``, ``grid_points``, ``refine_steps`` for the
        fits (``refine_steps`` defaults to 20 here).

    Returns
    -------
    list of EdgeChoice
        One per active edge considered, in layer order.
    """
    if not isinstance(model, KAN):
        raise TypeError(f"auto_symbolic needs a kansci.KAN, got {type(model).__name__}")
    if not 0.0 <= r2_threshold <= 1.0:
        raise ValueError(f"r2_threshold must lie in [0, 1], got {r2_threshold}")
    if not 0.0 <= weight_simple <= 1.0:
        raise ValueError(f"weight_simple must lie in [0, 1], got {weight_simple}")
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise ValueError(f"topk must be an int >= 1, got {topk!r}")
    if not 0.0 <= r2_tolerance <= 1.0:
        raise ValueError(f"r2_tolerance must lie in [0, 1] (1 ranks by score alone), got {r2_tolerance}")
    fit_options.setdefault("refine_steps", 20)
    x = _inputs(model, data)
    # "0" (a constant) is kept for flat edges: with it in the ranking a poorly fitting edge would snap to a
    # constant, since complexity 0 outscores any fit below R^2 ~ 0.996
    shaped = [f for f in library_functions(lib) if f.name != "0"]
    if retrain_steps and not isinstance(data, Dataset):
        raise ValueError("retrain_steps > 0 needs data as a kansci Dataset (inputs and labels) to train on")
    edges = [(d, i, o) for d, lay in enumerate(model.layers) for i, o in torch.nonzero(lay.mask).tolist()]
    report: list[EdgeChoice] = []
    bar = tqdm(total=len(edges), desc="auto_symbolic", unit="edge", disable=_hidden(progress))
    for depth, lay in enumerate(model.layers):
        with torch.no_grad():  # this layer's inputs after the layers before it were snapped
            inputs = model.layer_inputs(x)[depth]
            acts = lay.edge_activations(inputs)
            scale = float(acts.std(dim=0).max())  # flatness is judged against the layer's liveliest edge
        for d, i, o in edges:
            if d != depth:
                continue
            bar.update()
            if lay.symbolic.index(i, o) is not None and not refit:
                continue
            xe, ye = _sorted_subsample(inputs[:, i], acts[:, i, o], max_samples)
            if float(ye.std()) <= zero_below * scale:  # flat: a constant, its r2 (0) is no reason to keep it numeric
                best = fit_affine(xe, ye, "0")
                candidates, threshold = [best], 0.0
            else:
                fits = [fit_affine(xe, ye, f, **fit_options) for f in shaped]
                candidates = rank(fits, weight_simple, r2_threshold, r2_tolerance=r2_tolerance)[:topk]
                threshold = r2_threshold
                best = candidates[0] if candidates and candidates[0].r2 >= r2_threshold else None
            if best is not None:
                lay.symbolic.set(i, o, best.function, (best.a, best.b, best.c, best.d))
            logger.debug("edge (%d,%d,%d): %s", depth, i, o, best or "kept numeric")
            report.append(EdgeChoice(depth, i, o, best, tuple(candidates), best is not None, threshold))
        if retrain_steps and depth < model.depth - 1 and any(c.fixed and c.layer == depth for c in report):
            fit(model, data, steps=retrain_steps, update_grid=False, progress=False)
    bar.close()
    return report


# --- internals ----------------------------------------------------------------------


def _inputs(model: KAN, data: Tensor | Dataset) -> Tensor:
    x = data.train_input if isinstance(data, Dataset) else data
    if not isinstance(x, Tensor):
        raise TypeError(f"data must be a Tensor of inputs or a kansci Dataset, got {type(data).__name__}")
    model.check_input(x, "data")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("data has NaN/inf inputs; drop those rows first")
    return x


def _check_edge(model: KAN, layer: int, i: int, o: int) -> None:
    if not 0 <= layer < model.depth:
        raise IndexError(f"layer {layer} does not exist; the model has layers 0..{model.depth - 1}")
    lay = model.layers[layer]
    if not (0 <= i < lay.in_features and 0 <= o < lay.out_features):
        raise IndexError(f"edge ({i}, {o}) is outside layer {layer} ({lay.in_features} -> {lay.out_features})")


def _sorted_subsample(x: Tensor, y: Tensor, max_samples: int | None) -> tuple[Tensor, Tensor]:
    order = torch.argsort(x)
    if max_samples is not None and x.shape[0] > max_samples:
        order = order[torch.linspace(0, x.shape[0] - 1, max_samples).round().long()]
    return x[order].detach().to(torch.float64), y[order].detach().to(torch.float64)


def _hidden(progress: bool | None) -> bool | None:
    return None if progress is None else not progress
