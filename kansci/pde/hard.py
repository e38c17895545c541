"""Dirichlet values imposed exactly: ``u = g(x) + D(x) * net(x)`` for the fields an Equation marks hard.

``D`` vanishes on the boundary and is positive inside (the domain's
:meth:`~kansci.pde.geometry.Geometry.smooth_distance`, or the condition's own
``distance``), ``g`` is the prescribed value. Both hold no parameters: their
directional jets at a point set are computed once (nested autograd) and
combined with the network's by Leibniz's rule along each direction,
``D^k (D n)[v] = sum_j C(k, j) D^j D[v] D^(k-j) n[v]``, before the jets become
partial derivatives (:class:`~kansci.pde.multiindex.DerivativePlan`). So the
exact KAN jets and their closed-form Jacobian serve the constrained model too.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kansci.pde.equation import Equation, values_of
from kansci.pde.multiindex import _reverse_jets

__all__ = ["Constrained", "HardConstraint"]


class HardConstraint:
    """The exactly imposed Dirichlet values of an :class:`~kansci.pde.equation.Equation` (None if it has none)."""

    def __init__(self, equation: Equation) -> None:
        self.equation = equation
        self.parts: list[tuple[int, object]] = []  # (field, its Dirichlet condition)
        for c in equation.conditions:
            if getattr(c, "hard", False):
                f = equation.field_index(c.field or equation.fields[0])
                if any(f == g for g, _ in self.parts):
                    raise ValueError(f"field {equation.fields[f]!r} has two hard Dirichlet conditions; keep one")
                self.parts.append((f, c))

    @classmethod
    def of(cls, equation: Equation) -> HardConstraint | None:
        hard = cls(equation)
        return hard if hard.parts else None

    @property
    def fields(self) -> list[int]:
        return [f for f, _ in self.parts]

    def factors(self, x: Tensor) -> Tensor:
        """Distances then lifts of the hard fields, (batch, 2 * n_hard)."""
        domain = self.equation.domain
        distances = [(c.distance or domain.smooth_distance)(x).reshape(-1) for _, c in self.parts]
        lifts = [values_of(c.value, x) for _, c in self.parts]
        return torch.stack(distances + lifts, 1)

    def frame(self, x: Tensor, directions: Tensor, order: int) -> list[Tensor]:
        """Jets of :meth:`factors` along ``directions`` up to ``order``, detached (value only for order 0)."""
        x = x.detach()
        if order == 0:
            return [self.factors(x).detach()]
        return [t.detach() for t in _reverse_jets(self.factors, x, directions.to(x), order)]

    def compose(self, jets: list[Tensor], frame: list[Tensor]) -> list[Tensor]:
        """The constrained fields' jets from the network's (``jets``) and the factors' (``frame``)."""
        h = len(self.parts)
        cols = self.fields
        out = [t.clone() for t in jets]
        for k in range(min(len(jets), len(frame))):  # higher network orders, if any, are not read
            d_n = sum(
                math.comb(k, j) * _order(frame, j, k)[..., :h] * _order(jets, k - j, k)[..., cols] for j in range(k + 1)
            )
            out[k][..., cols] = frame[k][..., h:] + d_n
        return out


def _order(jets: list[Tensor], j: int, k: int) -> Tensor:
    """Order-j jet, the value broadcast over directions when a derivative (k > 0) needs it."""
    return jets[j].unsqueeze(1) if j == 0 and k > 0 else jets[j]


class Constrained(nn.Module):
    """``net`` with the hard fields replaced by ``g + D * net``: the solution :func:`~kansci.pde.solve` returns."""

    def __init__(self, net: nn.Module, hard: HardConstraint) -> None:
        super().__init__()
        self.net = net
        self.hard = hard

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        factors = self.hard.factors(x)
        h = len(self.hard.parts)
        cols = self.hard.fields
        replaced = factors[:, h:] + factors[:, :h] * out[:, cols]
        return out.index_copy(1, torch.tensor(cols, device=x.device), replaced)
