"""What every symbolic-regression engine shares: the protocol, budgets, results, data checks and cleaning.

An :class:`Engine` fits ``y ~ f(X)`` within a :class:`Budget` (seconds and/or
iterations, and a seed) and returns an :class:`EngineResult`: the Pareto front of
:class:`Candidate` formulas (sympy), ranked from simplest to most accurate, and
the chosen ``best``. Every engine's raw output goes through :func:`clean`
(expand, snap constants close to simple numbers with
:func:`kansci.symbolic.snap_constants`, drop terms negligible on the training
data) and :func:`pareto_front`, so losses and complexities are computed the same
way for every engine.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import sympy

from kansci.symbolic.formula import evaluate, snap_constants

__all__ = [
    "BEST_LOSS_FLOOR",
    "BEST_LOSS_RATIO",
    "Budget",
    "Candidate",
    "Engine",
    "EngineResult",
    "EngineUnavailable",
    "check_data",
    "check_precision",
    "clean",
    "complexity",
    "package_version",
    "pareto_front",
    "relative_rmse",
]

BEST_LOSS_FLOOR = 1e-6
"""Candidates with a loss (relative RMSE on the training data) below this fit exactly; ``best`` is the simplest."""

BEST_LOSS_RATIO = 1.1
"""Otherwise ``best`` is the simplest candidate whose loss is within this factor of the lowest loss."""


class EngineUnavailable(RuntimeError):
    """An engine's package or runtime is missing; the message names the fix and the default engine."""


@dataclass(frozen=True)
class Budget:
    """How long an engine searches, and its seed.

    The search stops at whichever limit comes first. Give ``iterations`` so that
    the same data, budget and seed give the same formula on any machine, and keep
    ``seconds`` as a safety cap that a normal run never reaches: a search stopped
    by the clock depends on the CPU's speed and load (the engines record which
    limit stopped it in ``EngineResult.settings["stopped_by"]`` where they can tell).

    Parameters
    ----------
    seconds : float or None
        Wall-clock cap (engines with whole-second limits round up).
    iterations : int or None
        Generations (operon) or iterations (PySR). At least one of ``seconds`` and
        ``iterations`` must be given.
    seed : int
        Seed of the engine's random generator.

    Examples
    --------
    >>> Budget(iterations=50, seed=1)  # 50 generations; the 600 s cap is a guard, not the limit
    Budget(seconds=600.0, iterations=50, seed=1)
    """

    seconds: float | None = 600.0
    iterations: int | None = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seconds is None and self.iterations is None:
            raise ValueError("a Budget needs seconds or iterations (or both); an unbounded search never returns")
        if self.seconds is not None and not (isinstance(self.seconds, int | float) and self.seconds > 0):
            raise ValueError(f"seconds must be a positive number or None, got {self.seconds!r}")
        if self.iterations is not None and (
            isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1
        ):
            raise ValueError(f"iterations must be a positive int or None, got {self.iterations!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


@dataclass(frozen=True)
class Candidate:
    """One formula of an engine's Pareto front.

    Attributes
    ----------
    expr : sympy.Expr
        The cleaned formula (:func:`clean`), in the symbols named by ``names``.
    loss : float
        Relative RMSE of ``expr`` on the training data (:func:`relative_rmse`).
    complexity : int
        Nodes of ``expr``'s sympy tree (:func:`complexity`).
    raw : sympy.Expr
        The formula as the engine returned it, before cleaning.
    """

    expr: sympy.Expr
    loss: float
    complexity: int
    raw: sympy.Expr

    def latex(self) -> str:
        """LaTeX of :attr:`expr`."""
        return sympy.latex(self.expr)


@dataclass(frozen=True)
class EngineResult:
    """What :meth:`Engine.fit` returns.

    Attributes
    ----------
    candidates : tuple of Candidate
        The Pareto front after cleaning: complexity increases and loss decreases along it.
    best : Candidate
        The simplest candidate within :data:`BEST_LOSS_RATIO` of the lowest loss
        (or below :data:`BEST_LOSS_FLOOR`).
    seconds : float
        Wall-clock time of the search and the cleaning.
    engine : str
        The engine's name.
    settings : dict
        Everything needed to rerun: engine options, budget, precision, package versions.
    """

    candidates: tuple[Candidate, ...]
    best: Candidate
    seconds: float
    engine: str
    settings: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """A symbolic-regression engine: ``fit`` returns the ranked candidate formulas."""

    name: str

    def fit(self, X: np.ndarray, y: np.ndarray, names: Sequence[str], budget: Budget) -> EngineResult:
        """Search formulas ``y ~ f(X)``; ``X`` has shape (n, len(names)), ``y`` shape (n,)."""
        ...


# --- shared helpers ---------------------------------------------------------------


def check_data(X, y, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[sympy.Symbol]]:
    """Validate data for an engine or a cross-check.

    Parameters
    ----------
    X : array-like, shape (n, d)
    y : array-like, shape (n,) or (n, 1)
    names : sequence of str, length d
        One distinct name per column of ``X``.

    Returns
    -------
    X : numpy.ndarray, shape (n, d), float64
    y : numpy.ndarray, shape (n,), float64
    variables : list of sympy.Symbol
        Real symbols named ``names``.

    Raises
    ------
    ValueError
        On a shape mismatch, non-finite values, or names that do not match the columns.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, features), got {X.shape}; reshape a single feature with X[:, None]")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 samples, got {X.shape[0]}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite; drop the rows with NaN or inf first")
    if isinstance(names, str) or len(names) != X.shape[1]:
        got = repr(names) if isinstance(names, str) else f"{len(names)} names"
        raise ValueError(f"X has {X.shape[1]} columns but got {got}; give one name per column")
    if any(not isinstance(n, str) or not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"names must be distinct non-empty strings, got {list(names)}")
    return X, y, [sympy.Symbol(n, real=True) for n in names]


def relative_rmse(prediction: np.ndarray, target: np.ndarray, scale: np.ndarray | None = None) -> float:
    """RMSE of ``prediction - target`` divided by the RMS of ``scale`` (default ``target``).

    Infinite when a prediction is not finite; the plain RMSE when the scale is zero.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    if not np.isfinite(prediction).all():
        return math.inf
    rms = float(np.sqrt(np.mean(np.square(target if scale is None else scale))))
    error = float(np.sqrt(np.mean(np.square(prediction - target))))
    return error / rms if rms > 0 else error


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes in ``expr``'s sympy tree: ``x`` is 1, ``2*x`` is 3, ``x/y`` is 5 (Mul(x, Pow(y, -1)))."""
    return sum(1 for _ in sympy.preorder_traversal(sympy.sympify(expr)))


def clean(
    expr: sympy.Expr,
    precision: int = 4,
    *,
    x: np.ndarray | None = None,
    variables: Sequence[sympy.Symbol] | None = None,
) -> sympy.Expr:
    """Tidy an engine's formula: expand, snap constants, drop negligible terms.

    ``log(exp(u))`` becomes ``u`` first (formulas are real-valued here).
    Constants within relative ``10**-precision`` of a simple number (an integer,
    ``p/q`` times ``pi``, ``1/pi``, ...) become that number and constants below
    ``10**-precision`` become 0, exactly as :func:`kansci.symbolic.snap_constants`
    decides; every other constant keeps its full value (round for display with
    ``snap_constants``). With data, additive terms whose RMS on ``x`` is below
    ``10**-precision`` times the RMS of the whole formula are dropped.

    Parameters
    ----------
    expr : sympy.Expr
    precision : int
        Digits, as in :func:`kansci.symbolic.snap_constants`.
    x : array-like, shape (n, len(variables)), optional
        Data on which term sizes are measured.
    variables : sequence of sympy.Symbol, optional
        The symbol of each column of ``x``; required with ``x``.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> t = sympy.Symbol("t", real=True)
    >>> clean(sympy.Float(1.00002) * sympy.exp(-sympy.Float(0.49999) * t**2) + sympy.Float(3e-6))
    exp(-t**2/2)
    """
    if (x is None) != (variables is None):
        raise ValueError("give both x and variables (to drop negligible terms) or neither")
    expr = sympy.expand(_log_of_exp(sympy.sympify(expr)))
    for _ in range(2):  # snapping can make terms combine, which can make new constants to snap
        expr = sympy.expand(expr.xreplace(_simple_numbers(expr, precision)))
    if x is not None:
        expr = _drop_small_terms(expr, variables, x, 10.0**-precision)
    return sympy.powsimp(expr, combine="exp")


def _log_of_exp(expr: sympy.Expr) -> sympy.Expr:
    """``log(exp(u))`` -> ``u``, a detour genetic programming takes (exact for real ``u``)."""
    return expr.replace(
        lambda e: isinstance(e, sympy.log) and isinstance(e.args[0], sympy.exp), lambda e: e.args[0].args[0]
    )


def _simple_numbers(expr: sympy.Expr, precision: int) -> dict[sympy.Float, sympy.Expr]:
    """The floats of ``expr`` that snap_constants turns into exact numbers (or 0), and what they become."""
    out = {}
    for f in expr.atoms(sympy.Float):
        snapped = snap_constants(f, precision)
        if not isinstance(snapped, sympy.Float):
            out[f] = snapped
    return out


def _drop_small_terms(expr: sympy.Expr, variables, x, rtol: float) -> sympy.Expr:
    terms = sympy.Add.make_args(expr)
    if len(terms) < 2:
        return expr
    total = float(np.sqrt(np.mean(np.square(evaluate(expr, variables, x)))))
    if not (math.isfinite(total) and total > 0):
        return expr
    kept = [t for t in terms if not float(np.sqrt(np.mean(np.square(evaluate(t, variables, x))))) < rtol * total]
    return sympy.Add(*kept)


def pareto_front(
    raw_exprs: Sequence[sympy.Expr], X: np.ndarray, y: np.ndarray, variables, precision: int
) -> tuple[tuple[Candidate, ...], Candidate]:
    """Clean, score and rank raw formulas; the Pareto front and its best candidate."""
    scored = []
    for raw in raw_exprs:
        expr = clean(raw, precision, x=X, variables=variables)
        loss = relative_rmse(evaluate(expr, variables, X), y)
        if math.isfinite(loss):
            scored.append(Candidate(expr, loss, complexity(expr), raw))
    if not scored:
        raise RuntimeError("the engine returned no formula that is finite on the data; give it a larger budget")
    front: list[Candidate] = []
    for cand in sorted(scored, key=lambda c: (c.complexity, c.loss)):
        if not front or cand.loss < front[-1].loss:
            front.append(cand)
    threshold = max(BEST_LOSS_FLOOR, BEST_LOSS_RATIO * min(c.loss for c in front))
    best = next(c for c in front if c.loss <= threshold)
    return tuple(front), best


def package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_precision(precision: int) -> int:
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int (digits), got {precision!r}")
    return precision
