"""Reading a classifier KAN: snapping edges by the loss they leave, the decision boundary as a formula.

A binary classifier KAN ends in one edge that turns a scalar ``g`` (the input of
the last layer) into a 0/1-like output, e.g. a smooth step. Its decision at
``level`` (0.5 for 0/1 labels) is then ``g(x) > g*`` or ``g(x) < g*``, where
``g*`` is where the last edge crosses ``level``. :func:`read_boundary` composes
``g`` of the symbolic layers before the last into a sympy expression, finds
``g*`` on the data and returns a :class:`Boundary` whose :attr:`Boundary.expression`
``B(x)`` is positive exactly where the network predicts class 1.

:func:`match_boundary` compares ``B`` with a known boundary expression ``r``
(positive on the class-1 side too). A zero set determines its expression only up
to a positive factor, so ``B`` is first divided by the least-squares scale
``c = <B, r> / <r, r>`` over sample points; every term of ``B / c - r`` is then
measured by its root mean square over the samples, relative to that of ``r``.
The boundaries are the same "up to rounded constants" when no term is larger
than ``tolerance``: each constant of ``B / c`` is within a fraction of the size
of ``r`` of the reference's, and every extra term is negligible where the data lie.

Why snap by loss: with 0/1 labels only the zero set of ``g`` is constrained, so
away from the boundary a trained spline may take any shape, and the R^2 of a
candidate fitted to it (what :func:`~kansci.symbolic.auto_symbolic` ranks by)
says little. :func:`snap_by_loss` instead tries every assignment of small
libraries to the active edges of some layers, retrains each network briefly,
and keeps the assignment that classifies best (the simplest among near ties).
For the same reason a snapped boundary carries terms that only shape ``g`` far
from its zero set: :func:`simplify_boundary` drops those the labels do not need
(backward elimination with logistic-regression refits of the rest).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy
import torch
from torch import Tensor, nn

from kansci.core.model import KAN
from kansci.core.train import fit
from kansci.datasets import Dataset
from kansci.symbolic.fit import fit_affine
from kansci.symbolic.formula import evaluate, formula, symbols
from kansci.symbolic.library import SymbolicFunction, get
from kansci.symbolic.snap import edge_data, fix_symbolic

__all__ = [
    "Boundary",
    "BoundaryMatch",
    "Simplified",
    "SnapSearch",
    "match_boundary",
    "read_boundary",
    "round_floats",
    "simplify_boundary",
    "snap_by_loss",
]

LossFn = Callable[[Tensor, Tensor], Tensor]

FIT_SAMPLES = 512
"""Samples per edge when a candidate is fitted to a curve (evenly spaced over the sorted inputs)."""

CROSSING_POINTS = 4001
"""Points on which the last edge is scanned for crossings of the decision level."""


@dataclass(frozen=True)
class Boundary:
    """The decision boundary of a classifier KAN.

    Attributes
    ----------
    quantity : sympy.Expr
        ``g``, the input of the last layer, in the model's input symbols.
    threshold : float
        ``g*``: the last edge equals the decision level there.
    orientation : int
        +1 when class 1 lies where ``g > g*``, -1 when it lies where ``g < g*``.
    variables : tuple of sympy.Symbol
        The symbols of the model's input columns, in order.
    """

    quantity: sympy.Expr
    threshold: float
    orientation: int
    variables: tuple[sympy.Symbol, ...]

    def __post_init__(self) -> None:
        if self.orientation not in (-1, 1):
            raise ValueError(f"orientation must be +1 or -1, got {self.orientation!r}")

    @property
    def expression(self) -> sympy.Expr:
        """``B = orientation * (g - g*)``: positive where the network predicts class 1, zero on the boundary."""
        return sympy.expand(self.orientation * (self.quantity - sympy.Float(self.threshold, 17)))

    def predict(self, x: Tensor | np.ndarray) -> np.ndarray:
        """Class 1 / 0 by the formula at the rows of ``x`` (shape (n, len(variables))), as int64."""
        return (evaluate(self.expression, self.variables, x) > 0).astype(np.int64)


@dataclass(frozen=True)
class BoundaryMatch:
    """How a boundary expression compares with a reference (see :func:`match_boundary`).

    Attributes
    ----------
    scale : float
        ``c`` in ``B ~ c * r``; negative when the two put class 1 on opposite sides.
    normalized : sympy.Expr
        ``B / c`` for display: terms below a tenth of ``tolerance`` (relative RMS) hidden, constants
        rounded to ``digits`` decimals.
    worst_term : float
        Largest RMS of a term of ``B / c - r``, relative to the RMS of ``r``, on the samples.
    residual : float
        RMS of ``B / c - r`` relative to the RMS of ``r``.
    sign_agreement : float
        Fraction of samples on which ``B`` and ``r`` have the same sign (same side of both boundaries).
    equivalent : bool
        ``scale > 0`` and ``worst_term <= tolerance``.
    """

    scale: float
    normalized: sympy.Expr
    worst_term: float
    residual: float
    sign_agreement: float
    equivalent: bool


@dataclass(frozen=True)
class SnapSearch:
    """What :func:`snap_by_loss` tried and chose.

    Attributes
    ----------
    edges : tuple of (int, int, int)
        The searched edges ``(layer, i, o)``, in the order of every assignment.
    chosen : tuple of str
        The function name given to each edge.
    score : float
        The criterion of the chosen network after retraining.
    tried : tuple of (tuple of str, float)
        Every assignment and its criterion, in the order tried.
    """

    edges: tuple[tuple[int, int, int], ...]
    chosen: tuple[str, ...]
    score: float
    tried: tuple[tuple[tuple[str, ...], float], ...]


@dataclass(frozen=True)
class Simplified:
    """A boundary expression with the terms the classification does not need removed (see :func:`simplify_boundary`).

    Attributes
    ----------
    expression : sympy.Expr
        The kept terms with refitted coefficients, positive on the class-1 side.
    error : float
        Its error rate on the samples it was fitted to.
    original_error : float
        The error rate of the expression as given, on the same samples.
    dropped : tuple of sympy.Expr
        The removed terms (without their coefficients), in the order they were dropped.
    """

    expression: sympy.Expr
    error: float
    original_error: float
    dropped: tuple[sympy.Expr, ...]


def snap_by_loss(
    model: KAN,
    data: Dataset,
    libraries: Mapping[int | tuple[int, int], Sequence[str | SymbolicFunction]],
    *,
    loss_fn: LossFn | None = None,
    criterion: Callable[[KAN, Dataset], float] | None = None,
    steps: int = 20,
    tie: float = 0.05,
    tie_absolute: float = 0.0,
    max_assignments: int = 256,
    seed: int = 0,
    fit_options: Mapping[str, Any] | None = None,
) -> tuple[KAN, SnapSearch]:
    """Snap the active edges of some layers, choosing their functions by the training loss they leave.

    Every assignment of a function from its library to each active edge of the listed layers is
    tried: each edge starts from the candidate's fit to its curve in the given model
    (:func:`~kansci.symbolic.fit_affine` on the inputs the edge sees there), then the whole network
    trains ``steps`` LBFGS steps (grid updates only while numeric edges remain) and ``criterion``
    (default: its loss) is measured on the training data. Among the assignments whose criterion is
    within ``lowest * (1 + tie) + tie_absolute``, the one of least total complexity wins (then the
    lowest). The search is joint over the layers because a layer's best functions depend on what
    the others compute. The caller's model is untouched.

    Parameters
    ----------
    model : KAN
    data : Dataset
        Training data (a subsample keeps the search fast); its test split is not used.
    libraries : mapping to sequences of str or SymbolicFunction
        Candidates by layer (``{0: ["x"], 1: ["x", "x^2"]}``: every active edge of that layer) or by
        node (``{(0, 2): ["x", "abs"]}``: the edges leaving node 2 of layer 0); a node's entry
        overrides its layer's. Edges of a layer without an entry are left as they are.
    loss_fn : callable, optional
        ``loss_fn(prediction, label)``, as for :func:`kansci.fit`; default mean squared error.
    criterion : callable, optional
        ``criterion(model, data) -> float``, lower is better (e.g. the training error rate of a
        classifier); default ``loss_fn`` on the training data.
    steps : int
        Retraining steps per assignment.
    tie, tie_absolute : float
        Relative and absolute slack of the criterion within which the simpler assignment wins.
    max_assignments : int
        Refuse searches larger than this (the product over edges of their library sizes).
    seed : int
        Passed to :func:`kansci.fit`.
    fit_options : mapping, optional
        Further keyword arguments of :func:`kansci.fit` for the retraining (e.g. ``lbfgs_iters``).

    Returns
    -------
    (KAN, SnapSearch)
        The snapped and retrained copy of the model, and the search record.

    Raises
    ------
    ValueError
        A layer that does not exist, an empty library, or more assignments than ``max_assignments``.
    """
    options: list[list[SymbolicFunction]] = []
    edges: list[tuple[int, int, int]] = []
    for layer in sorted({key if isinstance(key, int) else key[0] for key in libraries}):
        if not 0 <= layer < model.depth:
            raise ValueError(f"layer {layer} does not exist; the model has layers 0..{model.depth - 1}")
        for i, o in torch.nonzero(model.layers[layer].mask).tolist():
            names = libraries.get((layer, i), libraries.get(layer))
            if names is None:
                continue
            functions = [get(f)[f] if isinstance(f, str) else f for f in names]
            if not functions:
                raise ValueError(f"the library of layer {layer}, node {i} is empty; give at least one, e.g. ['x']")
            edges.append((layer, int(i), int(o)))
            options.append(functions)
    count = math.prod(len(f) for f in options)
    if count > max_assignments:
        raise ValueError(
            f"{len(edges)} active edges with these libraries make {count} assignments > max_assignments="
            f"{max_assignments}; prune the model or shrink the libraries"
        )
    loss_fn = loss_fn or (lambda pred, y: (pred - y).square().mean())
    if criterion is None:

        def criterion(trained: KAN, d: Dataset) -> float:
            with torch.no_grad():
                return float(loss_fn(trained(d.train_input), d.train_label))

    fits = _candidate_fits(model, data.train_input, edges, options)
    trials: list[tuple[tuple[SymbolicFunction, ...], float, KAN]] = []
    for assignment in itertools.product(*(range(len(f)) for f in options)):
        trial = copy.deepcopy(model)
        for edge, functions, choice in zip(edges, options, assignment):
            fix_symbolic(trial, *edge, functions[choice], params=fits[edge][choice])
        training = {"update_grid": _has_numeric(trial), "progress": False, "seed": seed, **(fit_options or {})}
        fit(trial, data, steps=steps, loss_fn=loss_fn, **training)
        score = float(criterion(trial, data))
        functions = tuple(f[c] for f, c in zip(options, assignment))
        trials.append((functions, score if math.isfinite(score) else math.inf, trial))
    lowest = min(score for _, score, _ in trials)
    near = [t for t in trials if t[1] <= lowest + tie * abs(lowest) + tie_absolute]
    assignment, score, best = min(near, key=lambda t: (sum(f.complexity for f in t[0]), t[1]))
    tried = tuple((tuple(f.name for f in a), value) for a, value, _ in trials)
    return best, SnapSearch(tuple(edges), tuple(f.name for f in assignment), score, tried)


def read_boundary(
    model: KAN,
    x: Tensor,
    names: Sequence[str] | None = None,
    *,
    level: float = 0.5,
) -> Boundary:
    """The decision boundary of a classifier KAN whose last layer maps one node to one output.

    Parameters
    ----------
    model : KAN
        Width ending in ``(..., 1, 1)``, depth >= 2; every active edge before the last layer symbolic
        (see :func:`~kansci.symbolic.auto_symbolic`). The last edge may be numeric or symbolic.
    x : Tensor, shape (batch, width[0])
        Samples (usually the training inputs): ``g*`` is sought over the range of ``g`` they reach, and
        when the last edge crosses ``level`` more than once there, the crossing (and side) that best
        reproduces the network's own decisions on ``x`` is kept.
    names : sequence of str, optional
        Names of the original input columns (see :func:`~kansci.symbolic.symbols`).
    level : float
        Decision level of the output.

    Returns
    -------
    Boundary

    Raises
    ------
    ValueError
        If the model is not of that shape, an edge before the last layer is numeric, or the output never
        crosses ``level`` on the data (the network predicts one class everywhere).
    """
    if not isinstance(model, KAN):
        raise TypeError(f"read_boundary needs a kansci.KAN, got {type(model).__name__}")
    if model.depth < 2 or model.width[-2:] != (1, 1):
        raise ValueError(
            f"read_boundary needs a KAN of depth >= 2 whose last layer maps 1 node to 1 output, got width "
            f"{list(model.width)}; end the network in [..., 1, 1] so its last edge is the decision step"
        )
    quantity = formula(_head(model), names, precision=None)[0]
    with torch.no_grad():
        g = model.layer_inputs(x)[-2][:, 0]
        decision = model(x)[:, 0] > level
    threshold, orientation = _threshold(model.layers[-1], g, decision, level)
    return Boundary(quantity, threshold, orientation, tuple(symbols(model, names)))


def simplify_boundary(
    expression: sympy.Expr,
    variables: Sequence[sympy.Symbol],
    x: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    *,
    tolerance: float = 0.002,
    max_terms: int = 64,
) -> Simplified:
    """Drop the terms of a boundary expression that the classification does not need, refitting the rest.

    The expanded expression is a sum of terms ``c_k T_k(x)``. With the ``T_k`` as fixed features, the
    coefficients are refitted by logistic regression of ``labels`` (class 1 where the sum is > 0), and
    terms are removed one at a time (backward elimination) while the error rate stays within
    ``tolerance`` of the better of the expression as given and all its terms refitted. Each round drops
    the term whose removal costs least: the lowest error rate, ties broken by the lowest logistic loss.
    Error rates on a few hundred samples tie often, so without that second key the order of the terms
    would decide. The constant term always stays: it sets the threshold. When no
    term can go and the refit is no better, the expression is returned as given (expanded).

    Parameters
    ----------
    expression : sympy.Expr
        Positive on the class-1 side (e.g. :attr:`Boundary.expression`).
    variables : sequence of sympy.Symbol
        The symbol of each column of ``x``.
    x : array-like, shape (n, len(variables))
    labels : array-like of 0/1, shape (n,) or (n, 1)
    tolerance : float
        Largest increase of the error rate a removal may cause.
    max_terms : int
        Refuse expressions with more terms than this (each elimination round refits every term).

    Returns
    -------
    Simplified

    Raises
    ------
    ValueError
        On too many terms, a term that is not finite on the samples, or labels that are not 0/1.
    """
    variables = list(variables)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, Tensor) else labels, dtype=np.float64).reshape(-1)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1 (class 1 where the expression is positive)")
    terms = _features(expression)
    if len(terms) > max_terms:
        raise ValueError(f"the expression has {len(terms)} terms > max_terms={max_terms}; simplify or prune it first")
    columns = np.column_stack([np.ones(len(y))] + [evaluate(t, variables, x) for t in terms])
    if not np.isfinite(columns).all():
        raise ValueError("a term of the expression is not finite on the samples; pass samples inside its domain")
    original_error = float(np.mean((evaluate(expression, variables, x) > 0) != (y > 0.5)))
    weights, error, _ = _logistic(columns, y)
    baseline = min(original_error, error)
    kept, dropped = list(range(1, columns.shape[1])), []
    while kept:
        rounds = [(_logistic(columns[:, [0] + [k for k in kept if k != j]], y), j) for j in kept]
        (best_weights, best_error, _), j = min(rounds, key=lambda r: (r[0][1], r[0][2]))
        if best_error > baseline + tolerance:
            break
        kept.remove(j)
        dropped.append(terms[j - 1])
        weights, error = best_weights, best_error
    if not dropped and original_error <= error:  # nothing to drop and the refit is no better: keep it as it is
        return Simplified(sympy.expand(expression), original_error, original_error, ())
    kept_terms = [sympy.Integer(1)] + [terms[k - 1] for k in kept]
    simplified = sympy.Add(*(sympy.Float(float(w), 17) * t for w, t in zip(weights, kept_terms)))
    return Simplified(simplified, float(error), original_error, tuple(dropped))


def match_boundary(
    expression: sympy.Expr,
    reference: sympy.Expr,
    variables: Sequence[sympy.Symbol],
    x: Tensor | np.ndarray,
    *,
    tolerance: float = 0.05,
    digits: int = 2,
) -> BoundaryMatch:
    """Compare a boundary expression with a reference up to a positive factor and rounded constants.

    Parameters
    ----------
    expression : sympy.Expr
        ``B``, positive on the class-1 side (e.g. :attr:`Boundary.expression`).
    reference : sympy.Expr
        ``r``, positive on the class-1 side (e.g. ``lhs - rhs`` of a known "class 1 when lhs > rhs").
    variables : sequence of sympy.Symbol
        The symbol of each column of ``x``.
    x : array-like, shape (n, len(variables))
        Samples the comparison is measured on (the region the boundary matters in).
    tolerance : float
        Largest relative RMS a term of ``B / c - r`` may have for the two to count as the same boundary.
    digits : int
        Decimals the constants of :attr:`BoundaryMatch.normalized` are rounded to (display only).

    Returns
    -------
    BoundaryMatch

    Raises
    ------
    ValueError
        If the reference is zero on every sample, or a sample gives a non-finite value.
    """
    variables = list(variables)
    b_values, r_values = evaluate(expression, variables, x), evaluate(reference, variables, x)
    if not (np.isfinite(b_values).all() and np.isfinite(r_values).all()):
        raise ValueError("the boundary or the reference is not finite on every sample; pass samples inside its domain")
    r_size = _rms(r_values)
    if r_size == 0.0:
        raise ValueError("the reference is zero on every sample; pass samples that span both sides of it")
    scale = float(b_values @ r_values / (r_values @ r_values))
    if scale == 0.0:
        return BoundaryMatch(0.0, sympy.Integer(0), np.inf, np.inf, _agreement(b_values, r_values), False)
    normalized = sympy.expand(expression / scale)
    difference = sympy.expand(normalized - reference)
    term_sizes = [_rms(evaluate(t, variables, x)) / r_size for t in sympy.Add.make_args(difference)]
    worst = max(term_sizes, default=0.0)
    residual = _rms(evaluate(difference, variables, x)) / r_size
    kept = [t for t in sympy.Add.make_args(normalized) if _rms(evaluate(t, variables, x)) > tolerance * r_size / 10]
    shown = round_floats(sympy.Add(*kept), digits)
    equivalent = scale > 0 and worst <= tolerance
    return BoundaryMatch(scale, shown, float(worst), float(residual), _agreement(b_values, r_values), equivalent)


def round_floats(expr: sympy.Expr, digits: int = 2) -> sympy.Expr:
    """Every float constant of ``expr`` rounded to ``digits`` decimals (integers become sympy integers)."""
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be an int >= 0, got {digits!r}")
    return expr.xreplace({f: _rounded(float(f), digits) for f in expr.atoms(sympy.Float)})


# --- internals ----------------------------------------------------------------------


def _candidate_fits(
    model: KAN,
    x: Tensor,
    edges: Sequence[tuple[int, int, int]],
    options: Sequence[Sequence[SymbolicFunction]],
) -> dict[tuple[int, int, int], list[tuple[float, float, float, float]]]:
    """``(a, b, c, d)`` of every candidate on every edge, fitted to the curves of the unsnapped model.

    Every edge is fitted on the inputs it sees in the trained model, so a trial starts from a
    network whose nodes keep their scale (a later layer fitted to the outputs of an already snapped
    one would read its splines outside the range they were trained on).
    """
    fits = {}
    for (layer, i, o), functions in zip(edges, options):
        xe, ye = edge_data(model, x, layer, i, o, max_samples=FIT_SAMPLES)
        fits[(layer, i, o)] = [
            (f.a, f.b, f.c, f.d) for f in (fit_affine(xe, ye, g, refine_steps=20) for g in functions)
        ]
    return fits


def _features(expression: sympy.Expr) -> list[sympy.Expr]:
    """The distinct non-constant terms of the expanded expression, without their numeric coefficients.

    In sympy's canonical order, so the result does not depend on the order of the sum's arguments (which
    follows string hashes, i.e. ``PYTHONHASHSEED``).
    """
    features = set()
    for term in sympy.Add.make_args(sympy.expand(expression)):
        _, rest = term.as_coeff_Mul()
        if rest.free_symbols:
            features.add(rest)
    return sorted(features, key=sympy.default_sort_key)


def _logistic(columns: np.ndarray, y: np.ndarray, l2: float = 1e-6) -> tuple[np.ndarray, float, float]:
    """Logistic-regression weights of the columns (first: the constant), their error rate and their loss."""
    scale = np.abs(columns).max(axis=0)
    scale[scale == 0] = 1.0
    features = torch.as_tensor(columns / scale)
    target = torch.as_tensor(y)
    w = torch.zeros(columns.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(features @ w, target) + l2 * w.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        loss = float(nn.functional.binary_cross_entropy_with_logits(features @ w, target))
    weights = w.detach().numpy() / scale
    return weights, float(np.mean((columns @ weights > 0) != (y > 0.5))), loss


def _has_numeric(model: KAN) -> bool:
    return any(float(lay.symbolic.numeric_mask(lay.mask).sum()) > 0 for lay in model.layers)


def _head(model: KAN) -> KAN:
    """A copy of the model without its last layer: it computes ``g``."""
    head = KAN.from_config(replace(model.config, width=model.width[:-1]), device=model.device)
    head.layers = nn.ModuleList(copy.deepcopy(layer) for layer in model.layers[:-1])
    return head


def _threshold(last: nn.Module, g: Tensor, decision: Tensor, level: float) -> tuple[float, int]:
    """The crossing of ``level`` by the last edge, and the side of class 1, that best reproduce ``decision``."""
    lo, hi = float(g.min()), float(g.max())
    pad = 0.05 * (hi - lo) + 1e-12
    grid = torch.linspace(lo - pad, hi + pad, CROSSING_POINTS, dtype=g.dtype, device=g.device)
    with torch.no_grad():
        above = last(grid[:, None])[:, 0] > level
    flips = torch.nonzero(above[1:] != above[:-1])[:, 0]
    if len(flips) == 0:
        raise ValueError(
            f"the network's output does not cross {level} over the range of g on the data: it predicts one class "
            "everywhere, so there is no boundary to read; train it longer or check the labels"
        )
    best: tuple[float, float, int] | None = None
    for i in flips.tolist():
        t = _bisect(last, float(grid[i]), float(grid[i + 1]), level, g)
        for side in (1, -1):
            agreement = float(((side * (g - t)) > 0).eq(decision).double().mean())
            if best is None or agreement > best[0]:
                best = (agreement, t, side)
    return best[1], best[2]


def _bisect(last: nn.Module, lo: float, hi: float, level: float, like: Tensor, steps: int = 60) -> float:
    """The crossing of ``level`` by the last edge between ``lo`` and ``hi``, to about machine precision."""

    def value(t: float) -> float:
        with torch.no_grad():
            return float(last(like.new_full((1, 1), t))[0, 0]) - level

    f_lo = value(lo)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        f_mid = value(mid)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def _agreement(b_values: np.ndarray, r_values: np.ndarray) -> float:
    return float(np.mean((b_values > 0) == (r_values > 0)))


def _rounded(value: float, digits: int) -> sympy.Expr:
    rounded = round(value, digits)
    if rounded == int(rounded):
        return sympy.Integer(int(rounded))
    significant = len(f"{abs(rounded):.{digits}f}".replace(".", "").lstrip("0"))
    return sympy.Float(rounded, significant)
