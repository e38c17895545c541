"""Per-point Jacobians of PDE residuals with respect to a KAN's parameters, in closed form.

A residual at a point is a function of the network's jet there (value, first
and pure second input derivatives; :func:`~kansci.pde.taylor.jet`). A layer's
jet is linear in its coefficients: with ``(x, g, h)`` the layer's input and its
first and second derivatives along input direction ``a``,

    value_o   = sum_i w_io (sum_j c_ijo B_j(x_i)) + b_io SiLU(x_i)
    grad_ao   = sum_i w_io (sum_j c_ijo B'_j(x_i)) g_ai + ...
    second_ao = sum_i w_io (sum_j c_ijo (B''_j(x_i) g_ai^2 + B'_j(x_i) h_ai)) + ...

so ``d r / d c_ijo = w_io (A0_io B_j + A1_io B'_j + A2_io B''_j)`` with the
cotangents ``Rv = dr/dvalue``, ``Rg = dr/dgrad``, ``Rh = dr/dsecond`` of the
layer's outputs gathered into ``A0 = Rv_o``, ``A1 = sum_a Rg_ao g_ai + Rh_ao h_ai``
and ``A2 = sum_a Rh_ao g_ai^2`` (the base weights the same with SiLU and its
derivatives). The cotangents of every layer come from one vector-Jacobian
product through the jet per residual component: points are independent, so
the gradient of the summed residual by a layer's outputs holds each point's
own derivatives. No backward pass per point, no nested autograd.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from kansci.core.basis import local_bases, scatter_dense
from kansci.core.fused import silu_derivatives
from kansci.core.jacobian import add_bias_blocks, has_closed_form_jacobian
from kansci.core.layer import KANLayer
from kansci.core.model import KAN
from kansci.pde.taylor import layer_jet, node_jet

__all__ = ["JetHead", "jet_jacobian"]

JetHead = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``head(value (batch, n_out), grad (batch, dim, n_out), second (batch, dim, n_out)) -> (batch, c)``."""


def _layer_blocks(
    layer: KANLayer, x: Tensor, g: Tensor | None, h: Tensor | None, cotangents: tuple[Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor]:
    """``d r / d coef`` (batch, in, G + k, out) and ``d r / d scale_base`` (batch, in, out) of one layer."""
    rv, rg, rh = cotangents
    if g is None:  # the input layer: direction a moves input a only (g = identity, h = 0)
        a1, a2 = rg, rh
    else:
        a1 = torch.einsum("bao,bai->bio", rg, g) + torch.einsum("bao,bai->bio", rh, h)
        a2 = torch.einsum("bao,bai->bio", rh, g * g)
    a0 = rv.unsqueeze(1)
    table = layer.table()
    values, row = local_bases(x, table, (0, 1, 2))
    b0, b1, b2 = (scatter_dense(v, row, table).unsqueeze(-1) for v in values)
    s0, s1, s2 = (s.unsqueeze(-1) for s in silu_derivatives(x))
    by_coef = b0 * a0.unsqueeze(2) + b1 * a1.unsqueeze(2) + b2 * a2.unsqueeze(2)
    by_base = s0 * a0 + s1 * a1 + s2 * a2
    mask = layer.mask
    return by_coef * (mask * layer.scale_spline.detach()).unsqueeze(1), by_base * mask


def jet_jacobian(model: KAN, x: Tensor, head: JetHead) -> tuple[Tensor, dict[Tensor, Tensor]]:
    """Residuals ``head(jet(model, x))`` and their derivatives by each layer's ``coef`` and ``scale_base``.

    Parameters
    ----------
    model : KAN
        Without symbolic edges (see :func:`kansci.core.jacobian.has_closed_form_jacobian`).
    x : Tensor, shape (batch, width[0])
    head : callable
        Maps the network's jet at x to the residuals there, point by point
        (row ``b`` of its output depends on row ``b`` of its inputs only).

    Returns
    -------
    residuals : Tensor, shape (batch, c)
        Detached.
    blocks : dict of Tensor to Tensor
        For each ``coef`` and ``scale_base``, shape ``(batch, c, *param.shape)``.

    Examples
    --------
    >>> model = KAN([2, 3, 1], dtype=torch.float64)
    >>> x = torch.rand(5, 2, dtype=torch.float64)
    >>> r, blocks = jet_jacobian(model, x, lambda u, du, d2u: d2u.sum(1))  # the Laplacian
    >>> r.shape, blocks[model.layers[0].coef].shape
    (torch.Size([5, 1]), torch.Size([5, 1, 2, 8, 3]))
    """
    if not has_closed_form_jacobian(model):
        raise ValueError("jet_jacobian needs a kansci.KAN without symbolic edges; use batched autograd for others")
    model.check_input(x)
    inputs: list[tuple[Tensor, Tensor | None, Tensor | None]] = []
    outputs: list[tuple[Tensor, Tensor, Tensor]] = []
    products: list[tuple[tuple[Tensor, ...], tuple[Tensor, ...]] | None] = []  # (subnode leaves, node jets)
    state: tuple[Tensor, Tensor | None, Tensor | None] = (x.detach(), None, None)
    with torch.enable_grad():
        for index, layer in enumerate(model.layers):
            if index:  # a leaf per layer: the cotangents are carried back layer by layer
                state = tuple(t.detach().requires_grad_() for t in state)  # type: ignore[assignment]
            inputs.append(state)
            outputs.append(layer_jet(layer, *state))
            state = outputs[-1]
            products.append(None)
            if model.config.n_mult(index + 1):  # multiplication nodes: a leaf at the subnodes too
                subnodes = tuple(t.detach().requires_grad_() for t in state)
                state = node_jet(model, index, *subnodes)
                products[-1] = (subnodes, state)
        final = tuple(t.detach().requires_grad_() for t in state)
        residuals = head(*final)
        if residuals.ndim != 2 or residuals.shape[0] != x.shape[0]:
            raise ValueError(f"head must return shape (batch, c) with batch = {x.shape[0]}, got {residuals.shape}")
        by_layer: list[tuple[list[Tensor], list[Tensor]]] = [([], []) for _ in model.layers]
        by_bias: list[list[Tensor]] = [[] for _ in model.layers]
        for c in range(residuals.shape[1]):
            cot = _grads(residuals[:, c].sum(), final, retain=True)
            for index in range(len(model.layers) - 1, -1, -1):
                if products[index] is not None:  # a product's bias (on the value), then to the subnodes' cotangents
                    by_bias[index].append(cot[0][:, model.config.n_sum(index + 1) :])
                    subnodes, nodes = products[index]
                    cot = _grads(nodes, subnodes, retain=True, seeds=cot)
                coef_block, base_block = _layer_blocks(model.layers[index], inputs[index][0].detach(),
                                                       *_detached(inputs[index][1:]), cot)  # fmt: skip
                by_layer[index][0].append(coef_block)
                by_layer[index][1].append(base_block)
                if index:
                    cot = _grads(outputs[index], inputs[index], retain=True, seeds=cot)
    blocks: dict[Tensor, Tensor] = {}
    for layer, (by_coef, by_base) in zip(model.layers, by_layer):
        blocks[layer.coef] = torch.stack(by_coef, 1).detach()
        blocks[layer.scale_base] = torch.stack(by_base, 1).detach()
    add_bias_blocks(model, by_bias, blocks, residuals)
    return residuals.detach(), blocks


def _detached(tensors) -> list[Tensor | None]:
    return [None if t is None else t.detach() for t in tensors]


def _grads(roots, leaves, retain: bool, seeds=None) -> tuple[Tensor, ...]:
    """Gradients of ``roots`` (seeded by ``seeds``) by ``leaves``, zeros where a leaf does not reach them."""
    roots = (roots,) if isinstance(roots, Tensor) else tuple(roots)
    pairs = [(r, s) for r, s in zip(roots, seeds or [None] * len(roots)) if r.requires_grad]
    found = torch.autograd.grad(
        [r for r, _ in pairs], leaves, [s for _, s in pairs] if seeds else None, retain_graph=retain, allow_unused=True
    )
    return tuple(torch.zeros_like(leaf) if g is None else g for g, leaf in zip(found, leaves))
