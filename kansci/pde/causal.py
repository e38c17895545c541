"""Causal weights: an evolution problem's later times count less until its earlier ones are fitted.

A PINN trained on all of ``[t0, t1]`` at once may fit late times at the cost of
early ones, against the direction information flows in (Wang, Sankaran &
Perdikaris, "Respecting causality for training physics-informed neural
networks", CMAME 2024). On viscous Burgers the late shock's residual dwarfs the
smooth early one, so least squares lets the early solution drift by ~4e-3 in
x; the shock then forms off x = 0 and stays there, which costs a relative L2
of 3e-2 (see :func:`kansci.pde.solve`). Weighting each time's residual by how
well the earlier times are fitted keeps the early solution exact.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["CAUSAL_BINS", "causal_weights", "check_strength"]

CAUSAL_BINS = 32
"""Equal time bins of :func:`causal_weights` (the paper's choice)."""


def check_strength(strength: object) -> None:
    """Raise ValueError unless ``strength`` is a finite number >= 0."""
    if (
        isinstance(strength, bool)
        or not isinstance(strength, (int, float))
        or not (math.isfinite(strength) and strength >= 0)
    ):
        raise ValueError(f"causal (the weights' strength) must be a finite number >= 0, got {strength!r}")


def causal_weights(
    times: Tensor, residual: Tensor, span: tuple[float, float], strength: float, bins: int = CAUSAL_BINS
) -> Tensor:
    """Per-point weights ``exp(-strength * S_i / S)`` of the squared residual, shape (n,).

    The time span is cut into ``bins`` equal bins; ``S_i`` sums the mean squared
    residual of the bins before point ``i``'s own, ``S`` that of all bins. So
    the first bin weighs 1 and the last about ``exp(-strength)``, the weights
    falling where the residual lies. The paper's ``exp(-eps * S_i)`` is not
    divided by ``S``: with the late residual of a forming shock (mean squares of
    1e3 and more early in training) every eps that leaves early times a say
    sets the late weights to 0, and a least-squares solver then lets the model
    diverge there. Dividing by ``S`` keeps every time in the loss, the last
    bins at their smallest weight.

    Parameters
    ----------
    times : Tensor, shape (n,)
        The points' times, within ``span``.
    residual : Tensor, shape (n,)
        The residual's magnitude at each point (detached).
    span : (t0, t1)
    strength : float
        >= 0; 0 gives weights 1.
    bins : int

    Raises
    ------
    ValueError
        For a negative or non-finite ``strength``, an empty span, or a residual
        that is not finite.
    """
    check_strength(strength)
    t0, t1 = (float(v) for v in span)
    if not t1 > t0:
        raise ValueError(f"the time span must have t1 > t0, got {span!r}")
    residual = residual.detach().reshape(-1).to(torch.float64)
    if not bool(torch.isfinite(residual).all()):
        raise ValueError("the residual is not finite (is the model diverging?)")
    index = ((times.detach().reshape(-1).to(torch.float64) - t0) / (t1 - t0) * bins).long().clamp(0, bins - 1)
    total = torch.zeros(bins, dtype=torch.float64, device=residual.device).index_add_(0, index, residual**2)
    count = torch.zeros_like(total).index_add_(0, index, torch.ones_like(residual))
    mean = total / count.clamp_min(1)
    before = torch.cumsum(mean, 0) - mean
    scale = float(mean.sum())
    if scale == 0:
        return torch.ones_like(residual)
    return torch.exp(-strength * before / scale)[index]
