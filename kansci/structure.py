"""Separability and symmetry of a function from its derivatives, to choose a KAN shape.

Every test here reads the gradient and Hessian of ``f`` (autograd, so ``f`` may
be a trained model or any differentiable callable mapping a tensor of shape
``(batch, n)`` to ``(batch,)`` or ``(batch, 1)``) on sample points, in the
spirit of the "hypothesis testing" and "tree converter" of KAN 2.0 (Liu et al.
2024, arXiv:2408.10205):

* ``f = g(x_A) + h(x_B)`` iff the mixed derivatives ``d2f/dx_i dx_j`` vanish for
  every ``i`` in ``A`` and ``j`` in ``B`` (:func:`additive_separability`);
* ``f = g(x_A) h(x_B)`` iff ``log|f|`` is additive, i.e. the mixed block of the
  Hessian of ``log|f|``, ``(f f_ij - f_i f_j) / f**2``, vanishes
  (:func:`multiplicative_separability`);
* ``f`` depends on ``(x_i, x_j)`` only through an invariant ``u(x_i, x_j)`` iff
  its gradient ``(f_i, f_j)`` is parallel to ``(u_i, u_j)`` (:func:`symmetry`);
* ``f = h(x_k) g(u)`` (or ``h + g``), ``u`` such an invariant and ``x_k`` one of
  the pair, iff ``f`` is separable in the coordinates ``(x_k, u)``
  (:func:`scaled_symmetry`).

Each score is a ratio of root-sum-squares over the samples (for
:func:`scaled_symmetry`, the median over the samples of that ratio at each
one), 0 for an exact property and at most 1; the scores are invariant to
rescaling ``f``.
:func:`structure_tree` splits the variables recursively by these tests into a
:class:`Tree` of sums and products; :func:`plot_tree` draws it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

__all__ = [
    "MIN_SAMPLES",
    "SYMMETRIES",
    "Tree",
    "additive_separability",
    "invariant_shape",
    "multiplicative_separability",
    "plot_tree",
    "scaled_invariant_shape",
    "scaled_symmetry",
    "structure_tree",
    "suggested_shape",
    "symmetry",
]

MIN_SAMPLES = 10
"""Fewest sample points the tests accept."""

SYMMETRIES: tuple[str, ...] = ("difference", "sum", "product", "ratio")
"""Invariants ``x_i - x_j``, ``x_i + x_j``, ``x_i * x_j``, ``x_i / x_j`` tested by :func:`symmetry`."""

_TINY = 1e-8
"""Samples with ``|f - offset|`` below this fraction of its maximum are skipped by the product test."""

_EXHAUSTIVE_MAX = 6
"""Up to this many variables every bipartition is tried; above it, candidates come from a graph."""

Function = Callable[[Tensor], Tensor]


# ----------------------------------------------------------------------------------------------- validation


def _as_samples(x: Tensor | np.ndarray) -> Tensor:
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D with shape (batch, n_variables), got shape {tuple(x.shape)}")
    if x.shape[0] < MIN_SAMPLES:
        raise ValueError(f"x has {x.shape[0]} samples; pass at least {MIN_SAMPLES} rows")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or inf; drop or replace those rows")
    return x.detach()


def _evaluate(f: Function, x: Tensor) -> Tensor:
    y = f(x)
    if not isinstance(y, Tensor):
        raise ValueError(f"f must return a torch Tensor, got {type(y).__name__}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"f returned shape {tuple(y.shape)} for {x.shape[0]} samples; it must return (batch,) or (batch, 1)"
        )
    return y


def _derivatives(f: Function, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Values (batch,), gradients (batch, n) and Hessians (batch, n, n) of ``f`` at the rows of ``x``."""
    x = x.detach().clone().requires_grad_(True)
    y = _evaluate(f, x)
    if not y.requires_grad:
        raise ValueError("f(x) does not depend differentiably on x; f must be built from torch operations")
    (grad,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    n = x.shape[1]
    hess = torch.zeros(x.shape[0], n, n, dtype=x.dtype)
    if grad.requires_grad:
        for i in range(n):
            (row,) = torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True, allow_unused=True)
            if row is not None:
                hess[:, i, :] = row.detach()
    values, grad = y.detach(), grad.detach()
    if not (
        bool(torch.isfinite(values).all()) and bool(torch.isfinite(grad).all()) and bool(torch.isfinite(hess).all())
    ):
        raise ValueError("f(x) or its derivatives contain NaN or inf; restrict x to the domain of f")
    return values, grad, hess


def _check_groups(groups_a: Sequence[int], groups_b: Sequence[int], n: int) -> tuple[list[int], list[int]]:
    a, b = [int(i) for i in groups_a], [int(i) for i in groups_b]
    for name, group in (("groups_a", a), ("groups_b", b)):
        if not group:
            raise ValueError(f"{name} is empty; name at least one variable index")
        bad = [i for i in group if not 0 <= i < n]
        if bad:
            raise ValueError(f"{name} has indices {bad} outside 0..{n - 1} (x has {n} columns)")
        if len(set(group)) != len(group):
            raise ValueError(f"{name} repeats a variable index: {group}")
    common = sorted(set(a) & set(b))
    if common:
        raise ValueError(f"groups_a and groups_b overlap in variables {common}; the groups must be disjoint")
    return a, b


# ----------------------------------------------------------------------------------------------- scores


def _block_score(matrices: Tensor, a: Sequence[int], b: Sequence[int]) -> float:
    """sqrt(2 * sum |M_AB|^2 / sum |M_VV|^2) over samples, V = A u B; 0 when M_VV vanishes."""
    v = list(a) + list(b)
    whole = matrices[:, v][:, :, v].pow(2).sum()
    if float(whole) == 0.0:
        return 0.0
    cross = matrices[:, list(a)][:, :, list(b)].pow(2).sum()
    return float(torch.sqrt(2.0 * cross / whole).clamp(max=1.0))


def _log_hessians(values: Tensor, grad: Tensor, hess: Tensor, offset: float) -> Tensor:
    """Hessians of log|f - offset| at the samples where |f - offset| is not tiny."""
    shifted = values - offset
    scale = shifted.abs().max()
    if float(scale) == 0.0:
        raise ValueError("f equals its offset at every sample, so log|f| is undefined; sample where f is nonzero")
    keep = shifted.abs() > _TINY * scale
    s = shifted[keep][:, None, None]
    g = grad[keep]
    return (s * hess[keep] - g[:, :, None] * g[:, None, :]) / s**2


def _fit_offset(values: Tensor, grad: Tensor, hess: Tensor, a: Sequence[int], b: Sequence[int]) -> float:
    """Least-squares c with (f - c) f_ij = f_i f_j over the cross block; exact when f = c + g(x_A) h(x_B)."""
    h = hess[:, list(a)][:, :, list(b)]
    outer = grad[:, list(a), None] * grad[:, None, list(b)]
    denominator = h.pow(2).sum()
    if float(denominator) == 0.0:
        return 0.0
    return float((h * (values[:, None, None] * h - outer)).sum() / denominator)


def additive_separability(
    f: Function, x: Tensor | np.ndarray, groups_a: Sequence[int], groups_b: Sequence[int]
) -> float:
    """How far ``f(x) = g(x_A) + h(x_B)`` is violated on the samples.

    The score is ``sqrt(2 * S_AB / S_V)`` where ``S_AB`` sums ``(d2f/dx_i dx_j)**2``
    over ``i`` in ``A``, ``j`` in ``B`` and all samples, and ``S_V`` sums the
    squares of the whole Hessian block over ``V = A u B`` (the factor 2 counts
    the symmetric block ``B x A``). It is 0 for an exactly separable ``f``,
    1 when only mixed derivatives are nonzero (``f = x_A * x_B``), and 0 when
    ``f`` is linear in ``V``. Variables outside ``V`` are ignored.

    Parameters
    ----------
    f : callable
        Maps a tensor of shape (batch, n) to shape (batch,) or (batch, 1).
    x : Tensor, shape (batch, n)
        Sample points, at least :data:`MIN_SAMPLES` rows, away from zeros of ``f``; float64 recommended.
    groups_a, groups_b : sequence of int
        Disjoint, nonempty column indices of ``A`` and ``B``.

    Returns
    -------
    float
        The violation score in [0, 1].

    Raises
    ------
    ValueError
        If ``x`` is not 2-D, too short or not finite, ``f`` returns the wrong
        shape or non-finite values, or the groups are empty, overlap or are out of range.

    Examples
    --------
    >>> x = torch.rand(50, 2, dtype=torch.float64)
    >>> additive_separability(lambda x: torch.sin(x[:, 0]) + x[:, 1] ** 2, x, [0], [1]) < 1e-12
    True
    """
    x = _as_samples(x)
    a, b = _check_groups(groups_a, groups_b, x.shape[1])
    _, _, hess = _derivatives(f, x)
    return _block_score(hess, a, b)


def multiplicative_separability(
    f: Function,
    x: Tensor | np.ndarray,
    groups_a: Sequence[int],
    groups_b: Sequence[int],
    *,
    fit_offset: bool = False,
) -> float:
    """How far ``f(x) = g(x_A) h(x_B)`` (or ``c + g h`` with ``fit_offset``) is violated.

    The additive score of :func:`additive_separability` applied to the Hessian of
    ``log|f - c|``, ``L_ij = ((f - c) f_ij - f_i f_j) / (f - c)**2``, over the
    samples where ``|f - c|`` exceeds ``1e-8`` times its maximum (``log|f|`` has
    poles at zeros of ``f``). ``c`` is 0, or with ``fit_offset`` the least-squares
    solution of ``(f - c) f_ij = f_i f_j`` over the cross block, exact when
    ``f = c + g(x_A) h(x_B)``.

    Parameters
    ----------
    f : callable
        Maps a tensor of shape (batch, n) to shape (batch,) or (batch, 1).
    x : Tensor, shape (batch, n)
        Sample points, at least :data:`MIN_SAMPLES` rows, away from zeros of ``f``.
    groups_a, groups_b : sequence of int
        Disjoint, nonempty column indices of ``A`` and ``B``.
    fit_offset : bool
        Allow an additive constant ``c`` (a KAN's bias absorbs it).

    Returns
    -------
    float
        The violation score in [0, 1].

    Raises
    ------
    ValueError
        As :func:`additive_separability`, and if ``f - c`` is zero at every sample.

    Examples
    --------
    >>> x = 1 + torch.rand(50, 2, dtype=torch.float64)
    >>> multiplicative_separability(lambda x: x[:, 0] * torch.exp(x[:, 1]), x, [0], [1]) < 1e-12
    True
    """
    x = _as_samples(x)
    a, b = _check_groups(groups_a, groups_b, x.shape[1])
    values, grad, hess = _derivatives(f, x)
    offset = _fit_offset(values, grad, hess, a, b) if fit_offset else 0.0
    return _block_score(_log_hessians(values, grad, hess, offset), a, b)


def symmetry(f: Function, x: Tensor | np.ndarray, i: int, j: int) -> dict[str, float]:
    """How far ``f`` is from depending on ``(x_i, x_j)`` only through each invariant in :data:`SYMMETRIES`.

    ``f`` depends on ``(x_i, x_j)`` only through ``u(x_i, x_j)`` iff its gradient
    ``(f_i, f_j)`` is parallel to ``(u_i, u_j)``, taken as ``(1, -1)``, ``(1, 1)``,
    ``(x_j, x_i)`` and ``(x_j, -x_i)`` (``x_j**2`` times the ratio's gradient).
    The score is ``sqrt(sum (f_i u_j - f_j u_i)**2 / sum |grad f|**2 |grad u|**2)``
    over the samples: an RMS of the sine of the angle between the two
    gradients, weighted by their lengths. It is 0 when ``f`` does not depend on
    ``x_i`` or ``x_j``.

    Parameters
    ----------
    f : callable
        Maps a tensor of shape (batch, n) to shape (batch,) or (batch, 1).
    x : Tensor, shape (batch, n)
        Sample points, at least :data:`MIN_SAMPLES` rows.
    i, j : int
        Two distinct column indices.

    Returns
    -------
    dict of str to float
        Violation score in [0, 1] for ``"difference"``, ``"sum"``, ``"product"`` and ``"ratio"``.

    Raises
    ------
    ValueError
        If ``i == j`` or either is out of range, or as :func:`additive_separability`.

    Examples
    --------
    >>> x = 1 + torch.rand(50, 2, dtype=torch.float64)
    >>> symmetry(lambda x: torch.sin(x[:, 0] - x[:, 1]), x, 0, 1)["difference"] < 1e-12
    True
    """
    x = _as_samples(x)
    if i == j:
        raise ValueError(f"symmetry needs two distinct variables, got i = j = {i}")
    _check_groups([i], [j], x.shape[1])
    _, grad, _ = _derivatives(f, x)
    fi, fj = grad[:, i], grad[:, j]
    xi, xj = x[:, i], x[:, j]
    ones = torch.ones_like(xi)
    directions = {
        "difference": (ones, -ones),
        "sum": (ones, ones),
        "product": (xj, xi),
        "ratio": (xj, -xi),
    }
    scores = {}
    for name, (ui, uj) in directions.items():
        whole = ((fi**2 + fj**2) * (ui**2 + uj**2)).sum()
        cross = (fi * uj - fj * ui).pow(2).sum()
        scores[name] = 0.0 if float(whole) == 0.0 else float(torch.sqrt(cross / whole).clamp(max=1.0))
    return scores


def scaled_symmetry(f: Function, x: Tensor | np.ndarray, i: int, j: int) -> dict[tuple[str, int, str], float]:
    """How far ``f`` is from ``h(x_k) * g(u)`` or ``h(x_k) + g(u)``, with ``u = x_o (op) x_k`` and {k, o} = {i, j}.

    A scale times a function of a ratio is the common case: a density ``g(t / s) / s``, the normal
    density among them; ``sin(n t / 2)^2 / sin(t / 2)^2`` is ``h(t) g(n t)``. The invariants ``(op)`` are
    those of :data:`SYMMETRIES`: ``x_o - x_k``, ``x_o + x_k``, ``x_o * x_k`` and ``x_o / x_k``. In the
    coordinates ``(x_k, u)`` (the remaining inputs as they are) the form is the multiplicative or
    additive separability of ``x_k`` from ``u``, scored as :func:`multiplicative_separability` and
    :func:`additive_separability` do at each sample, and the median taken over the samples: where
    ``x_k`` nears 0 the Hessian in these coordinates grows without bound, and a sum over samples would
    read those few alone. A pure invariant, ``f = g(u)`` (:func:`symmetry`), passes both.

    Parameters
    ----------
    f : callable
        Maps a tensor of shape (batch, n) to shape (batch,) or (batch, 1).
    x : Tensor, shape (batch, n)
        Sample points, at least :data:`MIN_SAMPLES` rows, away from zeros of ``f``.
    i, j : int
        Two distinct column indices.

    Returns
    -------
    dict of (str, int, str) to float
        Violation score in [0, 1] per ``(invariant, k, "product" or "sum")``; a product or a ratio whose
        ``x_k`` changes sign or nears 0 on the samples (``u`` unbounded or ``x_o`` lost) is left out.

    Raises
    ------
    ValueError
        As :func:`symmetry`.

    Examples
    --------
    >>> x = torch.rand(50, 2, dtype=torch.float64) + 0.5
    >>> f = lambda x: torch.exp(-(x[:, 0] / x[:, 1]) ** 2 / 2) / x[:, 1]
    >>> scaled_symmetry(f, x, 0, 1)[("ratio", 1, "product")] < 1e-10
    True
    """
    x = _as_samples(x)
    if i == j:
        raise ValueError(f"scaled_symmetry needs two distinct variables, got i = j = {i}")
    _check_groups([i], [j], x.shape[1])
    scores = {}
    for kind, k in itertools.product(SYMMETRIES, (i, j)):
        o = j if k == i else i
        if kind in ("product", "ratio") and _reaches_zero(x[:, k]):
            continue
        z = x.clone()
        z[:, o] = _invariant_of(kind, x[:, o], x[:, k])

        def original(z: Tensor, kind=kind, k=k, o=o) -> Tensor:
            columns = list(z.unbind(dim=1))
            columns[o] = _invariant_of(kind, z[:, o], z[:, k], inverse=True)
            return f(torch.stack(columns, dim=1))

        values, grad, hess = _derivatives(original, z)
        scores[(kind, k, "sum")] = _median_score(hess, k, o)
        scores[(kind, k, "product")] = _median_score(_log_hessians(values, grad, hess, 0.0), k, o)
    return scores


def _invariant_of(kind: str, a: Tensor, b: Tensor, inverse: bool = False) -> Tensor:
    """``a (op) b`` for the invariant ``kind``; with ``inverse``, the ``x`` with ``x (op) b = a``."""
    if kind == "difference":
        return a + b if inverse else a - b
    if kind == "sum":
        return a - b if inverse else a + b
    if kind == "product":
        return a / b if inverse else a * b
    return a * b if inverse else a / b


def _reaches_zero(values: Tensor) -> bool:
    """Whether samples of a divisor change sign or come within :data:`_TINY` of 0 (its quotient is unbounded)."""
    return bool(values.min() * values.max() <= 0) or bool((values.abs() < _TINY).any())


def _median_score(matrices: Tensor, a: int, b: int) -> float:
    """The median over samples of one sample's :func:`_block_score` of ``{a}`` against ``{b}``; 0 where the
    block vanishes. A sample near a pole of the coordinates outweighs all others in a sum over samples."""
    block = matrices[:, [a, b]][:, :, [a, b]]
    whole = block.pow(2).sum(dim=(1, 2))
    cross = block[:, 0, 1].pow(2)
    per_sample = torch.where(whole > 0, torch.sqrt(2.0 * cross / whole.clamp_min(1e-300)), torch.zeros_like(whole))
    return float(per_sample.clamp(max=1.0).median())


# ----------------------------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Tree:
    """A node of the separability tree.

    Attributes
    ----------
    kind : {"sum", "product", "leaf"}
        How the children combine; a leaf is a function of its variables that no test splits.
    variables : tuple of int
        Columns of ``x`` below this node, sorted.
    children : tuple of Tree
        Sub-trees, ordered by their smallest variable; empty for a leaf.
    score : float
        For a sum or product, the violation score of the split (below ``tol``);
        for a leaf of several variables, the lowest score any split reached; 0 for one variable.
    """

    kind: Literal["sum", "product", "leaf"]
    variables: tuple[int, ...]
    children: tuple[Tree, ...] = ()
    score: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("sum", "product", "leaf"):
            raise ValueError(f"kind must be 'sum', 'product' or 'leaf', got {self.kind!r}")
        if self.kind == "leaf" and self.children:
            raise ValueError("a leaf has no children; use kind='sum' or 'product'")
        if self.kind != "leaf" and len(self.children) < 2:
            raise ValueError(f"a {self.kind} node needs at least two children")

    def format(self, names: Sequence[str] | None = None) -> str:
        """The tree as text, e.g. ``product(sum(x0, x1), x2)``; a leaf of several variables reads ``leaf(x0, x1)``."""
        if self.kind == "leaf":
            labels = [_name(v, names) for v in self.variables]
            return labels[0] if len(labels) == 1 else f"leaf({', '.join(labels)})"
        return f"{self.kind}({', '.join(child.format(names) for child in self.children)})"

    def __str__(self) -> str:
        return self.format()


def _name(variable: int, names: Sequence[str] | None) -> str:
    return f"x{variable}" if names is None else str(names[variable])


def _bipartitions(variables: list[int], matrices: Tensor, tol: float) -> list[tuple[list[int], list[int]]]:
    """Every bipartition (small ``variables``) or one connected component of the pairwise graph versus the rest."""
    if len(variables) <= _EXHAUSTIVE_MAX:
        first, rest = variables[0], variables[1:]
        splits = []
        for size in range(len(rest)):
            for others in itertools.combinations(rest, size):
                a = [first, *others]
                splits.append((a, [v for v in rest if v not in others]))
        return splits
    block = matrices[:, variables][:, :, variables].pow(2).sum(0)
    linked = (block / block.sum().clamp_min(torch.finfo(block.dtype).tiny)).sqrt() > tol / len(variables)
    component, frontier = {0}, [0]
    while frontier:
        k = frontier.pop()
        for m in torch.nonzero(linked[k]).flatten().tolist():
            if m not in component:
                component.add(m)
                frontier.append(m)
    if len(component) == len(variables):
        return []
    a = [variables[k] for k in sorted(component)]
    return [(a, [v for v in variables if v not in a])]


def _frozen(f: Function, columns: Sequence[int], point: Tensor) -> Function:
    """``f`` with ``columns`` held at the values of ``point`` (shape (n,))."""
    cols = list(columns)

    def restricted(x: Tensor) -> Tensor:
        mask = torch.zeros(x.shape[1], dtype=torch.bool)
        mask[cols] = True
        return f(torch.where(mask, point.to(x.dtype), x))

    return restricted


def _split(f: Function, x: Tensor, variables: list[int], tol: float) -> tuple[Tree, float]:
    """The tree over ``variables`` and, for a product, its offset relative to ``max |f - offset|`` (else 0)."""
    if len(variables) == 1:
        return Tree("leaf", tuple(variables)), 0.0
    values, grad, hess = _derivatives(f, x)
    additive = [(_block_score(hess, a, b), a, b) for a, b in _bipartitions(variables, hess, tol)]
    candidates: list[tuple[str, float, list[int], list[int], float]] = [("sum", s, a, b, 0.0) for s, a, b in additive]
    if not any(s < tol for s, _, _ in additive):
        log_hess = _log_hessians(values, grad, hess, 0.0)
        for a, b in _bipartitions(variables, log_hess, tol):
            offset = _fit_offset(values, grad, hess, a, b)
            score = _block_score(_log_hessians(values, grad, hess, offset), a, b)
            candidates.append(("product", score, a, b, offset))
    best = min((c[1] for c in candidates), default=1.0)
    chosen = [c for c in candidates if c[1] < tol]
    if not chosen:
        return Tree("leaf", tuple(variables), score=best), 0.0
    kind, score, a, b, offset = min(chosen, key=lambda c: (c[0] != "sum", c[1]))
    point = x[int((values - offset).abs().argmax())]
    children = []
    for group, other in ((a, b), (b, a)):
        child, child_offset = _split(_frozen(f, other, point), x, sorted(group), tol)
        # a product inside a product merges unless it has its own offset: n (1 + a cos t) keeps (1 + a cos t)
        merge = child.kind == kind and (kind == "sum" or abs(child_offset) <= tol)
        children.extend(child.children if merge else (child,))
    children.sort(key=lambda t: t.variables[0])
    relative = abs(offset) / max(float((values - offset).abs().max()), torch.finfo(values.dtype).tiny)
    return Tree(kind, tuple(sorted(variables)), tuple(children), score), relative


def structure_tree(f: Function, x: Tensor | np.ndarray, tol: float = 1e-3) -> Tree:
    """Split the variables of ``f`` recursively into sums and products.

    At each node the function of the node's variables (``f`` with the other
    columns held at one sample point, so known up to an additive and a
    multiplicative constant) is tested for an additive split
    (:func:`additive_separability`); if none scores below ``tol``, for a
    multiplicative split with a fitted offset (``fit_offset=True`` in
    :func:`multiplicative_separability`: a KAN absorbs constants in its
    biases). The lowest-scoring split below ``tol`` is taken, sums before
    products. Up to six variables every bipartition is tried; with more, the
    candidate is one connected component of the graph linking variables whose
    pairwise cross-derivative share exceeds ``tol / n`` (for products, of the
    Hessian of ``log|f|`` without offset).

    The canonical form is flat and as fine as the tests allow: nested nodes of
    the same kind are merged (``x0 + x1 + x2`` is ``sum(x0, x1, x2)``, and
    ``exp(x2 + x3)`` is ``product(x2, x3)``) unless the inner product has an
    offset of its own above ``tol`` (``n (1 + a cos t)`` is
    ``product(n, product(a, t))``), children are ordered by their
    smallest variable, and an unsplittable group is ``leaf(x0, x1)``.

    Parameters
    ----------
    f : callable
        Maps a tensor of shape (batch, n) to shape (batch,) or (batch, 1).
    x : Tensor, shape (batch, n)
        Sample points, at least :data:`MIN_SAMPLES` rows, away from zeros of ``f``; float64 recommended.
    tol : float
        Largest violation score accepted as a split.

    Returns
    -------
    Tree
        The root, over all ``n`` variables.

    Raises
    ------
    ValueError
        If ``tol`` is not in (0, 1), or as :func:`additive_separability`.

    Examples
    --------
    >>> x = 1 + torch.rand(50, 3, dtype=torch.float64)
    >>> str(structure_tree(lambda x: x[:, 0] * x[:, 1] + x[:, 2], x))
    'sum(product(x0, x1), x2)'
    """
    if not 0.0 < tol < 1.0:
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    x = _as_samples(x)
    return _split(f, x, list(range(x.shape[1])), tol)[0]


def _flat(tree: Tree) -> bool:
    """A single variable, or a sum of single variables: what one layer of edges into one node computes."""
    if tree.kind == "leaf":
        return len(tree.variables) == 1
    return tree.kind == "sum" and all(c.kind == "leaf" and len(c.variables) == 1 for c in tree.children)


def suggested_shape(tree: Tree):
    """The KAN shape a separability tree points to (a :class:`kansci.symbolic.Shape`), or None.

    One layer where one suffices: ``sum(x0, x1, ...)`` of single variables is
    ``[n, 1]``; a product of k factors that are single variables or sums of
    them is ``[n, [0, 1]]`` with arity k, each factor fed only by its own variables (a cross edge
    would take up part of another factor: ``(1 - a) / sqrt(1 - b^2)`` fitted with all four edges reads
    as four functions). Otherwise two layers whose edges
    follow the tree (:attr:`Shape.edges`; every other edge is masked): the
    root's children become hidden nodes, each fed only by its own variables,
    joined by the output node (a sum, or a product of arity k). A child is a
    single variable, a flat sum of them, or a leaf of several (both taken as
    a function of a sum: one hidden sum node), or a product of single
    variables and flat sums (a hidden multiplication node); under a sum root the single variables share one
    sum node. ``n (1 + a cos t)``, ``product(x0, product(x1, x2))``, is
    ``[3, [1, 1], [0, 1]]``: a node for ``n``, a node ``a cos t``, and their
    product. Deeper trees, a leaf root, and products of different arities give
    None: search with :func:`kansci.symbolic.candidate_shapes`
    (:func:`kansci.discover` tries the suggestion first).
    """
    from kansci.symbolic.discover import Shape  # the symbolic package builds on this module's neighbours

    n = len(tree.variables)
    if tree.kind == "leaf":
        return None
    if tree.kind == "sum" and _flat(tree):
        return Shape((n, 1))
    if tree.kind == "product" and all(_flat(c) for c in tree.children):  # factor t is fed by its own variables
        edges = tuple(sorted((v, t) for t, c in enumerate(tree.children) for v in c.variables))
        return Shape((n, (0, 1)), len(tree.children), (edges,))
    blocks = list(tree.children)
    if tree.kind == "sum":  # single variables add up in one hidden node
        singles = [c for c in blocks if c.kind == "leaf" and len(c.variables) == 1]
        if len(singles) > 1:
            merged = Tree("sum", tuple(sorted(v for c in singles for v in c.variables)), tuple(singles))
            blocks = [merged] + [c for c in blocks if c not in singles]
    products = [b for b in blocks if b.kind == "product"]
    sums = [b for b in blocks if b.kind != "product"]
    if any(b.kind == "sum" and not _flat(b) for b in sums):
        return None
    if any(not all(_flat(c) for c in b.children) for b in products):  # a factor is one sum of edges
        return None
    arities = {len(b.children) for b in products} | ({len(blocks)} if tree.kind == "product" else set())
    if len(arities) > 1:
        return None
    arity = arities.pop() if arities else 2
    hidden = sums + products  # sum nodes first, as a KAN lays them out
    first = [(v, h) for h, b in enumerate(sums) for v in b.variables]
    for m, block in enumerate(products):  # factor t of multiplication node m is subnode n_sum + arity * m + t
        first += [(v, len(sums) + arity * m + t) for t, c in enumerate(block.children) for v in c.variables]
    root_product = tree.kind == "product"
    second = [(h, blocks.index(b) if root_product else 0) for h, b in enumerate(hidden)]
    # of two edges in a row, one is the identity: a single variable's way in; a sum's or (under a sum)
    # a product's way out
    identity = [(0, b.variables[0], h) for h, b in enumerate(sums) if len(b.variables) == 1]
    identity += [(1, h, o) for h, o in second if _passes_through(hidden[h], root_product)]
    middle = (len(sums), len(products)) if products else len(sums)
    out = (0, 1) if root_product else 1
    edges = (tuple(sorted(first)), tuple(sorted(second)))
    return Shape((n, middle, out), arity, edges, tuple((*e, "x", 1.0) for e in sorted(identity)))


def invariant_shape(kind: str):
    """The shape of ``f(x, y) = g(u)`` for an invariant of :data:`SYMMETRIES` (a :class:`kansci.symbolic.Shape`).

    ``u`` is computed exactly by fixed edges, so only ``g`` is learned: ``x - y`` and ``x + y`` are
    ``[2, 1, 1]`` with edges ``x`` and ``-y`` (or ``y``); ``x * y`` and ``x / y`` are ``[2, [0, 1], 1]``
    with factors ``x`` and ``y`` (or ``1/y``). :func:`kansci.discover` tries it when
    :func:`symmetry` holds on a surrogate of two-variable data (``1/(1 + x y)``, ``asin(x / y)``).
    """
    from kansci.symbolic.discover import Shape

    if kind not in SYMMETRIES:
        raise ValueError(f"kind must be one of {SYMMETRIES}, got {kind!r}")
    if kind in ("difference", "sum"):
        sign = -1.0 if kind == "difference" else 1.0
        return Shape((2, 1, 1), 2, (((0, 0), (1, 0)), ((0, 0),)), ((0, 0, 0, "x", 1.0), (0, 1, 0, "x", sign)))
    second = "1/x" if kind == "ratio" else "x"
    return Shape((2, (0, 1), 1), 2, (((0, 0), (1, 1)), ((0, 0),)), ((0, 0, 0, "x", 1.0), (0, 1, 1, second, 1.0)))


def scaled_invariant_shape(kind: str, kept: int, combine: str):
    """The shape of ``h(x_k) * g(u)`` (``combine="product"``) or ``h(x_k) + g(u)`` (``"sum"``) of two inputs.

    ``k`` is ``kept``, ``u = x_o (op) x_k`` as in :func:`scaled_symmetry` (o the other input). As in
    :func:`invariant_shape`, ``u`` is computed by fixed edges in a hidden node; a second hidden node
    passes ``x_k`` on; only ``h`` and ``g`` are learned, into the output node. A product or ratio
    invariant is ``[2, [1, 1], out]``, a difference or sum ``[2, 2, out]``, with ``out`` ``[0, 1]`` for a
    product and ``1`` for a sum. :func:`kansci.discover` tries it when :func:`scaled_symmetry` holds on a
    surrogate of two-variable data.
    """
    from kansci.symbolic.discover import Shape

    if kind not in SYMMETRIES or kept not in (0, 1) or combine not in ("product", "sum"):
        raise ValueError(f"need kind in {SYMMETRIES}, kept 0 or 1 and combine 'product' or 'sum'; got "
                         f"{kind!r}, {kept!r}, {combine!r}")  # fmt: skip
    other = 1 - kept
    out = (0, 1) if combine == "product" else 1
    second_layer = ((0, 0), (1, 1)) if combine == "product" else ((0, 0), (1, 0))
    passed = (0, kept, 0, "x", 1.0)  # hidden node 0 is x_k
    if kind in ("difference", "sum"):  # hidden node 1 is x_o -+ x_k
        sign = -1.0 if kind == "difference" else 1.0
        first = ((kept, 0), (0, 1), (1, 1))
        return Shape((2, 2, out), 2, (tuple(sorted(first)), second_layer),
                     (passed, (0, other, 1, "x", 1.0), (0, kept, 1, "x", sign)))  # fmt: skip
    by = "1/x" if kind == "ratio" else "x"  # the factors of multiplication node 0 are subnodes 1 and 2
    first = ((kept, 0), (other, 1), (kept, 2))
    return Shape((2, (1, 1), out), 2, (tuple(sorted(first)), second_layer),
                 (passed, (0, other, 1, "x", 1.0), (0, kept, 2, by, 1.0)))  # fmt: skip


def _passes_through(block: Tree, root_product: bool) -> bool:
    """Whether a hidden node of ``block`` enters the root unchanged: a flat sum of several variables
    (a function of it would be a leaf), or a product under a sum root."""
    if block.kind == "product":
        return not root_product
    return block.kind == "sum" and _flat(block)


def plot_tree(tree: Tree, names: Sequence[str] | None = None) -> Figure:
    """Draw a :class:`Tree` as labelled boxes joined by lines (root on top).

    Parameters
    ----------
    tree : Tree
        From :func:`structure_tree`.
    names : sequence of str, optional
        Variable names indexed by column; ``x0, x1, ...`` by default.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure, not registered with pyplot.

    Raises
    ------
    ValueError
        If ``names`` has fewer entries than the largest variable index + 1.
    """
    if names is not None and len(names) <= max(tree.variables):
        raise ValueError(f"names has {len(names)} entries but the tree uses variable {max(tree.variables)}")
    positions: dict[int, tuple[float, float]] = {}
    nodes: list[Tree] = []
    next_leaf = [0.0]

    def place(node: Tree, depth: int) -> tuple[float, float]:
        if node.children:
            xs = [place(child, depth + 1)[0] for child in node.children]
            position = (sum(xs) / len(xs), -float(depth))
        else:
            position = (next_leaf[0], -float(depth))
            next_leaf[0] += 1.0
        positions[len(nodes)] = position
        nodes.append(node)
        return position

    place(tree, 0)
    figure = Figure(figsize=(max(3.0, 1.5 * next_leaf[0]), 1.2 * (1 - min(y for _, y in positions.values())) + 0.8))
    ax = figure.add_subplot()
    index = {id(node): k for k, node in enumerate(nodes)}
    for k, node in enumerate(nodes):
        px, py = positions[k]
        for child in node.children:
            cx, cy = positions[index[id(child)]]
            ax.plot([px, cx], [py, cy], color="0.4", linewidth=1.0, zorder=1)
        if node.kind == "leaf":
            label = node.format(names)
        else:
            label = f"{node.kind}\n{node.score:.1e}"
        ax.text(px, py, label, ha="center", va="center", zorder=2, bbox={"boxstyle": "round", "fc": "white"})
    ax.set_xlim(-0.7, next_leaf[0] - 0.3)
    ax.set_ylim(min(y for _, y in positions.values()) - 0.6, 0.6)
    ax.set_axis_off()
    return figure
