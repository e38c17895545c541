"""Residual-based adaptive distribution (RAD): residual-weighted draws, and solve's ``adaptive`` option."""

import math

import pytest
import torch

from kansci import KAN
from kansci.baselines import mlp
from kansci.pde import poisson_sine, solve
from kansci.pde.solver import residual_weighted


def _step_residual(n: int = 1000, hot: int = 100) -> torch.Tensor:
    """Residual 10 on the first ``hot`` rows, 1 on the rest."""
    residual = torch.ones(n, dtype=torch.float64)
    residual[:hot] = 10.0
    return residual


def test_draw_prefers_a_large_residual_and_repeats_for_a_seed():
    residual = _step_residual()
    picked = residual_weighted(residual, 200, power=1.0, floor=1.0, seed=3)
    assert picked.shape == (200,) and picked.unique().numel() == 200  # distinct rows
    hot = int((picked < 100).sum())
    # weights 10/1.9 + 1 = 6.3 against 1/1.9 + 1 = 1.5: far above the uniform 20 of 200
    assert 50 <= hot <= 75, hot
    assert torch.equal(picked, residual_weighted(residual, 200, power=1.0, floor=1.0, seed=3))
    assert not torch.equal(picked, residual_weighted(residual, 200, power=1.0, floor=1.0, seed=4))


def test_power_sharpens_and_floor_flattens_the_draw():
    residual = _step_residual()

    def hot(power: float, floor: float) -> int:
        return int((residual_weighted(residual, 200, power=power, floor=floor, seed=0) < 100).sum())

    assert hot(2.0, 1.0) > hot(1.0, 1.0) > hot(1.0, 10.0)
    assert 75 <= hot(1.0, 0.0) <= 95  # no floor: 100 hot rows weigh 10 each against 900 of 1; measured 83
    assert 10 <= hot(0.0, 1.0) <= 30  # power 0: uniform, about 20


def test_zero_residual_without_floor_still_draws_enough_rows():
    residual = torch.zeros(50, dtype=torch.float64)
    residual[:5] = 1.0
    picked = residual_weighted(residual, 20, power=1.0, floor=0.0, seed=0)
    assert picked.unique().numel() == 20 and set(range(5)) <= set(picked.tolist())
    assert residual_weighted(torch.zeros(30), 10, power=1.0, floor=1.0, seed=0).unique().numel() == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 2000}, r"count \(2000\) must not exceed the pool's 1000 rows"),
        ({"count": 0}, "count must be an integer >= 1"),
        ({"power": -1.0}, "rad_power must be a finite number >= 0"),
        ({"floor": math.nan}, "rad_floor must be a finite number >= 0"),
        ({"floor": True}, "rad_floor must be a finite number >= 0"),
        ({"residual": torch.tensor([1.0, math.inf] * 10)}, "finite and >= 0"),
        ({"residual": torch.tensor([1.0, -1.0] * 10)}, "finite and >= 0"),
    ],
)
def test_draw_refuses_bad_arguments(kwargs, message):
    args = {"residual": _step_residual(), "count": 10, "power": 1.0, "floor": 1.0, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        residual_weighted(**args)


def _small(**options):
    model = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    run = {"steps": 4, "n_interior": 200, "n_boundary": 40, "progress": False, "opt": "lm", "hard_boundary": True}
    return solve(poisson_sine(), model, **(run | options))


def test_points_are_fresh_residual_weighted_draws_that_repeat_for_a_seed():
    result = _small(refresh_every=2, adaptive="points")
    again = _small(refresh_every=2, adaptive="points")
    assert result.points.shape == (200, 2) and torch.equal(result.points, again.points)
    plain = _small(refresh_every=2)
    assert float((result.points - plain.points).abs().max()) > 0.1  # not the sampler's draw
    assert result.errors["relative_l2"] < 1.0


def test_knots_gather_where_the_residual_is_large():
    result = _small(adaptive="knots", grid_schedule=(10,))
    plain = _small(grid_schedule=(10,))
    knots, uniform = result.model.net.layers[0].grid, plain.model.net.layers[0].grid
    assert knots.shape == uniform.shape == (2, 11)
    assert float((knots - uniform).abs().max()) > 1e-2  # moved off the subdivided grid
    assert result.errors["relative_l2"] < 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"adaptive": "rad"}, "adaptive must be 'none', 'points', 'knots' or 'both', got 'rad'"),
        ({"adaptive": "points"}, "set refresh_every"),
        ({"adaptive": "both", "refresh_every": 2}, "needs a kansci.KAN and a grid_schedule"),
        ({"adaptive": "knots"}, "needs a kansci.KAN and a grid_schedule"),
        ({"rad_power": -0.5}, "rad_power must be a finite number >= 0"),
        ({"rad_floor": "1"}, "rad_floor must be a finite number >= 0"),
    ],
)
def test_solve_refuses_bad_adaptive_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        _small(**options)


def test_knots_need_a_kan():
    with pytest.raises(ValueError, match="needs a kansci.KAN"):
        solve(poisson_sine(), mlp([2, 5, 1], dtype=torch.float64), steps=1, adaptive="knots", progress=False)


def test_rad_draw_is_inside_the_domain():
    problem = poisson_sine()
    result = _small(refresh_every=2, adaptive="points")
    lo, hi = torch.tensor(problem.lower), torch.tensor(problem.upper)
    assert bool(((result.points >= lo) & (result.points <= hi)).all())
