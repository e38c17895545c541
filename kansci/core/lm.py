"""Levenberg–Marquardt for least-squares fits of small models.

L-BFGS stalls on a precision fit of a small KAN: after grid extension to
G = 50, KAN [2,5,1] on exp(sin(pi x) + y^2) takes its 200 steps from train RMSE
2.2e-5 to 1.5e-5, while one Gauss–Newton step from the same start reaches
8.9e-6 (``benchmarks/README.md``). Levenberg–Marquardt uses the Jacobian of the
residuals: each step solves ``(J^T J + mu D) h = -J^T r`` with Marquardt's
scaling ``D = diag(J^T J)`` and adapts the damping ``mu`` by how well the
quadratic model predicted the decrease (Nielsen's rule, as in Madsen, Nielsen
and Tingleff, *Methods for non-linear least squares problems*, 2004).

The Jacobian comes from batched backward passes over chunks of samples, so any
module whose backward is vmap-compatible works; ``J^T J`` and ``J^T r`` are
accumulated chunk by chunk, so memory is ``O(p^2 + chunk * p)`` for ``p``
parameters. That suits models up to a few thousand parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["LevenbergMarquardt", "MAX_PARAMETERS"]

# J^T J is a dense (p, p) matrix factorized at every step; above this many parameters use L-BFGS or Adam
MAX_PARAMETERS = 10_000

# the damping shrinks by at most this factor after a step its quadratic model predicted well (Nielsen uses 1/3;
# a KAN's SiLU branch is nearly in the span of its splines, and that direction needs the damping near zero)
SHRINK = 0.1

# samples per batched backward pass (each pass costs chunk^2 * width: small chunks waste less)
JACOBIAN_CHUNK = 128


class LevenbergMarquardt(torch.optim.Optimizer):
    """Damped Gauss–Newton steps on ``sum(residuals()**2)``.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters fitted (leave out exact redundancies such as a KAN's
        ``scale_spline``, which only rescales its coefficients).
    residuals : callable
        ``residuals(rows) -> Tensor``: the residuals of the samples in the
        slice ``rows``; any shape, one entry per residual.
        Samples must be independent (row ``i`` of the output depends only on
        sample ``i``), as in a regression.
    n_samples : int
        Number of samples ``residuals`` covers.
    damping : float
        Initial ``mu`` (relative to the diagonal of ``J^T J``).
    max_tries : int
        Damping increases per step before it gives up (the step then leaves the
        parameters unchanged: the fit has converged to round-off).

    Notes
    -----
    :meth:`step` takes a closure as the other optimizers do; it is called once,
    at the accepted parameters, so a training loop records the loss there.
    ``accepted_loss`` is then that closure's value.
    """

    def __init__(
        self,
        params,
        residuals: Callable[[slice], Tensor],
        n_samples: int,
        damping: float = 1e-3,
        max_tries: int = 30,
    ) -> None:
        super().__init__(params, dict(damping=damping, growth=2.0, max_tries=max_tries))
        if len(self.param_groups) != 1:
            raise ValueError("LevenbergMarquardt takes one parameter group")
        self._params = [p for p in self.param_groups[0]["params"] if p.requires_grad and p.numel()]
        n_params = sum(p.numel() for p in self._params)
        if n_params > MAX_PARAMETERS:
            raise ValueError(
                f"Levenberg-Marquardt factorizes a {n_params} x {n_params} matrix per step; "
                f"above {MAX_PARAMETERS} parameters use opt='lbfgs' or opt='adam'"
            )
        self._residuals = residuals
        self._n_samples = n_samples
        self.accepted_loss: float | None = None

    def _vector(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    @torch.no_grad()
    def _assign(self, vector: Tensor) -> None:
        offset = 0
        for p in self._params:  # (in place on the parameter itself: layers key their caches on its version)
            n = p.numel()
            p.copy_(vector[offset : offset + n].view_as(p))
            offset += n

    def normal_equations(self) -> tuple[Tensor, Tensor, Tensor]:
        """``J^T J``, ``J^T r`` and ``r^T r`` at the current parameters."""
        gram = rhs = None
        total = 0.0
        for start in range(0, self._n_samples, JACOBIAN_CHUNK):
            r = self._residuals(slice(start, start + JACOBIAN_CHUNK)).reshape(-1)
            eye = torch.eye(r.numel(), dtype=r.dtype, device=r.device)
            rows = torch.autograd.grad(r, self._params, eye, is_grads_batched=True, allow_unused=True)
            jac = torch.cat(
                [
                    (g if g is not None else p.new_zeros(r.numel(), *p.shape)).reshape(r.numel(), -1)
                    for g, p in zip(rows, self._params)
                ],
                dim=1,
            )
            r = r.detach()
            gram = jac.T @ jac if gram is None else gram.addmm_(jac.T, jac)
            rhs = jac.T @ r if rhs is None else rhs.addmv_(jac.T, r)
            total += float(r.square().sum())
        return gram, rhs, torch.tensor(total, dtype=gram.dtype)

    @torch.no_grad()
    def _sum_squares(self) -> float:
        return float(self._residuals(slice(None)).square().sum())

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One Levenberg–Marquardt iteration; then ``closure()`` at the resulting parameters."""
        group = self.param_groups[0]
        with torch.enable_grad():
            gram, rhs, loss = self.normal_equations()
        start = self._vector()
        scale = gram.diagonal().clone()
        scale.clamp_(min=float(scale.max()) * 1e-12 if scale.numel() else 0.0).clamp_(min=torch.finfo(scale.dtype).tiny)
        for _ in range(group["max_tries"]):
            mu = group["damping"]
            factor, info = torch.linalg.cholesky_ex(gram + torch.diag(mu * scale))
            if int(info) == 0:
                h = torch.cholesky_solve(-rhs[:, None], factor)[:, 0]
                self._assign(start + h)
                new = self._sum_squares()
                # decrease of the quadratic model: h^T (mu D h - g), twice that of 1/2 |r|^2
                predicted = float(h @ (mu * scale * h - rhs))
                if math.isfinite(new) and new < float(loss):
                    rho = (float(loss) - new) / max(predicted, torch.finfo(gram.dtype).tiny)
                    group["damping"] = mu * max(SHRINK, 1.0 - (2.0 * rho - 1.0) ** 3)
                    group["growth"] = 2.0
                    break
            group["damping"] = mu * group["growth"]
            group["growth"] *= 2.0
        else:
            self._assign(start)
        if closure is None:
            return None
        with torch.enable_grad():
            value = closure()
        self.accepted_loss = float(value)
        return value
