"""Precision after grid extension: LBFGS against Levenberg-Marquardt (``fit(opt="lm")``).

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_precision.py            # seeds 0-3, 10,000 training points
    PYTHONPATH=. python benchmarks/bench_precision.py --seeds 0 --n-train 3000

KAN [2,5,1] on exp(sin(pi x) + y^2), float64, 1000 test points, the paper's
grid schedule 3 -> 5 -> 10 -> 20 -> 50 (each grid from the last by ``refine``
with the training inputs). Two recipes from the same initialization:

- ``lbfgs``: 200 LBFGS steps per grid (the paper's), grid updates every 5 steps
  up to step 50;
- ``lm``: 30 Levenberg-Marquardt steps per grid, the grid adapted to the data
  during the first grid's steps only.

Prints, per seed and recipe, train and test RMSE at every grid and the seconds
taken; nothing is asserted. The training trajectories are chaotic in round-off
(thread count, BLAS), so compare recipes over seeds, not one run.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from benchmarks.bench_core import fit_target
from kansci import KAN, fit
from kansci.datasets import from_function

GRIDS = (3, 5, 10, 20, 50)
RECIPES = {
    "lbfgs": {"steps": 200},
    "lm": {"steps": 30, "opt": "lm"},
}


def run(recipe: str, seed: int, n_train: int) -> tuple[list[tuple[int, float, float]], float]:
    data = from_function(fit_target, 2, n_train=n_train, n_test=1000, seed=seed, dtype=torch.float64)
    model = KAN([2, 5, 1], grid=GRIDS[0], seed=seed, dtype=torch.float64)
    rows = []
    t0 = time.perf_counter()
    for i, grid in enumerate(GRIDS):
        if i:
            model = model.refine(grid, data.train_input)
        update = recipe == "lbfgs" or i == 0
        history = fit(model, data, progress=False, update_grid=update, **RECIPES[recipe])
        rows.append((grid, history.train_rmse[-1], history.test_rmse[-1]))
    return rows, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--n-train", type=int, default=10_000)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"KAN [2,5,1], {args.n_train} training points; train / test RMSE per grid")
    header = " ".join(f"{'G=' + str(g):>19}" for g in GRIDS)
    print(f"{'seed':>4} {'recipe':>6} {header} {'seconds':>8}")
    for seed in args.seeds:
        for recipe in RECIPES:
            rows, seconds = run(recipe, seed, args.n_train)
            cells = " ".join(f"{train:9.2e}/{test:9.2e}" for _, train, test in rows)
            print(f"{seed:>4} {recipe:>6} {cells} {seconds:8.1f}", flush=True)


if __name__ == "__main__":
    main()
