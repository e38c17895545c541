"""Exact derivatives through a KAN, propagated forward layer by layer.

A KAN layer is a sum of univariate functions, so with ``g = dx/dz`` and
``h = d^2x/dz^2`` along an input direction z the chain rule per layer reads

    dy_o   = sum_i phi'_io(x_i) g_i
    d^2y_o = sum_i phi''_io(x_i) g_i^2 + phi'_io(x_i) h_i

with phi' and phi'' from the analytic B-spline derivatives and those of SiLU.
Every term is the layer's own contraction (:meth:`KANLayer.combine`) applied
to derivative values, so no nested autograd graph is built; the result is
still differentiable with respect to the parameters for training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from kansci.core.basis import local_bases
from kansci.core.layer import KANLayer
from kansci.core.model import KAN

__all__ = ["Jet", "jet"]


@dataclass(frozen=True)
class Jet:
    """Value, first and pure second derivatives of a network's outputs.

    Attributes
    ----------
    value : Tensor, shape (batch, n_out)
    grad : Tensor, shape (batch, n_in, n_out)
        ``grad[b, a, o] = d out_o / d x_a``.
    second : Tensor, shape (batch, n_in, n_out)
        ``second[b, a, o] = d^2 out_o / d x_a^2`` (no mixed terms).
    """

    value: Tensor
    grad: Tensor
    second: Tensor

    def laplacian(self, dims: tuple[int, ...] | None = None) -> Tensor:
        """Sum of pure second derivatives over ``dims`` (all inputs by default), shape (batch, n_out)."""
        second = self.second if dims is None else self.second[:, list(dims)]
        return second.sum(dim=1)


def _silu_derivatives(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    s = torch.sigmoid(x)
    first = s * (1 + x * (1 - s))
    second = s * (1 - s) * (2 + x * (1 - 2 * s))
    return x * s, first, second


def _layer_jet(layer: KANLayer, x: Tensor, g: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    batch, dirs, n_in = g.shape
    table = layer.table()
    spline_w, base_w = layer.weights()
    (b0, b1, b2), row = local_bases(x, table, (0, 1, 2))
    s0, s1, s2 = _silu_derivatives(x)
    value = layer.combine(b0, row, s0, spline_w, base_w)

    def spread(t: Tensor) -> Tensor:  # (batch, in, ...) -> (batch * dirs, in, ...) per direction
        return t.unsqueeze(1).expand(batch, dirs, *t.shape[1:]).reshape(batch * dirs, *t.shape[1:])

    gg, hh = g.reshape(batch * dirs, n_in), h.reshape(batch * dirs, n_in)
    rows = spread(row)
    d1 = layer.combine(spread(b1) * gg.unsqueeze(-1), rows, spread(s1) * gg, spline_w, base_w)
    g2 = gg * gg
    d2_basis = spread(b2) * g2.unsqueeze(-1) + spread(b1) * hh.unsqueeze(-1)
    d2 = layer.combine(d2_basis, rows, spread(s2) * g2 + spread(s1) * hh, spline_w, base_w)
    n_out = value.shape[1]
    return value, d1.view(batch, dirs, n_out), d2.view(batch, dirs, n_out)


def jet(model: KAN, x: Tensor) -> Jet:
    """Outputs of a KAN with their exact first and pure second input derivatives.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, width[0])

    Returns
    -------
    Jet

    Examples
    --------
    >>> model = KAN([2, 3, 1], dtype=torch.float64)
    >>> j = jet(model, torch.zeros(4, 2, dtype=torch.float64))
    >>> j.grad.shape, j.laplacian().shape
    (torch.Size([4, 2, 1]), torch.Size([4, 1]))
    """
    if not isinstance(model, KAN):
        raise TypeError(f"jet needs a kansci.KAN, got {type(model).__name__}; use kansci.pde.operators for others")
    model.check_input(x)
    batch, n_in = x.shape
    g = torch.eye(n_in, dtype=x.dtype, device=x.device).expand(batch, n_in, n_in)
    h = torch.zeros_like(g)
    for layer in model.layers:
        x, g, h = _layer_jet(layer, x, g, h)
    return Jet(value=x, grad=g, second=h)
