"""Losses that are sums of squares of a residual vector, for every optimizer of :func:`kansci.fit`.

A :class:`LeastSquares` loss is ``sum_k r_k^2`` over weighted residuals ``r``
(a mean squared error is ``r = (prediction - label) / sqrt(n)``). LBFGS and
Adam minimize it as a scalar loss (calling the object gives the loss and its
named parts); Levenberg–Marquardt (:class:`kansci.core.lm.LevenbergMarquardt`)
takes the residuals and their Jacobian in chunks of rows. A row is one sample
(a data point, a collocation point) and may hold several residual entries; rows
are independent, which is what lets a Jacobian be formed chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from kansci.core.jacobian import has_closed_form_jacobian, output_jacobian

__all__ = ["DataResiduals", "LeastSquares", "fitted_parameters"]


def fitted_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters a least-squares optimizer fits: all but a KAN's ``scale_spline`` and empty tensors.

    ``scale_spline`` only rescales the coefficients (an exact redundancy that
    would make ``J^T J`` singular).
    """
    from kansci.core.model import KAN

    redundant = "scale_spline" if isinstance(model, KAN) else None
    return [p for name, p in model.named_parameters() if name.rpartition(".")[2] != redundant and p.numel()]


class LeastSquares:
    """A loss ``sum(r^2)`` over the weighted residual rows ``r`` of a model; subclasses define the rows.

    Attributes
    ----------
    n_rows : int
        Number of rows (samples); :meth:`residuals` and :meth:`jacobian` take slices of them.
    """

    n_rows: int

    def residuals(self, model: nn.Module, rows: slice) -> Tensor:
        """Weighted residuals of ``rows``, flat, differentiable in the model's parameters."""
        raise NotImplementedError

    def has_jacobian(self, model: nn.Module) -> bool:
        """Whether :meth:`jacobian` has a closed form for ``model`` (else batched backward passes serve)."""
        return False

    def jacobian(self, model: nn.Module, rows: slice) -> tuple[Tensor, dict[Tensor, Tensor]]:
        """Residuals of ``rows`` (flat, detached, shape (m,)) and, per fitted parameter, ``(m, *param.shape)``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form Jacobian")

    def parts(self, model: nn.Module) -> tuple[Tensor, Mapping[str, Tensor]]:
        """The loss and its named components (differentiable); by default the sum of all squares."""
        total = self.residuals(model, slice(None)).square().sum()
        return total, {}

    def __call__(self, model: nn.Module) -> tuple[Tensor, Mapping[str, Tensor]]:
        """The loss closure form :func:`kansci.fit` takes: ``(loss, {name: detached part})``."""
        total, parts = self.parts(model)
        return total, {k: v.detach() for k, v in parts.items()}


class DataResiduals(LeastSquares):
    """The mean squared error of ``model(x)`` against ``y`` as residuals ``(model(x) - y) / sqrt(y.numel())``."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y
        self.n_rows = x.shape[0]
        self._scale = float(max(y.numel(), 1)) ** -0.5

    def residuals(self, model: nn.Module, rows: slice) -> Tensor:
        return ((model(self.x[rows]) - self.y[rows]) * self._scale).reshape(-1)

    def has_jacobian(self, model: nn.Module) -> bool:
        return has_closed_form_jacobian(model)

    def jacobian(self, model: nn.Module, rows: slice) -> tuple[Tensor, dict[Tensor, Tensor]]:
        out, blocks = output_jacobian(model, self.x[rows])
        r = (out - self.y[rows]) * self._scale
        m = r.numel()
        return r.reshape(-1), {p: (b * self._scale).reshape(m, *p.shape) for p, b in blocks.items()}
