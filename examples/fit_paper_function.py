"""Fit f(x, y) = exp(sin(pi x) + y^2) with a [2,5,1] KAN, extend the grid 3 -> 5 -> 10 -> 20.

Measured (seed 0, float64, torch 2.13 CPU, about a minute on one core): test RMSE 1.9e-3, 7.4e-4,
1.2e-4, 5.0e-5; input importance 0.68, 0.32. Other CPUs round differently, so the digits may differ.

Run: python examples/fit_paper_function.py
"""

import logging

import torch

import kansci
from kansci.datasets import from_function


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("example")
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2)  # noqa: E731
    data = from_function(f, 2, n_train=1000, n_test=1000, seed=0, dtype=torch.float64)
    # the paper's grid schedule; uniform grids (grid_eps=1) suit inputs drawn uniformly
    model = kansci.KAN([2, 5, 1], grid=3, seed=0, dtype=torch.float64, grid_eps=1.0)
    for grid in (3, 5, 10, 20):
        if grid != model.config.grid:
            model = model.refine(grid, data.train_input)  # grid extension keeps the function
        kansci.fit(model, data, steps=200)
        log.info("G=%-3d test RMSE %.2e", grid, kansci.rmse(model, data.test_input, data.test_label))
    scores = kansci.node_scores(model, data.train_input)[0]
    log.info("input importance: %s", [round(v, 3) for v in scores.tolist()])


if __name__ == "__main__":
    main()
