"""Levenberg–Marquardt for least-squares fits of small models.

L-BFGS stalls on a precision fit of a small KAN: KAN [2,5,1] on
exp(sin(pi x) + y^2) with 10,000 points and the paper's grid schedule
3 -> 5 -> 10 -> 20 -> 50 reaches test RMSE 1.3-2.6e-5 at G = 20 with 200 LBFGS
steps per grid, against 3.7-4.5e-6 in three of four seeds with 30 steps of this
optimizer per grid, in a ninth of the time (``benchmarks/bench_precision.py``).
Each step solves ``(J^T J + mu D) h = -J^T r`` for the Jacobian ``J`` of the
residuals ``r``, with Marquardt's scaling ``D = diag(J^T J)``, and adapts the
damping ``mu`` by how well the quadratic model predicted the decrease
(Nielsen's rule, as in Madsen, Nielsen and Tingleff, *Methods for non-linear
least squares problems*, 2004).

It takes large steps while the damping is small. From a random start that can
drive a hidden node far out: in 3 of 6 seeds of the fit above with 3000 points,
first-layer coefficients grew to 1e2-1e4 on the first grid, and one of those
fits overfit (test RMSE 6e-5 at G = 20 against train 5e-6). LBFGS on the
first grid avoids that (coefficients below 10), at some cost in precision; so
does more data.

The Jacobian comes from batched backward passes over chunks of samples, so any
module whose backward is vmap-compatible works, or from a closed form the caller
passes (a KAN's, :mod:`kansci.core.jacobian`: J^T J of KAN [2,5,1] on 3000
points 20x faster at G = 5, 6x at G = 50). ``J^T J`` and
``J^T r`` are accumulated chunk by chunk, so memory is ``O(p^2 + chunk * p)``
for ``p`` parameters. That suits models up to a few thousand parameters.
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

# the damping stops growing here: its step is then below round-off of any parameter
MAX_DAMPING = 1e20

# samples per batched backward pass (each pass costs chunk^2 * width: small chunks waste less), and per call
# of a closed-form Jacobian (whose memory grows with the chunk)
JACOBIAN_CHUNK = 128
CLOSED_FORM_CHUNK = 2048


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
        parameters unchanged: the fit has converged to round-off, and the next
        step starts again from ``damping``). The damping stays at most
        ``MAX_DAMPING``.
    jacobian : callable, optional
        ``jacobian(rows) -> (residuals, blocks)``: the residuals of the rows
        (detached) and, for every fitted parameter ``p``, ``blocks[p]`` of shape
        ``(*residuals.shape, *p.shape)``. Without it, batched backward passes.

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
        jacobian: Callable[[slice], tuple[Tensor, dict[Tensor, Tensor]]] | None = None,
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
        self._jacobian = jacobian
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

    def normal_equations(self) -> tuple[Tensor, Tensor, float]:
        """``J^T J``, ``J^T r`` and ``r^T r`` at the current parameters."""
        gram = rhs = None
        total = 0.0
        chunk = JACOBIAN_CHUNK if self._jacobian is None else CLOSED_FORM_CHUNK
        for start in range(0, self._n_samples, chunk):
            r, jac = self._rows(slice(start, start + chunk))
            gram = jac.T @ jac if gram is None else gram.addmm_(jac.T, jac)
            rhs = jac.T @ r if rhs is None else rhs.addmv_(jac.T, r)
            total += float(r.square().sum())
        return gram, rhs, total

    def _rows(self, rows: slice) -> tuple[Tensor, Tensor]:
        """The residuals of ``rows`` (flat, detached) and their Jacobian, shape (residuals, parameters)."""
        if self._jacobian is not None:
            r, blocks = self._jacobian(rows)
            missing = [tuple(p.shape) for p in self._params if p not in blocks]
            if missing:
                raise ValueError(f"the Jacobian has no block for the parameters of shapes {missing}")
            m = r.numel()
            return r.reshape(-1), torch.cat([blocks[p].reshape(m, -1) for p in self._params], dim=1)
        r = self._residuals(rows).reshape(-1)
        eye = torch.eye(r.numel(), dtype=r.dtype, device=r.device)
        grads = torch.autograd.grad(r, self._params, eye, is_grads_batched=True, allow_unused=True)
        columns = [
            r.new_zeros(r.numel(), p.numel()) if g is None else g.reshape(r.numel(), -1)
            for g, p in zip(grads, self._params)
        ]
        return r.detach(), torch.cat(columns, dim=1)

    @torch.no_grad()
    def _sum_squares(self) -> float:
        return float(self._residuals(slice(None)).square().sum())

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One Levenberg–Marquardt iteration; then ``closure()`` at the resulting parameters."""
        group = self.param_groups[0]
        with torch.enable_grad():
            gram, rhs, loss = self.normal_equations()
        start = self._vector()
        diagonal = gram.diagonal()
        tiny = torch.finfo(gram.dtype).tiny
        scale = diagonal.clamp(min=max(float(diagonal.max()) * 1e-12, tiny) if diagonal.numel() else tiny)
        accepted = False
        for _ in range(group["max_tries"]):
            mu = group["damping"]
            factor, info = torch.linalg.cholesky_ex(gram + torch.diag(mu * scale))
            if int(info) == 0:
                h = torch.cholesky_solve(-rhs[:, None], factor)[:, 0]
                self._assign(start + h)
                new = self._sum_squares()
                # decrease of the quadratic model: h^T (mu D h - g), twice that of 1/2 |r|^2
                predicted = float(h @ (mu * scale * h - rhs))
                if math.isfinite(new) and new < loss:
                    rho = (loss - new) / max(predicted, tiny)
                    group["damping"] = mu * max(SHRINK, 1.0 - (2.0 * rho - 1.0) ** 3)
                    group["growth"] = 2.0
                    accepted = True
                    break
            if mu >= MAX_DAMPING:
                break
            group["damping"] = min(mu * group["growth"], MAX_DAMPING)
            group["growth"] *= 2.0
        if not accepted:  # no decrease at any damping: converged to round-off; start afresh next step
            self._assign(start)  # (after a grid update, say)
            group["damping"], group["growth"] = self.defaults["damping"], 2.0
        if closure is None:
            return None
        with torch.enable_grad():
            value = closure()
        self.accepted_loss = float(value)
        return value
