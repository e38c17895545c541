"""PySR (SymbolicRegression.jl) as an engine, where PySR and a Julia runtime are installed.

Install with ``pip install "kansci[pysr]"`` plus Julia. :func:`pysr_unavailable_reason`
detects both without importing PySR, so it never triggers PySR's Julia download.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
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

__all__ = ["PySREngine", "pysr_unavailable_reason"]


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
        self.precision = check_precision(precision)
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
        candidates, best = pareto_front(raw, X, y, variables, self.precision)
        seconds = time.perf_counter() - start
        record = {
            "options": settings,
            "budget": asdict(budget),
            "precision": self.precision,
            "versions": {"pysr": package_version("pysr"), "sympy": sympy.__version__},
        }
        return EngineResult(candidates, best, seconds, self.name, record)
