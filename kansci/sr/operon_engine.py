"""The default engine: genetic programming with pyoperon (C++, MIT, a binary wheel that works offline).

Install with ``pip install "kansci[sr]"``. Operon's trees are translated to sympy
node by node (:func:`operon_to_sympy`).

Determinism: with a :class:`~kansci.sr.base.Budget` that stops on generations,
a search is a function of the data, the options and the seed. The search runs on
one thread by default (``n_threads=1``); pyoperon 0.6 gave the same formulas on
1 and 2 threads (tests/sr/test_engines.py checks it), but one thread keeps it
independent of the machine's core count. The floating-point details of the CPU
can still change which seed finds a formula.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from types import MappingProxyType
from typing import Any

import sympy

from kansci.sr.base import (
    Budget,
    EngineResult,
    EngineUnavailable,
    check_data,
    check_precision,
    package_version,
    pareto_front,
)

__all__ = ["DEFAULT_OPERON_OPTIONS", "OperonEngine", "operon_to_sympy"]

logger = logging.getLogger(__name__)

_BUDGET_OPTIONS = frozenset({"max_time", "generations", "random_state"})

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
        self.precision = check_precision(precision)
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
        raw = [operon_to_sympy(entry["tree"], symbol_of) for entry in regressor.pareto_front_]
        candidates, best = pareto_front(raw, X, y, variables, self.precision)
        seconds = time.perf_counter() - start
        generations = int(regressor.stats_["generations"])
        stopped_by = _stopped_by(regressor)
        logger.info("operon: %d candidates in %.1f s, best %s", len(candidates), seconds, best.expr)
        if stopped_by == "seconds" and budget.iterations is not None:
            logger.warning(
                "operon stopped at the %g s cap after %d of %d generations: the formula depends on the CPU's "
                "speed; raise Budget.seconds",
                budget.seconds,
                generations,
                budget.iterations,
            )
        settings = {
            "options": dict(self.options),
            "budget": asdict(budget),
            "precision": self.precision,
            "generations_run": generations,
            "stopped_by": stopped_by,
            "versions": {"pyoperon": package_version("pyoperon"), "sympy": sympy.__version__},
        }
        return EngineResult(candidates, best, seconds, self.name, settings)


def _stopped_by(regressor: Any) -> str:
    """Which limit ended a fitted search: "generations", "evaluations" (max_evaluations) or "seconds"."""
    stats = regressor.stats_
    if int(stats["generations"]) >= regressor.generations:
        return "generations"
    if int(stats.get("evaluation_count", 0)) >= regressor.max_evaluations:
        return "evaluations"
    return "seconds"


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


def operon_to_sympy(tree, symbol_of: Mapping[int, sympy.Symbol]) -> sympy.Expr:
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
