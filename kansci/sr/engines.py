"""Symbolic-regression engines behind one protocol, and the cleaning of what they return.

An :class:`Engine` fits ``y ~ f(X)`` within a :class:`Budget` (seconds and/or
iterations, and a seed) and returns an :class:`EngineResult`: the Pareto front of
:class:`Candidate` formulas (sympy), ranked from simplest to most accurate, and
the chosen ``best``. Engines are looked up by name with :func:`get_engine`:

- ``"operon"`` (default): :class:`OperonEngine`, genetic programming in C++
  (pyoperon, MIT, a binary wheel that works offline; ``pip install "kansci[sr]"``).
- ``"pysr"``: :class:`PySREngine`, used where PySR and a Julia runtime are
  installed (``pip install "kansci[pysr]"`` plus Julia); detecting them imports
  nothing, so it never triggers PySR's Julia download.

Every engine's raw output goes through :func:`clean`: expand, snap constants
close to simple numbers (:func:`kansci.symbolic.snap_constants`) and drop terms
that are negligible on the training data. Losses and complexities are computed
here, the same way for every engine.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import sympy

from kansci.symbolic.formula import evaluate, snap_constants

__all__ = [
    "BEST_LOSS_FLOOR",
    "BEST_LOSS_RATIO",
    "DEFAULT_OPERON_OPTIONS",
    "ENGINES",
    "Budget",
    "Candidate",
    "Engine",
    "EngineResult",
    "EngineUnavailable",
    "OperonEngine",
    "PySREngine",
    "check_data",
    "clean",
    "complexity",
    "get_engine",
    "pysr_unavailable_reason",
    "relative_rmse",
]

logger = logging.getLogger(__name__)

BEST_LOSS_FLOOR = 1e-6
"""Candidates with a loss (relative RMSE on the training data) below this fit exactly; ``best`` is the simplest."""

BEST_LOSS_RATIO = 1.1
"""Otherwise ``best`` is the simplest candidate whose loss is within this factor of the lowest loss."""

DEFAULT_OPERON_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        "allowed_symbols": "add,sub,mul,div,square,sqrt,exp,log,sin,cos,constant,variable",
        "objectives": ("r2", "length"),  # two objectives: NSGA-II returns a Pareto front
        "optimizer_iterations": 10,  # Levenberg-Marquardt steps on the constants (pyoperon's default 0 fits none)
        "population_size": 500,
        "max_length": 30,
        "n_threads": 1,
    }
)
"""OperonEngine's settings unless overridden (any ``pyoperon.sklearn.SymbolicRegressor`` parameter)."""

_BUDGET_OPTIONS = frozenset({"max_time", "generations", "random_state"})


class EngineUnavailable(RuntimeError):
    """An engine's package or runtime is missing; the message names the fix and the default engine."""


@dataclass(frozen=True)
class Budget:
    """How long an engine searches, and its seed.

    Parameters
    ----------
    seconds : float or None
        Wall-clock limit (engines with whole-second limits round up).
    iterations : int or None
        Generations (operon) or iterations (PySR). At least one of ``seconds`` and
        ``iterations`` must be given; the search stops at whichever comes first.
    seed : int
        Seed of the engine's random generator.
    """

    seconds: float | None = 10.0
    iterations: int | None = None
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
    ``p/q`` or ``p/q * pi``) become that number and constants below
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


def _front(
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


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _check_precision(precision: int) -> int:
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int (digits), got {precision!r}")
    return precision


# --- operon -------------------------------------------------------------------------


class OperonEngine:
    """Genetic programming with pyoperon (the default engine; offline, MIT).

    Parameters
    ----------
    precision : int
        Digits for :func:`clean`.
    **operon_options
        Any ``pyoperon.sklearn.SymbolicRegressor`` parameter, over
        :data:`DEFAULT_OPERON_OPTIONS`; e.g. ``allowed_symbols="add,mul,div,exp,constant,variable"``.
        ``max_time``, ``generations`` and ``random_state`` come from the :class:`Budget`.

    Raises
    ------
    EngineUnavailable
        If pyoperon is not installed.
    ValueError
        For an unknown option or a budget option.
    """

    name = "operon"

    def __init__(self, precision: int = 4, **operon_options: Any) -> None:
        if importlib.util.find_spec("pyoperon") is None:
            raise EngineUnavailable('the operon engine needs pyoperon: pip install "kansci[sr]"')
        from pyoperon.sklearn import SymbolicRegressor

        budget_keys = _BUDGET_OPTIONS & operon_options.keys()
        if budget_keys:
            raise ValueError(f"set {sorted(budget_keys)} through Budget(seconds=, iterations=, seed=), not as options")
        known = set(inspect.signature(SymbolicRegressor).parameters)
        unknown = sorted(set(operon_options) - known)
        if unknown:
            raise ValueError(f"unknown pyoperon options {unknown}; see pyoperon.sklearn.SymbolicRegressor")
        self.precision = _check_precision(precision)
        self.options = {**DEFAULT_OPERON_OPTIONS, **operon_options}

    def fit(self, X, y, names: Sequence[str], budget: Budget) -> EngineResult:
        """Run the search; see :class:`Engine`."""
        from pyoperon.sklearn import SymbolicRegressor

        X, y, variables = check_data(X, y, names)
        limits = {"random_state": budget.seed}
        if budget.seconds is not None:
            limits["max_time"] = max(1, math.ceil(budget.seconds))
        if budget.iterations is not None:
            limits["generations"] = budget.iterations
        start = time.perf_counter()
        regressor = SymbolicRegressor(**self.options, **limits)
        regressor.fit(X, y)
        hashes = list(regressor.variables_)  # operon's variable hashes, in column order
        symbol_of = {h: variables[j] for j, h in enumerate(hashes)}
        raw = [_operon_to_sympy(entry["tree"], symbol_of) for entry in regressor.pareto_front_]
        candidates, best = _front(raw, X, y, variables, self.precision)
        seconds = time.perf_counter() - start
        logger.info("operon: %d candidates in %.1f s, best %s", len(candidates), seconds, best.expr)
        settings = {
            "options": dict(self.options),
            "budget": asdict(budget),
            "precision": self.precision,
            "generations_run": int(regressor.stats_["generations"]),
            "versions": {"pyoperon": _version("pyoperon"), "sympy": sympy.__version__},
        }
        return EngineResult(candidates, best, seconds, self.name, settings)


def _operon_functions() -> dict[Any, Callable[..., sympy.Expr]]:
    import pyoperon as op

    node = op.NodeType
    same_name = ("Acos", "Asin", "Atan", "Cos", "Cosh", "Exp", "Floor", "Log", "Sin", "Sinh", "Sqrt", "Tan", "Tanh")
    functions: dict[Any, Callable[..., sympy.Expr]] = {getattr(node, n): getattr(sympy, n.lower()) for n in same_name}
    functions |= {
        node.Add: lambda *a: sympy.Add(*a),
        node.Sub: lambda *a: -a[0] if len(a) == 1 else a[0] - sympy.Add(*a[1:]),
        node.Mul: lambda *a: sympy.Mul(*a),
        node.Div: lambda *a: 1 / a[0] if len(a) == 1 else a[0] / sympy.Mul(*a[1:]),
        node.Aq: lambda a, b: a / sympy.sqrt(1 + b**2),
        node.Pow: lambda a, b: a**b,
        node.Powabs: lambda a, b: sympy.Abs(a) ** b,
        node.Abs: sympy.Abs,
        node.Fmin: sympy.Min,
        node.Fmax: sympy.Max,
        node.Cbrt: lambda a: sympy.real_root(a, 3),
        node.Ceil: sympy.ceiling,
        node.Logabs: lambda a: sympy.log(sympy.Abs(a)),
        node.Log1p: lambda a: sympy.log(1 + a),
        node.Sqrtabs: lambda a: sympy.sqrt(sympy.Abs(a)),
        node.Square: lambda a: a**2,
    }
    return functions


def _operon_to_sympy(tree, symbol_of: Mapping[int, sympy.Symbol]) -> sympy.Expr:
    """An operon tree (postfix nodes; a node's first argument is the node just before it) as sympy."""
    functions = _operon_functions()
    stack: list[sympy.Expr] = []
    for node in tree.Nodes:
        if node.IsVariable:
            stack.append(sympy.Float(node.Value) * symbol_of[node.HashValue])
        elif node.IsConstant:
            stack.append(sympy.Float(node.Value))
        elif node.Type in functions:
            args = [stack.pop() for _ in range(node.Arity)]  # popped first = first argument
            stack.append(functions[node.Type](*args))
        else:
            raise ValueError(f"operon node {node.Name!r} has no sympy translation; leave it out of allowed_symbols")
    if len(stack) != 1:
        raise ValueError(f"malformed operon tree: {len(stack)} expressions left after reading it")
    return stack[0]


# --- PySR ---------------------------------------------------------------------------


def pysr_unavailable_reason() -> str | None:
    """Why the PySR engine cannot run here, or None if it can.

    Looks for the ``pysr`` package (without importing it: importing PySR may
    download Julia) and for a Julia executable: ``julia`` on the PATH or
    ``PYTHON_JULIAPKG_EXE`` (juliapkg's setting) naming an existing file.
    """
    if importlib.util.find_spec("pysr") is None:
        return 'PySR is not installed (pip install "kansci[pysr]")'
    configured = os.environ.get("PYTHON_JULIAPKG_EXE")
    if shutil.which("julia") is None and not (configured and os.path.isfile(configured)):
        return "no Julia runtime found (no `julia` on PATH, no PYTHON_JULIAPKG_EXE); PySR would download one"
    return None


class PySREngine:
    """PySR (SymbolicRegression.jl); needs PySR and a Julia runtime.

    Parameters
    ----------
    precision : int
        Digits for :func:`clean`.
    **options
        Any ``pysr.PySRRegressor`` parameter, e.g. ``unary_operators=["exp", "sqrt"]``.
        ``niterations``, ``timeout_in_seconds`` and ``random_state`` come from the
        :class:`Budget`; the search is serial and deterministic.

    Raises
    ------
    EngineUnavailable
        If PySR or Julia is missing (the message names the default engine, ``"operon"``).
    """

    name = "pysr"

    def __init__(self, precision: int = 4, **options: Any) -> None:
        reason = pysr_unavailable_reason()
        if reason is not None:
            raise EngineUnavailable(
                f"the PySR engine cannot run: {reason}. The default engine 'operon' works offline: "
                'kansci.sr.get_engine("operon") (pip install "kansci[sr]")'
            )
        clash = {"niterations", "timeout_in_seconds", "random_state"} & options.keys()
        if clash:
            raise ValueError(f"set {sorted(clash)} through Budget(seconds=, iterations=, seed=), not as options")
        if "variable_names" in options:
            raise ValueError("variable_names come from the names passed to fit; drop the option")
        self.precision = _check_precision(precision)
        self.options = dict(options)

    def fit(self, X, y, names: Sequence[str], budget: Budget) -> EngineResult:
        """Run the search; see :class:`Engine`."""
        from pysr import PySRRegressor

        X, y, variables = check_data(X, y, names)
        settings: dict[str, Any] = {"verbosity": 0, "progress": False, "temp_equation_file": True}
        settings |= self.options
        settings |= {
            "niterations": budget.iterations if budget.iterations is not None else 10**9,
            "timeout_in_seconds": budget.seconds,
            "random_state": budget.seed,
            "deterministic": True,
        }
        if "parallelism" in inspect.signature(PySRRegressor).parameters:
            settings["parallelism"] = "serial"
        else:  # PySR < 1.0
            settings |= {"procs": 0, "multithreading": False}
        start = time.perf_counter()
        regressor = PySRRegressor(**settings)
        regressor.fit(X, y)
        placeholder = {f"x{j}": v for j, v in enumerate(variables)}  # PySR's default feature names
        raw = []
        for expr in regressor.equations_["sympy_format"]:
            expr = sympy.sympify(expr)
            raw.append(expr.xreplace({s: placeholder.get(s.name, s) for s in expr.free_symbols}))
        candidates, best = _front(raw, X, y, variables, self.precision)
        seconds = time.perf_counter() - start
        record = {
            "options": settings,
            "budget": asdict(budget),
            "precision": self.precision,
            "versions": {"pysr": _version("pysr"), "sympy": sympy.__version__},
        }
        return EngineResult(candidates, best, seconds, self.name, record)


ENGINES: Mapping[str, type] = MappingProxyType({"operon": OperonEngine, "pysr": PySREngine})
"""Engine classes by name; ``"operon"`` is the default."""


def get_engine(name: str = "operon", **options: Any) -> Engine:
    """The engine called ``name``, built with ``options`` (see :data:`ENGINES`).

    Raises
    ------
    ValueError
        For an unknown name.
    EngineUnavailable
        If the engine's package or runtime is missing.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose from {sorted(ENGINES)} ('operon' is the default)")
    return ENGINES[name](**options)
