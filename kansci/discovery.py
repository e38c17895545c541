"""Unsupervised discovery of dependent variables with a contrastive KAN classifier (paper §4.3).

Given samples of d variables and no target, which variables are related? The
paper's answer: make a binary classification task. Positives are the real
samples (label 1); negatives are the same samples with every column shuffled
independently (label 0), so each variable keeps its distribution but every
relation between variables is destroyed (:func:`contrastive_dataset`). A KAN
``[d, 1, 1]`` whose last edge is the Gaussian ``exp(-h^2)`` computes
``exp(-(sum_i phi_i(x_i))^2)``: 1 on a manifold ``sum_i phi_i(x_i) = 0`` that
the real samples obey, near 0 off it. Strong sparsity makes it keep as few
inputs as it needs; the inputs whose first-layer edges survive are the group
it used (:func:`find_dependencies`).

One classifier may use two independent relations at once (the sum of two
vanishing sums vanishes too). On the real samples every relation's own edges
then cancel separately, so the group is read further: its smallest subsets
whose edges cancel (variance of their sum small against the sum of their
variances) are the relations. Different seeds may find different relations
(:func:`dependency_groups` counts them); :func:`partition` finds relations,
removes their variables and searches the rest again until no dependence is
left, which splits all variables into groups.

Limits: removing a found relation also removes its links with the remaining
variables, so a variable that takes part in two relations is assigned to the
first one found. A weak member of a relation (one whose edge varies little)
can fall below the threshold and be missed.

Examples
--------
>>> x = toy_variables(300, seed=0)
>>> found = find_dependencies(x, TOY_NAMES, seed=1, steps=20, warmup=5)  # doctest: +SKIP
>>> found.relations  # doctest: +SKIP
(('x4', 'x5'),)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from kansci.core import KAN, fit
from kansci.core.io import state_copy
from kansci.datasets.base import Dataset, provenance
from kansci.symbolic import fix_symbolic

__all__ = [
    "TOY_GROUPS",
    "TOY_NAMES",
    "Dependencies",
    "GroupCount",
    "Partition",
    "contrastive_dataset",
    "dependency_groups",
    "find_dependencies",
    "partition",
    "read_relations",
    "tally",
    "toy_variables",
]

log = logging.getLogger(__name__)

TOY_NAMES: tuple[str, ...] = ("x1", "x2", "x3", "x4", "x5", "x6")
"""Variables of the paper's toy: x1, x2, x4, x6 ~ U(-1, 1), x3 = exp(sin(pi x1) + x2^2), x5 = x4^3."""

TOY_GROUPS: tuple[tuple[str, ...], ...] = (("x1", "x2", "x3"), ("x4", "x5"), ("x6",))
"""The toy's true grouping: two relations and one independent variable."""

MIN_SAMPLES = 10


def toy_variables(n: int = 1000, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    """Samples of the paper's six-variable toy (columns in the order of :data:`TOY_NAMES`).

    Parameters
    ----------
    n : int
        Number of samples.
    seed : int
    dtype : torch.dtype

    Returns
    -------
    Tensor, shape (n, 6)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    gen = torch.Generator().manual_seed(seed)
    x1, x2, x4, x6 = (2.0 * torch.rand(n, 4, generator=gen, dtype=torch.float64) - 1.0).unbind(1)
    x3 = torch.exp(torch.sin(math.pi * x1) + x2**2)
    x5 = x4**3
    return torch.stack([x1, x2, x3, x4, x5, x6], dim=1).to(dtype)


# ------------------------------------------------------------------ input checks
def _validated(x, names: Sequence[str] | None, dtype: torch.dtype | None) -> tuple[Tensor, tuple[str, ...]]:
    """``x`` as a floating tensor and its variable names, or a clear error."""
    if not isinstance(x, (Tensor, np.ndarray)):
        x = np.asarray(x)
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(
            f"x must be 2-D (samples, variables), got shape {tuple(x.shape)}; stack the variables as columns"
        )
    n, d = x.shape
    if d < 2:
        raise ValueError(f"x has {d} variable(s); dependence needs at least 2 columns")
    if n < MIN_SAMPLES:
        raise ValueError(f"x has {n} samples; at least {MIN_SAMPLES} are needed (and hundreds for a reliable answer)")
    target = dtype or (x.dtype if x.is_floating_point() else torch.float64)
    x = x.to(target)
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        row, col = (int(v) for v in torch.nonzero(bad)[0])
        raise ValueError(
            f"x has {int(bad.sum())} NaN/inf entries (first in row {row}, column {col}); drop or impute those rows"
        )
    if names is None:
        names = tuple(f"x{i}" for i in range(d))
    names = tuple(str(v) for v in names)
    if len(names) != d:
        raise ValueError(f"got {len(names)} names for {d} columns of x; give one name per column")
    if len(set(names)) != d:
        doubles = sorted({v for v in names if names.count(v) > 1})
        raise ValueError(f"names must be distinct, {doubles} appear more than once")
    return x, names


def _standardized(x: Tensor, names: Sequence[str]) -> Tensor:
    """Every column shifted to mean 0 and scaled to standard deviation 1."""
    std = x.std(dim=0)
    flat = torch.nonzero(std <= 1e-12 * (1.0 + x.abs().amax(dim=0))).flatten().tolist()
    if flat:
        raise ValueError(f"variables {[names[i] for i in flat]} are constant; a constant has no dependence, drop it")
    return (x - x.mean(dim=0)) / std


# ------------------------------------------------------------------ contrastive data
def _shuffled_columns(x: Tensor, gen: torch.Generator) -> Tensor:
    """Every column permuted on its own: the same marginals, no relation between columns."""
    n = x.shape[0]
    return torch.stack([x[torch.randperm(n, generator=gen), j] for j in range(x.shape[1])], dim=1)


def _labelled(x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Positives (x, label 1) and their column-shuffled negatives (label 0), rows mixed."""
    inputs = torch.cat([x, _shuffled_columns(x, gen)])
    labels = torch.cat([torch.ones(len(x), 1), torch.zeros(len(x), 1)]).to(x.dtype)
    order = torch.randperm(len(inputs), generator=gen)
    return inputs[order], labels[order]


def contrastive_dataset(
    x,
    names: Sequence[str] | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    dtype: torch.dtype | None = None,
) -> Dataset:
    """Real samples (label 1) against column-shuffled samples (label 0).

    The samples are split into train and test first; within each split every
    column is permuted on its own to make as many negatives as positives. A
    negative therefore has exactly the marginal distributions of the positives
    of its split, but no dependence between variables.

    Parameters
    ----------
    x : Tensor or array, shape (n_samples, n_variables)
    names : sequence of str, optional
        One per column; default ``x0, x1, ...``.
    seed : int
        Seeds the split and the permutations.
    test_fraction : float in (0, 1)
    dtype : torch.dtype, optional
        Default: the dtype of x (float64 for integer input).

    Returns
    -------
    Dataset
        Inputs of shape (2 * n_split, n_variables), one label column ``real``.

    Raises
    ------
    ValueError
        If x is not 2-D, has NaN/inf, fewer than 2 columns or 10 rows, or the
        names do not fit.
    """
    x, names = _validated(x, names, dtype)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    n = x.shape[0]
    n_test = min(n - 1, max(1, round(test_fraction * n)))
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=gen)
    train_input, train_label = _labelled(x[order[n_test:]], gen)
    test_input, test_label = _labelled(x[order[:n_test]], gen)
    meta = provenance("contrastive_dataset", seed=seed, test_fraction=test_fraction, n_samples=n)
    return Dataset(train_input, train_label, test_input, test_label, names, ("real",), meta)


# ------------------------------------------------------------------ one search
@dataclass(frozen=True)
class Dependencies:
    """What one contrastive KAN found.

    Attributes
    ----------
    names : tuple of str
        The variables, in column order.
    scores : tuple of float
        Importance of every variable: the largest standard deviation (over
        the real training samples) of its first-layer edges, divided by the
        largest over variables, so the strongest variable scores 1.
    group : tuple of str
        The variables the classifier uses: score above ``threshold``, in
        column order. Empty when the classifier stayed below
        ``min_accuracy`` (no dependence found).
    relations : tuple of tuple of str
        The group read as relations: its smallest disjoint subsets whose edges
        cancel on the real samples (usually one; two when the classifier used
        two independent relations at once); the whole group when no subset
        cancels within the tolerance.
    residuals : tuple of float
        Per relation: the variance of the sum of its edges over the sum of
        their variances, on the real samples (0: they cancel exactly; about 1
        for unrelated variables).
    threshold : float
    accuracy : float
        Test accuracy of the sparse classifier (0.5 is chance): how well the
        relations separate real from shuffled samples.
    dense_accuracy : float
        Test accuracy after the warm-up without sparsity (NaN without warm-up).
    lamb : float
        The sparsity strength of the final training (lower than asked for
        when a retry was needed).
    seed : int
    model : KAN
        The trained classifier; it reads standardized inputs
        ``(x - shift) / scale``.
    shift, scale : Tensor, shape (n_variables,)
    """

    names: tuple[str, ...]
    scores: tuple[float, ...]
    group: tuple[str, ...]
    relations: tuple[tuple[str, ...], ...]
    residuals: tuple[float, ...]
    threshold: float
    accuracy: float
    dense_accuracy: float
    lamb: float
    seed: int
    model: KAN
    shift: Tensor
    scale: Tensor

    def score_of(self, name: str) -> float:
        """The score of one variable by name."""
        if name not in self.names:
            raise KeyError(f"{name!r} is not one of the variables {list(self.names)}")
        return self.scores[self.names.index(name)]


def _classifier(n_inputs: int, width: int, grid: int, seed: int, dtype: torch.dtype) -> KAN:
    """A KAN [n_inputs, width, 1] whose last-layer edges are the Gaussian ``c exp(-(a h + b)^2) + d``.

    ``a, b, c, d`` start at 1, 0, 1, 0 and train during the warm-up only.
    """
    model = KAN([n_inputs, width, 1], grid=grid, seed=seed, dtype=dtype)
    for hidden in range(width):
        fix_symbolic(model, 1, hidden, 0, "gaussian", params=(1.0, 0.0, 1.0, 0.0))
    return model


@torch.no_grad()
def _accuracy(model: KAN, data: Dataset) -> float:
    hits = (model(data.test_input) > 0.5).to(data.test_label.dtype) == data.test_label
    return float(hits.to(torch.float64).mean())


def _sparse_training(
    model: KAN, data: Dataset, lamb: float, retries: int, min_accuracy: float, dense_accuracy: float, **fit_options
) -> tuple[float, float]:
    """Train with sparsity; halve ``lamb`` and restart while it kills a relation the dense model had.

    Returns the accuracy reached and the ``lamb`` that reached it.
    """
    start = state_copy(model)
    for attempt in range(retries + 1):
        if attempt:
            model.load_state_dict(start)
            lamb /= 2
        history = fit(model, data, lamb=lamb, **fit_options)
        if history.status != "completed":
            log.warning("training ended early (%s); the scores describe the last good parameters", history.status)
        accuracy = _accuracy(model, data)
        if accuracy >= min_accuracy or not dense_accuracy >= min_accuracy:
            break
        log.info("sparsity %.2g left accuracy %.3f (%.3f without); retrying", lamb, accuracy, dense_accuracy)
    return accuracy, lamb


# ------------------------------------------------------------------ reading relations
MAX_SUBSET_SEARCH = 16
"""Groups larger than this are not searched for cancelling subsets (2^size subsets)."""


def _residuals(cov: Tensor, members: Tensor) -> Tensor:
    """``var(sum of the members) / sum of their variances`` for every 0/1 row of ``members``."""
    return ((members @ cov) * members).sum(dim=1) / (members @ cov.diagonal())


def _cancelling_subsets(phi: Tensor, ids: list[int], tolerance: float) -> list[tuple[list[int], float]]:
    """Subsets (>= 2 members) of the inputs ``ids`` whose edges ``phi`` cancel within ``tolerance``."""
    cov = torch.cov(phi[:, ids].T)
    k = len(ids)
    codes = torch.arange(1, 2**k)
    members = ((codes[:, None] >> torch.arange(k)) & 1).to(cov.dtype)
    members = members[members.sum(dim=1) >= 2]
    residuals = _residuals(cov, members)
    hits = torch.nonzero(residuals <= tolerance).flatten().tolist()
    return [([ids[j] for j in torch.nonzero(members[r]).flatten().tolist()], float(residuals[r])) for r in hits]


def read_relations(phi: Tensor, used: Tensor, tolerance: float = 0.02) -> list[tuple[list[int], float]]:
    """The relations a contrastive classifier uses, from its first-layer edges on real samples.

    Every hidden node sums its edges; on real samples the sum is (near)
    constant. If the node combines independent relations, each relation's
    edges cancel on their own. The relations are the smallest disjoint
    subsets of a node's used inputs whose edges cancel (residual at most
    ``tolerance``), taken smallest first, then by residual; a node with no
    such subset counts as one relation of all its used inputs.

    Parameters
    ----------
    phi : Tensor, shape (n_real_samples, n_inputs, n_hidden)
        First-layer edge activations on real samples.
    used : Tensor of bool, shape (n_inputs, n_hidden)
        The edges the classifier uses.
    tolerance : float
        Largest residual ``var(sum) / sum of variances`` of a relation.

    Returns
    -------
    list of (input indices, residual)
    """
    if phi.ndim != 3 or used.shape != phi.shape[1:]:
        raise ValueError(
            f"phi must have shape (samples, inputs, hidden) and used (inputs, hidden), got {tuple(phi.shape)} "
            f"and {tuple(used.shape)}; take phi = model.edge_activations(x_real)[0]"
        )
    found: list[tuple[int, list[int], float]] = []  # (priority, ids, residual)
    for node in range(phi.shape[2]):
        ids = torch.nonzero(used[:, node]).flatten().tolist()
        if len(ids) < 2:
            continue
        if len(ids) <= MAX_SUBSET_SEARCH:
            subsets = _cancelling_subsets(phi[:, :, node], ids, tolerance)
        else:
            log.info("%d inputs on hidden node %d: too many to search for cancelling subsets", len(ids), node)
            subsets = []
        if subsets:
            found += [(0, s, r) for s, r in subsets]
        else:
            whole = _residuals(torch.cov(phi[:, ids, node].T), torch.ones(1, len(ids), dtype=phi.dtype))
            found.append((1, ids, float(whole[0])))
    chosen: list[tuple[list[int], float]] = []
    taken: set[int] = set()
    for _, ids, residual in sorted(found, key=lambda f: (f[0], len(f[1]), f[2])):
        if taken.isdisjoint(ids):
            chosen.append((ids, residual))
            taken.update(ids)
    return chosen


# ------------------------------------------------------------------ the search
def find_dependencies(
    x,
    names: Sequence[str] | None = None,
    *,
    width: int = 1,
    grid: int = 3,
    lamb: float = 1e-2,
    lamb_entropy: float = 10.0,
    steps: int = 50,
    warmup: int = 10,
    threshold: float = 0.1,
    tolerance: float = 0.02,
    min_accuracy: float = 0.6,
    retries: int = 2,
    seed: int = 0,
    test_fraction: float = 0.2,
    standardize: bool = True,
    dtype: torch.dtype = torch.float64,
) -> Dependencies:
    """Groups of dependent variables, found by a sparse contrastive KAN.

    Builds :func:`contrastive_dataset` from the (standardized) samples and
    trains a KAN ``[d, width, 1]`` whose last edges are Gaussians: first
    ``warmup`` LBFGS steps without sparsity, then ``steps`` with sparsity
    ``lamb`` (adaptive grids) and the Gaussians' parameters frozen (so the
    first layer cannot grow back what sparsity shrinks). If the sparse
    classifier ends below ``min_accuracy`` although the dense one was above
    it, sparsity switched off a relation: training restarts from the dense
    model with half the ``lamb`` (at most ``retries`` times). The inputs that
    keep a varying first-layer edge form the group; :func:`read_relations`
    splits it into relations.

    Parameters
    ----------
    x : Tensor or array, shape (n_samples, n_variables)
        Any number of variables >= 2; hundreds to a few thousand samples (the
        cost grows linearly with n_samples, subsample larger tables).
    names : sequence of str, optional
        Default ``x0, x1, ...``.
    width : int
        Hidden nodes; 1 is the paper's [d, 1, 1].
    grid : int
        Spline intervals per edge.
    lamb, lamb_entropy : float
        Sparsity strength and the weight of its entropy term (see
        :func:`kansci.fit`); stronger sparsity keeps fewer inputs.
    steps : int
        LBFGS steps with sparsity.
    warmup : int
        LBFGS steps without sparsity before them, so the classifier has
        found a relation before sparsity prunes (without them a run can end
        with every edge switched off and chance accuracy).
    threshold : float in (0, 1)
        A variable is used if its score (relative to the strongest variable)
        exceeds this.
    tolerance : float
        Largest cancellation residual of a relation (see :func:`read_relations`).
    min_accuracy : float in (0.5, 1)
        Test accuracy that counts as a relation found (0.5 is chance); below
        it the group is empty.
    retries : int
        Restarts with half the sparsity (see above).
    seed : int
        Seeds the negatives, the split and the initialization.
    test_fraction : float
        Share of samples held out to measure the accuracy.
    standardize : bool
        Shift and scale every variable to mean 0, standard deviation 1 first
        (recommended: the sparsity penalty compares edges across variables).
    dtype : torch.dtype

    Returns
    -------
    Dependencies

    Raises
    ------
    ValueError
        On bad input (see :func:`contrastive_dataset`), a constant variable,
        or settings out of range.
    """
    _check_settings(width, threshold, tolerance, min_accuracy, steps, warmup, retries, lamb, lamb_entropy)
    x, names = _validated(x, names, dtype)
    d = x.shape[1]
    shift, scale = (
        (x.mean(dim=0), x.std(dim=0)) if standardize else (torch.zeros(d, dtype=dtype), torch.ones(d, dtype=dtype))
    )
    data = contrastive_dataset(
        _standardized(x, names) if standardize else x, names, seed=seed, test_fraction=test_fraction
    )
    model = _classifier(d, width, grid, seed, dtype)
    dense_accuracy = math.nan
    if warmup:
        fit(model, data, steps=warmup, progress=False, seed=seed)
        dense_accuracy = _accuracy(model, data)
    model.layers[1].symbolic.affine.requires_grad_(False)
    options = {"steps": steps, "lamb_entropy": lamb_entropy, "progress": False, "seed": seed}
    accuracy, used_lamb = _sparse_training(model, data, lamb, retries, min_accuracy, dense_accuracy, **options)
    with torch.no_grad():
        phi = model.edge_activations(data.train_input[data.train_label[:, 0] == 1])[0]
    variation = phi.std(dim=0)  # constant offsets of edges carry no dependence, so not mean |phi|
    variation = variation / variation.max() if float(variation.max()) > 0 else variation
    scores = variation.amax(dim=1)
    relations = read_relations(phi, variation > threshold, tolerance) if accuracy >= min_accuracy else []
    group = tuple(n for n, s in zip(names, scores.tolist()) if s > threshold) if accuracy >= min_accuracy else ()
    log.info("seed %d: group %s, relations %s, test accuracy %.3f", seed, group, relations, accuracy)
    return Dependencies(
        names=names,
        scores=tuple(scores.tolist()),
        group=group,
        relations=tuple(tuple(names[i] for i in sorted(ids)) for ids, _ in relations),
        residuals=tuple(r for _, r in relations),
        threshold=threshold,
        accuracy=accuracy,
        dense_accuracy=dense_accuracy,
        lamb=used_lamb,
        seed=seed,
        model=model,
        shift=shift,
        scale=scale,
    )


def _check_settings(
    width: int,
    threshold: float,
    tolerance: float,
    min_accuracy: float,
    steps: int,
    warmup: int,
    retries: int,
    lamb: float,
    lamb_entropy: float,
) -> None:
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer (hidden nodes), got {width!r}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold is relative to the strongest variable and must lie in (0, 1), got {threshold}")
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"tolerance is a variance ratio and must lie in (0, 1), got {tolerance}")
    if not 0.5 < min_accuracy < 1.0:
        raise ValueError(f"min_accuracy must lie in (0.5, 1) (0.5 is chance), got {min_accuracy}")
    if steps < 1 or warmup < 0 or retries < 0:
        raise ValueError(f"steps must be >= 1, warmup and retries >= 0, got {steps}, {warmup} and {retries}")
    if lamb < 0 or lamb_entropy < 0:
        raise ValueError(f"lamb and lamb_entropy must be >= 0, got {lamb} and {lamb_entropy}")


# ------------------------------------------------------------------ many seeds
@dataclass(frozen=True)
class GroupCount:
    """A group of variables and the seeds that found it.

    Attributes
    ----------
    group : tuple of str
    seeds : tuple of int
    """

    group: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.seeds)


def tally(found: Iterable[tuple[int, Sequence[str]]]) -> list[GroupCount]:
    """Count how often each group was found.

    Parameters
    ----------
    found : iterable of (seed, group)
        Every group each seed found (the order of names in a group does not
        matter; a seed may find several groups).

    Returns
    -------
    list of GroupCount
        Most frequent first (ties: the larger group, then by name); each group
        in the order its names had when first seen.
    """
    seeds_of: dict[frozenset[str], list[int]] = {}
    first: dict[frozenset[str], tuple[str, ...]] = {}
    for seed, group in found:
        key = frozenset(group)
        seeds_of.setdefault(key, []).append(int(seed))
        first.setdefault(key, tuple(group))
    counts = [GroupCount(first[key], tuple(seeds)) for key, seeds in seeds_of.items()]
    return sorted(counts, key=lambda c: (-c.count, -len(c.group), c.group))


def dependency_groups(
    x,
    names: Sequence[str] | None = None,
    *,
    seeds: Iterable[int] = range(5),
    **options,
) -> list[GroupCount]:
    """The relations :func:`find_dependencies` finds over several seeds, most frequent first.

    Parameters
    ----------
    x : Tensor or array, shape (n_samples, n_variables)
    names : sequence of str, optional
    seeds : iterable of int
    **options
        Passed to :func:`find_dependencies` (``lamb``, ``steps``, ...).

    Returns
    -------
    list of GroupCount
    """
    x, names = _validated(x, names, options.get("dtype"))
    searches = [find_dependencies(x, names, seed=seed, **options) for seed in seeds]
    return tally((s.seed, relation) for s in searches for relation in s.relations)


# ------------------------------------------------------------------ all groups
@dataclass(frozen=True)
class Partition:
    """All variables split into groups of dependent variables.

    Attributes
    ----------
    groups : tuple of tuple of str
        The relations in the order they were found, then every remaining
        variable alone.
    searches : tuple of Dependencies
        Every search run, in order (the last one may have found nothing).
    """

    groups: tuple[tuple[str, ...], ...]
    searches: tuple[Dependencies, ...]

    def matches(self, expected: Iterable[Iterable[str]]) -> bool:
        """Whether the groups equal ``expected`` (order within and between groups ignored)."""
        return {frozenset(g) for g in self.groups} == {frozenset(g) for g in expected}


def partition(x, names: Sequence[str] | None = None, *, seed: int = 0, **options) -> Partition:
    """Split the variables into groups: find relations, remove them, search the rest again.

    A search that finds no relation (the classifier stays below
    ``min_accuracy``: no dependence left to detect) ends the partition; the
    variables left are then alone.

    Parameters
    ----------
    x : Tensor or array, shape (n_samples, n_variables)
    names : sequence of str, optional
    seed : int
        Seed of every search.
    **options
        Passed to :func:`find_dependencies` (``min_accuracy``, ``lamb``, ...).

    Returns
    -------
    Partition
    """
    x, names = _validated(x, names, options.get("dtype"))
    left = list(range(len(names)))
    groups: list[tuple[str, ...]] = []
    searches: list[Dependencies] = []
    while len(left) >= 2:
        found = find_dependencies(x[:, left], [names[i] for i in left], seed=seed, **options)
        searches.append(found)
        if not found.relations:
            break
        groups.extend(found.relations)
        members = {n for relation in found.relations for n in relation}
        left = [i for i in left if names[i] not in members]
    groups.extend((names[i],) for i in left)
    return Partition(tuple(groups), tuple(searches))
