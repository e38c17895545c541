"""The plain MLP every study compares a KAN against."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "mlp"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def mlp(
    width: Sequence[int],
    activation: str = "tanh",
    *,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A fully connected network ``Linear, act, ..., Linear`` with the given layer widths.

    Parameters
    ----------
    width : sequence of int
        ``[n_in, hidden..., n_out]``, at least two entries.
    activation : {"tanh", "silu", "sigmoid", "relu"}
    seed : int
        Seeds PyTorch's default initialization, without touching the global generator.

    Examples
    --------
    >>> net = mlp([2, 100, 100, 100, 1])  # "depth 4, width 100"
    >>> sum(p.numel() for p in net.parameters())
    20601
    """
    width = list(width)
    if len(width) < 2 or any(int(w) != w or w < 1 for w in width):
        raise ValueError(f"width must list at least two positive integers, got {width}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (a, b) in enumerate(zip(width[:-1], width[1:])):
            layers.append(nn.Linear(a, b, dtype=dtype, device=device))
            if i < len(width) - 2:
                layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)
