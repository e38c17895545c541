"""L-BFGS with a strong-Wolfe line search that keeps learning at tiny losses.

``torch.optim.LBFGS`` skips a curvature pair when ``y.s <= 1e-10``. Fitting a
KAN to 1e-5 RMSE makes every pair that small, so torch's optimizer silently
degrades to gradient descent and stalls. Here the threshold is a parameter
(``tolerance_ys``, default 1e-32), which is what high-precision fits need.
Its line search also stops zooming once the bracket times the direction's
norm falls below 1e-9; a fit near RMSE 1e-7 needs finer steps than that, so
``tolerance_change`` reaches the line search too.

A small model's full-batch fit evaluates in about a millisecond, so the
optimizer's own bookkeeping matters. The two-loop recursion is run on the
Gram matrix of the stored pairs (one matrix-vector product in, one out, the
recurrences on Python floats), and the line search keeps its scalars as
Python floats; both are the textbook algorithms, re-associated.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["LBFGS"]


class LBFGS(torch.optim.Optimizer):
    """Limited-memory BFGS over all parameters as one flat vector.

    At each :meth:`step` the parameters (when they share a dtype and device)
    are made views of one flat tensor, values unchanged, so that reading and
    setting all of them is one operation.

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
        self.accepted_loss: float | None = None
        """The closure's value at the parameters the last :meth:`step` left (the accepted point). The
        closure's last evaluation may be a rejected line-search trial instead."""
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS supports a single parameter group")
        params = self.param_groups[0]["params"]
        self._params = [p for p in params if p.numel()] or params  # empty ones (no symbolic edges) never change
        self._flat: Tensor | None = None
        self._flat_ptrs: list[int] = []

    def _flatten(self) -> Tensor | None:
        """One flat tensor whose slices are the parameters' data, or None (mixed dtypes or devices).

        The parameters become views of it (their values unchanged), so reading
        or setting them all is one operation. Made again when a parameter's
        data was replaced since.
        """
        params = self._params
        if self._flat is not None and [p.data_ptr() for p in params] == self._flat_ptrs:
            return self._flat
        if len({(p.dtype, p.device) for p in params}) != 1 or any(p.is_sparse for p in params):
            self._flat = None
            return None
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        for p, part in zip(params, flat.split([p.numel() for p in params])):
            p.data = part.view_as(p)
        self._flat, self._flat_ptrs = flat, [p.data_ptr() for p in params]
        return flat

    def _flat_grad(self) -> Tensor:
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self._params])

    def _flat_params(self) -> Tensor:
        if self._flat is not None:
            return self._flat.clone()
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    def _set_params(self, x: Tensor, direction: Tensor, t: float) -> None:
        """Parameters = x + t * direction."""
        if self._flat is not None:
            torch.add(x, direction, alpha=t, out=self._flat)
            return
        parts = torch.add(x, direction, alpha=t).split([p.numel() for p in self._params])
        torch._foreach_copy_(self._params, [part.view_as(p) for part, p in zip(parts, self._params)])

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; ``closure`` zeroes grads, evaluates and backpropagates."""
        group = self.param_groups[0]
        lr, history = group["lr"], group["history_size"]
        tol_grad, tol_change, tol_ys = group["tolerance_grad"], group["tolerance_change"], group["tolerance_ys"]
        closure = torch.enable_grad()(closure)
        self._flatten()
        state = self.state[self.param_groups[0]["params"][0]]
        state.setdefault("n_iter", 0)
        s_hist, y_hist = state.setdefault("s", []), state.setdefault("y", [])
        state.pop("rho", None)  # kept by earlier versions; the Gram matrix below holds it

        first_loss = loss = self.accepted_loss = float(closure())
        grad = self._flat_grad()
        if float(grad.abs().max()) <= tol_grad:
            return torch.tensor(first_loss)
        direction, step = state.get("direction"), state.get("step")
        prev_grad, prev_loss, h_diag = state.get("prev_grad"), state.get("prev_loss"), state.get("h_diag", 1.0)
        pairs = _Pairs(s_hist, y_hist)

        last_t = [math.nan]  # the step the parameters are at

        def evaluate(x: Tensor, t: float, d: Tensor) -> tuple[float, Tensor, float]:
            # the parameters stay at x + t d: the next trial, or the accepted step, sets them again
            self._set_params(x, d, t)
            last_t[0] = t
            value = float(closure())
            g = self._flat_grad()
            return value, g, float(g.dot(d))

        for _ in range(group["max_iter"]):
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                direction, h_diag = -grad, 1.0
                pairs.clear()
            else:
                y, s = grad - prev_grad, direction * step
                ys = float(y.dot(s))
                if ys > tol_ys:
                    pairs.add(s, y, history)
                    h_diag = ys / float(y.dot(y))
                direction = pairs.direction(grad, h_diag)
            prev_grad, prev_loss = grad, loss
            step = min(1.0, 1.0 / float(grad.abs().sum())) * lr if state["n_iter"] == 1 else lr
            slope = float(grad.dot(direction))
            if slope > -tol_change:
                break
            x0 = self._flat_params()
            d_norm = float(direction.abs().max())
            loss, grad, step = _strong_wolfe(
                lambda t, x0=x0, d=direction: evaluate(x0, t, d), step, loss, grad, slope, d_norm, tol_change
            )
            if step != last_t[0]:  # the line search ended on another trial than the accepted one
                self._set_params(x0, direction, step)
            self.accepted_loss = loss
            if float(grad.abs().max()) <= tol_grad or d_norm * abs(step) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break
        state.update(direction=direction, step=step, prev_grad=prev_grad, prev_loss=prev_loss, h_diag=h_diag)
        return torch.tensor(first_loss)


class _Pairs:
    """The stored curvature pairs (s_i, y_i) and their Gram matrix, for the two-loop recursion.

    The lists are the optimizer state itself (saved and restored with it);
    the stacked pairs and their inner products are rebuilt when they change.
    """

    def __init__(self, s: list[Tensor], y: list[Tensor]) -> None:
        self.s, self.y = s, y
        self._stack: Tensor | None = None
        self._gram: list[list[float]] = []

    def clear(self) -> None:
        self.s.clear()
        self.y.clear()
        self._stack = None

    def add(self, s: Tensor, y: Tensor, keep: int) -> None:
        if len(self.s) == keep:
            del self.s[0], self.y[0]
        self.s.append(s)
        self.y.append(y)
        self._stack = None

    def _stacked(self) -> Tensor:
        if self._stack is None:
            self._stack = torch.stack(self.s + self.y)
            self._gram = (self._stack @ self._stack.t()).tolist()
        return self._stack

    def direction(self, grad: Tensor, h_diag: float) -> Tensor:
        """-H grad by the two-loop recursion, written in the pairs' inner products.

        With q = -grad, the first loop takes a_i = rho_i s_i.q_i, q_i = q - sum_{j>i} a_j y_j;
        the second b_i = rho_i y_i.r_i with r_i = h q_0 + sum_{j<i} (a_j - b_j) s_j. Every
        inner product is an entry of the Gram matrix or of [S; Y] grad, so the result is
        -h grad - h sum a_j y_j + sum (a_j - b_j) s_j, one product with [S; Y]^T.
        """
        m = len(self.s)
        if m == 0:
            return grad * -h_diag
        stack = self._stacked()
        gram = self._gram
        proj = (stack @ grad).tolist()  # s_i.grad, then y_i.grad
        a = [0.0] * m
        for i in range(m - 1, -1, -1):
            sy = gram[i]  # s_i . (s_0 .. s_m-1, y_0 .. y_m-1)
            acc = -proj[i]
            for j in range(i + 1, m):
                acc -= a[j] * sy[m + j]
            a[i] = acc / sy[m + i]
        coef_s = [0.0] * m
        for i in range(m):
            yy = gram[m + i]  # y_i . (s_0 .. s_m-1, y_0 .. y_m-1)
            yq = -proj[m + i]
            for j in range(m):
                yq -= a[j] * yy[m + j]
            yr = h_diag * yq
            for j in range(i):
                yr += coef_s[j] * yy[j]
            coef_s[i] = a[i] - yr / gram[i][m + i]
        coef = torch.tensor(coef_s + [-h_diag * v for v in a], dtype=stack.dtype, device=stack.device)
        return torch.addmv(grad, stack.t(), coef, beta=-h_diag)


def _cubic_minimum(t1: float, f1: float, g1: float, t2: float, f2: float, g2: float, lo: float, hi: float) -> float:
    """Minimiser of the cubic with values f and slopes g at t1 and t2, kept within [lo, hi].

    Falls back to the middle of [lo, hi] when the cubic has no minimum there
    (or the points coincide).
    """
    try:
        d1 = g1 + g2 - 3 * (f1 - f2) / (t1 - t2)
        disc = d1 * d1 - g1 * g2
        if not disc >= 0:
            return (lo + hi) / 2
        d2 = math.sqrt(disc)
        if t1 <= t2:
            t = t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            t = t1 - (t1 - t2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    except (ZeroDivisionError, OverflowError):
        return (lo + hi) / 2
    return min(max(t, lo), hi) if t == t else (lo + hi) / 2


def _strong_wolfe(
    evaluate: Callable[[float], tuple[float, Tensor, float]],
    t: float,
    f: float,
    g: Tensor,
    slope: float,
    d_norm: float,
    tolerance_change: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_tries: int = 25,
) -> tuple[float, Tensor, float]:
    """A step t along d meeting the strong Wolfe conditions (bracketing, then zooming by cubic steps).

    ``evaluate(t)`` returns the loss, its flat gradient and the slope along d at
    the trial point. Returns the loss, gradient and step of the best point found.
    """

    def sufficient(t_: float, f_: float) -> bool:
        return f_ <= f + c1 * t_ * slope

    def flat_enough(g_slope: float) -> bool:
        return abs(g_slope) <= -c2 * slope

    start = prev = (0.0, f, g, slope)
    new = (t, *evaluate(t))
    tries = 0  # evaluations after the first
    bracket = None
    while tries < max_tries:  # bracketing: grow the step until a minimum lies between prev and new
        t_new, f_new, g_new, s_new = new
        if not sufficient(t_new, f_new) or (tries > 1 and f_new >= prev[1]):
            bracket = [prev, new]
            break
        if flat_enough(s_new):
            return f_new, g_new, t_new
        if s_new >= 0:
            bracket = [prev, new]
            break
        t_next = _cubic_minimum(*prev[:2], prev[3], t_new, f_new, s_new, t_new + 0.01 * (t_new - prev[0]), 10 * t_new)
        prev, new = new, (t_next, *evaluate(t_next))
        tries += 1
    if bracket is None:  # out of tries while still growing: the better of the start and the last trial
        bracket = [start, new]
    low = 0 if bracket[0][1] <= bracket[1][1] else 1
    stuck = False
    while tries < max_tries:  # zoom: shrink the bracket around the strong-Wolfe point
        (ta, fa, _, sa), (tb, fb, _, sb) = bracket
        lo, hi = min(ta, tb), max(ta, tb)
        if (hi - lo) * d_norm < tolerance_change:
            break
        t_try = _cubic_minimum(ta, fa, sa, tb, fb, sb, lo, hi)
        margin = 0.1 * (hi - lo)
        if min(hi - t_try, t_try - lo) < margin:  # too close to an end: step back from it after one warning
            if stuck or t_try >= hi or t_try <= lo:
                t_try = hi - margin if abs(t_try - hi) < abs(t_try - lo) else lo + margin
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        trial = (t_try, *evaluate(t_try))
        tries += 1
        high = 1 - low
        if not sufficient(t_try, trial[1]) or trial[1] >= bracket[low][1]:
            bracket[high] = trial
            low = 0 if bracket[0][1] <= bracket[1][1] else 1
            continue
        if flat_enough(trial[3]):
            bracket[low] = trial
            break
        if trial[3] * (bracket[high][0] - bracket[low][0]) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = trial
    t_best, f_best, g_best, _ = bracket[low]
    return f_best, g_best, t_best
