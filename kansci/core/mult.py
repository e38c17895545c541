"""Multiplication nodes (KAN 2.0, Liu et al. 2024, arXiv 2408.10205).

A layer of nodes holds ``n_sum`` sum nodes, then ``n_mult`` multiplication
nodes. The KAN layer feeding it computes ``n_sum + arity * n_mult``
*subnodes* (each a sum over incoming edges, as in a plain KAN); a sum node is
its subnode, and multiplication node ``m`` is the product of subnodes
``n_sum + arity * m + t`` for ``t = 0 .. arity - 1``. The product is one
elementwise step after the layer's matmul, so every fast path of the layer
stays as it is. Each multiplication node adds a trainable bias to its product
(``KAN.node_bias``): a sum node's constant lives in its edges, but a product's
factors cannot make ``a * sin(t) + 1``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["multiply", "multiply_jet", "owners"]


def multiply(y: Tensor, n_sum: int, arity: int, bias: Tensor | None = None) -> Tensor:
    """Node values from subnode values ``y`` (..., n_sum + arity * n_mult) -> (..., n_sum + n_mult).

    ``bias`` (n_mult,) is added to the products.
    """
    if y.shape[-1] == n_sum:
        return y
    products = y[..., n_sum:].unflatten(-1, (-1, arity)).prod(-1)
    return torch.cat([y[..., :n_sum], products if bias is None else products + bias], dim=-1)


def multiply_jet(
    value: Tensor, grad: Tensor, second: Tensor, n_sum: int, arity: int, bias: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Node jets from subnode jets by the product rule.

    ``value`` has shape (batch, n_sub); ``grad`` and ``second`` (first and pure
    second derivatives along each input direction) (batch, dim, n_sub). Factors
    are folded pairwise: ``(uv)' = u'v + uv'`` and ``(uv)'' = u''v + 2u'v' + uv''``.
    """
    if value.shape[-1] == n_sum:
        return value, grad, second

    def factors(t: Tensor) -> list[Tensor]:
        grouped = t[..., n_sum:].unflatten(-1, (-1, arity))
        return [grouped[..., i] for i in range(arity)]

    vs, gs, hs = factors(value), factors(grad), factors(second)
    v, g, h = vs[0], gs[0], hs[0]
    for v2, g2, h2 in zip(vs[1:], gs[1:], hs[1:]):
        a, b = v.unsqueeze(1), v2.unsqueeze(1)
        v, g, h = v * v2, g * b + a * g2, h * b + 2 * g * g2 + a * h2
    cat = lambda head, tail: torch.cat([head[..., :n_sum], tail], dim=-1)  # noqa: E731
    return cat(value, v if bias is None else v + bias), cat(grad, g), cat(second, h)


def owners(n_sum: int, n_mult: int, arity: int) -> list[int]:
    """The node each subnode feeds: ``[0, 1, .., n_sum - 1, n_sum, n_sum, .., n_sum + n_mult - 1]``."""
    return list(range(n_sum)) + [n_sum + m for m in range(n_mult) for _ in range(arity)]
