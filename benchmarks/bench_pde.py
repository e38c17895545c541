"""PDE benchmark: exact KAN derivatives against nested autograd and pykan's recipe.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_pde.py            # a few minutes
    PYTHONPATH=. python benchmarks/bench_pde.py --quick    # skips the time-to-accuracy runs

What it measures (all numbers from this one run; nothing is asserted):

1. One evaluation of the paper's Poisson loss (alpha * mean residual^2 +
   mean boundary^2; 10,000 Sobol interior points, 800 boundary points,
   float64) plus backward, for KAN [2,10,1] at G = 5 and G = 20, by three
   paths taking turns call by call (median time):
   - ``exact``: kansci's forward propagation of value, gradient and second
     derivatives (``kansci.pde.jet``), the default;
   - ``autograd``: the same kansci model, Laplacian by nested autograd;
   - ``pykan``: pykan 0.2.8's KAN with the Laplacian from
     ``torch.autograd.functional.jacobian`` applied twice (the recipe of its
     PDE tutorial), when pykan is importable.
2. Wall time for KAN [2,10,1] to reach relative L2 <= 1e-3 on the paper
   Poisson with the study's settings (2,500 interior and 800 boundary points,
   G 5 -> 10 -> 20 -> 40, 50 LBFGS steps per grid; error checked every 5 steps on 2,000 test points,
   checks excluded from the time), for the exact and the autograd path.

pykan is optional: run this script from a scratch environment that has
``pip install pykan==0.2.8`` with PYTHONPATH pointing at this repository.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from benchmarks.bench_core import Repeats, import_pykan, pykan_env, time_interleaved
from kansci import KAN
from kansci.pde import boundary_points, derivatives, errors, interior_points, poisson_paper, solve

ALPHA = 0.01
N_INTERIOR, N_BOUNDARY = 10_000, 800


def kansci_loss_step(model: KAN, x_in, x_bd, exact: bool):
    problem = poisson_paper()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        residual = problem.residual(x_in, *derivatives(model, x_in, exact))
        loss = ALPHA * residual.square().mean() + model(x_bd).square().mean()
        loss.backward()

    return step


def pykan_loss_step(model, x_in, x_bd, dtype):
    """pykan's tutorial recipe: batch Jacobians by torch.autograd.functional.jacobian, twice."""
    problem = poisson_paper()

    def batch_jacobian(fn, x):
        return torch.autograd.functional.jacobian(lambda z: fn(z).sum(0), x, create_graph=True).permute(1, 0, 2)

    def step() -> None:
        with pykan_env(dtype):
            model.zero_grad(set_to_none=True)

            def first(z):
                return batch_jacobian(model, z)[:, 0, :]

            hessian = batch_jacobian(first, x_in)
            laplacian = torch.diagonal(hessian, dim1=1, dim2=2).sum(1, keepdim=True)
            residual = laplacian + problem.residual(x_in, None, None, torch.zeros_like(x_in))  # Laplace(u) - f
            loss = ALPHA * residual.square().mean() + model(x_bd).square().mean()
            loss.backward()

    return step


def loss_timings(quick: bool) -> None:
    dtype = torch.float64
    problem = poisson_paper()
    x_in = interior_points(problem, N_INTERIOR, "sobol", seed=0, dtype=dtype)
    x_bd = boundary_points(problem, N_BOUNDARY, seed=0, dtype=dtype)
    PyKAN, pykan_version = import_pykan()
    reps = Repeats(warmup=2, min_reps=3 if quick else 5, max_reps=10 if quick else 20, budget_s=5 if quick else 15)
    print(f"pykan: {pykan_version if PyKAN else 'not importable (' + pykan_version + ')'}")
    print("| model | exact (ms) | autograd (ms) | pykan recipe (ms) | exact/autograd | exact/pykan |")
    print("|---|---|---|---|---|---|")
    for grid in (5, 20):
        model = KAN([2, 10, 1], grid=grid, seed=0, dtype=dtype)
        steps = {
            "exact": (kansci_loss_step(model, x_in, x_bd, True), reps),
            "autograd": (kansci_loss_step(model, x_in, x_bd, False), reps),
        }
        if PyKAN is not None:
            with pykan_env(dtype):
                theirs = PyKAN(width=[2, 10, 1], grid=grid, k=3, seed=0)
                theirs.save_act = False
                theirs.symbolic_enabled = False
            steps["pykan"] = (pykan_loss_step(theirs, x_in, x_bd, dtype), reps)
        got = {name: t for name, (t, _) in time_interleaved(steps, lambda: None).items()}
        pk = got.get("pykan")
        pk_ms = f"{pk * 1e3:.1f}" if pk else "—"
        pk_ratio = f"{got['exact'] / pk:.3f}" if pk else "—"
        print(
            f"| [2,10,1] G={grid} | {got['exact'] * 1e3:.1f} | {got['autograd'] * 1e3:.1f} | {pk_ms} "
            f"| {got['exact'] / got['autograd']:.3f} | {pk_ratio} |"
        )


def time_to_accuracy(exact: bool, target: float = 1e-3) -> tuple[float | None, float]:
    """Seconds of training until relative L2 <= target (None if never), and the final error."""
    problem = poisson_paper()
    x_test = interior_points(problem, 2000, "sobol", seed=1)
    spent = {"train": 0.0, "last": time.perf_counter(), "reached": None, "error": float("nan")}

    def check(step: int, model, history) -> bool:
        now = time.perf_counter()
        spent["train"] += now - spent["last"]
        if step % 5 == 4:
            spent["error"] = errors(problem, model, x_test)["relative_l2"]
            if spent["error"] <= target and spent["reached"] is None:
                spent["reached"] = spent["train"]
        spent["last"] = time.perf_counter()
        return spent["reached"] is not None

    model = KAN([2, 10, 1], grid=5, seed=0, dtype=torch.float64)
    solve(
        problem, model, steps=50, n_interior=2500, n_boundary=800, grid_schedule=(10, 20, 40),
        exact_derivatives=exact, callbacks=[check], progress=False,
    )  # fmt: skip
    return spent["reached"], spent["error"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="loss timings only, fewer repeats")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"load average at start: {load:.2f}\n")
    loss_timings(args.quick)
    if args.quick:
        return
    print("\n| path | seconds to relative L2 <= 1e-3 | error when stopped |")
    print("|---|---|---|")
    for exact in (True, False):
        reached, err = time_to_accuracy(exact)
        shown = f"{reached:.1f}" if reached is not None else "not reached"
        print(f"| {'exact' if exact else 'autograd'} | {shown} | {err:.2e} |")


if __name__ == "__main__":
    main()
