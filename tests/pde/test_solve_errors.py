"""pde.solve refuses what it cannot run, before sampling a point: one clear error per bad argument."""

import pytest
import torch

from kansci import KAN
from kansci.pde import poisson_paper, solve


def _kan(grid: int = 5) -> KAN:
    return KAN([2, 3, 1], grid=grid, dtype=torch.float64)


BAD = [
    ("steps zero", lambda: solve(poisson_paper(), _kan(), steps=0), r"steps must be >= 1"),
    ("steps negative", lambda: solve(poisson_paper(), _kan(), steps=-1), r"steps must be an integer >= 0"),
    ("steps a float", lambda: solve(poisson_paper(), _kan(), steps=2.5), "steps must be an integer"),
    ("adam_steps negative", lambda: solve(poisson_paper(), _kan(), adam_steps=-5), "adam_steps must be an integer"),
    ("problem a string", lambda: solve("poisson", _kan()), "problem must be a kansci.pde.Equation"),
    (
        "model not a module",
        lambda: solve(poisson_paper(), "kan"),
        r"model must be a torch.nn.Module.*KAN\(\[2, 5, 1\]\)",
    ),
    ("model without parameters", lambda: solve(poisson_paper(), torch.nn.Tanh()), "with parameters"),
    (
        "decreasing grid_schedule",
        lambda: solve(poisson_paper(), _kan(), grid_schedule=(20, 10)),
        r"grid_schedule must increase from the model's grid 5, got \[20, 10\]",
    ),
    ("grid_schedule below the grid", lambda: solve(poisson_paper(), _kan(10), grid_schedule=(5,)), "would coarsen"),
    ("grid_schedule repeating", lambda: solve(poisson_paper(), _kan(), grid_schedule=(10, 10)), "or repeat"),
    ("grid_schedule a number", lambda: solve(poisson_paper(), _kan(), grid_schedule=10), "a sequence of grid sizes"),
    ("grid_schedule of floats", lambda: solve(poisson_paper(), _kan(), grid_schedule=(10.5,)), "must be an integer"),
]


@pytest.mark.parametrize(("make", "message"), [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_solve_argument_gets_one_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message) as caught:
        make()
    assert "/kansci/" in caught.traceback[-1].path.as_posix()  # raised by solve's own check


def test_an_increasing_schedule_is_accepted():
    result = solve(
        poisson_paper(), _kan(), steps=1, opt="adam", grid_schedule=(6,), n_interior=64, n_boundary=16, n_test=64
    )
    assert [stage.grid for stage in result.stages] == [5, 6]
