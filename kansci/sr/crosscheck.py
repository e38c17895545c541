"""Cross-checking a KAN's formula against a symbolic-regression engine's (and the truth, when known).

For a pair of formulas :func:`compare` asks two questions:

- **symbolic** (:func:`symbolically_equal`): are they the same formula once
  constants are read to ``precision`` digits? Both are expanded with their
  numbers evaluated; constants that differ relatively by less than
  ``CONSTANT_SLACK * 10**-precision`` are taken to be the same constant; then
  both are tidied with :func:`kansci.symbolic.tidy` (constants within relative
  ``10**-precision`` of an integer, ``p/q`` or ``p/q`` times pi, 1/pi, ... become that number,
  constants below ``10**-precision`` in magnitude become 0, removing their term)
  and sympy must simplify the difference to 0 (two formulas that take different
  values at sample points are told apart by those first: sympy can take an hour
  to simplify a difference of trigonometric products).
- **numeric**: their relative RMSE on held-out points (RMSE of the difference
  over the RMS of the held-out targets) against :data:`NUMERIC_AGREEMENT`.

The verdict is ``"agree"`` when both hold, ``"agree numerically only"`` when only
the numbers agree, and ``"disagree"`` otherwise (also when the formulas are
equal symbolically but not numerically: the precision is then too coarse for
the scale of the formulas, whose constants rounded to 0). So at precision 4 the
truth plus ``1e-7 * x**3`` *agrees* with the truth (the term is below the
precision) and the truth plus ``2e-4 * x**3`` *agrees numerically only*.

:func:`crosscheck` compares a KAN formula with an engine formula, reports each
one's error on the held-out data and its :func:`~kansci.sr.complexity`, and,
given the true formula, each one's verdict against it. A :class:`CrossCheck`
becomes an ``xarray.Dataset`` (:meth:`CrossCheck.to_xarray`) and rows of a
markdown table (:func:`markdown_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import xarray as xr

from kansci.sr.base import Candidate, EngineResult, check_data, complexity, relative_rmse
from kansci.symbolic.formula import evaluate, snap_constants, tidy

__all__ = [
    "CONSTANT_SLACK",
    "NUMERIC_AGREEMENT",
    "VERDICTS",
    "Agreement",
    "CrossCheck",
    "compare",
    "crosscheck",
    "markdown_table",
    "symbolically_equal",
]

NUMERIC_AGREEMENT = 1e-3
"""Two formulas agree numerically when their relative RMSE on the held-out points is at most this."""

CONSTANT_SLACK = 10
"""Constants differing relatively by less than ``CONSTANT_SLACK * 10**-precision`` count as one constant.

The factor 10 lets a constant already rounded to ``precision`` significant digits
(relative error up to ``5 * 10**-precision``, e.g. a KAN formula from
:func:`kansci.symbolic.formula`) match the exact value.
"""

VERDICTS = ("agree", "agree numerically only", "disagree")
"""The possible verdicts, from best to worst."""


@dataclass(frozen=True)
class Agreement:
    """How two formulas compare.

    Attributes
    ----------
    symbolic : bool
        Equal at the precision (:func:`symbolically_equal`).
    relative_rmse : float
        RMSE of their difference on the held-out points over the RMS of the held-out targets.
    """

    symbolic: bool
    relative_rmse: float

    @property
    def numeric(self) -> bool:
        """Whether :attr:`relative_rmse` is at most :data:`NUMERIC_AGREEMENT`."""
        return self.relative_rmse <= NUMERIC_AGREEMENT

    @property
    def verdict(self) -> str:
        """One of :data:`VERDICTS` (see the module docstring)."""
        if self.numeric:
            return VERDICTS[0] if self.symbolic else VERDICTS[1]
        return VERDICTS[2]


def symbolically_equal(a: sympy.Expr, b: sympy.Expr, precision: int = 4) -> bool:
    """Whether ``a`` and ``b`` are the same formula with constants read to ``precision`` digits.

    See the module docstring for the steps. Symbols are compared as they are
    (match them by name first, as :func:`crosscheck` does).

    Examples
    --------
    >>> x = sympy.Symbol("x", real=True)
    >>> symbolically_equal(sympy.sin(x + sympy.Float(1.5707963)), sympy.cos(x))
    True
    >>> symbolically_equal(sympy.Float(0.39894) * x, x / sympy.sqrt(2 * sympy.pi))
    True
    """
    a, b = (_numbers_as_floats(e) for e in (a, b))
    b = b.xreplace(_matching_constants(b, a, CONSTANT_SLACK * 10.0**-precision))
    a, b = tidy(a, precision), tidy(b, precision)
    difference = sympy.expand(a - b)
    if difference == 0:
        return True
    if _differ_at_sample_points(a, b):  # sympy.simplify can spend an hour on products of cosines: numbers decide
        return False
    # tanh(atanh(a) + atanh(b)) is (a + b)/(1 + a b) only once the sum inside is expanded
    return sympy.simplify(_hyperbolic_as_exp(sympy.expand_trig(difference))) == 0


def _hyperbolic_as_exp(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with cosh, sinh, tanh, sech, ... written with exp (``sech(a)/2`` is ``1/(e^a + e^-a)``)."""
    hyperbolic = sympy.functions.elementary.hyperbolic.HyperbolicFunction
    return expr.replace(lambda e: isinstance(e, hyperbolic), lambda e: e.rewrite(sympy.exp))


SAMPLE_POINTS = 16
"""Points at which :func:`symbolically_equal` compares two formulas before asking sympy (each variable uniform in
[0.25, 1.75], seed 0): formulas that differ there by more than :data:`SAMPLE_TOLERANCE` are not equal."""

SAMPLE_TOLERANCE = 1e-8
"""Relative difference at a sample point that tells two tidied formulas apart (equal ones differ by round-off)."""


def _differ_at_sample_points(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Whether ``a`` and ``b`` take different values at some sample point where both are finite."""
    variables = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    x = np.random.default_rng(0).uniform(0.25, 1.75, (SAMPLE_POINTS, max(len(variables), 1)))[:, : len(variables)]
    try:
        va, vb = (evaluate(e, variables, x) for e in (a, b))
    except (TypeError, ValueError, NameError, ZeroDivisionError):  # a function numpy lacks: sympy decides
        return False
    finite = np.isfinite(va) & np.isfinite(vb)
    scale = np.maximum(np.maximum(np.abs(va), np.abs(vb)), 1e-300)
    return bool(np.any(np.abs(va - vb)[finite] > SAMPLE_TOLERANCE * scale[finite]))


def compare(
    a: sympy.Expr, b: sympy.Expr, x: np.ndarray, variables: Sequence[sympy.Symbol], y: np.ndarray, precision: int = 4
) -> Agreement:
    """Compare two formulas symbolically and on the points ``x`` (errors scaled by the RMS of ``y``)."""
    rmse = relative_rmse(evaluate(a, variables, x), evaluate(b, variables, x), scale=y)
    return Agreement(symbolically_equal(a, b, precision), rmse)


@dataclass(frozen=True)
class CrossCheck:
    """A KAN formula against an engine formula (and the truth), on held-out data.

    Attributes
    ----------
    kan, engine : sympy.Expr
        The two formulas, in real symbols named ``names``.
    truth : sympy.Expr or None
        The true formula, when the dataset knows it.
    names : tuple of str
        The variables, in the column order of the held-out points.
    precision : int
        Digits to which constants are read.
    between : Agreement
        KAN against engine.
    kan_vs_truth, engine_vs_truth : Agreement or None
        Each against the truth (None without a truth).
    kan_rmse, engine_rmse : float
        Relative RMSE of each formula against the held-out targets.
    truth_rmse : float or None
        The same for the truth (the noise level of the targets).
    n_heldout : int
        Number of held-out points.
    """

    kan: sympy.Expr
    engine: sympy.Expr
    truth: sympy.Expr | None
    names: tuple[str, ...]
    precision: int
    between: Agreement
    kan_vs_truth: Agreement | None
    engine_vs_truth: Agreement | None
    kan_rmse: float
    engine_rmse: float
    truth_rmse: float | None
    n_heldout: int

    @property
    def verdict(self) -> str:
        """The verdict of KAN against engine."""
        return self.between.verdict

    def formulas(self) -> dict[str, sympy.Expr]:
        """``{"kan": ..., "engine": ..., "truth": ...}`` (no truth key without a truth)."""
        out = {"kan": self.kan, "engine": self.engine}
        if self.truth is not None:
            out["truth"] = self.truth
        return out

    def latex(self) -> dict[str, str]:
        """LaTeX of each formula, constants rounded to the precision."""
        return {k: sympy.latex(snap_constants(e, self.precision)) for k, e in self.formulas().items()}

    def to_xarray(self) -> xr.Dataset:
        """The check as a Dataset: per-formula variables on dimension ``formula``, the verdict as scalars.

        Formulas are stored as sympy strings at full precision (``sympy.sympify``
        reads them back) and as LaTeX rounded to the precision.
        """
        formulas = self.formulas()
        kinds = list(formulas)
        data = {
            "sympy": ("formula", [str(e) for e in formulas.values()]),
            "latex": ("formula", list(self.latex().values())),
            "complexity": ("formula", [complexity(e) for e in formulas.values()]),
            "relative_rmse_vs_data": ("formula", [self.kan_rmse, self.engine_rmse, self.truth_rmse][: len(kinds)]),
            "verdict": ((), self.verdict),
            "symbolically_equal": ((), self.between.symbolic),
            "relative_rmse_between": ((), self.between.relative_rmse),
        }
        if self.truth is not None:
            vs_truth = [self.kan_vs_truth, self.engine_vs_truth, Agreement(True, 0.0)]
            data["verdict_vs_truth"] = ("formula", [a.verdict for a in vs_truth])
            data["symbolically_equal_to_truth"] = ("formula", [a.symbolic for a in vs_truth])
            data["relative_rmse_vs_truth"] = ("formula", [a.relative_rmse for a in vs_truth])
        attrs = {
            "precision": self.precision,
            "numeric_agreement": NUMERIC_AGREEMENT,
            "constant_rtol": CONSTANT_SLACK * 10.0**-self.precision,
            "variables": ",".join(self.names),
            "n_heldout": self.n_heldout,
        }
        return xr.Dataset(data, coords={"formula": kinds}, attrs=attrs)


def crosscheck(
    kan_expr: sympy.Expr,
    engine_expr: sympy.Expr | Candidate | EngineResult,
    x_heldout: np.ndarray,
    y_heldout: np.ndarray,
    names: Sequence[str],
    truth: sympy.Expr | None = None,
    precision: int = 4,
) -> CrossCheck:
    """Cross-check a KAN formula against an engine formula on held-out data.

    Parameters
    ----------
    kan_expr : sympy.Expr
        One output's formula, e.g. ``kansci.symbolic.formula(model, names)[0]``.
    engine_expr : sympy.Expr, Candidate or EngineResult
        The engine's formula (an EngineResult stands for its ``best``).
    x_heldout : array-like, shape (n, len(names))
        Points not used to fit either formula.
    y_heldout : array-like, shape (n,)
        The targets there.
    names : sequence of str
        The variable of each column; formulas' symbols are matched by name.
    truth : sympy.Expr, optional
        The true formula, when known.
    precision : int
        Digits to which constants are read (see the module docstring).

    Returns
    -------
    CrossCheck

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite data, or a formula using a symbol not in ``names``.
    TypeError
        If a formula is not a sympy expression (e.g. the whole list from ``formula``).
    """
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int (digits), got {precision!r}")
    x, y, variables = check_data(x_heldout, y_heldout, names)
    if isinstance(engine_expr, EngineResult):
        engine_expr = engine_expr.best
    if isinstance(engine_expr, Candidate):
        engine_expr = engine_expr.expr
    kan = _in_variables(kan_expr, variables, "kan_expr")
    engine = _in_variables(engine_expr, variables, "engine_expr")
    true = None if truth is None else _in_variables(truth, variables, "truth")

    def against(a: sympy.Expr, b: sympy.Expr) -> Agreement:
        return compare(a, b, x, variables, y, precision)

    def data_rmse(expr: sympy.Expr) -> float:
        return relative_rmse(evaluate(expr, variables, x), y)

    return CrossCheck(
        kan=kan,
        engine=engine,
        truth=true,
        names=tuple(names),
        precision=precision,
        between=against(kan, engine),
        kan_vs_truth=None if true is None else against(kan, true),
        engine_vs_truth=None if true is None else against(engine, true),
        kan_rmse=data_rmse(kan),
        engine_rmse=data_rmse(engine),
        truth_rmse=None if true is None else data_rmse(true),
        n_heldout=x.shape[0],
    )


def markdown_table(checks: Sequence[CrossCheck], labels: Sequence[str] | None = None) -> str:
    """A markdown table with one row per cross-check, formulas in LaTeX, thresholds below.

    Parameters
    ----------
    checks : sequence of CrossCheck
    labels : sequence of str, optional
        One label per check (e.g. the dataset's name); default 1, 2, ...
    """
    checks = list(checks)
    labels = [str(i + 1) for i in range(len(checks))] if labels is None else list(labels)
    if len(labels) != len(checks):
        raise ValueError(f"got {len(labels)} labels for {len(checks)} checks; give one label per check")
    header = [
        "case",
        "KAN",
        "engine",
        "truth",
        "complexity KAN / engine",
        "rel. RMSE KAN-engine",
        "KAN vs data",
        "engine vs data",
        "verdict",
        "KAN vs truth",
        "engine vs truth",
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, check in zip(labels, checks):
        tex = check.latex()
        cells = [
            _cell(label),
            _math(tex["kan"]),
            _math(tex["engine"]),
            _math(tex["truth"]) if "truth" in tex else "",
            f"{complexity(check.kan)} / {complexity(check.engine)}",
            f"{check.between.relative_rmse:.2e}",
            f"{check.kan_rmse:.2e}",
            f"{check.engine_rmse:.2e}",
            check.verdict,
            check.kan_vs_truth.verdict if check.kan_vs_truth else "",
            check.engine_vs_truth.verdict if check.engine_vs_truth else "",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    precisions = sorted({c.precision for c in checks})
    rows.append("")
    rows.append(
        f"Constants read to {', '.join(map(str, precisions))} digits; formulas agree numerically when "
        f"their relative RMSE on held-out points is at most {NUMERIC_AGREEMENT:g}."
    )
    return "\n".join(rows) + "\n"


# --- internals ----------------------------------------------------------------------


def _in_variables(expr, variables: Sequence[sympy.Symbol], label: str) -> sympy.Expr:
    """``expr`` with its symbols replaced by the same-named ``variables``."""
    if isinstance(expr, list | tuple):
        raise TypeError(f"{label} must be one sympy expression, got a {type(expr).__name__}; pick one output")
    if not isinstance(expr, sympy.Basic | int | float):
        raise TypeError(f"{label} must be a sympy expression, got {type(expr).__name__}")
    expr = sympy.sympify(expr)
    by_name = {v.name: v for v in variables}
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if unknown:
        raise ValueError(f"{label} uses {unknown}, which are not among names {list(by_name)}")
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})


def _numbers_as_floats(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` expanded with every number that is not an integer (pi, sqrt(2), 1/2, ...) as a float."""
    expr = sympy.N(sympy.sympify(expr))
    fractions = {r: sympy.Float(r) for r in expr.atoms(sympy.Rational) if not r.is_Integer}
    return sympy.expand(expr.xreplace(fractions))


def _matching_constants(expr: sympy.Expr, reference: sympy.Expr, rtol: float) -> dict[sympy.Float, sympy.Float]:
    """Each float of ``expr`` within ``rtol`` (relative) of a float of ``reference``, mapped to the closest one."""
    targets = sorted(reference.atoms(sympy.Float), key=float)
    out = {}
    for f in expr.atoms(sympy.Float):
        close = [g for g in targets if abs(float(f) - float(g)) <= rtol * max(abs(float(f)), abs(float(g)))]
        if close:
            out[f] = min(close, key=lambda g: abs(float(f) - float(g)))
    return out


def _math(tex: str) -> str:
    return "$" + tex.replace("|", r"\vert ") + "$"


def _cell(text: str) -> str:
    return text.replace("|", r"\|")
