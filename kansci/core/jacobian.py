"""Per-sample Jacobians of a KAN's outputs with respect to its spline coefficients and base weights.

A layer's output is linear in its coefficients and base weights:
``d out[b, o] / d coef[i, j, o] = mask[i, o] * w_s[i, o] * B_j(x[b, i])`` and
``d out[b, o] / d w_b[i, o] = mask[i, o] * SiLU(x[b, i])``. Chained with the
derivative of the network's output by the layer's output, which one
vector-Jacobian product per layer gives for every sample at once (samples are
independent), that is the whole Jacobian, without a backward pass per sample.
:class:`kansci.core.lm.LevenbergMarquardt` uses it for KANs.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from kansci.core.model import KAN

__all__ = ["add_bias_blocks", "has_closed_form_jacobian", "output_jacobian"]


def has_closed_form_jacobian(model: torch.nn.Module) -> bool:
    """Whether :func:`output_jacobian` covers every parameter of ``model`` (a KAN without symbolic edges)."""
    return isinstance(model, KAN) and not any(len(layer.symbolic) for layer in model.layers)


def output_jacobian(model: KAN, x: Tensor) -> tuple[Tensor, dict[Tensor, Tensor]]:
    """The outputs for ``x`` and their derivatives by each layer's ``coef`` and ``scale_base``.

    Parameters
    ----------
    model : KAN
        Without symbolic edges (see :func:`has_closed_form_jacobian`).
    x : Tensor, shape (batch, width[0])

    Returns
    -------
    out : Tensor, shape (batch, width[-1])
        ``model(x)``, detached.
    blocks : dict of Tensor to Tensor
        For each ``coef`` (and ``scale_base``) of a layer, a tensor of shape
        ``(batch, width[-1], *param.shape)``: ``d out[b, c] / d param``.
    """
    if not has_closed_form_jacobian(model):
        raise ValueError("output_jacobian needs a KAN without symbolic edges")
    inputs, outputs, products = [], [], []
    h = x.detach()
    with torch.enable_grad():
        for index, layer in enumerate(model.layers):
            h = h.requires_grad_()
            out = layer(h)
            inputs.append(h)
            outputs.append(out)
            h = out.detach()
            products.append(None)
            if model.config.n_mult(index + 1):  # multiplication nodes: a leaf at the subnodes too
                subnodes = h.requires_grad_()
                h = model.nodes(index, subnodes)
                products[-1] = (subnodes, h)
                h = h.detach()
    n_out = h.shape[1]
    bases = [layer.basis(a.detach()) for layer, a in zip(model.layers, inputs)]
    silus = [F.silu(a.detach()) for a in inputs]
    coef_blocks: list[list[Tensor]] = [[] for _ in model.layers]
    base_blocks: list[list[Tensor]] = [[] for _ in model.layers]
    bias_blocks: list[list[Tensor]] = [[] for _ in model.layers]
    for c in range(n_out):
        grad = torch.zeros_like(h)
        grad[:, c] = 1.0
        for index in range(len(model.layers) - 1, -1, -1):
            layer = model.layers[index]
            if products[index] is not None:  # a product's bias, then from the nodes' cotangent to the subnodes'
                bias_blocks[index].append(grad[:, model.config.n_sum(index + 1) :])
                subnodes, nodes = products[index]
                (grad,) = torch.autograd.grad(nodes, subnodes, grad, retain_graph=True)
            weight = grad[:, None, :] * layer.mask  # (batch, in, out): d out_c / d (edge i -> o) per sample
            coef_blocks[index].append(bases[index][..., None] * (weight * layer.scale_spline.detach())[:, :, None, :])
            base_blocks[index].append(silus[index][..., None] * weight)
            if index:
                (grad,) = torch.autograd.grad(outputs[index], inputs[index], grad, retain_graph=True)
    blocks: dict[Tensor, Tensor] = {}
    for layer, by_coef, by_base in zip(model.layers, coef_blocks, base_blocks):
        blocks[layer.coef] = torch.stack(by_coef, dim=1).detach()
        blocks[layer.scale_base] = torch.stack(by_base, dim=1).detach()
    add_bias_blocks(model, bias_blocks, blocks, h)
    return h, blocks


def add_bias_blocks(model: KAN, by_layer: list[list[Tensor]], blocks: dict[Tensor, Tensor], like: Tensor) -> None:
    """Blocks of every ``node_bias`` parameter from the per-layer lists of per-component cotangents (in place)."""
    if model.config.mult is None:
        return
    for index, bias in enumerate(model.node_bias):
        stacked = torch.stack(by_layer[index], dim=1) if by_layer[index] else None
        blocks[bias] = stacked.detach() if stacked is not None else like.new_zeros(like.shape[0], 0, 0)
