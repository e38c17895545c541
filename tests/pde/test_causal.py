"""Causal weights: later times weigh less by the residual of the earlier ones; solve's ``causal`` option."""

import math

import pytest
import torch

from kansci import KAN
from kansci.core.least_squares import fitted_parameters
from kansci.pde import heat, interior_points, poisson_sine, solve
from kansci.pde.causal import causal_weights
from kansci.pde.residuals import PDEResiduals, conditions, scaled_rows


def _two_per_bin(t0: float = 0.0, t1: float = 1.0) -> torch.Tensor:
    """Two times in each of four equal bins of [t0, t1]."""
    centres = torch.tensor([0.1, 0.2, 0.3, 0.45, 0.55, 0.7, 0.8, 0.95], dtype=torch.float64)
    return t0 + (t1 - t0) * centres


@pytest.mark.parametrize("span", [(0.0, 1.0), (1.0, 3.0)])
def test_weights_fall_with_the_share_of_the_residual_before(span):
    times = _two_per_bin(*span)
    root2 = math.sqrt(2.0)
    residual = torch.tensor([1.0, 1.0, 1.0, 1.0, root2, root2, 0.0, 0.0], dtype=torch.float64)  # bin means 1, 1, 2, 0
    weights = causal_weights(times, residual, span, strength=2.0, bins=4)
    shares = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64).repeat_interleave(2)  # before each bin / 4
    torch.testing.assert_close(weights, torch.exp(-2.0 * shares), rtol=1e-14, atol=0)


def test_weights_are_one_without_strength_or_residual():
    times = _two_per_bin()
    residual = torch.linspace(0.0, 3.0, 8, dtype=torch.float64)
    torch.testing.assert_close(
        causal_weights(times, residual, (0.0, 1.0), 0.0, bins=4), torch.ones(8, dtype=torch.float64)
    )
    zero = torch.zeros(8, dtype=torch.float64)
    torch.testing.assert_close(causal_weights(times, zero, (0.0, 1.0), 5.0, bins=4), torch.ones(8, dtype=torch.float64))


def test_an_empty_bin_adds_nothing_and_the_last_time_falls_in_the_last_bin():
    times = torch.tensor([0.1, 0.9, 1.0], dtype=torch.float64)  # bins 1 and 2 (of 4) are empty
    residual = torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64)  # bin means 4 and 1
    weights = causal_weights(times, residual, (0.0, 1.0), 1.0, bins=4)
    expected = torch.tensor([1.0, math.exp(-0.8), math.exp(-0.8)], dtype=torch.float64)
    torch.testing.assert_close(weights, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"strength": -1.0}, "finite number >= 0"),
        ({"strength": True}, "finite number >= 0"),
        ({"strength": math.inf}, "finite number >= 0"),
        ({"span": (1.0, 1.0)}, "t1 > t0"),
        ({"residual": torch.tensor([1.0, math.nan], dtype=torch.float64)}, "not finite"),
    ],
)
def test_weights_refuse_bad_arguments(args, message):
    base = {"times": torch.tensor([0.2, 0.7]), "residual": torch.ones(2), "span": (0.0, 1.0), "strength": 1.0}
    with pytest.raises(ValueError, match=message):
        causal_weights(**(base | args))


def _closed_form(system: PDEResiduals, model) -> tuple[torch.Tensor, torch.Tensor]:
    r, blocks = system.jacobian(model, slice(None))
    return r, torch.cat([blocks[p].reshape(r.numel(), -1) for p in fitted_parameters(model)], 1)


def test_scaled_rows_scale_the_residual_and_its_jacobian_row_by_row():
    problem = heat()
    model = KAN([2, 3, 1], grid=4, seed=1, dtype=torch.float64)
    x = interior_points(problem, 20, "random", seed=0)
    found = conditions(problem, x, alpha=0.3, n_boundary=12, n_initial=10)
    factors = torch.linspace(0.1, 1.0, 20, dtype=torch.float64)
    plain = PDEResiduals(problem, found)
    scaled = PDEResiduals(problem, [scaled_rows(found[0], factors), *found[1:]])
    r, j = _closed_form(plain, model)
    rs, js = _closed_form(scaled, model)
    scale = torch.cat([factors, torch.ones(r.numel() - 20, dtype=torch.float64)])
    torch.testing.assert_close(rs, r * scale, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(js, j * scale[:, None], rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(scaled.residuals(model, slice(None)).detach(), rs, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match=r"shape \(20,\)"):
        scaled_rows(found[0], factors[:5])


def _heat(**options):
    model = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    run = {"steps": 20, "n_interior": 300, "progress": False, "opt": "lm", "hard_boundary": True}
    return solve(heat(), model, **(run | options))


def test_causal_solve_weighs_the_residual_and_still_solves():
    causal, plain = _heat(causal=5.0), _heat()
    # same model and points at the first step: the weights (1 at the first times, less later) shrink the residual
    assert causal.histories[0].parts["residual"][0] < 0.9 * plain.histories[0].parts["residual"][0]
    assert causal.errors["relative_l2"] < 1e-3  # heat is smooth: 2.6e-4 here, 1.8e-4 unweighted


@pytest.mark.parametrize(
    ("problem", "causal", "message"),
    [(poisson_sine, 1.0, "need an evolution problem"), (heat, -2.0, "finite number >= 0")],
)
def test_solve_refuses_causal_weights_it_cannot_use(problem, causal, message):
    model = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match=message):
        solve(problem(), model, steps=1, causal=causal, progress=False)


def test_causal_weights_reach_an_equation_of_your_own():
    from kansci.pde.catalog import kdv

    problem = kdv()
    run = {"steps": 2, "n_interior": 200, "n_boundary": 40, "progress": False, "opt": "lm"}

    def model():  # a fresh one per solve: solve trains it in place
        return KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64, k=4)

    causal, plain = solve(problem, model(), causal=5.0, **run), solve(problem, model(), **run)
    assert causal.histories[0].parts["residual"][0] < 0.9 * plain.histories[0].parts["residual"][0]
