"""One call from data to a formula: a small search over KAN shapes, each fitted, snapped and verified.

:func:`discover` holds out a validation part of the training data, then tries
KAN shapes from the simplest up (:func:`candidate_shapes`: additive, a
product of additive factors, a function of a sum, a function of a product,
then wider networks), each from a few starts (seeds, each warmed up by LBFGS
or Adam) and fitted by Levenberg-Marquardt over a grid schedule. A shape that
fits the validation part snaps every edge to a library function
(:func:`~kansci.symbolic.auto_symbolic`; where the first snap does not
survive retraining, once more with fit quality ranked before simplicity),
retrains the affine constants and reads the formula
(:func:`~kansci.symbolic.formula`, constants snapped). When no shape gives a
verified formula that way, the near misses (shapes whose spline fit misses by
less than :data:`NEAR_MISS` times) are snapped too; then a symbolic-regression
engine fits the one-variable functions of the edges no library function fits
well (one or two per shape, on the simplest shapes that fit;
:mod:`kansci.symbolic.edge_engine`). The first
formula that matches the validation part within ``tolerance`` is the answer;
if none does, the one with the smallest validation error. Selection never
looks at the dataset's test split, which is only reported. Every step is
deterministic, so the same call gives the same formula in any process;
with ``checkpoint`` an interrupted call resumes after its last finished shape.

Before the search, surrogates of the data point to shapes. With three or more
inputs, a tanh MLP is fitted beside the KAN surrogate, and both (where they fit)
are tested for pairs of inputs that enter only through their difference, sum,
product or ratio (:func:`kansci.structure.symmetry`); if one does, the search
runs on the problem with that pair replaced by one input, and the formula found
there is written back in the original inputs. Otherwise the shapes of their
separability trees come first (:func:`kansci.structure.suggested_shape`; with
two inputs, a product ``g(x) h(y)`` without cross edges). Two inputs that form
neither a sum nor a product may still be ``h(y) g(x / y)`` (a scale times a
function of a ratio, as the normal density) or kin
(:func:`kansci.structure.scaled_symmetry`): that shape, with the invariant
computed by fixed edges, is tried after the separable ones.

Multiplication nodes (KAN 2.0, Liu et al. 2024, arXiv 2408.10205) make
products and ratios one layer: ``x * exp(y)`` is ``[2, [0, 1]]`` with edges
``x`` and ``exp``.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import sympy
import torch
from torch import Tensor
from tqdm.auto import tqdm

from kansci.core.io import write_atomic
from kansci.core.model import KAN
from kansci.core.train import fit
from kansci.datasets.base import Dataset
from kansci.structure import (
    Tree,
    invariant_shape,
    scaled_invariant_shape,
    scaled_symmetry,
    structure_tree,
    suggested_shape,
    symmetry,
)
from kansci.symbolic.compile import compile_formula
from kansci.symbolic.edge_engine import engine_edge, engine_functions, register_expression
from kansci.symbolic.formula import evaluate, formula, snap_constants
from kansci.symbolic.snap import _hidden, auto_symbolic, fix_symbolic, unfix

__all__ = ["Discovery", "Shape", "Trial", "candidate_shapes", "discover"]

log = logging.getLogger(__name__)

FIT_TOLERANCE = 1e-3
"""A shape is snapped only if its spline fit reaches this validation RMSE, relative to the labels' spread."""

IDLE_EDGE = 1e-2
"""An edge varying less than this share of its layer's liveliest edge is masked before snapping (if the fit allows)."""

PRUNE_SLACK = 10.0
"""Masking idle edges may raise the validation error by this factor at most (and not above ``fit_tolerance``)."""

NEAR_MISS = 10.0
"""A shape whose spline fit misses ``fit_tolerance`` by at most this factor is snapped after the shapes that
fit, if none of them gave a verified formula: a spline cannot follow a library function's steep end
(``asin(n sin(t))`` where ``n sin(t)`` nears 1: [2,[0,1],1] fits to 1.3e-3 on G = 20), but its snapped
edges can."""

NEAR_MISS_SHAPES = 3
"""Near misses snapped at most, simplest shape first."""

GOOD_FIT = 0.1
"""The seeds of a shape are tried in turn until one fits this far below ``fit_tolerance``."""

ABANDON = 0.1
"""A fit this far off (RMSE relative to the labels' spread) on the first grid is not refined: the wrong shape."""

WARMUPS = {"lbfgs": {"steps": 10, "opt": "lbfgs"}, "adam": {"steps": 100, "opt": "adam", "lr": 1e-2}}
"""Starts of every fit before Levenberg-Marquardt (both with grid updates), tried in turn per seed.

LM from a random start sent deep narrow shapes' hidden values off their grids (KAN [2,1,1] on
sqrt(x^2 + y^2), seeds 0-3: relative RMSE 5.2, 0.72, 3e-4, 8e-4 by LM alone; 1.1e-4 to 1.3e-4 after 10
LBFGS steps). On exp(sin(pi x) + y^2) every LBFGS start got stuck (0.4-0.5 for seeds 0-2) where 100 Adam
steps led LM to 2e-3-5e-3 at G = 5; Adam is the worse start elsewhere (sqrt: 5e-3 against 1.3e-4).
"""

ROUGH = 100.0
"""A snapped model's raw formula is tidied and verified only within this factor of the tolerance."""

MAX_OPERATIONS = 300
"""Nor when its raw formula has more operations than this (a shape too large to read as a short formula)."""

ENGINE_BELOW_R2 = 0.9999
"""With an engine, edges whose library fit explains less of their variance than this go to the engine."""

ENGINE_MAX_EDGES = 2
"""The engine takes over at most this many edges of a shape; a shape with more poorly fitting edges is not it."""

ENGINE_GENERATIONS = 20
"""The engine's default budget per edge, in generations (iterations), with a cap of 120 s a normal run never reaches."""

ENGINE_SHAPES = 2
"""When no library formula is verified, the engine tries the edges of this many shapes that fit, simplest first.

Best fit first sent I.15.3x, (1 - a)/sqrt(1 - b^2), to two deep shapes (fits 2.8e-5, 2.9e-5) with several poor
edges each, past [2,[0,1]] (fit 1.8e-4), whose only poor edge is b's 1/sqrt(1 - b^2)."""

SURROGATE = (None, 5, 1)
"""The KAN (n inputs, 5 hidden nodes) whose gradients and Hessians give the separability tree: it fits the
Feynman equations of three variables to 5e-5 to 1e-2 relative RMSE in a few seconds."""

SMOOTH_SURROGATE = (32, 32)
"""Hidden widths of a tanh MLP, the other surrogate of data of three or more inputs: the pair test
(:data:`PAIR_TOLERANCE`) and the separability tree read whichever of it and the KAN fits better. On
sqrt(1 + a^2 - 2 a cos(t1 - t2)) (Feynman I.29.16, t in [0, 2 pi]) the KAN [3,5,1] fits to 0.31 relative RMSE,
[3,5,5,1] to 0.06, the MLP to 1.3e-2 in 6 s; the score of t1 - t2 is 0.46 on the first and 3.5e-3 on the MLP."""

SMOOTH_SURROGATE_STEPS = 2000
"""LBFGS iterations of the MLP surrogate."""

TREE_TOLERANCE = 2e-2
"""Violation score accepted as a split on the surrogate (:func:`kansci.structure.structure_tree`): its fit
error makes exact scores of 1e-3 noisy. A split only puts its shape first, so a wrong one costs one fit. On
``a / ((b - 1)^2 + u^2 + u1^2)`` (Feynman I.9.18 after two pair reductions; ``a`` crosses 0) the MLP surrogate
(fit 1.2e-2) scores the split of ``a`` at 1.1e-2 and every wrong split at 1.5e-2 or more (the lowest wins);
on ``c sqrt(a^2 + b^2)`` (II.6.15a) the KAN scores the split of ``c`` at 6.8e-3, the MLP at 2.7e-2."""

TREE_SAMPLES = 200
"""Training rows the structure tests read (each costs a Hessian)."""

SCALED_SHAPES = 2
"""Two-input shapes ``h(x_k) g(u)`` or ``h(x_k) + g(u)`` (:func:`kansci.structure.scaled_symmetry` below
:data:`TREE_TOLERANCE` on the surrogate) tried at most, best score first. The normal density
``exp(-(t/s)^2/2)/s`` scores 5e-3 as ``h(s) g(t/s)`` on its KAN surrogate (fit 7.7e-5); no other form passes."""

SURROGATE_USABLE = 5e-2
"""The pair test and the tree read the better fitting surrogate, and the other if it fits the validation part to
this relative RMSE too: the pair test takes the lowest score, and the shapes of both trees are tried first.
Where one surrogate cannot follow ``f``, the other may. On the normal density of ``theta - theta1``
(Feynman I.6.2b) the KAN fits to 9.8e-3 and scores the difference at 0.19, the MLP fits to 1.1e-2 and scores
it at 9.2e-3; every wrong invariant of the study's equations scores above 0.3 on both."""

PAIR_TOLERANCE = 1e-2
"""Symmetry score (:func:`kansci.structure.symmetry`) on the surrogate below which ``f`` of three or more inputs is
taken to depend on two of them only through their difference, sum, product or ratio: the search continues with
those two replaced by that one input (a problem with one input fewer), and only there, since ``f`` is then a
function of the invariant and the other inputs."""

LAYER_MISS = "an edge of layer {} fits no library function"
"""Why a snap gave no formula: an edge no candidate fits to ``auto_symbolic``'s R^2 threshold."""

SNAP_ATTEMPTS = ({}, {"r2_tolerance": 1.0, "weight_simple": 0.5})
"""auto_symbolic settings tried in turn: the default ranking, then fit quality before simplicity."""


@dataclass(frozen=True)
class Shape:
    """A KAN shape: ``width`` as :class:`~kansci.KAN` takes it (pairs for multiplication nodes) and the arity.

    ``edges``, if given, lists per layer the ``(input, output)`` edges that are active (outputs
    counted in subnodes, see :mod:`kansci.core.mult`); every other edge is masked from the start.
    ``fixed`` lists ``(layer, input, output, function, scale)`` edges fixed to ``scale * function(x)``
    from the start (a library name: ``"x"``, ``"1/x"``): one of two edges in a row with nothing else
    joining them, whose pair of functions is otherwise only known up to a composition (``psi(phi(n))``
    = n, fitted, may read as ``tan(0.74 sin(1.2 n + 2.5))``), or the inner functions of an invariant
    (``x - y``, ``x / y``). :func:`kansci.structure.suggested_shape` and
    :func:`kansci.structure.invariant_shape` write them.
    """

    width: tuple
    arity: int = 2
    edges: tuple[tuple[tuple[int, int], ...], ...] | None = None
    fixed: tuple[tuple[int, int, int, str, float], ...] = ()

    def __str__(self) -> str:
        text = str([list(w) if isinstance(w, tuple) else w for w in self.width]).replace(" ", "")
        text = text if self.arity == 2 else f"{text} (arity {self.arity})"
        return text if self.edges is None else f"{text} masked"

    def build(self, grid: int, seed: int) -> KAN:
        """A float64 KAN of this shape with only :attr:`edges` active and :attr:`fixed` fixed."""
        model = KAN(list(self.width), grid=grid, seed=seed, dtype=torch.float64, mult_arity=self.arity)
        if self.edges is not None:
            if len(self.edges) != model.depth:
                raise ValueError(f"edges lists {len(self.edges)} layers for a KAN of depth {model.depth}")
            with torch.no_grad():
                for layer, active in zip(model.layers, self.edges):
                    keep = torch.zeros_like(layer.mask)
                    for i, o in active:
                        keep[i, o] = 1.0
                    layer.mask.mul_(keep)
        for layer, i, o, function, scale in self.fixed:
            fix_symbolic(model, layer, i, o, function, params=(1.0, 0.0, scale, 0.0))
        return model


def candidate_shapes(n: int) -> list[Shape]:
    """The shapes :func:`discover` tries for ``n`` inputs, simplest first.

    Additive ``f(x) + g(y)``; a product of additive factors (for n = 2
    first ``g(x) h(y)`` without cross edges; all ``n`` factors at once too,
    for n > 2); a function of a sum; a function of a
    product; a product of two functions of sums; two hidden sum nodes; a sum
    and a product (``f(x*y) + g(x)``), then times a third function
    (``(x + y) / (1 + x*y)``); three hidden sum nodes; two sums and a product.
    """
    if n < 1:
        raise ValueError(f"a formula needs at least one input, got {n}")
    product = [Shape((n, (0, 1)))] + ([Shape((n, (0, 1)), n)] if n > 2 else [])
    if n == 2:  # first each factor a function of its own input: cross edges would take up part of the other
        product.insert(0, Shape((2, (0, 1)), 2, (((0, 0), (1, 1)),)))
    shapes = [Shape((n, 1)), *product, Shape((n, 1, 1)), Shape((n, (0, 1), 1)), Shape((n, 2, (0, 1)))]
    shapes += [Shape((n, 2, 1)), Shape((n, (1, 1), 1)), Shape((n, (1, 1), (0, 1)))]
    shapes += [Shape((n, 3, 1)), Shape((n, (2, 1), 1))]
    return shapes if n > 1 else [Shape((1, 1)), Shape((1, 1, 1)), Shape((1, 2, 1))]


@dataclass(frozen=True)
class Trial:
    """One shape's outcome.

    Attributes
    ----------
    shape : Shape
    fit_error : float
        Validation RMSE of the best seed's spline fit, relative to the labels' standard deviation.
    seed : int
        The seed of the best fit.
    expression : sympy.Expr or None
        The formula read after snapping (None when the fit was too poor to snap, or an edge stayed numeric).
    formula_error : float
        Largest validation error of the formula relative to the largest |label| (inf without a formula).
    seconds : float
    note : str
        Why a shape stopped short, if it did.
    engine_edges : int
        Edges whose function the symbolic-regression engine found (0: library functions only).
    warmup : str
        The warm-up before Levenberg-Marquardt of the best fit (see :data:`WARMUPS`).
    """

    shape: Shape
    fit_error: float
    seed: int
    expression: sympy.Expr | None = None
    formula_error: float = float("inf")
    seconds: float = 0.0
    note: str = ""
    engine_edges: int = 0
    warmup: str = "lbfgs"


@dataclass
class Discovery:
    """What :func:`discover` found.

    Attributes
    ----------
    expression : sympy.Expr or None
        The formula (None if no shape gave one).
    model : KAN or None
        The snapped KAN that reads as ``expression``.
    verified : bool
        Whether ``expression`` matches the validation part within the tolerance.
    validation_error, test_error : float
        Largest error of ``expression`` on the validation part and on the
        dataset's test split, relative to the largest |label| there.
    trials : list of Trial
        Every shape tried, in order.
    tree : kansci.structure.Tree or None
        The separability tree read off a surrogate (inputs > 1, default shapes), whose
        :func:`~kansci.structure.suggested_shape` was tried first (with two inputs: a product).
    """

    expression: sympy.Expr | None
    model: KAN | None
    verified: bool
    validation_error: float
    test_error: float
    trials: list[Trial] = field(default_factory=list)
    tree: Tree | None = None

    def table(self) -> str:
        """The trials as a markdown table."""
        rows = ["| shape | start | fit error | formula | formula error | s | note |", "|---|---|---|---|---|---|---|"]
        for t in self.trials:
            shown = "—" if t.expression is None else f"`{t.expression}`"
            rows.append(
                f"| {t.shape} | {t.seed} ({t.warmup}) | {t.fit_error:.1e} | {shown} | {t.formula_error:.1e} | "
                f"{t.seconds:.1f} | {t.note} |"
            )
        return "\n".join(rows)

    def __str__(self) -> str:
        status = "verified" if self.verified else "not verified"
        return f"{self.expression} ({status}; validation error {self.validation_error:.1e})"


def discover(
    data: Dataset,
    names: Sequence[str] | None = None,
    *,
    shapes: Sequence[Shape] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    grids: Sequence[int] = (5, 10, 20),
    steps: int = 40,
    validation: float = 0.2,
    tolerance: float = 1e-5,
    fit_tolerance: float = FIT_TOLERANCE,
    precision: int = 4,
    lib=None,
    engine="auto",
    engine_budget=None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> Discovery:
    """Find a formula for the data's single output.

    Parameters
    ----------
    data : Dataset
        One output column; trained on (a part of) ``train_*``, reported on ``test_*``.
    names : sequence of str, optional
        Variable names; default the dataset's input names.
    shapes : sequence of Shape, optional
        Shapes to try in order; default :func:`candidate_shapes`.
    seeds : sequence of int
        Initializations tried per shape, each with every warm-up of :data:`WARMUPS`, in turn until
        one fits well; the one with the lowest validation error is kept.
    grids : sequence of int
        Grid schedule of every fit (refined in turn, ``steps`` LM steps each).
    steps : int
        Levenberg-Marquardt steps per grid, and for the retraining after snapping.
    validation : float in (0, 1)
        Share of the training rows held out to choose shapes and verify formulas.
    tolerance : float
        A formula whose largest validation error, relative to the largest
        |label|, is at most this is accepted and ends the search. Noisy data
        needs it above the noise.
    fit_tolerance : float
        Shapes whose spline fit misses the validation part by more than this
        (RMSE relative to the labels' spread) are not snapped.
    precision : int
        Significant digits of the formula's constants (see :func:`~kansci.symbolic.snap_constants`).
    lib : optional
        Candidate functions for the edges, as for :func:`~kansci.symbolic.auto_symbolic`.
    engine : kansci.sr.Engine, engine name, "auto" or None
        With an engine (e.g. ``"operon"`` or ``kansci.sr.get_engine("operon")``), when no
        shape's library formula is verified, the :data:`ENGINE_SHAPES` simplest shapes that fit
        are snapped once more with the engine on every edge no library function fits well
        (:func:`~kansci.symbolic.edge_engine.engine_edge`): a search over one variable, not
        over the data. ``"auto"`` (default)
        uses pyoperon when it is installed (``pip install kansci[sr]``), else
        no engine; None never uses one.
    checkpoint : path, optional
        A folder where every shape's outcome is kept as it finishes: a call
        interrupted and made again with the same folder (and settings) takes
        the finished shapes from it.
    progress : bool, optional
        A progress bar over the shapes; None shows one on an interactive terminal.
    engine_budget : kansci.sr.Budget, optional
        The engine's budget per edge; default :data:`ENGINE_GENERATIONS` generations.

    Returns
    -------
    Discovery

    Examples
    --------
    >>> from kansci.datasets import from_function
    >>> data = from_function(lambda x: x[:, :1] * torch.exp(x[:, 1:]), 2, n_train=400, dtype=torch.float64)
    >>> str(discover(data, ["x", "y"], seeds=(0,)).expression)
    'x*exp(y)'
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"discover needs a kansci Dataset, got {type(data).__name__}; see kansci.datasets.from_arrays")
    if data.n_outputs != 1:
        raise ValueError(f"discover reads one output at a time, got {data.n_outputs}; pass one label column")
    if not 0.0 < validation < 1.0:
        raise ValueError(f"validation must be a share in (0, 1), got {validation}")
    if not seeds or not grids:
        raise ValueError("give at least one seed and one grid size")
    names = list(names) if names is not None else list(data.input_names)
    if len(names) != data.n_inputs:
        raise ValueError(f"got {len(names)} names for {data.n_inputs} inputs")
    fitting, held = _split(data, validation)
    engine = _engine(engine)
    if engine is not None and engine_budget is None:
        from kansci.sr import Budget  # kansci.sr reads formulas with kansci.symbolic: imported when needed

        engine_budget = Budget(seconds=120.0, iterations=ENGINE_GENERATIONS, seed=0)
    search = _Search(fitting, held, names, tuple(seeds), tuple(grids), steps, tolerance, fit_tolerance, precision,
                     lib, engine, engine_budget)  # fmt: skip
    trials: list[Trial] = []
    best: tuple[float, sympy.Expr, KAN] | None = None
    tree = None
    done = False
    if shapes is None:
        shapes = candidate_shapes(data.n_inputs)
        surrogate, surrogate_error = _surrogate(fitting, grids, steps) if data.n_inputs > 1 else (None, math.inf)
        sample = fitting.train_input[:TREE_SAMPLES]
        surrogates = [(surrogate_error, 0, surrogate)] if surrogate is not None else []
        if data.n_inputs > 2:  # the pair test and the tree read both surrogates, the better fitting first
            smooth, smooth_error = _smooth_surrogate(fitting)
            surrogates = sorted(surrogates + [(smooth_error, 1, smooth)])
        # the better fitting surrogate always; the other where it fits too
        surrogates = [f for rank, (e, _, f) in enumerate(surrogates) if rank == 0 or e <= SURROGATE_USABLE]
        pair = _invariant_pair(surrogates, sample) if data.n_inputs > 2 else None
        if pair is not None:  # first the search on one input fewer, the pair replaced by its invariant
            settings = {"seeds": seeds, "grids": grids, "steps": steps, "validation": validation,
                        "tolerance": tolerance, "fit_tolerance": fit_tolerance, "precision": precision, "lib": lib,
                        "engine": engine, "engine_budget": engine_budget, "progress": False}  # fmt: skip
            folder = None if checkpoint is None else Path(checkpoint) / "pair-{}-{}-{}".format(*pair)
            best = _on_invariant(data, names, pair, trials, held, folder, settings)
            done = True  # f is a function of the invariant and the other inputs: the reduced search covers it
        elif surrogates:
            trees = [t for t in (_tested(structure_tree, f, sample, TREE_TOLERANCE) for f in surrogates) if t]
            tree = trees[0] if trees else None
            suggested = list(dict.fromkeys(s for s in map(suggested_shape, trees) if s is not None))
            if data.n_inputs == 2:  # g(x) h(y) without cross edges before the sum (both are in the list)
                suggested = [s for s in suggested if s.edges is not None]
            shapes = suggested + [s for s in shapes if s not in suggested]
            log.info("structure tree %s: trying %s first", tree.format(names) if tree else None, shapes[0])
        if data.n_inputs == 2 and surrogates:  # f(x*y), f(x/y), f(x-y), f(x+y), h(y) g(x/y), after the separable
            after = shapes.index(Shape((2, (0, 1)))) + 1
            scores = _tested(symmetry, surrogates[0], sample, 0, 1) or {}
            held_by = sorted((score, kind) for kind, score in scores.items() if score < TREE_TOLERANCE)
            if held_by:
                shapes.insert(after, invariant_shape(held_by[0][1]))
                log.info("a function of the %s of the inputs (score %.1e)", held_by[0][1], held_by[0][0])
            else:
                scaled = _tested(scaled_symmetry, surrogates[0], sample, 0, 1) or {}
                held_by = sorted((score, key) for key, score in scaled.items() if score < TREE_TOLERANCE)
                for position, (score, key) in enumerate(held_by[:SCALED_SHAPES]):
                    shapes.insert(after + position, scaled_invariant_shape(*key))
                    log.info("h(x_k) %s g(u), u the %s of the inputs, k = %d (score %.1e)", key[2], key[0], key[1],
                             score)  # fmt: skip
    shapes = [] if done else list(shapes)
    fitted: list[tuple[Trial, KAN]] = []  # shapes that fit, with their numeric models, for the engine
    for index, shape in enumerate(tqdm(shapes, desc="discover", unit="shape", disable=_hidden(progress))):
        results, numeric = _checkpointed(checkpoint, f"shape-{index}", shape, partial(search.run, shape))
        if numeric is not None:
            fitted.append((results[0][0], numeric))
        best = _note(results, trials, best)
        if done := best is not None and best[0] <= tolerance:
            break
    near = [(t, m) for t, m in fitted if t.fit_error > fit_tolerance][:NEAR_MISS_SHAPES] if not done else []
    for trial, numeric in near:
        run = partial(search.snap_run, trial, numeric)
        results, _ = _checkpointed(checkpoint, f"near-{shapes.index(trial.shape)}", trial.shape, run)
        best = _note(results, trials, best)
        if done := best is not None and best[0] <= tolerance:
            break
    # the engine only where no library formula did: on the poorly fitting edges of shapes that fit
    # simplest first (shapes that fit before near misses): a simple shape leaves the engine one clean edge
    simplest = sorted(fitted, key=lambda f: f[0].fit_error > fit_tolerance)[:ENGINE_SHAPES]
    for trial, numeric in simplest if engine and not done else ():
        run = partial(search.engine_run, trial, numeric)
        results, _ = _checkpointed(checkpoint, f"engine-{shapes.index(trial.shape)}", trial.shape, run)
        best = _note(results, trials, best)
        if best is not None and best[0] <= tolerance:
            break
    if best is None:
        return Discovery(None, None, False, float("inf"), float("inf"), trials, tree)
    error, expression, model = best
    test = _formula_error(expression, names, data.test_input, data.test_label)
    return Discovery(expression, model, error <= tolerance, error, test, trials, tree)


# --- internals ----------------------------------------------------------------------


def _invariant_pair(surrogates: Sequence, sample: Tensor) -> tuple[int, int, str] | None:
    """``(i, j, kind)`` of the pair of inputs a surrogate depends on most clearly only through an invariant of
    :data:`~kansci.structure.SYMMETRIES` (score below :data:`PAIR_TOLERANCE` on one of ``surrogates``), or None."""
    n = sample.shape[1]
    scores = []
    for surrogate, i in itertools.product(surrogates, range(n)):
        for j in range(i + 1, n):
            for kind, score in (_tested(symmetry, surrogate, sample, i, j) or {}).items():
                if kind == "ratio" and bool((sample[:, j].abs() < 1e-8).any()):
                    continue  # a ratio over an input that reaches 0
                scores.append((score, i, j, kind))
    held = min(scores, default=None)
    return held[1:] if held is not None and held[0] < PAIR_TOLERANCE else None


def _invariant(kind: str, a, b):
    """The invariant ``kind`` of ``a`` and ``b`` (tensors or sympy expressions)."""
    return {"difference": a - b, "sum": a + b, "product": a * b, "ratio": a / b}[kind]


def _on_invariant(data: Dataset, names: list[str], pair: tuple[int, int, str], trials: list[Trial], held, folder,
                  settings: dict):  # fmt: skip
    """:func:`discover` on ``data`` with the pair's inputs replaced by their invariant ``u`` (the last input);
    its trials, with ``u`` written out, go to ``trials``; returns its (validation error, formula, model) or None.

    The model is the formula compiled into a KAN of the original inputs
    (:func:`~kansci.symbolic.compile_formula`), or None where that fails.
    """
    i, j, kind = pair
    rest = [k for k in range(data.n_inputs) if k not in (i, j)]
    u = next(name for name in ("u", *(f"u{k}" for k in range(1, data.n_inputs + 1))) if name not in names)

    def reduced(x: Tensor) -> Tensor:
        return torch.cat([x[:, rest], _invariant(kind, x[:, i], x[:, j])[:, None]], dim=1)

    sub_data = Dataset(reduced(data.train_input), data.train_label, reduced(data.test_input), data.test_label)
    variables = {n: sympy.Symbol(n, real=True) for n in names}
    written = {sympy.Symbol(u, real=True): _invariant(kind, variables[names[i]], variables[names[j]])}
    log.info("a function of %s %s %s: searching with one input fewer", names[i], kind, names[j])
    sub = discover(sub_data, [names[k] for k in rest] + [u], checkpoint=folder, **settings)
    about = f"{u} = {written[sympy.Symbol(u, real=True)]}"
    for trial in sub.trials:
        expression = None if trial.expression is None else trial.expression.xreplace(written)
        trials.append(replace(trial, expression=expression, note=f"{about}; {trial.note}".rstrip("; ")))
    if sub.expression is None:
        return None
    expression = sub.expression.xreplace(written)
    try:
        model = compile_formula(expression, [variables[n] for n in names], x=data.train_input)
    except (ValueError, TypeError, NotImplementedError) as err:
        log.info("the formula on the invariant does not compile to a KAN: %s", err)
        model = None
    return _formula_error(expression, names, *held), expression, model


def _note(results: list[tuple[Trial, KAN | None]], trials: list[Trial], best):
    """Add ``results`` to ``trials``; the better of ``best`` and their formulas as (error, expression, model)."""
    for trial, model in results:
        trials.append(trial)
        log.info("shape %s: fit %.1e, formula %s (error %.1e) %s", trial.shape, trial.fit_error, trial.expression,
                 trial.formula_error, trial.note)  # fmt: skip
        if trial.expression is not None and (best is None or trial.formula_error < best[0]):
            best = (trial.formula_error, trial.expression, model)
    return best


def _checkpointed(folder, name: str, shape: Shape, run) -> tuple[list[tuple[Trial, KAN | None]], KAN | None]:
    """``run()`` (results and a numeric model), kept in ``folder`` (if given) as ``<name>.pt``, or read from there."""
    if folder is None:
        return run()
    path = Path(folder) / f"{name}.pt"
    if path.exists():
        kept = torch.load(path, weights_only=False)
        if kept["shape"] == shape:
            for expr in kept["functions"].values():  # the engine's edge functions, registered again
                register_expression(expr)
            return kept["results"], kept.get("numeric")  # (a folder from before the engine waited: no models)
    results, numeric = run()
    functions = {k: v for _, model in results if model is not None for k, v in engine_functions(model).items()}
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_atomic({"shape": shape, "functions": functions, "results": results, "numeric": numeric}, path)
    return results, numeric


def _engine(engine):
    """The engine object for ``engine`` (see :func:`discover`), or None."""
    if engine is None or not isinstance(engine, str):
        return engine
    from kansci.sr import EngineUnavailable, get_engine

    if engine != "auto":
        return get_engine(engine)
    try:
        return get_engine("operon")
    except EngineUnavailable:
        log.info("no symbolic-regression engine installed: edges no library function fits stay unexplained")
        return None


def _surrogate(fitting: Dataset, grids: Sequence[int], steps: int):
    """A :data:`SURROGATE` KAN fitted to the data, as a function (batch, n) -> (batch,) (None if the fit fails),
    and its validation RMSE relative to the labels' spread."""
    shape = Shape((fitting.n_inputs, *SURROGATE[1:]))
    spread = float(fitting.train_label.std()) or 1.0
    error, model = _fitted(shape, (0, "lbfgs"), fitting, grids, steps, ABANDON * spread)
    return ((lambda x: model(x)[:, 0]) if np.isfinite(error) else None), error / spread


def _smooth_surrogate(fitting: Dataset):
    """A :data:`SMOOTH_SURROGATE` tanh MLP fitted by LBFGS, as :func:`_surrogate` gives it (function, error)."""
    x, y = fitting.train_input, fitting.train_label
    mean, scale = x.mean(dim=0), x.std(dim=0).clamp(min=torch.finfo(x.dtype).eps)
    widths = (fitting.n_inputs, *SMOOTH_SURROGATE, 1)
    with torch.random.fork_rng(devices=[]):  # the same start in every call, the caller's generator untouched
        torch.manual_seed(0)
        layers = [torch.nn.Linear(a, b, dtype=x.dtype) for a, b in zip(widths[:-1], widths[1:])]
    net = torch.nn.Sequential(*[m for layer in layers[:-1] for m in (layer, torch.nn.Tanh())], layers[-1])
    settings = {"tolerance_grad": 1e-12, "tolerance_change": 1e-14, "line_search_fn": "strong_wolfe"}
    optimizer = torch.optim.LBFGS(net.parameters(), max_iter=SMOOTH_SURROGATE_STEPS, history_size=50, **settings)

    def loss() -> Tensor:
        optimizer.zero_grad()
        value = (net((x - mean) / scale) - y).pow(2).mean()
        value.backward()
        return value

    optimizer.step(loss)
    with torch.no_grad():
        rmse = float((net((fitting.test_input - mean) / scale) - fitting.test_label).pow(2).mean().sqrt())
    error = rmse / (float(y.std()) or 1.0)
    return (lambda z: net((z - mean) / scale)[:, 0]), (error if np.isfinite(error) else float("inf"))


def _tested(test, *args):
    """``test(*args)`` of :mod:`kansci.structure`, or None where it cannot say (e.g. a constant surrogate)."""
    try:
        return test(*args)
    except ValueError as err:
        log.info("no structure test: %s", err)
        return None


def _split(data: Dataset, share: float) -> tuple[Dataset, tuple[Tensor, Tensor]]:
    """Training rows for fitting (a Dataset whose test part is the validation rows) and the validation rows."""
    x = data.train_input.to(torch.float64)
    y = data.train_label.to(torch.float64)
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    n_held = max(1, round(share * x.shape[0]))
    if x.shape[0] - n_held < 10:
        raise ValueError(f"discover needs at least {10 + n_held} training rows, got {x.shape[0]}")
    held, kept = order[:n_held], order[n_held:]
    return Dataset(x[kept], y[kept], x[held], y[held]), (x[held], y[held])


@dataclass(frozen=True)
class _Search:
    """The settings of one :func:`discover` call; :meth:`run` tries one shape."""

    fitting: Dataset
    held: tuple[Tensor, Tensor]
    names: list[str]
    seeds: tuple[int, ...]
    grids: tuple[int, ...]
    steps: int
    tolerance: float
    fit_tolerance: float
    precision: int
    lib: object
    engine: object
    budget: object

    def run(self, shape: Shape) -> tuple[list[tuple[Trial, KAN | None]], KAN | None]:
        """Fit ``shape`` over the seeds, snap the best fit and read its formula; and the fitted model if it fits.

        A near miss (a fit within :data:`NEAR_MISS` times ``fit_tolerance``) is not snapped here, but its
        model comes back for :meth:`snap_run`.
        """
        started = time.perf_counter()
        spread = float(self.fitting.train_label.std()) or 1.0
        fits = []
        for start in [(seed, warmup) for seed in self.seeds for warmup in WARMUPS]:  # until one fits well
            fits.append((_fitted(shape, start, self.fitting, self.grids, self.steps, ABANDON * spread), start))
            if fits[-1][0][0] <= GOOD_FIT * self.fit_tolerance * spread:
                break
        (error, model), (seed, warmup) = min(fits, key=lambda f: f[0][0])
        limit = self.fit_tolerance if error / spread <= self.fit_tolerance else NEAR_MISS * self.fit_tolerance
        if error / spread <= limit:  # a shape that fits: drop its idle edges if it still fits without
            error, model = _pruned(model, self.fitting, self.steps, error, limit * spread)
        relative = error / spread
        trial = Trial(shape, relative, seed, seconds=time.perf_counter() - started, warmup=warmup)
        if not relative <= self.fit_tolerance:
            trial = replace(trial, note=f"spline fit {relative:.1e} > {self.fit_tolerance:.0e}")
            return [(trial, None)], (model if relative <= limit else None)
        return self.snap_run(trial, model)[0], model

    def snap_run(self, trial: Trial, model: KAN) -> tuple[list[tuple[Trial, KAN | None]], None]:
        """``trial`` with its fitted ``model``'s formula, snapped (each of :data:`SNAP_ATTEMPTS` until one works)."""
        started = time.perf_counter()
        best: tuple[float, sympy.Expr | None, KAN | None, str] | None = None
        for options in SNAP_ATTEMPTS:
            outcome = self.read(self.snapped(model, options))
            best = outcome if best is None else min(best, outcome, key=_rank)
            # another ranking fits the first layer's edges to the same inputs: the edge that missed misses again
            if best[0] <= self.tolerance or outcome[3] == LAYER_MISS.format(0):
                break
        note = best[3] if trial.fit_error <= self.fit_tolerance else f"near miss ({trial.note}); {best[3] or 'snapped'}"
        seconds = trial.seconds + time.perf_counter() - started
        return [(replace(trial, expression=best[1], formula_error=best[0], seconds=seconds, note=note), best[2])], None

    def engine_run(self, library: Trial, model: KAN) -> tuple[list[tuple[Trial, KAN | None]], None]:
        """The fitted ``model`` of ``library``'s shape snapped with the engine on its poorly fitting edges."""
        started = time.perf_counter()
        snapped, n_edges = self.with_engine(model)
        if isinstance(snapped, str) and not n_edges:  # no edge for the engine to take: nothing new to report
            return [], None
        err, expression, snapped, note = self.read(snapped)
        note = f"engine on {n_edges} edge(s)" + (f"; {note}" if note else "")
        seconds = time.perf_counter() - started
        trial = replace(library, expression=expression, formula_error=err, seconds=seconds, note=note)
        trial = replace(trial, engine_edges=n_edges)
        return [(trial, snapped)], None

    def snapped(self, model: KAN, options: dict) -> KAN | str:
        """A copy of ``model`` with every edge snapped and the constants retrained, or why not."""
        snapped = copy.deepcopy(model)  # numeric but for a shape's fixed edges, which stay
        choices = auto_symbolic(snapped, self.fitting, self.lib, progress=False, **options)
        missed = [c.layer for c in choices if not c.fixed]
        if missed:
            return LAYER_MISS.format(missed[0])
        fit(snapped, self.fitting, steps=self.steps, opt="lm", update_grid=False, progress=False)
        return snapped

    def with_engine(self, model: KAN) -> tuple[KAN | str, int]:
        """Snapped by the library where a function fits an edge well, by the engine elsewhere; and on how many edges.

        Edges the library fits to R^2 below :data:`ENGINE_BELOW_R2` go to the engine (:func:`engine_edge`),
        which keeps the library's choice if it does no better; none if there are more than
        :data:`ENGINE_MAX_EDGES` of them.
        """
        snapped = copy.deepcopy(model)
        x = self.fitting.train_input
        choices = auto_symbolic(snapped, self.fitting, self.lib, progress=False)
        poor = [c for c in choices if c.r2_threshold > 0.0 and not (c.fixed and c.fit.r2 >= ENGINE_BELOW_R2)]
        if len(poor) > ENGINE_MAX_EDGES:
            return f"{len(poor)} edges fit no library function well: not a shape for the engine", 0
        n_edges = 0
        for c in poor:
            library = c.fit
            unfix(snapped, c.layer, c.i, c.o)
            found = engine_edge(snapped, x, c.layer, c.i, c.o, self.engine, self.budget)
            if found is not None and (library is None or found[1] > library.r2):
                n_edges += 1
                continue
            if found is not None:
                unfix(snapped, c.layer, c.i, c.o)
            if library is None:
                return "an edge fits neither a library function nor the engine", n_edges
            params = (library.a, library.b, library.c, library.d)
            fix_symbolic(snapped, c.layer, c.i, c.o, library.function, params=params)
        fit(snapped, self.fitting, steps=self.steps, opt="lm", update_grid=False, progress=False)
        return snapped, n_edges

    def read(self, snapped: KAN | str) -> tuple[float, sympy.Expr | None, KAN | None, str]:
        """(validation error, formula, model, note) of a snapped model (or of the reason there is none)."""
        if isinstance(snapped, str):
            return float("inf"), None, None, snapped
        raw = formula(snapped, self.names, precision=None, simplify=False)[0]
        err = _formula_error(raw, self.names, *self.held)
        if err > ROUGH * self.tolerance or sympy.count_ops(raw) > MAX_OPERATIONS:
            # tidying expands the expression, which can take minutes on a large one: only a near miss is tidied
            note = f"raw formula off by {err:.1e}" if err > ROUGH * self.tolerance else "raw formula too large to tidy"
            return err, None, None, note
        expression = _neater(formula(snapped, self.names, precision=self.precision)[0], self.precision)
        err = _formula_error(expression, self.names, *self.held)
        if err > self.tolerance:  # rounding after expanding can leave split fractions: combine them, then round
            combined = _as_one_fraction(raw, self.precision)
            combined_err = _formula_error(combined, self.names, *self.held) if combined is not None else float("inf")
            if combined_err < err:
                return combined_err, combined, snapped, ""
        return err, expression, snapped, ""


def _as_one_fraction(raw: sympy.Expr, precision: int) -> sympy.Expr | None:
    """``raw`` over one common denominator with like terms collected at full precision, then constants snapped.

    ``b - b/(a + 1) + 0.19/a - 0.19/(a*(a + 1)) + 0.81/(a + 1)`` is ``(a*b + 1)/(a + 1)``: its constants
    only add up once the fractions are combined. None when sympy cannot combine it.
    """
    try:
        numerator, denominator = sympy.fraction(sympy.cancel(sympy.together(sympy.expand(raw))))
        terms = sympy.Add.make_args(sympy.expand(denominator))
        scale = max((abs(float(t.as_coeff_Mul()[0])) for t in terms), default=1.0) or 1.0
        # scaled so the denominator's largest coefficient is 1, the constants snap to simple numbers and the
        # exact fraction cancels its common factors
        top, bottom = (snap_constants(sympy.expand(part / scale), precision) for part in (numerator, denominator))
        return sympy.cancel(top / bottom)
    except (sympy.PolynomialError, TypeError, ValueError, ZeroDivisionError):
        return None


def _neater(expression: sympy.Expr, precision: int) -> sympy.Expr:
    """``expression`` with common factors pulled out where that is shorter (``11/(11*a*b + 11)`` is
    ``1/(a*b + 1)``), and with sums inside trigonometric functions expanded where that leaves fewer
    functions (``tanh(atanh(a) + atanh(b))`` is ``(a + b)/(a*b + 1)``)."""
    try:
        neat = snap_constants(sympy.factor_terms(expression), precision)  # a float quotient 1.0 reads as 1 again
    except (sympy.PolynomialError, TypeError, ValueError):
        return expression
    neat = neat if sympy.count_ops(neat) < sympy.count_ops(expression) else expression
    expanded = sympy.expand_trig(neat)
    fewer = len(expanded.atoms(sympy.Function)) < len(neat.atoms(sympy.Function))
    return expanded if fewer and sympy.count_ops(expanded) <= sympy.count_ops(neat) else neat


def _rank(outcome: tuple) -> tuple[bool, float]:
    """Formulas before none, then by validation error."""
    return outcome[1] is None, outcome[0]


def _fitted(
    shape: Shape, start: tuple[int, str], data: Dataset, grids: Sequence[int], steps: int, abandon: float
) -> tuple[float, KAN]:
    """A KAN of ``shape`` from ``start`` (seed, warm-up) fitted by LM over the grid schedule: (validation RMSE, model).

    A fit whose validation RMSE is above ``abandon`` on the first grid stops there.
    """
    seed, warmup = start
    model = shape.build(grids[0], seed)
    fit(model, data, progress=False, **WARMUPS[warmup])
    history = fit(model, data, steps=steps, opt="lm", update_grid=False, progress=False)
    for grid in grids[1:] if history.test_rmse and history.test_rmse[-1] <= abandon else ():
        model = model.refine(grid, data.train_input)
        history = fit(model, data, steps=steps, opt="lm", update_grid=False, progress=False)
    error = history.test_rmse[-1] if history.test_rmse else float("inf")
    return (error if np.isfinite(error) else float("inf")), model


def _pruned(model: KAN, data: Dataset, steps: int, error: float, acceptable: float) -> tuple[float, KAN]:
    """``model`` with the edges that carry (almost) nothing masked and the rest retrained, if it still fits.

    An edge whose spread (mean |phi - mean phi| over the training inputs) is below :data:`IDLE_EDGE` of
    the largest in its layer is masked; the pruned model is retrained by LM and kept if its validation
    RMSE stays within ``acceptable`` (and within ``PRUNE_SLACK`` times the unpruned error); otherwise
    ``(error, model)`` come back as they were. Idle edges would otherwise be snapped to some function
    with a tiny coefficient: junk terms in the formula, or a constant the next layer must undo.
    """
    pruned = copy.deepcopy(model)
    masked = 0
    with torch.no_grad():
        for layer, acts in zip(pruned.layers, pruned.edge_activations(data.train_input)):
            spread = (acts - acts.mean(dim=0)).abs().mean(dim=0) * (layer.mask > 0)
            idle = spread < IDLE_EDGE * spread.max()
            liveliest = spread.argmax(dim=0)  # every output keeps its liveliest edge, which takes the others' means
            idle[liveliest, torch.arange(layer.out_features)] = False
            for i, o in torch.nonzero(idle & (layer.mask > 0)).tolist():
                layer.add_constant_(int(liveliest[o]), o, acts[:, i, o].mean())
                layer.mask[i, o] = 0.0
                masked += 1
    if not masked:
        return error, model
    history = fit(pruned, data, steps=steps, opt="lm", update_grid=False, progress=False)
    new_error = history.test_rmse[-1] if history.test_rmse else float("inf")
    if np.isfinite(new_error) and new_error <= acceptable and new_error <= PRUNE_SLACK * error:
        return new_error, pruned
    return error, model


def _formula_error(expression: sympy.Expr, names: Sequence[str], x: Tensor, y: Tensor) -> float:
    """Largest |expression - y| over the rows, relative to the largest |y|."""
    if not {s.name for s in expression.free_symbols} <= set(names):
        return float("inf")
    full = [sympy.Symbol(n, real=True) for n in names]
    values = evaluate(expression, full, x)
    truth = y[:, 0].detach().cpu().numpy()
    scale = float(np.max(np.abs(truth))) or 1.0
    error = float(np.max(np.abs(values - truth))) / scale
    return error if np.isfinite(error) else float("inf")
