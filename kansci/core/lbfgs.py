"""L-BFGS with a strong-Wolfe line search that keeps learning at tiny losses.

``torch.optim.LBFGS`` skips a curvature pair when ``y.s <= 1e-10``. Fitting a
KAN to 1e-5 RMSE makes every pair that small, so torch's optimizer silently
degrades to gradient descent and stalls. Here the threshold is a parameter
(``tolerance_ys``, default 1e-32), which is what high-precision fits need.
Its line search also stops zooming once the bracket times the direction's
norm falls below 1e-9; a fit near RMSE 1e-7 needs finer steps than that, so
``tolerance_change`` is passed down to the line search too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.optim.lbfgs import _strong_wolfe

__all__ = ["LBFGS"]


class LBFGS(torch.optim.Optimizer):
    """Limited-memory BFGS over all parameters as one flat vector.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        Initial step of each line search.
    max_iter : int
        Iterations per :meth:`step`.
    history_size : int
        Curvature pairs kept.
    tolerance_grad, tolerance_change, tolerance_ys : float
        Stop when the largest gradient entry, the change of loss or step, fall
        below these; skip curvature pairs with ``y.s`` at or below ``tolerance_ys``.
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        max_iter: int = 20,
        history_size: int = 10,
        tolerance_grad: float = 1e-32,
        tolerance_change: float = 1e-32,
        tolerance_ys: float = 1e-32,
    ) -> None:
        defaults = dict(
            lr=lr, max_iter=max_iter, history_size=history_size, tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change, tolerance_ys=tolerance_ys,
        )  # fmt: skip
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS supports a single parameter group")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> Tensor:
        return torch.cat([
            (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self._params
        ])  # fmt: skip

    def _flat_params(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    def _set_params(self, flat: Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p))
            offset += n

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; ``closure`` zeroes grads, evaluates and backpropagates."""
        group = self.param_groups[0]
        lr, history = group["lr"], group["history_size"]
        tol_grad, tol_change, tol_ys = group["tolerance_grad"], group["tolerance_change"], group["tolerance_ys"]
        closure = torch.enable_grad()(closure)
        state = self.state[self._params[0]]
        state.setdefault("n_iter", 0)
        state.setdefault("s", [])
        state.setdefault("y", [])
        state.setdefault("rho", [])

        first_loss = loss = float(closure())
        grad = self._flat_grad()
        if grad.abs().max() <= tol_grad:
            return torch.tensor(first_loss)
        direction, step = state.get("direction"), state.get("step")
        prev_grad, prev_loss = state.get("prev_grad"), state.get("prev_loss")
        s_hist, y_hist, h_diag = state["s"], state["y"], state.get("h_diag", 1.0)
        rho = state["rho"]
        if len(rho) != len(s_hist):  # a state saved before 1/(y.s) was kept
            rho[:] = [1.0 / float(y.dot(s)) for s, y in zip(s_hist, y_hist)]

        def evaluate(x: Tensor, t: float, d: Tensor) -> tuple[float, Tensor]:
            # the parameters stay at x + t d: the next trial, or the accepted step, sets them again
            self._set_params(x + t * d)
            value = float(closure())
            return value, self._flat_grad()

        for _ in range(group["max_iter"]):
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                direction, s_hist[:], y_hist[:], rho[:], h_diag = -grad, [], [], [], 1.0
            else:
                y, s = grad - prev_grad, direction * step
                ys = float(y.dot(s))
                if ys > tol_ys:
                    if len(s_hist) == history:
                        s_hist.pop(0)
                        y_hist.pop(0)
                        rho.pop(0)
                    s_hist.append(s)
                    y_hist.append(y)
                    rho.append(1.0 / ys)
                    h_diag = ys / float(y.dot(y))
                direction = self._two_loop(grad, s_hist, y_hist, rho, h_diag)
            prev_grad, prev_loss = grad.clone(), loss
            step = min(1.0, 1.0 / float(grad.abs().sum())) * lr if state["n_iter"] == 1 else lr
            slope = float(grad.dot(direction))
            if slope > -tol_change:
                break
            x0 = self._flat_params()
            loss, grad, step, _ = _strong_wolfe(
                evaluate, x0, step, direction, loss, grad, slope, tolerance_change=tol_change
            )
            self._set_params(x0 + step * direction)
            if grad.abs().max() <= tol_grad or float((direction * step).abs().max()) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break
        state.update(direction=direction, step=step, prev_grad=prev_grad, prev_loss=prev_loss, h_diag=h_diag)
        return torch.tensor(first_loss)

    @staticmethod
    def _two_loop(grad: Tensor, s_hist: list[Tensor], y_hist: list[Tensor], rho: list[float], h_diag: float) -> Tensor:
        """Apply the inverse-Hessian approximation to -grad (``rho`` holds 1 / (y.s) per pair)."""
        q = -grad
        alpha = []
        for s, y, r in zip(reversed(s_hist), reversed(y_hist), reversed(rho)):
            a = r * float(s.dot(q))
            alpha.append(a)
            q = q - a * y
        q = q * h_diag
        for s, y, r, a in zip(s_hist, y_hist, rho, reversed(alpha)):
            b = r * float(y.dot(q))
            q = q + (a - b) * s
        return q
