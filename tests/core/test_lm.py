"""Levenberg-Marquardt (fit(opt="lm")): exact on linear problems, converges on nonlinear ones."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from kansci import KAN, KANRegressor, fit
from kansci.core.jacobian import has_closed_form_jacobian, output_jacobian
from kansci.core.lm import MAX_PARAMETERS, LevenbergMarquardt
from kansci.datasets import Dataset


def _line_data(n_out=1):
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 2 - 1
    cols = [torch.sin(2 * x[:, 0]) * x[:, 1] + 0.3 * o for o in range(n_out)]
    y = torch.stack(cols, dim=1)
    return Dataset(x, y, x[:50], y[:50])


class _Features(nn.Module):
    """Linear in its parameters: one undamped Gauss-Newton step is the least-squares solution."""

    def __init__(self, n_out):
        super().__init__()
        self.linear = nn.Linear(6, n_out, dtype=torch.float64)

    def forward(self, x):
        return self.linear(torch.cat([x, x.square(), torch.sin(3 * x)], dim=1))


@pytest.mark.parametrize("n_out", [1, 2])
def test_linear_model_reaches_the_least_squares_solution(n_out):
    data = _line_data(n_out)
    model = _Features(n_out)
    history = fit(model, data, steps=10, opt="lm", progress=False)
    x, y = data.train_input, data.train_label
    with torch.no_grad():
        design = torch.cat([x, x.square(), torch.sin(3 * x), torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
        best = torch.linalg.lstsq(design, y).solution
        fitted = torch.cat([model.linear.weight.T, model.linear.bias[None]], dim=0)
    torch.testing.assert_close(fitted, best, rtol=0, atol=1e-9)
    best_rmse = float((design @ best - y).square().mean().sqrt())
    assert history.train_rmse[-1] == pytest.approx(best_rmse, rel=1e-12)


def test_kan_scale_spline_stays_and_a_one_layer_kan_nears_its_least_squares_fit():
    # a one-layer KAN with scale_spline fixed is linear in (coef, scale_base), but SiLU lies nearly in
    # the span of the splines: that direction needs the damping near zero, so it converges over steps
    # (measured: train RMSE 0.429049 at step 0, 0.428641 = the least-squares value from step 9 on)
    data = _line_data()
    model = KAN([2, 1], grid=6, seed=0, dtype=torch.float64)
    before = model.layers[0].scale_spline.clone()
    history = fit(model, data, steps=20, opt="lm", update_grid=False, progress=False)
    layer, x, y = model.layers[0], data.train_input, data.train_label
    with torch.no_grad():
        spline = layer.basis(x) * layer.scale_spline[:, None, 0]
        design = torch.cat([spline, F.silu(x)[..., None]], dim=2).flatten(1)
        best = design @ torch.linalg.lstsq(design, y).solution
    best_rmse = float((best - y).square().mean().sqrt())
    assert history.train_rmse[0] > best_rmse * (1 + 5e-4)
    assert history.train_rmse[-1] == pytest.approx(best_rmse, rel=1e-9)
    assert torch.equal(layer.scale_spline, before)


class _Exponential(nn.Module):
    """a * exp(b * x) + c: nonlinear in b."""

    def __init__(self):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))

    def forward(self, x):
        a, b, c = self.theta
        return a * torch.exp(b * x) + c


def test_recovers_the_parameters_of_a_nonlinear_model():
    x = torch.linspace(-2, 2, 60, dtype=torch.float64)[:, None]
    y = 2.0 * torch.exp(-1.3 * x) + 0.5
    model = _Exponential()
    history = fit(model, Dataset(x, y, x, y), steps=40, opt="lm", progress=False)
    truth = torch.tensor([2.0, -1.3, 0.5], dtype=torch.float64)
    torch.testing.assert_close(model.theta.detach(), truth, rtol=0, atol=1e-10)
    assert history.train_rmse[-1] < 1e-11
    assert all(b <= a for a, b in zip(history.loss, history.loss[1:]))  # every accepted step decreases the loss


class _Log(nn.Module):
    """log(a) * x: a trial step to a <= 0 gives NaN, which must be rejected."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(100.0, dtype=torch.float64))

    def forward(self, x):
        return torch.log(self.a) * x


def test_non_finite_trial_steps_are_rejected():
    x = torch.linspace(0.1, 1, 20, dtype=torch.float64)[:, None]
    y = math.log(2.0) * x
    model = _Log()
    optimizer = LevenbergMarquardt([model.a], lambda rows: model(x[rows]) - y[rows], len(x), damping=1e-9)
    with torch.no_grad():  # the undamped Gauss-Newton step from a = 100 lands at a < 0
        r = model(x) - y
        grad = (x / model.a).reshape(-1)
        assert float(model.a - (grad @ r.reshape(-1)) / (grad @ grad)) < 0
    for _ in range(60):
        optimizer.step()
        assert math.isfinite(float(model.a.detach()))
    assert float(model.a.detach()) == pytest.approx(2.0, rel=1e-10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss_fn": lambda p, y: (p - y).abs().mean()}, "mean squared error"),
        ({"lamb": 1e-3}, "mean squared error"),
        ({"batch": 16}, "batch=-1"),
    ],
)
def test_settings_lm_cannot_fit_raise(kwargs, message):
    data = _line_data()
    with pytest.raises(ValueError, match=message):
        fit(KAN([2, 1], seed=0, dtype=torch.float64), data, steps=1, opt="lm", progress=False, **kwargs)


def test_loss_closures_and_large_models_raise():
    model = KAN([2, 1], seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="Dataset"):
        fit(model, lambda m: m(torch.zeros(3, 2, dtype=torch.float64)).square().mean(), steps=1, opt="lm")
    big = nn.Linear(MAX_PARAMETERS, 1)
    with pytest.raises(ValueError, match="opt='lbfgs'"):
        LevenbergMarquardt(big.parameters(), lambda rows: big.weight[:, rows], 1)


def test_checkpoint_resume_keeps_the_damping(tmp_path):
    data = _line_data()
    reference = KAN([2, 3, 1], grid=4, seed=1, dtype=torch.float64)
    run = {"steps": 6, "opt": "lm", "progress": False, "update_grid": False}
    ref_hist = fit(reference, data, **run)

    class Interrupt(Exception):
        pass

    def crash(step, model, history):
        if step == 4:
            raise Interrupt

    path = tmp_path / "lm.ckpt"
    model = KAN([2, 3, 1], grid=4, seed=1, dtype=torch.float64)
    with pytest.raises(Interrupt):
        fit(model, data, **run, checkpoint=path, checkpoint_every=3, callbacks=[crash])
    fresh = KAN([2, 3, 1], grid=4, seed=1, dtype=torch.float64)
    hist = fit(fresh, data, **run, checkpoint=path, resume=True)
    assert "resumed at step 3" in hist.events
    torch.testing.assert_close(hist.loss, ref_hist.loss, rtol=1e-10, atol=0)
    torch.testing.assert_close(fresh(data.test_input), reference(data.test_input), rtol=1e-10, atol=1e-13)


def test_estimator_accepts_lm():
    gen = np.random.default_rng(0)
    x = gen.uniform(-1, 1, (200, 2))
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2
    est = KANRegressor(hidden=(3,), optimizer="lm", steps=15).fit(x, y)
    assert est.score(x, y) > 0.9999


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_closed_form_jacobian_equals_autograd(mode):
    gen = torch.Generator().manual_seed(0)
    model = KAN([3, 4, 2], grid=7, seed=0, dtype=torch.float64, basis_mode=mode)
    with torch.no_grad():
        for layer in model.layers:
            layer.scale_spline.uniform_(0.5, 1.5, generator=gen)
            layer.coef.normal_(generator=gen)
        model.layers[0].mask[1, 2] = 0.0  # a pruned edge
    x = torch.rand(40, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2  # some points off the grid
    out, blocks = output_jacobian(model, x)
    torch.testing.assert_close(out, model(x).detach(), rtol=0, atol=1e-14)
    params = [p for layer in model.layers for p in (layer.coef, layer.scale_base)]
    y = model(x)
    eye = torch.eye(y.numel(), dtype=y.dtype).view(-1, *y.shape)
    grads = torch.autograd.grad(y, params, eye, is_grads_batched=True)
    for p, g in zip(params, grads):
        torch.testing.assert_close(blocks[p], g.view(*y.shape, *p.shape), rtol=0, atol=1e-13)
    assert float(blocks[model.layers[0].coef][:, :, 1, :, 2].abs().max()) == 0.0  # nothing through the pruned edge


def test_symbolic_edges_use_the_batched_backward_jacobian():
    # data from the same KAN with other affine constants on its sin edge; only those are trainable: lm
    # refits them (the closed form does not cover them: batched backward passes give the Jacobian) and
    # converges quadratically (measured: train RMSE 1.7e-2, 7.6e-4, 2.9e-6, 9.9e-11, 9e-17)
    x = _line_data().train_input
    teacher = KAN([2, 2, 1], grid=5, seed=0, dtype=torch.float64)
    teacher.layers[0].symbolic.set(0, 1, "sin", (3.0, 0.2, 0.4, 0.1))
    model = KAN([2, 2, 1], grid=5, seed=0, dtype=torch.float64)
    model.layers[0].symbolic.set(0, 1, "sin", (2.0, 0.1, 0.5, 0.2))
    assert not has_closed_form_jacobian(model)
    with pytest.raises(ValueError, match="symbolic"):
        output_jacobian(model, x)
    y = teacher(x).detach()
    for p in model.parameters():
        p.requires_grad_(False)
    affine = model.layers[0].symbolic.affine.requires_grad_(True)
    history = fit(model, Dataset(x, y, x, y), steps=8, opt="lm", update_grid=False, progress=False)
    assert history.train_rmse[0] > 1e-3 and history.train_rmse[-1] < 1e-13
    torch.testing.assert_close(affine.detach(), torch.tensor([[3.0, 0.2, 0.4, 0.1]], dtype=torch.float64))


def test_a_missing_jacobian_block_is_named():
    model = KAN([2, 1], seed=0, dtype=torch.float64)
    x = torch.zeros(3, 2, dtype=torch.float64)
    optimizer = LevenbergMarquardt(
        model.parameters(), lambda rows: model(x[rows]), 3, jacobian=lambda rows: output_jacobian(model, x[rows])
    )
    with pytest.raises(ValueError, match=r"no block for the parameters of shapes \[\(2, 1\)\]"):
        optimizer.step()


def test_at_convergence_steps_change_nothing_and_the_damping_stays_bounded():
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)[:, None]
    y = 2.0 * torch.exp(-1.3 * x) + 0.5
    model = _Exponential()
    optimizer = LevenbergMarquardt(model.parameters(), lambda rows: model(x[rows]) - y[rows], len(x))
    for _ in range(60):  # converges in about 15 steps; the rest find no decrease
        optimizer.step()
    theta = model.theta.detach().clone()
    for _ in range(5):
        optimizer.step()
    assert torch.equal(model.theta.detach(), theta)
    assert optimizer.param_groups[0]["damping"] == 1e-3  # (no decrease at any damping: it starts afresh)
    assert optimizer.param_groups[0]["growth"] == 2.0
