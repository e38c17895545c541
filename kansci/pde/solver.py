"""PINN-style solving: residual, boundary, initial and data losses trained by :func:`kansci.fit`."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from kansci.core.checks import as_integer
from kansci.core.io import read_checkpoint
from kansci.core.model import KAN
from kansci.core.train import Callback, History, fit
from kansci.pde.causal import causal_weights, check_strength
from kansci.pde.conditions import equation_conditions
from kansci.pde.derivatives import HardDirichlet, derivatives
from kansci.pde.equation import Equation
from kansci.pde.hard import Constrained, HardConstraint
from kansci.pde.problems import Problem
from kansci.pde.residuals import PDEResiduals, conditions, scaled_rows
from kansci.pde.sampling import Method, interior_points

__all__ = ["HardDirichlet", "SolveResult", "Stage", "derivatives", "errors", "solve"]

RAD_POOL = 8
"""The residual-weighted draws of ``adaptive`` pick their points from a random pool this many times larger."""
CAUSAL_EVERY = 10
"""Steps between two computations of the causal weights when neither points refresh nor resample (``causal``)."""
REFRESH_SEED = 10007
"""Seed step of the fresh interior draws of ``refresh_every`` (apart from the test points' ``seed + 1``)."""


def errors(problem: Problem, model: nn.Module, x: Tensor) -> dict[str, float]:
    """Errors against the exact (or reference) solution at x.

    Relative L2, max and mean squared error of every field (the first field's
    names are plain, others get ``_<field>`` appended), and the relative H1
    error of the first field when the exact solution is a differentiable
    closed form.
    """
    if problem.exact is None:
        raise ValueError(f"problem {problem.name!r} has no exact solution to measure errors against")
    xr = x.detach().requires_grad_()
    with torch.enable_grad():
        u, ref = model(xr), problem.exact(xr)
        grads = None
        if ref.requires_grad:
            grads = [torch.autograd.grad(t[:, 0].sum(), xr)[0] for t in (u, ref)]
    u, ref = u.detach(), ref.detach()
    out: dict[str, float] = {}
    for f, name in enumerate(problem.fields):
        suffix = "" if f == 0 else f"_{name}"
        diff = u[:, f] - ref[:, f]
        out[f"relative_l2{suffix}"] = float(diff.norm() / ref[:, f].norm())
        out[f"max_error{suffix}"] = float(diff.abs().max())
        out[f"mse{suffix}"] = float(diff.square().mean())
    if grads is not None:
        gu, gref = grads
        num = (u[:, 0] - ref[:, 0]).square().sum() + (gu - gref).square().sum()
        out["relative_h1"] = float((num / (ref[:, 0].square().sum() + gref.square().sum())).sqrt())
    return out


@dataclass
class Stage:
    """One grid stage of :func:`solve`: its grid, size, wall time and errors at its end."""

    grid: int | None
    n_params: int
    seconds: float
    errors: dict[str, float] = field(default_factory=dict)


@dataclass
class SolveResult:
    """The trained model, its histories (one per fit call), one :class:`Stage` per grid, final errors.

    ``points`` are the interior collocation points at the end (with those
    residual-based resampling added).
    """

    model: nn.Module
    histories: list[History] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    errors: dict[str, float] = field(default_factory=dict)
    points: Tensor | None = None


def _interior(problem: Problem | Equation, n: int, method: str, seed: int, dtype: torch.dtype) -> Tensor:
    if isinstance(problem, Equation):
        return problem.interior_points(n, method, seed=seed, dtype=dtype)
    return interior_points(problem, n, method, seed=seed, dtype=dtype)


def _residual_size(system: PDEResiduals, model: nn.Module, pool: Tensor) -> Tensor:
    """The interior residual's magnitude at ``pool`` (largest over its equations), shape (n,).

    ``model`` is the network the system's rows take (inside any exact boundary factor).
    """
    problem = system.problem
    if isinstance(problem, Equation):
        return system.evaluate(model, 0, pool).detach().abs().amax(1)
    net = HardDirichlet(model, problem) if system.frames[0] is not None else model
    return problem.residual(pool, *derivatives(net, pool)).detach().abs().reshape(pool.shape[0], -1).amax(1)


def _resample(system: PDEResiduals, model: nn.Module, x: Tensor, count: int, seed: int) -> Tensor:
    """x plus the ``count`` points of largest residual among a fresh random pool (RAR)."""
    pool = _interior(system.problem, max(10 * count, x.shape[0]), "random", seed, x.dtype).to(x.device)
    return torch.cat([x, pool[_residual_size(system, model, pool).topk(count).indices]])


def residual_weighted(residual: Tensor, count: int, power: float, floor: float, seed: int) -> Tensor:
    """Indices of ``count`` distinct rows drawn with probability ∝ ``|r|^power / mean(|r|^power) + floor``.

    The residual-based adaptive distribution (RAD) of Wu et al. (2023, "A
    comprehensive study of non-adaptive and residual-based adaptive sampling
    for physics-informed neural networks"): ``floor`` keeps part of the draw
    uniform over the pool (about ``floor / (1 + floor)`` of it), ``power``
    sharpens it. Drawn without replacement by a generator seeded with ``seed``,
    so a draw repeats for a seed.

    Parameters
    ----------
    residual : Tensor, shape (n,)
        Residual magnitudes (or any nonnegative scores) of the pool's rows.
    count : int
        Rows to draw, at most n.
    power, floor : float
        ``k >= 0`` and ``c >= 0`` of RAD. Rows of weight 0 (a zero residual with
        ``floor = 0``) are drawn only when fewer than ``count`` rows weigh more.
    seed : int

    Raises
    ------
    ValueError
        For ``count`` outside [1, n], a negative or non-finite ``power`` or
        ``floor``, or a residual that is not finite and nonnegative.
    """
    residual = residual.detach().reshape(-1)
    n = residual.shape[0]
    count = as_integer("count", count, minimum=1)
    if count > n:
        raise ValueError(f"count ({count}) must not exceed the pool's {n} rows: draw a larger pool")
    _check_rad(power, floor)
    if not bool(torch.isfinite(residual).all()) or bool((residual < 0).any()):
        raise ValueError("the residual magnitudes must be finite and >= 0 (is the model diverging?)")
    density = residual.to(torch.float64).pow(power)
    mean = density.mean()
    density = density / mean + floor if mean > 0 else torch.ones_like(density)
    if int((density > 0).sum()) < count:  # too few rows of positive weight: fill up uniformly among the rest
        density = density + 1e-12 * float(density.max().clamp_min(1.0))
    gen = torch.Generator(device=residual.device).manual_seed(int(seed))
    return torch.multinomial(density, count, replacement=False, generator=gen)


def _time_span(problem: Problem | Equation) -> tuple[float, float]:
    """An evolution problem's first and last time."""
    lower, upper = problem.bounds() if isinstance(problem, Equation) else (problem.lower, problem.upper)
    return float(lower[-1]), float(upper[-1])


def _check_rad(power: object, floor: object) -> None:
    for name, value in (("rad_power", power), ("rad_floor", floor)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_spline_order(model: nn.Module, order: int) -> None:
    """Warn when a KAN's splines have no derivative of the order a residual reads (k < order)."""
    if isinstance(model, KAN) and model.config.k < order:
        warnings.warn(
            f"the residuals read derivatives of order {order}, but this KAN's splines (k = {model.config.k}) are "
            f"piecewise polynomials of degree {model.config.k}, whose derivative of order {order} vanishes: "
            f"build it with k >= {order} (e.g. KAN(width, k={max(order, 5)})) to fit such an equation",
            stacklevel=3,
        )


def _final(problem: Problem | Equation, model: nn.Module, hard_boundary: bool) -> nn.Module:
    """The solution as a module: the network inside its exact boundary factor, if any."""
    if isinstance(problem, Equation):
        hard = HardConstraint.of(problem)
        return model if hard is None else Constrained(model, hard)
    return HardDirichlet(model, problem) if hard_boundary else model


def _steps_to_resume(path: Path, steps: int) -> int:
    """``steps``, or where a checkpointed fit call ended early (NaN restore, a callback's stop): it stays ended."""
    if not path.exists():
        return steps
    state = read_checkpoint(path)
    ended = isinstance(state, dict) and state.get("history", {}).get("status", "completed") != "completed"
    return min(steps, int(state["step"])) if ended else steps


class _Clock:
    """Training seconds of one checkpointed fit call, over every session that ran it.

    ``before`` is what earlier sessions stored at ``path``; as a fit callback it stores ``before`` plus this
    session's seconds whenever the fit writes its checkpoint (every ``every`` steps), so that the stored
    seconds belong to the stored state: steps redone after an interruption count in the session that redoes them.
    """

    def __init__(self, path: Path, every: int) -> None:
        self.path, self.every = path, every
        self.before = _stored_seconds(path)
        self.started = time.perf_counter()

    def __call__(self, step: int, model: nn.Module, history: History) -> bool:
        if (step + 1) % self.every == 0:
            self.write()
        return False

    def write(self) -> None:
        seconds = self.before + time.perf_counter() - self.started
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"seconds": seconds}))
        os.replace(tmp, self.path)


def _stored_seconds(path: Path) -> float:
    """The seconds a :class:`_Clock` stored at ``path``; 0 when there is no (readable) record."""
    try:
        seconds = json.loads(path.read_text())["seconds"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    return float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0 else 0.0


def _check_solve_args(problem: object, model: object, grid_schedule: Sequence[int], **counts: int) -> None:
    """Refuse what :func:`solve` cannot run, before any point is sampled."""
    if not isinstance(problem, (Problem, Equation)):
        raise ValueError(
            f"problem must be a kansci.pde.Equation (your own PDE) or Problem (e.g. kansci.pde.poisson_paper()), "
            f"got {type(problem).__name__}"
        )
    if not isinstance(model, nn.Module) or next(model.parameters(), None) is None:
        raise ValueError(
            f"model must be a torch.nn.Module with parameters, such as kansci.KAN([{problem.dim}, 5, "
            f"{problem.n_fields}]), got {type(model).__name__}"
        )
    for name, value in counts.items():
        as_integer(name, value, minimum=0)
    if counts["steps"] < 1:
        raise ValueError(f"steps must be >= 1 (optimizer steps per grid stage), got {counts['steps']}")
    if isinstance(grid_schedule, (str, bytes)) or not hasattr(grid_schedule, "__iter__"):
        raise ValueError(f"grid_schedule must be a sequence of grid sizes such as (10, 20), got {grid_schedule!r}")
    if not isinstance(model, KAN):
        return  # solve refuses a grid schedule for other modules
    previous = model.config.grid
    for grid in grid_schedule:
        grid = as_integer("every grid_schedule entry", grid, minimum=1)
        if grid <= previous:
            raise ValueError(
                f"grid_schedule must increase from the model's grid {model.config.grid}, got {list(grid_schedule)}: "
                "a grid at or below the one before would coarsen the model or repeat the stage"
            )
        previous = grid


def solve(
    problem: Problem,
    model: nn.Module,
    *,
    steps: int = 50,
    opt: Literal["lbfgs", "adam", "lm"] = "lbfgs",
    lr: float | None = None,
    adam_steps: int = 0,
    adam_lr: float = 1e-3,
    alpha: float | None = None,
    n_interior: int = 10000,
    n_boundary: int = 800,
    n_initial: int | None = None,
    sampler: Method = "sobol",
    grid_schedule: Sequence[int] = (),
    update_grid: bool = True,
    hard_boundary: bool = False,
    exact_derivatives: bool = True,
    resample_every: int = 0,
    resample_count: int = 100,
    refresh_every: int = 0,
    adaptive: Literal["none", "points", "knots", "both"] = "none",
    rad_power: float = 1.0,
    rad_floor: float = 1.0,
    causal: float = 0.0,
    n_test: int = 10000,
    seed: int = 0,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 10,
) -> SolveResult:
    """Train ``model`` so that it solves ``problem``.

    Loss: ``alpha * mean(residual^2)`` plus the mean squared misfit of every
    condition the problem has (Dirichlet, Neumann, initial, observations) —
    the paper's §3.4 form, the sum of squares of the weighted residual rows
    :class:`~kansci.pde.residuals.PDEResiduals`. For a KAN, ``grid_schedule``
    lists finer grids: after each stage of ``steps`` the model is refined (grid
    extension) and trained on.

    Parameters
    ----------
    problem : Equation or Problem
        A PDE of your own (:class:`~kansci.pde.equation.Equation`: any domain,
        derivatives by name, its conditions weighted 1 each, Dirichlet values exact
        where they say ``hard=True``) or a box problem of :mod:`kansci.pde.problems`.
    model : nn.Module
        Maps (batch, problem.dim) to (batch, problem.n_fields); trained in
        place (a KAN on a grid schedule is replaced by its refinements, and
        ``hard_boundary`` wraps it: use ``result.model``).
    steps : int
        Optimizer steps per stage.
    opt : {"lbfgs", "adam", "lm"}
        "lm" is Levenberg–Marquardt (damped Gauss–Newton) on the residual
        rows, with their Jacobian in closed form for a KAN and by
        ``torch.func`` for other modules; models up to
        :data:`kansci.core.lm.MAX_PARAMETERS` parameters. One step is one
        Jacobian. See Notes for what it reaches.
    adam_steps : int
        Adam steps (learning rate ``adam_lr``) before the first stage: the
        usual Adam-then-LBFGS schedule.
    alpha : float, optional
        Weight of the residual term; default: the problem's own
        (:attr:`Problem.alpha`, the paper's 0.01 unless its operator is large).
    n_interior, n_boundary, n_initial : int
        Collocation points (interior by ``sampler``; ``n_initial`` defaults to ``n_boundary``);
        every boundary condition of an Equation gets ``n_boundary`` points unless it sets ``n``.
    grid_schedule : sequence of int
        Grids to extend a KAN to, in order.
    hard_boundary : bool
        Impose the Dirichlet (and initial) values of a box problem exactly by
        :class:`HardDirichlet` (an Equation says so on its ``Dirichlet`` conditions).
    exact_derivatives : bool
        Propagate derivatives through a KAN exactly (the fast default); False
        uses nested autograd, the reference.
    resample_every, resample_count : int
        Residual-based adaptive refinement: every ``resample_every`` steps add
        the ``resample_count`` points of largest residual (0: off).
    refresh_every : int
        Every ``refresh_every`` steps replace the interior points by a fresh
        draw of ``n_interior`` (by ``sampler``, another seed each time; 0: off).
        Against a solution that is steep between fixed points: on viscous Burgers
        (KAN [2,10,1], LM with exact boundary values, 4,000 points, grids
        5 -> 40, 30 steps each) the fixed points let a shock as thin as the
        finest knots drift off x = 0, unseen by the points between which it
        sits (relative L2 0.15 at every grid from G = 10 on); fresh points every
        10 steps kept it nearer: 0.080 at G = 40 with this function's draws,
        0.035 and 0.087 (seeds 0, 1) with other draws, 0.026 at G = 80. Not
        enough to match an MLP there (PINNacle's best: 1.3e-2). With
        ``resample_every`` too, both must be equal; the residual points are
        then added to each fresh draw.
    adaptive : {"none", "points", "knots", "both"}
        Residual-based adaptation (RAD, see :func:`residual_weighted`): draws of
        ``n_interior`` points from a random pool of ``RAD_POOL * n_interior``
        with probability ∝ ``|r|^rad_power / mean(|r|^rad_power) + rad_floor``,
        ``r`` the interior residual of the model at the time. "points": every
        fresh draw of ``refresh_every`` is such a draw (needs ``refresh_every``).
        "knots": at every grid extension the first layer's knots move to the
        quantiles of such a draw (a KAN with a ``grid_schedule``), so they
        gather where the residual is large. "both": both. On viscous Burgers
        (the ``refresh_every`` setting above, k = c = 1) no mode helped
        measurably, for the outcome swings with the seed: relative L2 at
        G = 40, seeds 0-3, plain fresh draws 0.081, 0.068, 0.21, 0.044;
        "points" 0.056, 0.080, 0.069 (seeds 0-2); "knots" 0.14, 0.098 (seeds
        0, 1); "both" 0.020, 0.14, 0.028, 0.25 (k = 2: 0.042, 0.19; c = 0.3:
        0.10, 0.10 for seeds 0, 1).
    rad_power, rad_floor : float
        ``k`` and ``c`` of RAD (both >= 0; Wu et al. 2023 recommend k = c = 1):
        about ``c / (1 + c)`` of a draw is uniform, and a larger ``k`` gathers
        the rest more tightly at the largest residuals.
    causal : float
        Causal weights for an evolution problem (0: off): before every fit
        (each refresh or resample, else every :data:`CAUSAL_EVERY` steps)
        the interior residual's squares are weighted by
        :func:`~kansci.pde.causal.causal_weights` of the model's residual
        then, ``exp(-causal * S_i / S)``, ``S_i`` the residual of the times
        before point ``i``'s as a share of all (at the points of the time,
        so with ``adaptive`` draws mostly where the residual is large): the
        last times weigh about ``exp(-causal)``. The logged "residual" is
        the weighted one.
        On viscous Burgers (KAN [2,10,1], LM with exact boundary values,
        10,000 points drawn by the residual every 10 steps, knots too, grids
        5 -> 80, seed 0) the early solution no longer drifts and the shock
        forms at x = 0: relative L2 4.5e-3 with ``causal=8`` against 3.0e-2
        without (seeds 1, 2: 1.0e-2 and 2.7e-2 against 3.0e-2, 3.4e-2);
        ``causal=3`` gave 0.10.
    n_test : int
        Sobol points (another seed) where the errors are measured.
    seed : int
    callbacks : sequence of callable
        Passed to :func:`kansci.fit` for every stage (``cb(step, model, history)``;
        a true return value stops training).
    checkpoint : path, optional
        A folder for training checkpoints, one file per :func:`kansci.fit`
        call (``fit-<i>.pt``: the Adam warm-up, then each stage), written every
        ``checkpoint_every`` steps and at the end of the call. A solve started
        again with the same folder, problem, model and settings resumes from
        them: finished calls are restored, not retrained, and an interrupted
        one loses at most ``checkpoint_every`` steps. A stage's ``seconds``
        count the training time of every session (kept in ``fit-<i>.json``).
    checkpoint_every : int
        Steps between two checkpoints.

    Returns
    -------
    SolveResult

    Notes
    -----
    Measured on the paper's Poisson (KAN [2,10,1], 10,000 Sobol interior
    points, float64, 2 threads; relative L2 at 5,000 test points):

    - ``opt="lm", hard_boundary=True``, 30 steps per grid 5 -> 10 -> 20 -> 40
      -> 80 (the Poisson study's default, one thread): 3.6e-4 at G = 5 after
      7 s, then 5.8e-5, 8.9e-6, 4.2e-6 and 9.0e-7 at G = 80 after 136 s
      (seed 0; seeds 1 and 2 end at 8.1e-7 and 1.5e-6); with 45 steps per
      grid 5.9e-7, 1.0e-6 and 4.8e-7 in 190-240 s. LBFGS stalls near
      1e-3..1e-4 on the same problem (7.3e-4 with 50 steps per grid to G = 40).
    - With the boundary as a penalty instead (``hard_boundary=False``) LM stalls
      at 8.9e-5 at G = 40: the residual and boundary terms pull against each
      other and the damping grows until the steps vanish. Exact Dirichlet
      values remove that conflict, so use them with "lm" where the problem
      allows.
    - Fewer collocation points overfit at large G: with 2,000 points the error
      at G = 40 was 3.2e-4 (penalty boundary). Marquardt's diagonal scaling
      with a floor of 1e-6 or 1e-3 of its largest entry instead of 1e-12 did
      worse (4.3e-4, 2.0e-4 against 5.3e-5 at G = 20, 4,000 points); an
      LBFGS warm start (50 steps) helped a little with the penalty boundary
      (1.7e-4 against 3.2e-4 at G = 40, 2,000 points); grid updates in every
      stage rather than the first gave mixed results (1.3e-6 against 3.7e-6 at
      G = 40, but 1.1e-5 against 5.6e-6 at G = 20).
    """
    _check_solve_args(
        problem, model, grid_schedule, steps=steps, adam_steps=adam_steps, resample_every=resample_every,
        refresh_every=refresh_every,
    )  # fmt: skip
    if adaptive not in ("none", "points", "knots", "both"):
        raise ValueError(f"adaptive must be 'none', 'points', 'knots' or 'both', got {adaptive!r}")
    _check_rad(rad_power, rad_floor)
    if adaptive in ("points", "both") and not refresh_every:
        raise ValueError(
            f"adaptive={adaptive!r} draws the fresh points of refresh_every by their residual: set refresh_every "
            "(e.g. 10)"
        )
    if adaptive in ("knots", "both") and not (isinstance(model, KAN) and len(grid_schedule)):
        raise ValueError(
            f"adaptive={adaptive!r} moves a KAN's first-layer knots at each grid extension: it needs a kansci.KAN "
            "and a grid_schedule"
        )
    check_strength(causal)
    if causal and not problem.time:
        raise ValueError(
            f"causal weights need an evolution problem (time as the last input); {problem.name!r} has none"
        )
    if resample_every and refresh_every and resample_every != refresh_every:
        raise ValueError(
            f"resample_every ({resample_every}) and refresh_every ({refresh_every}) must be equal when both are set: "
            "the residual points are added to each fresh draw"
        )
    n_out = model.width[-1] if isinstance(model, KAN) else None
    if isinstance(model, KAN) and (model.width[0] != problem.dim or n_out != problem.n_fields):
        raise ValueError(
            f"problem {problem.name!r} needs a model with {problem.dim} inputs and {problem.n_fields} output(s), "
            f"got width {list(model.width)}"
        )
    if grid_schedule and not isinstance(model, KAN):
        raise ValueError("grid_schedule needs a kansci.KAN")
    if min(steps, adam_steps, resample_every) < 0 or resample_count < 1:
        raise ValueError("steps, adam_steps and resample_every must be >= 0 and resample_count >= 1")
    weight = problem.alpha if alpha is None else alpha
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"alpha (the residual's weight) must be a positive number, got {alpha!r}")
    if hard_boundary and isinstance(problem, Equation):
        raise ValueError("an Equation imposes exact Dirichlet values with Dirichlet(..., hard=True), not hard_boundary")
    param = next(model.parameters())
    dtype, device = param.dtype, param.device
    x_in = _interior(problem, n_interior, sampler, seed, dtype).to(device)
    problem.check(x_in[:8])
    try:
        with torch.no_grad():
            out = model(x_in[:2])
    except RuntimeError as err:
        raise ValueError(
            f"problem {problem.name!r} has {problem.dim} inputs, which the model cannot take ({err}); "
            f"build it with {problem.dim} inputs"
        ) from err
    if out.ndim != 2 or out.shape[1] != problem.n_fields:
        raise ValueError(
            f"problem {problem.name!r} needs a model with {problem.n_fields} output(s), got {tuple(out.shape)}"
        )

    if isinstance(problem, Equation):
        fixed = equation_conditions(
            problem, x_in, alpha=weight, n_boundary=n_boundary, n_initial=n_initial or n_boundary, seed=seed
        )
        _check_spline_order(model, max(sum(c) for block in fixed for c in block.needs))
    else:
        fixed = conditions(
            problem, x_in, alpha=weight, n_boundary=n_boundary, n_initial=n_initial or n_boundary,
            hard_boundary=hard_boundary, seed=seed,
        )  # fmt: skip

    def system(interior: Tensor, factors: Tensor | None = None) -> PDEResiduals:
        """The residual rows with the interior condition at ``interior`` (it grows when resampled).

        ``factors`` (one per interior point) scale the interior rows: the square roots of the causal weights.
        """
        residual = dataclasses.replace(fixed[0], points=interior)
        if factors is not None:
            residual = scaled_rows(residual, factors)
        exact = exact_derivatives
        return PDEResiduals(problem, [residual, *fixed[1:]], hard_boundary=hard_boundary, exact_derivatives=exact)

    points = {"interior": x_in}
    x_test = _interior(problem, n_test, "sobol", seed + 1, dtype).to(device)
    result = SolveResult(model=model)
    train_options = {
        "seed": seed,
        "progress": progress,
        "callbacks": callbacks,
        "grid_samples": x_in if isinstance(model, KAN) else None,
    }

    earlier = {"seconds": 0.0}  # training seconds of the current stage's fit calls before a resume

    def fit_call(steps: int, **options) -> History:
        """One fit call; with ``checkpoint`` it resumes from, and saves to, its own file there.

        With ``checkpoint`` the call's training seconds are kept beside its file (``fit-<i>.json``, written with
        each checkpoint), so that a resumed stage counts the seconds spent before the interruption too.
        """
        interior = points["interior"]
        factors = None
        if causal:
            size = _residual_size(system(interior), result.model, interior)
            factors = causal_weights(interior[:, -1], size, _time_span(problem), causal).sqrt()
        loss = system(interior, factors)
        if checkpoint is None:
            return fit(result.model, loss, steps=steps, **options, **train_options)
        path = Path(checkpoint) / f"fit-{len(result.histories)}.pt"
        clock = _Clock(path.with_suffix(".json"), checkpoint_every)
        earlier["seconds"] += clock.before
        timed = train_options | {"callbacks": [clock, *callbacks]}
        history = fit(
            result.model, loss, steps=_steps_to_resume(path, steps), checkpoint=path,
            checkpoint_every=checkpoint_every, resume=True, **options, **timed,
        )  # fmt: skip
        clock.write()
        return history

    def rad_draw(n: int, draw: int) -> Tensor:
        """``n`` interior points drawn by RAD from a random pool of ``RAD_POOL * n`` (seed ``draw``)."""
        pool = _interior(problem, RAD_POOL * n, "random", draw, dtype).to(device)
        size = _residual_size(system(points["interior"]), result.model, pool)
        return pool[residual_weighted(size, n, rad_power, rad_floor, draw)]

    if adam_steps:
        result.histories.append(fit_call(adam_steps, opt="adam", lr=adam_lr, update_grid=False))
    for stage, grid in enumerate([None, *grid_schedule]):
        started, earlier["seconds"] = time.perf_counter(), 0.0
        if grid is not None:
            result.model = result.model.refine(grid, points["interior"])
            if adaptive in ("knots", "both"):
                draw = seed + REFRESH_SEED * (1 + 1000 * stage) + 1
                layer = result.model.layers[0]
                ends = layer.grid.t()[[0, -1]]  # the grid keeps its span: the boundary stays inside it
                layer.update_grid_(torch.cat([rad_draw(n_interior, draw), ends]))
        every = resample_every or refresh_every or (CAUSAL_EVERY if causal else 0)
        chunks = [steps] if not every else [every] * (steps // every) + [steps % every]
        for i, chunk in enumerate(c for c in chunks if c):
            if refresh_every and (i > 0 or stage > 0):
                draw = seed + REFRESH_SEED * (1 + 1000 * stage + i)
                if adaptive in ("points", "both"):
                    points["interior"] = rad_draw(n_interior, draw)
                else:
                    points["interior"] = _interior(problem, n_interior, sampler, draw, dtype).to(device)
            if resample_every and (i > 0 or stage > 0):
                found = _resample(system(points["interior"]), result.model, points["interior"], resample_count,
                                  seed + 100 * stage + i)  # fmt: skip
                points["interior"] = found
            history = fit_call(chunk, opt=opt, lr=lr, update_grid=update_grid and stage == 0 and i == 0)
            result.histories.append(history)
            if history.status != "completed":
                break
        seconds = time.perf_counter() - started + earlier["seconds"]
        final = _final(problem, result.model, hard_boundary)
        measured = errors(problem, final, x_test) if problem.exact is not None else {}
        n_params = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
        grid_now = result.model.config.grid if isinstance(result.model, KAN) else None
        result.stages.append(Stage(grid=grid_now, n_params=n_params, seconds=seconds, errors=measured))
        if result.histories[-1].status != "completed":
            break
    result.model = _final(problem, result.model, hard_boundary)
    result.errors = result.stages[-1].errors if result.stages else {}
    result.points = points["interior"]
    return result
