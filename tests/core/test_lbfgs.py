"""The LBFGS optimizer's pieces: the Gram-matrix two-loop, the cubic step, the strong-Wolfe search."""

import pytest
import torch

from kansci.core.lbfgs import LBFGS, _cubic_minimum, _Pairs, _strong_wolfe


def _two_loop(grad, s_hist, y_hist, h_diag):
    """The textbook recursion (Nocedal & Wright, Algorithm 7.4) for -H grad."""
    q = -grad.clone()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist)):
        a = float(s.dot(q)) / float(y.dot(s))
        alphas.append(a)
        q -= a * y
    q *= h_diag
    for s, y, a in zip(s_hist, y_hist, reversed(alphas)):
        b = float(y.dot(q)) / float(y.dot(s))
        q += (a - b) * s
    return q


@pytest.mark.parametrize("m", [0, 1, 4, 10])
def test_gram_two_loop_equals_the_textbook_recursion(m):
    gen = torch.Generator().manual_seed(m)
    n = 37
    s_hist = [torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(m)]
    y_hist = [s + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64) for s in s_hist]
    grad = torch.randn(n, generator=gen, dtype=torch.float64)
    got = _Pairs(list(s_hist), list(y_hist)).direction(grad, 0.7)
    expected = _two_loop(grad, s_hist, y_hist, 0.7)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_pairs_keep_the_newest_history_and_refresh_their_gram_matrix():
    gen = torch.Generator().manual_seed(0)
    vecs = [torch.randn(5, generator=gen, dtype=torch.float64) for _ in range(8)]
    pairs = _Pairs([], [])
    grad = torch.ones(5, dtype=torch.float64)
    for i in range(4):
        pairs.add(vecs[2 * i], vecs[2 * i] + 0.1 * vecs[2 * i + 1], keep=2)
        got = pairs.direction(grad, 1.3)
    assert len(pairs.s) == 2 and torch.equal(pairs.s[0], vecs[4])
    assert torch.allclose(got, _two_loop(grad, pairs.s, pairs.y, 1.3), rtol=1e-12)


def test_cubic_minimum_is_exact_on_a_cubic_and_falls_back_to_the_middle():
    f = lambda t: (t - 0.3) ** 2 * (t + 2.0)  # noqa: E731  local minimum at 0.3
    df = lambda t: 2 * (t - 0.3) * (t + 2.0) + (t - 0.3) ** 2  # noqa: E731
    assert _cubic_minimum(0.0, f(0.0), df(0.0), 1.0, f(1.0), df(1.0), 0.0, 1.0) == pytest.approx(0.3, abs=1e-12)
    assert _cubic_minimum(1.0, f(1.0), df(1.0), 0.0, f(0.0), df(0.0), 0.0, 1.0) == pytest.approx(0.3, abs=1e-12)
    assert _cubic_minimum(0.0, 25.0, -10.0, 1.0, 16.0, -8.0, 0.0, 2.0) == 2.0  # (t - 5)^2: clipped to hi
    assert _cubic_minimum(0.5, 1.0, -1.0, 0.5, 1.0, -1.0, 0.0, 1.0) == 0.5  # coinciding points: the middle


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def test_line_search_returns_a_strong_wolfe_step():
    x0 = torch.tensor([-1.2, 1.0], dtype=torch.float64)

    def value_and_grad(x):
        x = x.clone().requires_grad_()
        f = _rosenbrock(x)
        (g,) = torch.autograd.grad(f, x)
        return float(f.detach()), g

    f0, g0 = value_and_grad(x0)
    d = -g0
    slope = float(g0.dot(d))

    def evaluate(t):
        f, g = value_and_grad(x0 + t * d)
        return f, g, float(g.dot(d))

    f, g, t = _strong_wolfe(evaluate, 1.0, f0, g0, slope, float(d.abs().max()), 1e-12)
    assert f <= f0 + 1e-4 * t * slope  # sufficient decrease
    assert abs(float(g.dot(d))) <= 0.9 * abs(slope)  # curvature
    f_at, g_at = value_and_grad(x0 + t * d)
    assert f == f_at and torch.equal(g, g_at)


def test_lbfgs_minimizes_rosenbrock():
    x = torch.nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
    optimizer = LBFGS([x], max_iter=20)

    def closure():
        x.grad = None
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    assert torch.allclose(x.detach(), torch.ones(2, dtype=torch.float64), atol=1e-8)


def test_a_parameter_whose_data_is_replaced_between_steps_is_still_optimized():
    # the optimizer keeps the parameters as views of one flat tensor; new data (a load, a manual edit) must be seen
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0], dtype=torch.float64))
    v = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = LBFGS([w, v], max_iter=20)

    def closure():
        opt.zero_grad()
        loss = (w - 1).square().sum() + 2 * (v + 2).square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(w.detach(), torch.ones(2, dtype=torch.float64))
    w.data = torch.tensor([5.0, 5.0], dtype=torch.float64)
    v.data = torch.tensor([7.0], dtype=torch.float64)
    opt.step(closure)
    torch.testing.assert_close(w.detach(), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(v.detach(), torch.full((1,), -2.0, dtype=torch.float64))
