"""The paper's headline claims, asserted at small settings where they are stable.

Each test trains through the studies' run functions (or the library), then computes the
quantity of the claim itself from the raw numbers (a log-log fit, a Pareto front, an error
on its own points) and compares it with the paper's statement. The margins were measured
over seeds; the measured values are in the comments. Each test trains in one thread; all six took
163 s on two idle cores (special functions 75 s, Poisson 41 s, scaling 2 x 16 s, continual 2 x 6 s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import kansci
from kansci import pde
from kansci.baselines import mlp
from kansci.datasets import continual as peaks_data
from kansci.studies import continual, scaling, special

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_thread():
    """The models are tiny: intra-op threads gain nothing, and on a busy machine two threads stall each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Minus the least-squares slope of log y on log x."""
    return float(-np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


# --- §3.1 scaling: test RMSE ~ N^-4 for a KAN [2,1,1] with grid extension on exp(sin(pi x) + y^2) ---

SCALING_GRIDS = [5, 10, 20, 40]
"""Grid extension 5 -> 40; the exponent is fitted on 10, 20, 40 (G = 5 is before the asymptotic regime)."""


def _scaling_run(seed: int):
    """The study's KAN protocol (best of 4 starts after 300 Adam steps, uniform knots, float64), with 1000
    training points and 100 LBFGS steps per grid instead of 3000 and 200."""
    config = {**scaling.configs(False, seed)[0], "grids": SCALING_GRIDS, "n_train": 1000, "steps": 100}
    return scaling.run_config(config)


@pytest.mark.parametrize("seed", [0, 1])
def test_kan_test_error_falls_as_the_fourth_power_of_the_grid(seed):
    run = _scaling_run(seed)
    assert run["grid"].values.tolist() == SCALING_GRIDS
    # The error on the test points inside the layers' grids: the few of 1000 test points whose hidden
    # activation leaves the grid are extrapolated, and at G = 40 their error alone can set the RMSE (measured
    # 1.8e-5 against 1.1e-6 inside, seed 0).
    rmse = run["test_rmse_inside"].values[1:]
    grids, n_params = np.array(SCALING_GRIDS[1:], float), run["n_params"].values[1:]
    assert (run["test_outside"].values[1:] <= 50).all()  # measured 5-28 of 1000 (seeds 0-1)
    assert np.all(np.diff(rmse) < 0)
    # Theory (paper §2.3, k = 3): RMSE ~ G^-(k+1) = G^-4, and N ~ G. Measured on grids 10, 20, 40:
    # exponent in G 3.98 and 4.00 (seeds 0, 1), RMSE at G = 40 1.1e-6 and 1.2e-6 (3000 training points: 4.03-4.08).
    assert 3.5 <= _slope(grids, rmse) <= 4.5, rmse
    # In the parameter count N = 3 (G + 5) of [2,1,1] the fitted exponent is larger at these grids (N/G falls
    # towards 3 as G grows, so the exponent in N tends to the one in G from above): measured 5.02 and 5.04
    # (seeds 0, 1; 3000 training points: 5.09-5.15).
    assert 4.0 <= _slope(n_params, rmse) <= 5.6, rmse
    assert rmse[-1] < 1e-5  # measured 1.1e-6-1.2e-6: far above the float64 floor, no precision limit yet


# --- §3.2 special functions: the KAN Pareto front is below the MLPs' ---

SPECIAL_FUNCTIONS = ("special/ellipkinc", "special/jv", "special/kv")
SPECIAL_KAN = [2, 2, 1]
SPECIAL_MLP_MAX_PARAMS = 150
"""The largest KAN stage ([2,2,1] at G = 20); larger MLPs cannot enter the front at the KAN's sizes."""


def _special_runs(function: str, seed: int):
    kans, mlps = [], []
    for config in special.configs(False, seed, [function]):
        if config["kind"] == "kan" and config["width"] == SPECIAL_KAN:
            kans.append(special.run_config(config))
        elif (
            config["kind"] == "mlp"
            and special.mlp_params(2, config["depth"], config["width"]) <= SPECIAL_MLP_MAX_PARAMS
        ):
            mlps.append(special.run_config(config))
    (kan,) = kans
    return kan, mlps


def test_kan_is_below_the_mlp_front_on_most_special_functions():
    below = {}
    for function in SPECIAL_FUNCTIONS:
        kan, mlps = _special_runs(function, seed=0)
        assert len(mlps) == 6  # depth 2: width 5, 10, 20; width 5: depth 3, 4, 5
        mlp_n = np.array([float(m["n_params"].values[0]) for m in mlps])
        mlp_rmse = np.array([float(m["test_rmse"].values[0]) for m in mlps])
        n, rmse = float(kan["n_params"].values[-1]), float(kan["test_rmse"].values[-1])
        front = mlp_rmse[mlp_n <= n].min()  # the MLP front at the KAN's size: best MLP with no more parameters
        below[function] = rmse / front
    # Measured (seed 0): KAN [2,2,1] at G = 20 (150 parameters) against the MLP front at 150:
    # ellipkinc 4.7e-5 / 4.7e-4, jv 1.0e-4 / 4.1e-4, kv 6.8e-5 / 5.2e-4 (ratios 0.10, 0.25, 0.13).
    assert sum(ratio < 0.5 for ratio in below.values()) >= 2, below


# --- §3.5 continual learning: the KAN keeps the earlier peaks, the MLP forgets them ---


def _window_rmse(x: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """RMSE of ``prediction`` against the five peaks on each phase's window, from the plotted points."""
    out = []
    for centre in peaks_data.CENTRES:
        inside = (x >= centre - peaks_data.HALF_WIDTH) & (x < centre + peaks_data.HALF_WIDTH)
        out.append(math.sqrt(np.mean((prediction[inside] - peaks_data.peaks(x[inside])) ** 2)))
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_kan_keeps_the_first_peak_while_the_mlp_forgets_it(seed):
    after = {}
    for config in continual.configs(False, seed):
        run = continual.run_config(config)
        after[config["name"]] = _window_rmse(run["x"].values, run["prediction"].values[-1])
    kan, net = after["KAN"], after["MLP"]
    # Measured after phase 5 (seeds 0-2): KAN window-1 RMSE 1e-5, MLP 11-40, ratio 2.0e-7-6.9e-7; the
    # study's target ratio is continual.TARGET_RATIO = 0.1.
    assert kan[0] / net[0] <= continual.TARGET_RATIO / 100
    assert (kan[:4] < 1e-3).all()  # every earlier peak kept: measured at most 1.6e-4
    # a peak forgotten entirely (prediction 0) gives RMSE 0.43 on its window; the MLP is worse than half of that
    assert net[0] > 0.2


# --- §3.4 Poisson: a KAN beats an MLP with the same number of parameters ---


def _poisson_exact(x: torch.Tensor) -> torch.Tensor:
    """The paper's solution sin(pi x) sin(pi y^2) on [-1, 1]^2."""
    return torch.sin(torch.pi * x[:, :1]) * torch.sin(torch.pi * x[:, 1:] ** 2)


def _relative_l2(model: torch.nn.Module) -> float:
    """Relative L2 error on a uniform 101 x 101 grid of the square."""
    axis = torch.linspace(-1.0, 1.0, 101, dtype=torch.float64)
    x = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        error = model(x) - _poisson_exact(x)
    return float(error.norm() / _poisson_exact(x).norm())


def test_kan_solves_poisson_better_than_an_mlp_of_the_same_size():
    # The paper's KAN [2,10,1] with grid extension 5 -> 10 -> 20 (750 parameters) against the tanh MLP of the same
    # size, each for 150 LBFGS steps on 1000 interior and 400 boundary points (the study's full run: 2500 and 800).
    points = {"n_interior": 1000, "n_boundary": 400, "seed": 0, "progress": False}
    kan = kansci.KAN([2, 10, 1], grid=5, seed=0, dtype=torch.float64)
    kan = pde.solve(pde.poisson_paper(), kan, steps=50, grid_schedule=[10, 20], **points).model
    net = mlp([2, 25, 25, 1], "tanh", seed=0, dtype=torch.float64)
    net = pde.solve(pde.poisson_paper(), net, steps=150, **points).model
    n_kan, n_mlp = (sum(p.numel() for p in m.parameters() if p.requires_grad) for m in (kan, net))
    assert (n_kan, n_mlp) == (750, 751)  # KAN: 30 edges x (20 + 3 + 2); MLP: 75 + 650 + 26
    kan_error, mlp_error = _relative_l2(kan), _relative_l2(net)
    # Measured (the solver's relative L2 on its Sobol test points): seed 0 KAN 1.10e-3, MLP 2.08e-3 (ratio 0.53);
    # seed 1 KAN 9.99e-4, MLP 5.68e-3 (ratio 0.18).
    # At smaller sizes the advantage is not there yet: [2,10,1] at G = 10 (450) 2.16e-3 against [2,19,19,1]
    # (457) 2.59e-3; [2,5,1] at G = 20 (375) 3.41e-3 against [2,17,17,1] (375) 2.05e-3.
    assert kan_error < 0.8 * mlp_error, (kan_error, mlp_error)
