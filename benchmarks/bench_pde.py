"""PDE benchmark: exact KAN derivatives, Levenberg-Marquardt and LBFGS on the paper's Poisson problem.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_pde.py            # tens of minutes (the time-to-accuracy runs)
    PYTHONPATH=. python benchmarks/bench_pde.py --quick    # (1)-(3) with fewer repeats, skips (4)

Everything is KAN [2,10,1] on the paper Poisson (``poisson_paper()``) in
float64 with 10,000 Sobol interior points (seed 0). What it measures (all
numbers from this one run; nothing is asserted):

1. One evaluation of the paper's Poisson loss (alpha * mean residual^2 +
   mean boundary^2; 800 boundary points, soft boundary) plus backward, at
   G = 5 and G = 20, by three paths taking turns call by call (median time):
   - ``exact``: kansci's forward propagation of value, gradient and second
     derivatives (``kansci.pde.jet``), the default;
   - ``autograd``: the same kansci model, Laplacian by nested autograd;
   - ``pykan``: pykan 0.2.8's KAN with the Laplacian from
     ``torch.autograd.functional.jacobian`` applied twice (the recipe of its
     PDE tutorial), when pykan is importable.
2. One optimizer step on the residual rows of ``conditions(..., hard_boundary=True)``
   (``PDEResiduals``; the Dirichlet values held exactly, so the rows are the
   10,000 weighted interior residuals), at G = 5 and G = 20, from the seed-0
   start, the two optimizers taking turns (median):
   - ``LM``: one ``LevenbergMarquardt.step()`` as ``fit(opt="lm")`` builds it
     (closed-form Jacobian, J^T J, Cholesky solves and one sum of squares
     per damping try; without fit's closing loss evaluation);
   - ``LBFGS``: one step of kansci's LBFGS as ``fit(opt="lbfgs")`` builds it
     (lr 1, 20 inner iterations, history 10), the closure being the loss plus
     backward as in fit.
   The loss evaluations per step (LM: sums of squares; LBFGS: closure calls) are
   printed beside them.
3. Forming J^T J, J^T r and r^T r (``LevenbergMarquardt.normal_equations()``)
   with the closed-form Jacobian through the jets (``system.jacobian``, chunks of
   2048 rows) against batched backward passes (``jacobian=None``:
   ``is_grads_batched``, chunks of 128 rows), at G = 5 and G = 20, taking
   turns (median), with their ratio and the largest difference of the two
   J^T J relative to its largest entry.
4. (not with ``--quick``) Wall time to relative L2 <= 1e-3 and <= 1e-5 on
   2,000 Sobol test points (seed 1):
   - LM as in the Poisson study: ``solve(..., opt="lm", hard_boundary=True,
     steps=30, n_interior=10000, grid_schedule=(10, 20, 40, 80))`` from G = 5,
     error checked after every step, stopping once 1e-5 is reached;
   - LBFGS (to 1e-3 only) with the earlier study settings, exact and autograd
     derivatives: 2,500 interior and 800 boundary points (soft boundary),
     G 5 -> 10 -> 20 -> 40, 50 LBFGS steps per grid, error checked every
     5 steps, stopping once 1e-3 is reached.
   The error checks are excluded from the times; solve's own work between
   stages (refining the grid, its stage-end errors) is not.

5. Every derivative of order 4 (u_xxxx, u_xxxy, u_xxyy, u_xyyy, u_yyyy) of KAN
   [2,10,10,1] (G = 5) at the 10,000 interior points, forward and backward to
   the parameters, by ``kansci.pde.multiindex.partials`` (exact jets along 7
   directions, polarization) against nested autograd on the same model (one
   backward per order, lower orders shared), taking turns (median), with the
   largest difference relative to the largest derivative. ``--multiindex`` runs
   this part alone.

6. The MLP of the PDE benchmark ([2,20,20,20,1], tanh) at the same points:
   the jets of order 4 along the 5 directions that give u_xxxx, u_xxyy and
   u_yyyy, forward and backward to the parameters, by exact Taylor jets
   (``kansci.pde.multiindex.module_directional_jets``, what LBFGS uses)
   against nested forward-mode ``jvp``; and LM's per-point Jacobian of the
   biharmonic residual (``directional_jacobian``) by the same two paths on
   1,000 points. ``--multiindex`` runs it too.

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
from kansci.baselines import mlp
from kansci.core.lbfgs import LBFGS
from kansci.core.least_squares import fitted_parameters
from kansci.core.lm import LevenbergMarquardt
from kansci.pde import HardDirichlet, boundary_points, derivatives, errors, interior_points, poisson_paper, solve
from kansci.pde.directional_jacobian import directional_jacobian
from kansci.pde.multiindex import DerivativePlan, _autograd_partials, module_directional_jets, partials
from kansci.pde.residuals import PDEResiduals, conditions

ALPHA = 0.01
N_INTERIOR, N_BOUNDARY = 10_000, 800
WIDTH = [2, 10, 1]
NAME = "[2,10,1]"
GRIDS = (5, 20)
LM_SCHEDULE = (10, 20, 40, 80)
LBFGS_ITERS, LBFGS_HISTORY = 20, 10  # what fit(opt="lbfgs") uses


def sync() -> None:
    """Nothing to wait for on the CPU (time_interleaved's synchronizer)."""


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


def hard_boundary_system() -> PDEResiduals:
    """The residual rows solve(opt="lm", hard_boundary=True) fits: the weighted interior residuals."""
    problem = poisson_paper()
    x_in = interior_points(problem, N_INTERIOR, "sobol", seed=0, dtype=torch.float64)
    rows = conditions(
        problem, x_in, alpha=problem.alpha, n_boundary=N_BOUNDARY, n_initial=N_BOUNDARY, hard_boundary=True, seed=0
    )
    return PDEResiduals(problem, rows, hard_boundary=True)


def lm_optimizer(model: KAN, system: PDEResiduals, closed_form: bool, counter: list[int] | None = None):
    """LevenbergMarquardt on the rows as fit(opt="lm") builds it; ``counter[0]`` counts full sums of squares."""

    def residuals(rows: slice):
        if counter is not None and rows == slice(None):
            counter[0] += 1
        return system.residuals(model, rows)

    def jacobian(rows: slice):
        return system.jacobian(model, rows)

    return LevenbergMarquardt(
        fitted_parameters(model), residuals, system.n_rows, jacobian=jacobian if closed_form else None
    )


def lm_step(model: KAN, system: PDEResiduals):
    """One LevenbergMarquardt.step() per call (closed-form Jacobian), and the sums of squares of each call."""
    calls: list[int] = [0]
    counts: list[int] = []
    lm = lm_optimizer(model, system, closed_form=True, counter=calls)

    def step() -> None:
        calls[0] = 0
        lm.step()
        counts.append(calls[0])

    return step, counts


def lbfgs_step(model: KAN, system: PDEResiduals):
    """One step of kansci's LBFGS as fit(opt="lbfgs") makes it per call, and the closure calls of each."""
    optimizer = LBFGS(model.parameters(), lr=1.0, max_iter=LBFGS_ITERS, history_size=LBFGS_HISTORY)
    calls: list[int] = [0]
    counts: list[int] = []

    def closure():
        calls[0] += 1
        for p in model.parameters():
            p.grad = None
        loss, _ = system(model)  # fit's closure with a loss closure: the loss, then backward
        loss.backward()
        return loss.detach()

    def step() -> None:
        calls[0] = 0
        optimizer.step(closure)
        counts.append(calls[0])

    return step, counts


def step_timings(quick: bool) -> None:
    """One LM step against one LBFGS step (20 inner iterations), same rows, same start."""
    system = hard_boundary_system()
    reps = Repeats(warmup=1, min_reps=3 if quick else 5, max_reps=5 if quick else 15, budget_s=3 if quick else 20)
    print(
        f"\nOne optimizer step, KAN {NAME}, float64, hard boundary, {system.n_rows} interior residual rows "
        f"(alpha {poisson_paper().alpha}), each optimizer from the seed-0 start; median of "
        f"{reps.min_reps}-{reps.max_reps} steps after {reps.warmup} warmup, taking turns"
    )
    print(
        "| model | fitted params | LM step (ms) | sums of squares per LM step (mean) "
        f"| LBFGS step, {LBFGS_ITERS} iterations (ms) | closure calls per LBFGS step (mean) | LM/LBFGS |"
    )
    print("|---|---|---|---|---|---|---|")
    for grid in GRIDS:
        models = {name: KAN(WIDTH, grid=grid, seed=0, dtype=torch.float64) for name in ("lm", "lbfgs")}
        (lm, lm_counts), (lbfgs, lbfgs_counts) = lm_step(models["lm"], system), lbfgs_step(models["lbfgs"], system)
        got = {name: t for name, (t, _) in time_interleaved({"lm": (lm, reps), "lbfgs": (lbfgs, reps)}, sync).items()}
        n_params = sum(p.numel() for p in fitted_parameters(models["lm"]))
        lm_mean, lbfgs_mean = (sum(c) / len(c) for c in (lm_counts, lbfgs_counts))
        print(
            f"| {NAME} G={grid} | {n_params} | {got['lm'] * 1e3:.1f} | {lm_mean:.1f} "
            f"| {got['lbfgs'] * 1e3:.1f} | {lbfgs_mean:.1f} | {got['lm'] / got['lbfgs']:.3f} |"
        )


def gram_call(lm: LevenbergMarquardt, into: dict, name: str):
    """A call of lm.normal_equations() keeping its J^T J in ``into[name]``."""

    def call() -> None:
        with torch.enable_grad():
            into[name] = lm.normal_equations()[0]

    return call


def jacobian_timings(quick: bool) -> None:
    """normal_equations() with the closed-form Jacobian against batched backward passes."""
    system = hard_boundary_system()
    closed_reps = Repeats(
        warmup=1, min_reps=3 if quick else 5, max_reps=5 if quick else 15, budget_s=3 if quick else 15
    )
    batched_reps = Repeats(warmup=0 if quick else 1, min_reps=2 if quick else 3, max_reps=2 if quick else 5, budget_s=0)
    print(
        f"\nJ^T J, J^T r and r^T r (LevenbergMarquardt.normal_equations()), KAN {NAME}, float64, hard boundary, "
        f"{system.n_rows} rows, at the seed-0 start; median, taking turns (closed form "
        f"{closed_reps.min_reps}-{closed_reps.max_reps} calls after {closed_reps.warmup} warmup, batched "
        f"autograd {batched_reps.min_reps}-{batched_reps.max_reps} after {batched_reps.warmup})"
    )
    print("| model | fitted params | closed form (ms) | batched autograd (ms) | autograd/closed | J^T J max diff |")
    print("|---|---|---|---|---|---|")
    for grid in GRIDS:
        model = KAN(WIDTH, grid=grid, seed=0, dtype=torch.float64)
        grams: dict[str, torch.Tensor] = {}
        steps = {
            "closed": (gram_call(lm_optimizer(model, system, closed_form=True), grams, "closed"), closed_reps),
            "batched": (gram_call(lm_optimizer(model, system, closed_form=False), grams, "batched"), batched_reps),
        }
        got = {name: t for name, (t, _) in time_interleaved(steps, sync).items()}
        diff = float((grams["closed"] - grams["batched"]).abs().max() / grams["batched"].abs().max())
        n_params = sum(p.numel() for p in fitted_parameters(model))
        print(
            f"| {NAME} G={grid} | {n_params} | {got['closed'] * 1e3:.1f} | {got['batched'] * 1e3:.1f} "
            f"| {got['batched'] / got['closed']:.2f} | {diff:.1e} |"
        )
    print("(J^T J max diff: largest |closed - batched| entry over the largest |J^T J| entry)")


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


def lm_time_to_accuracy(targets: tuple[float, ...] = (1e-3, 1e-5)) -> dict:
    """LM as in the Poisson study; seconds of training to each target, checked every step, stop at the last."""
    problem = poisson_paper()
    x_test = interior_points(problem, 2000, "sobol", seed=1, dtype=torch.float64)
    reached: dict[float, tuple[float, int, int]] = {}  # target -> (seconds, grid, step of its stage)
    spent = {"train": 0.0, "last": time.perf_counter(), "error": float("nan")}

    def check(step: int, model, history) -> bool:
        spent["train"] += time.perf_counter() - spent["last"]
        spent["error"] = errors(problem, HardDirichlet(model, problem), x_test)["relative_l2"]
        for target in targets:
            if spent["error"] <= target and target not in reached:
                reached[target] = (spent["train"], model.config.grid, step)
        spent["last"] = time.perf_counter()
        return targets[-1] in reached

    model = KAN(WIDTH, grid=5, seed=0, dtype=torch.float64)
    result = solve(
        problem, model, opt="lm", hard_boundary=True, steps=30, n_interior=N_INTERIOR, grid_schedule=LM_SCHEDULE,
        callbacks=[check], progress=False,
    )  # fmt: skip
    spent["train"] += time.perf_counter() - spent["last"]
    stage = result.stages[-1]
    return {"reached": reached, "error": spent["error"], "total": spent["train"], "grid": stage.grid}


def multiindex_timings(quick: bool) -> None:
    dtype = torch.float64
    x = interior_points(poisson_paper(), N_INTERIOR, "sobol", seed=0, dtype=dtype)
    model = KAN([2, 10, 10, 1], grid=5, seed=0, dtype=dtype)
    wanted = [(4 - j, j) for j in range(5)]
    params = [p for p in model.parameters() if p.requires_grad]

    def step(compute):
        def run():
            values = compute(model, x, wanted)
            total = sum(v.square().sum() for v in values.values())
            torch.autograd.grad(total, params, allow_unused=True)

        return run

    reps = Repeats(warmup=1, min_reps=3 if quick else 5, max_reps=5 if quick else 10, budget_s=10 if quick else 30)
    steps = {"exact": (step(_exact_partials), reps), "autograd": (step(_autograd_partials), reps)}
    got = {name: t for name, (t, _) in time_interleaved(steps, lambda: None).items()}
    exact, reference = _exact_partials(model, x, wanted), _autograd_partials(model, x, wanted)
    scale = max(float(reference[c].detach().abs().max()) for c in wanted)
    worst = max(float((exact[c] - reference[c]).detach().abs().max()) for c in wanted) / scale
    print(
        f"\nAll five order-4 derivatives + backward, KAN [2,10,10,1] G=5, float64, {N_INTERIOR} points (median, "
        "taking turns)"
    )
    print("| exact jets (s) | nested autograd (s) | autograd/exact | largest difference / largest derivative |")
    print("|---|---|---|---|")
    print(f"| {got['exact']:.2f} | {got['autograd']:.2f} | {got['autograd'] / got['exact']:.2f} | {worst:.1e} |")


class _Opaque(torch.nn.Module):
    """The MLP behind a module kansci does not recognize: the nested ``jvp`` path."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def mlp_jet_timings(quick: bool) -> None:
    dtype = torch.float64
    x = interior_points(poisson_paper(), N_INTERIOR, "sobol", seed=0, dtype=dtype)
    net = mlp([2, 20, 20, 20, 1], dtype=dtype)
    plan = DerivativePlan([(4, 0), (2, 2), (0, 4)], 2)
    directions = plan.direction_tensor(x)

    def head(jets):
        d = plan.combine(jets)
        return d[(4, 0)] + 2 * d[(2, 2)] + d[(0, 4)]

    def jets_step(model):
        def run():
            total = sum(t.square().sum() for t in module_directional_jets(model, x, directions, 4))
            torch.autograd.grad(total, list(net.parameters()))

        return run

    def jacobian_step(model):
        return lambda: directional_jacobian(model, x[:1000], directions, 4, head)

    reps = Repeats(warmup=1, min_reps=2 if quick else 3, max_reps=3 if quick else 5, budget_s=20 if quick else 60)
    print(
        f"\nMLP [2,20,20,20,1] tanh, float64: jets of order 4 along {len(directions)} directions (median, taking turns)"
    )
    print("| what | exact Taylor jets (s) | nested jvp (s) | jvp/Taylor | largest difference / largest entry |")
    print("|---|---|---|---|---|")
    for what, step, compare in (
        (f"jets + backward, {N_INTERIOR} points", jets_step, lambda m: module_directional_jets(m, x, directions, 4)[4]),
        (
            "LM Jacobian of the biharmonic residual, 1000 points",
            jacobian_step,
            lambda m: jacobian_step(m)()[1][net[0].weight],
        ),
    ):
        steps = {"taylor": (step(net), reps), "jvp": (step(_Opaque(net)), reps)}
        got = {name: t for name, (t, _) in time_interleaved(steps, lambda: None).items()}
        taylor, nested = compare(net).detach(), compare(_Opaque(net)).detach()
        worst = float((taylor - nested).abs().max() / nested.abs().max())
        print(f"| {what} | {got['taylor']:.3f} | {got['jvp']:.3f} | {got['jvp'] / got['taylor']:.1f} | {worst:.1e} |")


def _exact_partials(model, x, wanted):
    return partials(model, x, wanted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="loss, step and J^T J timings with fewer repeats; no time-to-accuracy runs"
    )
    parser.add_argument("--multiindex", action="store_true", help="only the order-4 derivative timings (5.)")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"load average at start: {load:.2f}\n")
    if args.multiindex:
        multiindex_timings(args.quick)
        mlp_jet_timings(args.quick)
        return
    print(
        f"Loss + backward, KAN {NAME}, float64, {N_INTERIOR} Sobol interior + {N_BOUNDARY} boundary points "
        f"(soft boundary, alpha {ALPHA}); median, taking turns"
    )
    loss_timings(args.quick)
    step_timings(args.quick)
    jacobian_timings(args.quick)
    multiindex_timings(args.quick)
    mlp_jet_timings(args.quick)
    if args.quick:
        return
    print(
        f"\nTime to relative L2 on 2000 Sobol test points (seed 1), KAN {NAME} from G=5, float64; "
        "error checks excluded from the times"
    )
    print("| run | settings | seconds to <= 1e-3 | seconds to <= 1e-5 | reached at | relative L2 when stopped |")
    print("|---|---|---|---|---|---|")
    lm = lm_time_to_accuracy()
    seconds, where = [], []
    for target in (1e-3, 1e-5):
        at = lm["reached"].get(target)
        seconds.append(f"{at[0]:.1f}" if at else "not reached")
        where.append(f"{target:.0e}: G={at[1]} step {at[2] + 1}" if at else f"{target:.0e}: no")
    if 1e-5 not in lm["reached"]:
        where.append(f"ended at G={lm['grid']} after {lm['total']:.1f} s")
    settings = (
        f"solve(opt='lm', hard_boundary=True, steps=30, n_interior={N_INTERIOR}, grid_schedule={LM_SCHEDULE}); "
        "checked every step"
    )
    print(f"| LM, exact | {settings} | {seconds[0]} | {seconds[1]} | {'; '.join(where)} | {lm['error']:.2e} |")
    settings = "LBFGS, 2500 interior + 800 boundary (soft), grid_schedule=(10, 20, 40), steps=50; checked every 5"
    for exact in (True, False):
        reached, err = time_to_accuracy(exact)
        seconds = f"{reached:.1f}" if reached is not None else "not reached"
        print(f"| LBFGS, {'exact' if exact else 'autograd'} | {settings} | {seconds} | — | — | {err:.2e} |")


if __name__ == "__main__":
    main()
