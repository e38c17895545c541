"""fit(): accuracy on the paper's example, sparsity, NaN recovery, checkpoints."""

import math

import pytest
import torch

import kansci
from kansci import KAN, fit
from kansci.core.prune import prune
from kansci.core.regularize import sparsity_penalty
from kansci.datasets import Dataset, from_function


def _paper_data(n=1000, n_test=None):
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2)  # noqa: E731
    return from_function(f, 2, n_train=n, n_test=n_test or n, seed=0, dtype=torch.float64)


def test_sparsity_penalty_by_hand():
    acts = torch.tensor([[[1.0, -3.0]], [[-1.0, 1.0]]], dtype=torch.float64)  # batch 2, in 1, out 2
    scale = torch.tensor([1.0, 2.0], dtype=torch.float64)
    p = scale / (3.0 + 1e-4)
    entropy = -(p * torch.log(p + 1e-4)).sum()
    expected = 0.5 * 3.0 + 0.25 * entropy
    got = sparsity_penalty([acts], lamb_l1=0.5, lamb_entropy=0.25)
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)


def _grid_extension_errors(data: Dataset, seed: int) -> tuple[float, float]:
    """Test RMSE at G = 5 (3 -> 5, 200 LBFGS steps per grid) and at G = 20 after 200 more steps."""
    model = KAN([2, 5, 1], grid=3, seed=seed, dtype=torch.float64, grid_eps=1.0)
    fit(model, data, steps=200, progress=False)
    model = model.refine(5, data.train_input)
    history = fit(model, data, steps=200, progress=False)
    assert history.status == "completed"
    assert history.events[0] == "grid updated at step 0"
    fine = model.refine(20, data.train_input)
    fit(fine, data, steps=200, progress=False)
    return history.test_rmse[-1], kansci.rmse(fine, data.test_input, data.test_label)


def test_fit_accuracy_on_paper_function_and_grid_extension_improves_it():
    # the paper's grid schedule on uniform grids (grid_eps=1), 1000 points, float64, 200 LBFGS steps per grid.
    # The fit is chaotic in round-off. Test RMSE at G=5, G=20 (ratio), seed 0: 7.4e-4, 8.4e-5 (8.9) with
    # OMP_NUM_THREADS=1; 6.1e-4, 4.1e-5 (14.7) with MKL_CBWR=COMPATIBLE as well; 6.3e-4, 7.8e-5 (8.1) in an
    # earlier version: 1.2x inside the bounds at worst. Seeds 1, 2 with one thread: 4.4e-4, 3.2e-5 (13.9) and
    # 6.7e-4, 5.0e-5 (13.5). So the bounds must hold for one seed of a small fixed set, which costs one run
    # where seed 0 passes.
    # (3->5->10->20: 3.1e-5. With the default sample-adaptive grids (grid_eps=0.02): G=5 8.9e-4, G=20 6.2e-5
    # after 3->5->10->20; pykan 0.2.8 with G=5 from scratch: 9.8e-4, then G=20 1.1e-4.)
    data = _paper_data()
    errors = {}
    for seed in (0, 1, 2):
        coarse, extended = errors[seed] = _grid_extension_errors(data, seed)
        if coarse < 1e-3 and extended < 1e-4 and extended < coarse / 5:
            return
    pytest.fail(f"no seed reached G=5 < 1e-3 and G=20 < 1e-4, 5x lower (test RMSE by seed: {errors})")


def _lm_grid_extension_errors(data: Dataset, seed: int) -> dict[int, float]:
    """Test RMSE per grid of 3 -> 5 -> 10 -> 20, 30 lm steps each, grid updates on the first grid only."""
    model = KAN([2, 5, 1], grid=3, seed=seed, dtype=torch.float64)
    test = {}
    for i, grid in enumerate((3, 5, 10, 20)):
        if i:
            model = model.refine(grid, data.train_input)
        history = fit(model, data, steps=30, opt="lm", update_grid=i == 0, progress=False)
        test[grid] = history.test_rmse[-1]
    return test


def test_grid_extension_to_20_reaches_1e5_with_levenberg_marquardt():
    # the paper's schedule 3 -> 5 -> 10 -> 20 with 30 Levenberg-Marquardt steps per grid (grid updates on
    # the first grid only), 10,000 training points. Test RMSE at G = 20, seeds 0-3: 3.7e-6, 4.5e-6, 4.2e-6,
    # 1.4e-5 (a poorer basin from G = 3 on; seed 0 with MKL_CBWR=COMPATIBLE: 1.5e-4 at G = 5, 3.7e-6 at
    # G = 20), so one seed of a fixed set must reach the bounds; 200 LBFGS steps
    # per grid: 1.3-2.6e-5 (benchmarks/bench_precision.py). With 3000 points 5 of 6 seeds reach < 1e-5.
    data = _paper_data(10_000, n_test=1000)
    errors = {}
    for seed in (0, 1, 2):
        test = errors[seed] = _lm_grid_extension_errors(data, seed)
        if test[5] < 1e-3 and test[20] < 1e-5:
            return
    pytest.fail(f"no seed reached G=5 < 1e-3 and G=20 < 1e-5 (test RMSE by seed and grid: {errors})")


def test_lm_goes_on_where_lbfgs_slows_after_grid_extension():
    # a short version of the recipe above: after refining to G = 20, ten lm steps lower the train RMSE
    # of 30 LBFGS steps by more than 5x for one seed of a small fixed set. Measured factor, seed 0: 27.7
    # (default threads), 29.6 (OMP_NUM_THREADS=1), 10.1 (MKL_CBWR=COMPATIBLE); seed 1: 6.3, 5.7 (the last
    # two settings); seed 2: 43.2, 36.3
    data = _paper_data(600)
    factors = {}
    for seed in (0, 1, 2):
        model = KAN([2, 3, 1], grid=5, seed=seed, dtype=torch.float64)
        fit(model, data, steps=60, progress=False)
        model = model.refine(20, data.train_input)
        start = fit(model, data, steps=30, progress=False).train_rmse[-1]
        history = fit(model, data, steps=10, opt="lm", update_grid=False, progress=False)
        factors[seed] = start / history.train_rmse[-1]
        if factors[seed] > 5:
            return
    pytest.fail(f"lm lowered the train RMSE by less than 5x for every seed: {factors}")


def test_lbfgs_fits_a_smooth_curve_to_high_precision():
    # (torch's LBFGS, which drops curvature pairs with y.s <= 1e-10, stalls at 5e-4 in the
    # grid-extension test above; ours keeps improving there)
    x = torch.linspace(-1, 1, 400, dtype=torch.float64).unsqueeze(1)
    data = Dataset(x, torch.sin(torch.pi * x), x, torch.sin(torch.pi * x))
    model = KAN([1, 1], grid=20, seed=0, dtype=torch.float64)
    history = fit(model, data, steps=30, progress=False)
    # nearly a least-squares problem (one layer, linear in the coefficients): 6.59e-6 for seeds 0-2 under the
    # default settings, MKL_CBWR=COMPATIBLE and OMP_NUM_THREADS=1 alike, so the 1.5x margin is not luck
    assert history.test_rmse[-1] < 1e-5


def test_lbfgs_line_search_keeps_zooming_below_steps_of_1e9():
    """A quadratic started 1e-8 from its minimum: the steps it needs are far below 1e-9.

    With torch's line-search default (stop zooming once bracket * |d| < 1e-9) the iterate stays at
    5e-9 after 5 steps; passing the optimizer's tolerance down reaches 2e-11 (measured).
    """
    from kansci.core.lbfgs import LBFGS

    scales = torch.logspace(0, 3, 20, dtype=torch.float64)
    p = torch.nn.Parameter(torch.full((20,), 1e-8, dtype=torch.float64))
    optimizer = LBFGS([p])

    def closure():
        optimizer.zero_grad()
        loss = p.square().mul(scales).sum()
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    assert float(p.detach().abs().max()) < 2e-10


def test_same_seed_twice_gives_identical_training():
    data = _paper_data(200)
    runs = []
    for _ in range(2):
        model = KAN([2, 3, 1], seed=1, dtype=torch.float64)
        h = fit(model, data, steps=6, batch=50, opt="adam", lr=1e-2, lamb=1e-3, progress=False, seed=3)
        runs.append((h.loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_sparsify_and_prune_removes_the_unused_input():
    f = lambda x: x[:, 0] ** 2 + torch.sin(torch.pi * x[:, 1])  # noqa: E731  x2 is irrelevant
    data = from_function(f, 3, n_train=500, n_test=500, seed=1, dtype=torch.float64)
    model = KAN([3, 3, 1], grid=5, seed=0, dtype=torch.float64)
    fit(model, data, steps=40, lamb=1e-2, progress=False)
    small = prune(model, data.train_input, inputs=True)
    assert small.config.input_ids == (0, 1)  # measured also for seeds 1, 2 and with MKL_CBWR=COMPATIBLE
    fit(small, data.select_inputs(small.config.input_ids), steps=30, progress=False)
    # measured 2.7e-3 (2.8e-3 with MKL_CBWR=COMPATIBLE; seeds 1, 2: 1.4e-3, 3.0e-3)
    assert kansci.rmse(small, data.test_input[:, [0, 1]], data.test_label) < 1e-2


def test_loss_closure_and_nan_restores_last_good_parameters():
    model = KAN([1, 2, 1], dtype=torch.float64)
    x = torch.linspace(-1, 1, 50, dtype=torch.float64).unsqueeze(1)
    calls = {"n": 0}

    def loss(m):
        calls["n"] += 1
        value = (m(x) - torch.sin(3 * x)).square().mean()
        if calls["n"] > 8:
            value = value * torch.tensor(math.nan, dtype=torch.float64)
        return value, {"mse": value.detach()}

    snapshots = []
    history = fit(
        model,
        loss,
        steps=50,
        opt="adam",
        lr=1e-2,
        progress=False,
        callbacks=[lambda s, m, h: snapshots.append([p.detach().clone() for p in m.parameters()])],
    )
    assert history.status == "nan_restored"
    assert len(history.step) == 8 and "non-finite" in history.events[-1]
    # the last parameters whose loss was seen finite: the start of step 7 (after step 6)
    assert all(torch.equal(a, b) for a, b in zip(snapshots[-2], model.parameters()))
    assert len(history.parts["mse"]) == 8


def test_divergence_restores_parameters_with_a_finite_loss():
    data = _paper_data(50)
    model = KAN([2, 5, 1], seed=0, dtype=torch.float64)
    history = fit(model, data, steps=3, opt="adam", lr=1e200, progress=False)
    assert history.status == "nan_restored"
    assert torch.isfinite(model(data.train_input)).all()


def _scalar_model() -> torch.nn.Linear:
    model = torch.nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    return model


@pytest.mark.parametrize("target", [0.55, 0.9])
def test_lbfgs_logs_the_loss_at_the_accepted_point_not_at_the_last_trial(target):
    # |w - target| has no point meeting the strong-Wolfe curvature condition, so the line search zooms until it
    # runs out of tries; for these targets its last trial is a rejected one (measured: logged 1.06e-13 and
    # 1.00e-13 before, against 6.8e-14 and 6.6e-14 at the parameters it left)
    model = _scalar_model()

    def loss(m):
        return (m.weight[0, 0] - target).abs()

    history = fit(model, loss, steps=1, opt="lbfgs", lbfgs_iters=1, progress=False)
    with torch.no_grad():
        assert history.loss[-1] == float(loss(model))
    assert history.loss[-1] < 1e-12


@pytest.mark.parametrize("wall", [0.2718, 0.3211])
def test_an_infinite_line_search_trial_does_not_stop_lbfgs(wall):
    # -w is finite and falling up to a wall, infinite beyond it: the line search brackets the wall and its last
    # trial lies beyond it. That trial is rejected, so training goes on (it used to stop as "nan_restored" and
    # throw the step away).
    model = _scalar_model()

    def loss(m):
        w = m.weight[0, 0]
        return -w + torch.where(w > wall, math.inf, 0.0)

    history = fit(model, loss, steps=2, opt="lbfgs", lbfgs_iters=1, progress=False)
    assert history.status == "completed" and len(history.loss) == 2
    w = float(model.weight.detach())
    assert wall - 1e-6 < w <= wall
    assert history.loss[-1] == -w


def test_checkpoint_resume_loses_at_most_n_steps_and_matches_uninterrupted(tmp_path):
    data = _paper_data(200)
    run = {"steps": 12, "batch": 64, "progress": False, "stop_grid_update_step": 8}
    reference = KAN([2, 3, 1], seed=2, dtype=torch.float64)
    ref_hist = fit(reference, data, **run)

    path = tmp_path / "run.ckpt"

    class Interrupt(Exception):
        pass

    def crash(step, model, history):
        if step == 8:
            raise Interrupt

    model = KAN([2, 3, 1], seed=2, dtype=torch.float64)
    saving = {**run, "checkpoint": path, "checkpoint_every": 5}
    with pytest.raises(Interrupt):
        fit(model, data, **saving, callbacks=[crash])
    fresh = KAN([2, 3, 1], seed=2, dtype=torch.float64)
    hist = fit(fresh, data, **saving, resume=True)
    assert "resumed at step 5" in hist.events
    assert hist.step == ref_hist.step
    torch.testing.assert_close(hist.loss, ref_hist.loss, rtol=1e-10, atol=0)
    x = data.test_input
    torch.testing.assert_close(fresh(x), reference(x), rtol=1e-10, atol=1e-12)
    assert kansci.load(path).config == fresh.config


def test_metrics_loss_fn_and_stopping_callback():
    data = _paper_data(100)
    model = KAN([2, 3, 1], dtype=torch.float64)
    seen = []

    def l1(pred, y):
        seen.append(pred.shape)
        return (pred - y).abs().mean()

    history = fit(
        model, data, steps=10, opt="adam", lr=1e-2, loss_fn=l1, progress=False,
        metrics={"max_error": lambda m: float((m(data.test_input) - data.test_label).abs().max())},
        callbacks=[lambda step, m, h: step == 3],
    )  # fmt: skip
    assert history.status == "stopped" and history.step == [0, 1, 2, 3]
    assert seen[0] == (100, 1)
    assert len(history.parts["max_error"]) == 4
    assert history.parts["max_error"][-1] >= history.test_rmse[-1]
    # the objective is the L1 loss, not the MSE
    assert history.loss[-1] != pytest.approx(history.train_rmse[-1] ** 2, rel=1e-3)


@pytest.mark.parametrize(
    ("opt", "kwargs"),
    [("lbfgs", {}), ("lbfgs", {"lamb": 1e-3}), ("lbfgs", {"batch": 60}), ("adam", {"lr": 1e-2})],
)
def test_history_train_rmse_is_the_models_rmse_after_each_step(opt, kwargs):
    # full-batch LBFGS takes it from the accepted evaluation (the MSE part of the objective); the others recompute it
    data = _paper_data(100)
    model = KAN([2, 3, 1], dtype=torch.float64)
    after = []

    def record(step, m, h):
        after.append((h.train_rmse[-1], kansci.rmse(m, data.train_input, data.train_label)))

    fit(model, data, steps=6, opt=opt, progress=False, callbacks=[record], **kwargs)
    for logged, recomputed in after:
        assert logged == pytest.approx(recomputed, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: Dataset(d.train_input, d.train_label[:-1], d.test_input, d.test_label), "rows"),
        (lambda d: Dataset(d.train_input.clone().fill_(math.nan), d.train_label, d.test_input, d.test_label), "NaN"),
        (lambda d: Dataset(d.train_input[:0], d.train_label[:0], d.test_input, d.test_label), "empty"),
        (lambda d: Dataset(d.train_input[:, 0], d.train_label, d.test_input, d.test_label), "2-D"),
        (lambda d: Dataset(d.train_input.float(), d.train_label, d.test_input, d.test_label), "dtype"),
    ],
)
def test_bad_data_is_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(_paper_data(20))


def test_fit_checks_model_and_data_agree():
    data = _paper_data(20)
    with pytest.raises(ValueError, match="expects"):
        fit(KAN([3, 1], dtype=torch.float64), data, steps=1, progress=False)
    with pytest.raises(TypeError, match="float32"):
        fit(KAN([2, 1]), data, steps=1, progress=False)
    with pytest.raises(ValueError, match="outputs"):
        fit(KAN([2, 2], dtype=torch.float64), data, steps=1, progress=False)
    with pytest.raises(ValueError, match="opt"):
        fit(KAN([2, 1], dtype=torch.float64), data, opt="sgd")
    with pytest.raises(ValueError, match="resume"):
        fit(KAN([2, 1], dtype=torch.float64), data, resume=True)
