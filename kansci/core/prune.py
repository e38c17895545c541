"""Importance scores of edges and nodes, and pruning to a smaller KAN."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from kansci.core.checks import as_real, check_samples
from kansci.core.model import KAN

__all__ = ["edge_scores", "node_scores", "propagate_scores", "prune"]


@torch.no_grad()
def edge_scores(model: KAN, x: Tensor) -> list[Tensor]:
    """Mean absolute activation of every edge, the paper's |phi|_1.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])

    Returns
    -------
    list of Tensor, one per layer, shape (in_l, out_l)
    """
    _check_scoring(model, x)
    return [acts.abs().mean(dim=0) for acts in model.edge_activations(x)]


def _check_scoring(model: KAN, x: Tensor) -> None:
    """Scores need a KAN and finite samples (a mean over no rows or over NaN would score every edge NaN)."""
    if not isinstance(model, KAN):
        raise ValueError(f"scores and pruning need a kansci.KAN, got {type(model).__name__}")
    model.check_input(x)
    check_samples(x, "the samples edges are scored on")


@torch.no_grad()
def node_scores(model: KAN, x: Tensor, eps: float = 1e-12) -> list[Tensor]:
    """Attribution of every node, propagated back from the outputs.

    Each output node has score 1. A node's score is split over its incoming
    edges in proportion to their |phi|_1, and a node's score is the sum over its
    outgoing edges (a multiplication node's score is split equally between its
    factors). Scores in every layer therefore add up to the number of
    outputs; ``node_scores(model, x)[0]`` ranks the inputs.

    Returns
    -------
    list of Tensor, one per layer of nodes (``depth + 1``), shape (width[l],)
    """
    return propagate_scores(model, edge_scores(model, x), eps)


def propagate_scores(model: KAN, scores: list[Tensor], eps: float = 0.0) -> list[Tensor]:
    """Node scores from per-layer edge scores (in_l, out_l), propagated back from the outputs (score 1 each).

    A node's score is split over its incoming edges in proportion to their
    scores (over ``their sum + eps``; none where they are all 0). A
    multiplication node's score is split equally between its factors first.
    """
    nodes = [torch.ones(model.width[-1], dtype=model.dtype, device=model.device)]
    for index in range(model.depth - 1, -1, -1):
        edges = scores[index]
        owner = torch.tensor(model.owners(index), device=edges.device)
        per_sub = nodes[0][owner] / torch.bincount(owner).to(edges.dtype)[owner]
        total = edges.sum(dim=0, keepdim=True) + eps
        share = torch.where(total > 0, edges / total.clamp_min(torch.finfo(edges.dtype).tiny), 0.0)
        nodes.insert(0, (share * per_sub).sum(dim=1))
    return nodes


@torch.no_grad()
def prune(
    model: KAN,
    x: Tensor,
    threshold: float = 1e-2,
    *,
    edge_threshold: float | None = None,
    inputs: bool = False,
) -> KAN:
    """A smaller KAN without the hidden nodes (and optionally inputs) that carry nothing.

    The paper's rule: a hidden node stays if its largest incoming and its
    largest outgoing |phi|_1 both exceed ``threshold``. With ``inputs=True`` an
    input whose largest outgoing |phi|_1 is below the threshold is dropped too;
    the result then reads ``x[:, pruned.config.input_ids]``. With
    ``edge_threshold`` the remaining edges below it are masked off. At least one
    node is kept in every layer. The caller's model is untouched.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])
        Samples the scores are measured on (usually the training inputs).
    threshold : float
    edge_threshold : float, optional
    inputs : bool

    Returns
    -------
    KAN
    """
    threshold = as_real("threshold", threshold, minimum=0.0)
    if edge_threshold is not None:
        edge_threshold = as_real("edge_threshold", edge_threshold, minimum=0.0)
    scores = edge_scores(model, x)
    keep = [torch.arange(model.width[0], device=model.device)]
    if inputs:
        keep[0] = _kept(scores[0].amax(dim=1) > threshold, scores[0].amax(dim=1))
    for layer in range(1, model.depth):
        strength_in = _node_strength(model, layer - 1, scores[layer - 1].amax(dim=0))
        strength_out = scores[layer].amax(dim=1)
        alive = (strength_in > threshold) & (strength_out > threshold)
        keep.append(_kept(alive, torch.minimum(strength_in, strength_out)))
    keep.append(torch.arange(model.width[-1], device=model.device))
    config = model.config
    mult = [int((ids >= config.n_sum(i)).sum()) for i, ids in enumerate(keep)]
    subnodes = [keep[0]] + [_subnodes(model, i, ids) for i, ids in enumerate(keep[1:])]

    base_ids = config.input_ids or tuple(range(model.width[0]))
    config = replace(
        config,
        width=tuple(len(k) for k in keep),
        mult=tuple(mult) if config.mult else None,
        input_ids=tuple(base_ids[i] for i in keep[0].tolist()) if inputs else config.input_ids,
    )
    out = model._shell(config)
    out.layers = nn.ModuleList(layer.subset(keep[i], subnodes[i + 1]) for i, layer in enumerate(model.layers))
    if config.mult is not None:  # the biases of the kept multiplication nodes
        n_sum = [model.config.n_sum(i + 1) for i in range(model.depth)]
        out.node_bias = nn.ParameterList(
            nn.Parameter(b[ids[ids >= s] - s].detach().clone()) for b, ids, s in zip(model.node_bias, keep[1:], n_sum)
        )
    _absorb_removed(model, out, keep, subnodes, x)
    if edge_threshold is not None:
        for layer, e in zip(out.layers, edge_scores(out, x[:, keep[0]])):
            layer.mask.mul_((e > edge_threshold).to(layer.mask.dtype))
    return out


def _node_strength(model: KAN, index: int, per_subnode: Tensor) -> Tensor:
    """Per node of layer ``index + 1``, the strength of its incoming edges from that of its subnodes'.

    A multiplication node is as weak as its weakest factor (a factor near zero
    silences the product), so it is pruned as one unit.
    """
    config = model.config
    n_sum, n_mult = config.n_sum(index + 1), config.n_mult(index + 1)
    if not n_mult:
        return per_subnode
    factors = per_subnode[n_sum:].view(n_mult, config.mult_arity).amin(dim=1)
    return torch.cat([per_subnode[:n_sum], factors])


def _subnodes(model: KAN, index: int, nodes: Tensor) -> Tensor:
    """The outputs of layer ``index`` (subnodes) that feed the kept ``nodes`` of layer ``index + 1``."""
    owner = torch.tensor(model.owners(index), device=nodes.device)
    return torch.nonzero(torch.isin(owner, nodes)).flatten()


def _absorb_removed(model: KAN, out: KAN, keep: list[Tensor], subnodes: list[Tensor], x: Tensor) -> None:
    """Fold the mean output of removed nodes into a kept edge of the same target.

    A removed node still fed its targets (nearly) constant values phi(x_j);
    their mean is added to the strongest kept edge into each target
    (:meth:`KANLayer.add_constant_`), so pruning dead nodes keeps the function.
    A target is a subnode: where it is a factor of a multiplication node, the
    constant shifts that factor, before the product.
    """
    edge_acts = model.edge_activations(x)
    for depth, (old, new) in enumerate(zip(model.layers, out.layers)):
        removed = torch.ones(old.in_features, dtype=torch.bool, device=x.device)
        removed[keep[depth]] = False
        if not bool(removed.any()):
            continue
        acts = edge_acts[depth][:, :, subnodes[depth + 1]]
        lost = acts[:, removed].mean(dim=0).sum(dim=0)  # (out_kept,)
        scores = acts[:, keep[depth]].abs().mean(dim=0)  # (in_kept, out_kept)
        for o in range(new.out_features):
            new.add_constant_(int(scores[:, o].argmax()), o, lost[o])


def _kept(alive: Tensor, strength: Tensor) -> Tensor:
    """Indices of the surviving nodes; the strongest one if none survives."""
    ids = torch.nonzero(alive).flatten()
    return ids if len(ids) else strength.argmax().reshape(1)
