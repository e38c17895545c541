"""Sparsity regularization of the paper: L1 of per-edge |phi|_1 plus entropy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["sparsity_penalty"]


def sparsity_penalty(
    edge_acts: Sequence[Tensor],
    lamb_l1: float = 1.0,
    lamb_entropy: float = 2.0,
    eps: float = 1e-4,
) -> Tensor:
    """``sum_layers lamb_l1 * |Phi|_1 + lamb_entropy * S(Phi)``.

    ``|phi|_1`` is the mean absolute activation of an edge over the batch,
    ``|Phi|_1`` its sum over a layer's edges and ``S`` the entropy of the
    distribution ``|phi|_1 / |Phi|_1`` (paper eq. 2.17-2.19).

    Parameters
    ----------
    edge_acts : sequence of Tensor, shape (batch, in_l, out_l)
        Per-edge activations of each layer.
    lamb_l1, lamb_entropy : float
    eps : float
        Keeps log finite for dead edges.

    Returns
    -------
    Tensor, scalar
    """
    total = edge_acts[0].new_zeros(())
    for acts in edge_acts:
        scale = acts.abs().mean(dim=0)
        l1 = scale.sum()
        p = scale / (l1 + eps)
        entropy = -(p * torch.log(p + eps)).sum()
        total = total + lamb_l1 * l1 + lamb_entropy * entropy
    return total
