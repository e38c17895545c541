"""Which inputs a trained KAN relies on: input attribution scores and their ranking.

An input's score is its node score: every output node starts with score 1,
which flows back through the network split over each node's incoming edges in
proportion to their edge scores; a node's score is the sum over its outgoing
edges. Input scores therefore add up to the number of outputs; divided by that
number they are shares of the network's use of its inputs. The paper (§4.3)
ranks the 17 knot invariants this way and finds the meridional translation
(real, imaginary) and the longitudinal translation on top.

Two edge scores are offered. ``"magnitude"`` is the paper's |phi|_1, the mean
absolute activation (:func:`kansci.edge_scores`, :func:`kansci.node_scores`).
``"spread"`` (the default) is the same L1 norm of the centered activation,
the mean absolute deviation of phi from its mean over the samples: an edge
that is nearly constant on the data carries no information about its input,
however large its value, and a constant is interchangeable between edges
feeding the same node (a KAN may park an offset on any of them). Being an L1
measure it is not dominated by a few large values, as a standard deviation
would be for a rare one-hot input. On the knot data the two can differ: an
unregularized KAN may park a large, nearly constant activation on an edge
(the volume's, or a rare symmetry group's, depending on the seed), which the
magnitude ranks high and the spread does not.

Scores compare inputs only when the inputs live on comparable scales (the
activation of an edge grows with the spread of its input): rank a model
trained on standardized inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from kansci.core import KAN, edge_scores
from kansci.core.prune import propagate_scores

__all__ = [
    "MEASURES",
    "InputRanking",
    "attribution_scores",
    "edge_spreads",
    "input_shares",
    "rank_inputs",
    "rank_scores",
]

Measure = Literal["spread", "magnitude"]
MEASURES: tuple[str, ...] = ("spread", "magnitude")
"""Edge scores the attribution can propagate (see the module docstring)."""


@dataclass(frozen=True)
class InputRanking:
    """Inputs ordered from most to least used.

    Attributes
    ----------
    names : tuple of str
        Input names, most used first.
    shares : tuple of float
        Each input's share of the attribution (non-negative, summing to 1), in the order of ``names``.
    """

    names: tuple[str, ...]
    shares: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.shares):
            raise ValueError(f"got {len(self.names)} names but {len(self.shares)} shares; pass one share per name")

    def top(self, n: int) -> tuple[str, ...]:
        """The ``n`` most used inputs."""
        return self.names[:n]

    def rank(self, name: str) -> int:
        """The 1-based rank of input ``name`` (1: most used).

        Raises
        ------
        KeyError
            If ``name`` is not one of the ranked inputs (the message lists them).
        """
        if name not in self.names:
            raise KeyError(f"{name!r} is not a ranked input; the inputs are {list(self.names)}")
        return self.names.index(name) + 1

    def holds_top(self, expected: Sequence[str]) -> bool:
        """Whether the inputs ``expected`` fill the top ``len(expected)`` places, in any order."""
        return set(self.top(len(expected))) == set(expected)


@torch.no_grad()
def edge_spreads(model: KAN, x: Tensor) -> list[Tensor]:
    """Mean absolute deviation of every edge's activation from its mean over the samples ``x``.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
        At least two samples.

    Returns
    -------
    list of Tensor, one per layer, shape (in_l, out_l)
    """
    if x.shape[0] < 2:
        raise ValueError(f"the spread of an edge needs at least 2 samples, got {x.shape[0]}; pass more rows of x")
    return [(acts - acts.mean(dim=0)).abs().mean(dim=0) for acts in model.edge_activations(x)]


@torch.no_grad()
def attribution_scores(model: KAN, x: Tensor, measure: Measure = "spread") -> list[Tensor]:
    """Node scores of every layer, propagated back from the outputs with the edge score ``measure``.

    With ``measure="magnitude"`` this equals :func:`kansci.node_scores`.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
    measure : {"spread", "magnitude"}

    Returns
    -------
    list of Tensor, one per layer of nodes (``depth + 1``), shape (width[l],)

    Raises
    ------
    ValueError
        On an unknown ``measure``.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {list(MEASURES)}, got {measure!r}")
    scores = edge_spreads(model, x) if measure == "spread" else edge_scores(model, x)
    return propagate_scores(model, scores)


def input_shares(model: KAN, x: Tensor, measure: Measure = "spread") -> Tensor:
    """Each input's share of the model's attribution, measured on the samples ``x``.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
        Samples the edge activations are measured on (usually the training inputs).
    measure : {"spread", "magnitude"}
        The edge score (see the module docstring).

    Returns
    -------
    Tensor, shape (width[0],)
        Non-negative, summing to 1 (all zeros only if every edge is zero, or constant, on ``x``).
    """
    scores = attribution_scores(model, x, measure)[0]
    total = scores.sum()
    return scores / total if float(total) > 0 else scores


def rank_scores(scores: Sequence[float] | np.ndarray | Tensor, names: Sequence[str]) -> InputRanking:
    """Rank inputs by non-negative scores (e.g. shares averaged over several trained models).

    Ties keep the order of ``names``; NaN scores (an input a model did not have) rank last.

    Parameters
    ----------
    scores : array-like, shape (n_inputs,)
    names : sequence of str, length n_inputs

    Returns
    -------
    InputRanking
        Shares are the scores divided by their (NaN-skipping) sum.

    Raises
    ------
    ValueError
        If the lengths differ, a score is negative, or every score is NaN.
    """
    values = np.asarray(scores.cpu() if isinstance(scores, Tensor) else scores, dtype=np.float64).reshape(-1)
    if values.size != len(names):
        raise ValueError(f"got {values.size} scores for {len(names)} names; pass one score per input")
    if np.all(np.isnan(values)):
        raise ValueError("every score is NaN; there is nothing to rank")
    if np.any(values[~np.isnan(values)] < 0):
        raise ValueError("attribution scores must be non-negative; pass |scores| or node scores")
    total = np.nansum(values)
    shares = values / total if total > 0 else values
    order = np.argsort(np.where(np.isnan(shares), np.inf, -shares), kind="stable")
    return InputRanking(tuple(str(names[i]) for i in order), tuple(float(shares[i]) for i in order))


def rank_inputs(model: KAN, x: Tensor, names: Sequence[str] | None = None, measure: Measure = "spread") -> InputRanking:
    """Rank the inputs of a trained KAN by their share of its attribution.

    Parameters
    ----------
    model : KAN
        Trained, ideally on standardized inputs (see the module docstring).
    x : Tensor, shape (batch, width[0])
        Samples to measure on.
    names : sequence of str, optional
        One name per model input; default ``x0, x1, ...``.
    measure : {"spread", "magnitude"}
        The edge score (see the module docstring).

    Returns
    -------
    InputRanking

    Raises
    ------
    ValueError
        If ``names`` does not give one name per model input, or on an unknown ``measure``.

    Examples
    --------
    >>> model = KAN([3, 1, 2], grid=3, seed=0)
    >>> ranking = rank_inputs(model, torch.randn(100, 3), ["a", "b", "c"])
    >>> round(sum(ranking.shares), 6)
    1.0
    """
    names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(model.width[0]))
    if len(names) != model.width[0]:
        hint = ""
        if model.config.input_ids is not None:
            hint = f"; this model was pruned to input columns {list(model.config.input_ids)}: pass those names"
        raise ValueError(f"got {len(names)} names for a model with {model.width[0]} inputs{hint}")
    return rank_scores(input_shares(model, x, measure), names)
