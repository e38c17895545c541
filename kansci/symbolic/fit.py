"""Per-edge affine fit ``y ~ c * f(a*x + b) + d`` and ranking of candidate functions.

For fixed (a, b) the best (c, d) is a 2-parameter linear least-squares problem
with a closed form, so the search is over (a, b) only: a coarse grid, a finer
grid around its best point, then optional Levenberg-Marquardt steps.
:func:`rank` orders fitted candidates by fit quality and complexity.

Fits are reproducible: sums over the samples are torch reductions, not BLAS
products, and the Levenberg-Marquardt steps are solved by Householder QR in
numpy on CPU in float64, not by LAPACK, whose least-squares drivers (gelsy and
gelsd alike) round differently with the number of threads. So the same data
give the same constants to the last bit in every process on one kind of CPU,
whatever the thread count (measured with 512 samples under 1 and 2 threads;
torch splits reductions of 32,768 elements or more across threads, so far
larger samples may still differ in the last bits).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch
from torch import Tensor

from kansci.symbolic.library import FOUND_PREFIX, SymbolicFunction, TorchFn, get

__all__ = ["R2_FLOOR", "R2_TOLERANCE", "AffineFit", "fit_affine", "rank", "suggest"]

logger = logging.getLogger(__name__)

R2_FLOOR = 1e-5
"""``1 - r2`` below this earns no extra score: near-exact fits tie and complexity decides."""

_CHUNK_ELEMENTS = 1 << 15  # (a, b) pairs x samples per grid chunk; cache-sized, measured fastest on CPU
_TIE_TOLERANCE = 1e-10  # grid pairs whose 1 - r2 is this close to the best count as ties

TIE_BITS = 1.0
"""Fits within this many bits of fit quality (a factor 2 in ``1 - r2``) count as equally good in :func:`rank`."""

R2_TOLERANCE = 0.01
"""Default ``r2_tolerance`` of :func:`rank`: a fit explaining a further 1% of an edge's variance (and halving its
residual) is better however much simpler the other is. Retraining after a snap absorbs smaller misfits: in the x*y
workflow the inner edges snap to ``x`` at 1 - R^2 = 2.6e-3 (``arcsin`` reaches 3e-7) and retraining recovers x*y
exactly, while ``cos`` fitting a gaussian bump at R^2 0.941 (the gaussian 0.992) is a wrong reading."""


@dataclass(frozen=True)
class AffineFit:
    """Result of fitting ``y ~ c * f(a*x + b) + d``.

    Attributes
    ----------
    name : str
        Name of ``f``.
    a, b, c, d : float
        Affine parameters. They need not be unique (``sin`` has symmetries,
        ``exp`` absorbs ``b`` into ``c``); compare fits by :meth:`predict`.
    r2 : float
        Coefficient of determination ``1 - SS_res / SS_tot`` in [0, 1]; 1 when
        ``y`` is constant (the constant fit is then exact).
    complexity : int
        Complexity of ``f``.
    function : SymbolicFunction
        The fitted candidate itself.
    """

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int
    function: SymbolicFunction = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.function.name != self.name or self.function.complexity != self.complexity:
            raise ValueError(
                f"name={self.name!r}, complexity={self.complexity} disagree with the function "
                f"{self.function!r}; build AffineFit with the function's own name and complexity"
            )

    def predict(self, x: Tensor) -> Tensor:
        """Evaluate ``c * f(a*x + b) + d`` with the safe variant of ``f`` (the one fitted).

        Parameters
        ----------
        x : Tensor, any shape

        Returns
        -------
        Tensor, same shape as ``x``
        """
        return self.c * self.function.safe(self.a * x + self.b) + self.d

    def expression(self, x: sympy.Expr | None = None) -> sympy.Expr:
        """The fit as a sympy expression in ``x`` (default: the symbol ``x``), floats unrounded."""
        x = sympy.Symbol("x") if x is None else x
        inner = sympy.Float(self.a) * x + sympy.Float(self.b)
        return sympy.Float(self.c) * self.function.sym(inner) + sympy.Float(self.d)

    def score(self, weight_simple: float = 0.8) -> float:
        """Ranking score, higher is better.

        ``score = (1 - w) * bits - w * complexity`` with
        ``bits = -log2(max(1 - r2, R2_FLOOR))`` (between 0 and about 16.6) and
        ``w = weight_simple``. This is pykan's criterion with the sign flipped
        (pykan minimises ``w * complexity + (1 - w) * log2(1 + 1e-5 - r2)``) and
        a hard floor instead of the 1e-5 offset, so fits better than
        ``1 - 1e-5`` tie exactly and the simpler function wins.
        """
        _check_weight(weight_simple)
        bits = -math.log2(max(1.0 - self.r2, R2_FLOOR))
        return (1.0 - weight_simple) * bits - weight_simple * self.complexity


def fit_affine(
    x: Tensor,
    y: Tensor,
    f: SymbolicFunction | str,
    *,
    a_range: tuple[float, float] = (-10.0, 10.0),
    b_range: tuple[float, float] = (-10.0, 10.0),
    grid_points: int = 51,
    refine_steps: int = 0,
) -> AffineFit:
    """Fit ``y ~ c * f(a*x + b) + d`` by least squares.

    A ``grid_points`` x ``grid_points`` grid over ``a_range`` x ``b_range``
    (every pair with its closed-form (c, d)), then a grid of the same size
    spanning one coarse cell around the best pair, then ``refine_steps``
    Levenberg-Marquardt steps on (a, b) with (c, d) re-solved exactly after
    each step; a step is kept only if it lowers the residual. Among grid pairs
    that fit equally well (within 1e-10 in r2), the one closest to
    ``(a, b) = (1, 0)`` is taken, so degenerate families (``exp``, ``x``) get
    readable parameters. All arithmetic is float64; ``f.safe`` is evaluated, so
    singular candidates yield finite results, but only where ``f.fn`` is defined:
    no pair that takes ``a*x + b`` outside the real domain (log or sqrt of a
    negative) is chosen, so the sympy formula holds on every sample.

    Parameters
    ----------
    x, y : Tensor, shape (n_samples,)
        Inputs and targets of one edge; float64 recommended.
    f : SymbolicFunction or str
        Candidate, or a name known to :func:`kansci.symbolic.get`.
    a_range, b_range : tuple of float
        Coarse search box for ``a`` and ``b``. Refinement may leave it.
    grid_points : int
        Points per axis of each grid (>= 2).
    refine_steps : int
        Levenberg-Marquardt steps after the grids (0 disables them).

    Returns
    -------
    AffineFit
        Parameters as Python floats. ``f = "0"`` and constant ``y`` give
        ``a = 1, b = 0, c = 0, d = mean(y)``.

    Raises
    ------
    ValueError
        Non-1-D or mismatched ``x``/``y``, fewer than 2 samples, NaN/inf
        values, an empty range or ``grid_points < 2``.

    Examples
    --------
    >>> x = torch.linspace(-2, 2, 200, dtype=torch.float64)
    >>> fit = fit_affine(x, 2 * torch.sin(3 * x - 0.5) + 1, "sin", refine_steps=20)
    >>> round(fit.r2, 12)
    1.0
    """
    function = get(f)[f] if isinstance(f, str) else f
    x, y = _validated(x, y)
    a_lo, a_hi = _validated_range("a_range", a_range)
    b_lo, b_hi = _validated_range("b_range", b_range)
    if isinstance(grid_points, bool) or not isinstance(grid_points, int) or grid_points < 2:
        raise ValueError(f"grid_points must be an int >= 2, got {grid_points!r}")
    if isinstance(refine_steps, bool) or not isinstance(refine_steps, int) or refine_steps < 0:
        raise ValueError(f"refine_steps must be an int >= 0, got {refine_steps!r}")

    y_mean = float(y.mean())
    syy = float(((y - y_mean) ** 2).sum())
    constant_fit = AffineFit(function.name, 1.0, 0.0, 0.0, y_mean, 0.0, function.complexity, function)
    if _is_constant(y):
        return _replace_r2(constant_fit, 1.0)
    if function.name == "0":
        return constant_fit

    safe = _in_domain(function)
    yc = y - y_mean
    coarse = _grid_search(x, yc, syy, safe, (a_lo, a_hi), (b_lo, b_hi), grid_points)
    if coarse is None:
        logger.debug("%s: no (a, b) on the grid gives finite, non-constant values; constant fit", function.name)
        return constant_fit
    step_a, step_b = (a_hi - a_lo) / (grid_points - 1), (b_hi - b_lo) / (grid_points - 1)
    a_zoom = (coarse[0] - step_a, coarse[0] + step_a)
    b_zoom = (coarse[1] - step_b, coarse[1] + step_b)
    fine = _grid_search(x, yc, syy, safe, a_zoom, b_zoom, grid_points) or coarse

    # the zoom grid holds the coarse point only when grid_points is odd: keep the better one
    a, b = coarse
    c, d, ss = _project(x, y, safe, a, b)
    fine_c, fine_d, fine_ss = _project(x, y, safe, *fine)
    if fine_ss <= ss:
        (a, b), c, d, ss = fine, fine_c, fine_d, fine_ss
    if refine_steps:
        a, b, c, d, ss = _levenberg_marquardt(x, y, safe, function.safe, a, b, c, d, ss, refine_steps)
    r2 = min(1.0, max(0.0, 1.0 - ss / syy))
    return AffineFit(function.name, a, b, c, d, r2, function.complexity, function)


def suggest(
    x: Tensor,
    y: Tensor,
    lib: Mapping[str, SymbolicFunction] | Iterable[str | SymbolicFunction] | None = None,
    topk: int = 5,
    weight_simple: float = 0.8,
    r2_threshold: float = 0.0,
    *,
    a_range: tuple[float, float] = (-10.0, 10.0),
    b_range: tuple[float, float] = (-10.0, 10.0),
    grid_points: int = 51,
    refine_steps: int = 0,
    r2_tolerance: float = R2_TOLERANCE,
) -> list[AffineFit]:
    """Fit every candidate and rank them, best first (see :func:`rank`).

    Parameters
    ----------
    x, y : Tensor, shape (n_samples,)
    lib : mapping name -> SymbolicFunction, iterable of names or functions, or None
        Candidates; None means every built-in and registered function. Their
        order breaks ties.
    topk : int
        How many fits to return at most.
    weight_simple : float in [0, 1]
        0 ranks by r2 alone, 1 by complexity alone (among fits of comparable
        quality, see :func:`rank`); pykan's default is 0.8.
    r2_threshold : float
        Drop candidates whose r2 is below this.
    a_range, b_range, grid_points, refine_steps
        Passed to :func:`fit_affine`.
    r2_tolerance : float
        As for :func:`rank`.

    Returns
    -------
    list of AffineFit
        At most ``topk`` fits, each with ``r2``, ``complexity`` and ``score()``.

    Raises
    ------
    ValueError
        Bad ``topk``/``weight_simple``/``r2_tolerance``, unknown names in
        ``lib``, or the input errors of :func:`fit_affine`.
    """
    _check_topk(topk)
    _check_weight(weight_simple)
    _check_tolerance(r2_tolerance)
    x, y = _validated(x, y)
    fits = [
        fit_affine(x, y, f, a_range=a_range, b_range=b_range, grid_points=grid_points, refine_steps=refine_steps)
        for f in library_functions(lib)
    ]
    kept = [fit for fit in fits if fit.r2 >= r2_threshold]
    return rank(kept, weight_simple, r2_tolerance=r2_tolerance)[:topk]


def rank(
    fits: Sequence[AffineFit],
    weight_simple: float = 0.8,
    r2_threshold: float = 0.0,
    *,
    r2_tolerance: float = R2_TOLERANCE,
) -> list[AffineFit]:
    """Order fits of one edge best first, by fit quality and complexity.

    Fits with ``r2 >= r2_threshold`` come before all others, so a candidate
    below the threshold never outranks one above it. Within each group every
    place goes to the fit this rule picks among those not yet placed (so the
    second place is the choice had the first candidate not been in the
    library):

    1. Fits clearly worse than the best remaining one are out of the running:
       those whose ``1 - r2`` exceeds both the best's plus ``r2_tolerance``
       and twice the best's (:data:`TIE_BITS`).
    2. Among the rest the highest :meth:`AffineFit.score` wins (fit quality in
       bits against complexity, weighted by ``weight_simple``), ties broken by
       lower complexity, then by the order of ``fits``.
    3. The place then goes to the simplest fit (earliest among equals) that is
       no more complex than that winner and within :data:`TIE_BITS` of its
       fit quality: a 1 - R^2 measured on a trained spline carries the
       spline's own error, so a factor 2 is not evidence. Without this a spline
       that is x^2 up to training error snaps to ``sin`` with a small ``a``
       (whose Taylor expansion absorbs the error) rather than to ``x^2``.

    Step 2 alone is pykan's criterion, under which complexity outweighs large
    differences in fit: at ``weight_simple = 0.8`` one unit of complexity is
    worth a factor 16 in ``1 - r2``, so ``x`` at R^2 0.5 outranks ``gaussian``
    at 0.992. Step 1 keeps that trade to fits of comparable quality;
    ``r2_tolerance=1`` turns it off.

    Parameters
    ----------
    fits : sequence of AffineFit
        Fits of the same data, in library order (the order breaks ties).
    weight_simple : float in [0, 1]
        As for :meth:`AffineFit.score`.
    r2_threshold : float
        Fits below this rank after all fits that reach it.
    r2_tolerance : float in [0, 1]
        How much less of the variance than the best fit a fit may explain and
        still win on simplicity (see :data:`R2_TOLERANCE`).

    Returns
    -------
    list of AffineFit
        The same fits, reordered.

    Raises
    ------
    ValueError
        ``weight_simple`` or ``r2_tolerance`` outside [0, 1].

    Examples
    --------
    >>> x = torch.linspace(-3, 3, 301, dtype=torch.float64)
    >>> y = torch.exp(-x**2) + 0.02 * x
    >>> fits = [fit_affine(x, y, name, refine_steps=20) for name in ("x", "cos", "gaussian")]
    >>> [fit.name for fit in rank(fits, r2_threshold=0.9)]
    ['gaussian', 'cos', 'x']
    """
    _check_weight(weight_simple)
    _check_tolerance(r2_tolerance)
    passing = [fit for fit in fits if fit.r2 >= r2_threshold]
    failing = [fit for fit in fits if fit.r2 < r2_threshold]
    return _placed(passing, weight_simple, r2_tolerance) + _placed(failing, weight_simple, r2_tolerance)


# --- internals ----------------------------------------------------------------------


def library_functions(
    lib: Mapping[str, SymbolicFunction] | Iterable[str | SymbolicFunction] | None,
) -> list[SymbolicFunction]:
    if lib is None:  # built-ins and the user's functions, not those an engine found for some other edge
        return [f for name, f in get().items() if not name.startswith(FOUND_PREFIX)]
    if isinstance(lib, Mapping):
        return list(lib.values())
    if isinstance(lib, str):
        lib = [lib]
    items = list(lib)
    names = [item for item in items if isinstance(item, str)]
    known = get(names)
    return [known[item] if isinstance(item, str) else item for item in items]


def _placed(fits: list[AffineFit], weight_simple: float, r2_tolerance: float) -> list[AffineFit]:
    """``fits`` (in lib order) in the order :func:`rank` places them, one place at a time."""
    remaining, order = list(fits), []
    while remaining:
        top = _first(remaining, weight_simple, r2_tolerance)
        order.append(top)
        remaining = [fit for fit in remaining if fit is not top]
    return order


def _first(fits: list[AffineFit], weight_simple: float, r2_tolerance: float) -> AffineFit:
    """The fit :func:`rank` places first among ``fits`` (non-empty, in lib order)."""
    best_residual = min(1.0 - fit.r2 for fit in fits)
    cutoff = max(best_residual + r2_tolerance, 2.0**TIE_BITS * best_residual)
    contenders = [fit for fit in fits if 1.0 - fit.r2 <= cutoff]
    winner = min(contenders, key=lambda fit: (-fit.score(weight_simple), fit.complexity))  # first of equals: lib order
    equal = [f for f in contenders if f.complexity <= winner.complexity and _bits(f) >= _bits(winner) - TIE_BITS]
    return min(equal, key=lambda f: f.complexity)


def _bits(fit: AffineFit) -> float:
    return -math.log2(max(1.0 - fit.r2, R2_FLOOR))


def _check_topk(topk: int) -> None:
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise ValueError(f"topk must be an int >= 1, got {topk!r}")


def _check_weight(weight_simple: float) -> None:
    if not 0.0 <= weight_simple <= 1.0:
        raise ValueError(f"weight_simple must lie in [0, 1], got {weight_simple}")


def _check_tolerance(r2_tolerance: float) -> None:
    if not 0.0 <= r2_tolerance <= 1.0:
        raise ValueError(f"r2_tolerance must lie in [0, 1] (1 ranks by score alone), got {r2_tolerance}")


def _validated(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    x = torch.as_tensor(x).detach()
    y = torch.as_tensor(y).detach()
    for label, t in (("x", x), ("y", y)):
        if t.dim() != 1:
            raise ValueError(
                f"{label} must be 1-D with shape (n_samples,), got shape {tuple(t.shape)}; "
                "pass one edge at a time, e.g. x[:, i]"
            )
        if t.is_complex():
            raise ValueError(f"{label} is complex; fit the real and imaginary parts separately")
    if x.shape != y.shape:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}; pass matching pairs")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 samples to fit, got {x.shape[0]}")
    x = x.to(torch.float64)
    y = y.to(torch.float64)
    for label, t in (("x", x), ("y", y)):
        bad = int((~torch.isfinite(t)).sum())
        if bad:
            raise ValueError(
                f"{label} has {bad} NaN/inf values; drop those samples first, "
                "e.g. keep = torch.isfinite(x) & torch.isfinite(y); x, y = x[keep], y[keep]"
            )
    return x, y


def _validated_range(label: str, bounds: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in bounds)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{label} must be (low, high) with finite low < high, got {bounds}")
    return lo, hi


def _is_constant(y: Tensor) -> bool:
    """Constant up to rounding: spread within 16 ulps of the largest magnitude."""
    spread = float(y.max() - y.min())
    return spread <= 16.0 * torch.finfo(y.dtype).eps * float(y.abs().max())


def _replace_r2(fit: AffineFit, r2: float) -> AffineFit:
    return AffineFit(fit.name, fit.a, fit.b, fit.c, fit.d, r2, fit.complexity, fit.function)


def _in_domain(function: SymbolicFunction) -> TorchFn:
    """``function.safe`` where ``function.fn`` is defined, NaN where it is not (log or sqrt of a negative).

    The fitter then never picks an (a, b) that takes ``a*x + b`` outside the real
    domain on the samples: the safe variant would fit there (log|u|, a clamped
    sqrt), but the sympy formula written for the edge would not be that curve.
    Poles stay allowed (``fn`` gives inf, not NaN, and the formula is right on
    both sides).
    """
    fn, safe = function.fn, function.safe
    if fn is safe:
        return safe

    def evaluate(u: Tensor) -> Tensor:
        return torch.where(torch.isnan(fn(u)), torch.nan, safe(u))

    return evaluate


def _grid_search(
    x: Tensor,
    yc: Tensor,
    syy: float,
    safe: TorchFn,
    a_bounds: tuple[float, float],
    b_bounds: tuple[float, float],
    points: int,
) -> tuple[float, float] | None:
    """Best (a, b) on a points x points grid by closed-form (c, d); None if no pair is usable."""
    a_grid = torch.linspace(*a_bounds, points, dtype=x.dtype, device=x.device)
    b_grid = torch.linspace(*b_bounds, points, dtype=x.dtype, device=x.device)
    a_all, b_all = (t.reshape(-1) for t in torch.meshgrid(a_grid, b_grid, indexing="ij"))
    n = x.shape[0]
    chunk = max(1, _CHUNK_ELEMENTS // n)
    explained = torch.empty_like(a_all)
    for start in range(0, a_all.shape[0], chunk):
        a, b = a_all[start : start + chunk, None], b_all[start : start + chunk, None]
        explained[start : start + chunk] = _explained(safe(a * x + b), yc)
    if not bool((explained > 0).any()):
        return None
    ss = (syy - explained).clamp(min=0.0)
    ties = ss <= ss.min() + _TIE_TOLERANCE * syy
    distance = torch.where(ties, (a_all - 1.0) ** 2 + b_all**2, torch.inf)
    i = int(distance.argmin())
    return float(a_all[i]), float(b_all[i])


def _explained(z: Tensor, yc: Tensor) -> Tensor:
    """Sum of squares of centred y explained by c*z + d, per row of z (0 where z is unusable)."""
    finite = torch.isfinite(z).all(dim=1)
    z = torch.where(finite[:, None], z, 0.0)
    zc = z - z.mean(dim=1, keepdim=True)
    szz = (zc * zc).sum(dim=1)
    szy = (zc * yc).sum(dim=1)  # not zc @ yc: BLAS matrix-vector products round differently with the thread count
    # rows that are constant up to rounding (a = 0, or fully clamped) explain nothing
    usable = finite & torch.isfinite(szz) & torch.isfinite(szy) & (szz > 1e-20 * (z * z).sum(dim=1))
    slope = szy / szz.clamp(min=torch.finfo(z.dtype).tiny)
    return torch.where(usable, szy * slope, 0.0)  # szy * slope = szy^2 / szz <= syy: cannot overflow


def _project(x: Tensor, y: Tensor, safe: TorchFn, a: float, b: float) -> tuple[float, float, float]:
    """Closed-form (c, d) for fixed (a, b) and the residual sum of squares."""
    z = safe(a * x + b)
    y_mean = float(y.mean())
    if not bool(torch.isfinite(z).all()) or float(_explained(z[None], y - y_mean)[0]) == 0.0:
        c, d = 0.0, y_mean
    else:
        zc = z - z.mean()
        c = float((zc * (y - y_mean)).sum() / (zc * zc).sum())
        d = y_mean - c * float(z.mean())
    residual = y - (c * z + d) if c else y - d
    ss = float((residual * residual).sum())
    return c, d, ss if math.isfinite(ss) else math.inf


def _levenberg_marquardt(
    x: Tensor,
    y: Tensor,
    safe: TorchFn,
    slope_of: TorchFn,
    a: float,
    b: float,
    c: float,
    d: float,
    ss: float,
    steps: int,
) -> tuple[float, float, float, float, float]:
    """Damped Gauss-Newton on (a, b, c, d); after each step (c, d) are re-solved exactly.

    The derivative is a central difference of ``slope_of`` (finite everywhere,
    so a sample on the domain's edge does not poison the step), so functions
    without autograd support (``torch.special.bessel_j0``) refine too; steps
    are accepted by the residual of ``safe``.
    """
    damping = 1e-3
    h_rel = torch.finfo(torch.float64).eps ** (1.0 / 3.0)
    for _ in range(steps):
        if ss == 0.0:
            break
        u = a * x + b
        h = h_rel * (1.0 + u.abs())
        z = safe(u)
        dz = (slope_of(u + h) - slope_of(u - h)) / (2.0 * h)
        residual = y - (c * z + d)
        jac = torch.stack([c * dz * x, c * dz, z, torch.ones_like(z)], dim=1)
        if not bool(torch.isfinite(jac).all()):  # a user function undefined next to a sample: stop here
            break
        norms = jac.norm(dim=0).clamp(min=torch.finfo(torch.float64).tiny)
        system = torch.cat([jac / norms, math.sqrt(damping) * torch.eye(4, dtype=jac.dtype, device=jac.device)])
        rhs = torch.cat([residual, residual.new_zeros(4)])
        delta = _least_squares(system, rhs) / norms
        if bool(torch.isfinite(delta).all()):
            a_new, b_new = a + float(delta[0]), b + float(delta[1])
            c_new, d_new, ss_new = _project(x, y, safe, a_new, b_new)
            if ss_new < ss:
                a, b, c, d, ss = a_new, b_new, c_new, d_new, ss_new
                damping = max(damping / 10.0, 1e-12)
                continue
        damping *= 10.0
        if damping > 1e12:
            break
    return a, b, c, d, ss


def _least_squares(matrix: Tensor, rhs: Tensor) -> Tensor:
    """Solve ``min ||matrix @ s - rhs||`` for a tall ``matrix`` of full column rank, by Householder QR.

    Written in numpy elementwise operations and sums (pairwise summation,
    never threaded) on CPU in float64, so that the result is the same for every
    thread count and problem size: LAPACK's least-squares drivers (gelsy and
    gelsd alike) round differently with the number of BLAS threads (measured:
    1e-9 relative on one Levenberg-Marquardt step of an x^2 fit under 1 and 2
    threads, 3e-10 on its constants after 20 steps). CUDA tensors are solved on
    CPU too (torch offers only the ``gels`` driver there); the problems are
    small (samples x 4). A rank-deficient ``matrix`` gives non-finite entries.

    Parameters
    ----------
    matrix : Tensor, shape (m, k), m >= k
    rhs : Tensor, shape (m,)

    Returns
    -------
    Tensor, shape (k,), on ``matrix``'s device and dtype
    """
    columns = matrix.detach().to("cpu", torch.float64).numpy().T.copy()  # row j: column j, contiguous
    target = rhs.detach().to("cpu", torch.float64).numpy().copy()
    k = columns.shape[0]
    for j in range(k):
        v = columns[j, j:].copy()
        norm = math.sqrt(float((v * v).sum()))
        if norm == 0.0:
            continue  # a zero column: R[j, j] = 0, so the solution is not finite
        v[0] += math.copysign(norm, float(v[0]))  # reflect onto -sign(v[0]) * norm * e_1: no cancellation
        scale = 2.0 / float((v * v).sum())
        columns[j:, j:] -= np.outer(scale * (columns[j:, j:] * v).sum(axis=1), v)
        target[j:] -= (scale * float((target[j:] * v).sum())) * v
    upper = torch.from_numpy(columns[:, :k].T.copy())  # R, k x k upper triangular
    solution = torch.linalg.solve_triangular(upper, torch.from_numpy(target[:k, None]), upper=True)[:, 0]
    return solution.to(matrix.device, matrix.dtype)
