"""Fit f(x, y) = exp(sin(pi x) + y^2) with a [2,5,1] KAN, extend the grid, prune.

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
    model = kansci.KAN([2, 5, 1], grid=5, seed=0, dtype=torch.float64)
    kansci.fit(model, data, steps=200)
    log.info("G=5   test RMSE %.2e", kansci.rmse(model, data.test_input, data.test_label))
    model = model.refine(20, data.train_input)
    kansci.fit(model, data, steps=200)
    log.info("G=20  test RMSE %.2e", kansci.rmse(model, data.test_input, data.test_label))
    scores = kansci.node_scores(model, data.train_input)[0]
    log.info("input importance: %s", [round(v, 3) for v in scores.tolist()])


if __name__ == "__main__":
    main()
