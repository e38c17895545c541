"""Exact derivatives through a KAN, propagated forward layer by layer.

A KAN layer is a sum of univariate functions, so with ``g = dx/dz`` and
``h = d^2x/dz^2`` along an input direction z the chain rule per layer reads

    dy_o   = sum_i phi'_io(x_i) g_i
    d^2y_o = sum_i phi''_io(x_i) g_i^2 + phi'_io(x_i) h_i

with phi' and phi'' from the analytic B-spline derivatives and those of SiLU
(for a fixed symbolic edge ``c*f(a*x+b)+d``: ``c*a*f'`` and ``c*a^2*f''``, with
f' and f'' of the elementwise function by autograd).
The per-edge derivatives come from the layer's own contraction
(:meth:`KANLayer.combine_edges`) applied to basis derivatives, so no nested
autograd graph is built; the result is still differentiable with respect to
the parameters for training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from kansci.core.basis import local_bases
from kansci.core.fused import silu_derivatives
from kansci.core.layer import KANLayer
from kansci.core.model import KAN
from kansci.core.mult import multiply_jet
from kansci.core.polynomial import edge_derivatives

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


def layer_jet(layer: KANLayer, x: Tensor, g: Tensor | None, h: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Value and derivatives after ``layer``; ``g is None`` marks the input layer (dx/dz = I, d2x/dz2 = 0)."""
    kept = layer.input_jet_designs(x) if g is None else None
    if kept is not None:  # fixed collocation points: three products with the kept designs
        (weight,) = layer.weights(stacked=True)
        per_input = weight.view(layer.in_features, -1, layer.out_features)
        value = kept[0].flatten(1) @ weight
        # phi'_io(x_i) and phi''_io(x_i) of every edge, (batch, in, out)
        e1, e2 = (torch.bmm(d, per_input).transpose(0, 1) for d in kept[1:])
    elif layer.use_polynomial():  # a narrow layer: each edge's spline and derivatives as its interval's polynomial
        spline_w, base_w = layer.weights()
        s0, s1, s2 = silu_derivatives(x)
        batch, n_in = x.shape
        d0, d1, d2 = (d.unflatten(0, (n_in, batch)) for d in edge_derivatives(x, spline_w, layer.table(), (0, 1, 2)))
        value = torch.addmm(d0.sum(0), s0, base_w)
        e1 = d1.transpose(0, 1) + s1.unsqueeze(-1) * base_w
        e2 = d2.transpose(0, 1) + s2.unsqueeze(-1) * base_w
    else:
        spline_w, base_w = layer.weights()
        (b0, b1, b2), row = local_bases(x, layer.table(), (0, 1, 2))
        s0, s1, s2 = silu_derivatives(x)
        value = layer.combine(b0, row, s0, spline_w, base_w)
        e1 = layer.combine_edges(b1, row, s1, spline_w, base_w)
        e2 = layer.combine_edges(b2, row, s2, spline_w, base_w)
    edges = layer.symbolic
    if len(edges):  # fixed symbolic edges: c*f(a*x+b)+d with f', f'' of the elementwise function
        v, d1, d2 = edges.terms(x, layer.mask, derivatives=2)
        value, e1, e2 = value + edges.summed(v), e1 + edges.scattered(d1), e2 + edges.scattered(d2)
    if g is None:  # direction a reaches output o only through edge (a, o)
        return value, e1, e2
    # sum over inputs by broadcasting: batched matmuls of these tiny matrices are slower
    g4, h4, e1, e2 = g.unsqueeze(-1), h.unsqueeze(-1), e1.unsqueeze(1), e2.unsqueeze(1)
    return value, (g4 * e1).sum(2), (g4 * g4 * e2 + h4 * e1).sum(2)


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
    g = h = None
    for index, layer in enumerate(model.layers):
        x, g, h = node_jet(model, index, *layer_jet(layer, x, g, h))
    return Jet(value=x, grad=g, second=h)


def node_jet(model: KAN, index: int, value: Tensor, grad: Tensor, second: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The jet of layer ``index``'s nodes from the jet of its outputs (the product rule at multiplication nodes)."""
    config = model.config
    return multiply_jet(value, grad, second, config.n_sum(index + 1), config.mult_arity, model.bias(index))
