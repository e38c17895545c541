"""Anderson localization in quasiperiodic chains: mosaic, GAAM and MAAM (KAN paper §4.4).

Each model is a tight-binding ring ``E psi_n = sum_m t_nm psi_m + V_n psi_n`` of
``n_sites`` sites. Its eigenstates are labelled localized (1) or extended (0) by
their fractal dimension, and the loaders ``anderson/mosaic2``, ``anderson/mosaic3``,
``anderson/gaam`` and ``anderson/maam`` turn parameter sweeps into data
(model parameters..., energy) -> localized.

Conventions, with ``theta_n = 2 pi b n + phi``, ``b`` -> golden ratio, hopping ``t > 0``:

=======  ===============================================  =====================  ==========================
model    on-site potential V_n                            hopping t_nm           localized when
=======  ===============================================  =====================  ==========================
mosaic2  lambda cos(theta_n) on even n, 0 elsewhere       t, nearest neighbours  lambda |E| > 2 t^2
mosaic3  lambda cos(theta_n) on n = 0 mod 3, 0 elsewhere  t, nearest neighbours  lambda |E^2 - t^2| > 2 t^3
gaam     2 lambda cos(theta_n) / (1 - alpha cos theta_n)  t, nearest neighbours  alpha E > 2 (t - lambda)
maam     lambda cos(theta_n)                              t1 e^{-p (|n-m| - 1)}  lambda cosh p > E + t1 e^p
=======  ===============================================  =====================  ==========================

The mobility edge is the equality; these are the forms of the KAN paper
(Liu et al. 2024, arXiv 2404.19756, §4.4; t = t1 = 1).

- Mosaic (Wang et al., PRL 125, 196604, 2020) is written there with ``2 lambda' cos``;
  here ``lambda = 2 lambda'``. By Avila's global theory the Lyapunov exponent is
  ``max(0, ln|lambda U_{kappa-1}(E / 2t) / 2t|) / kappa`` (U: Chebyshev polynomial of the
  second kind), which gives the two rows above (kappa = 3: ``E^2 = t^2 (1 +- 2t / lambda)``).
- GAAM (Ganeshan, Pixley & Das Sarma, PRL 114, 146601, 2015): ``alpha E = 2 sgn(lambda)
  (|t| - |lambda|)``, the KAN paper's form for lambda > 0. The sign of t is a gauge choice
  (``psi_n -> (-1)^n psi_n``) but the sign of V is not: with ``-V`` the edge would read
  ``-alpha E = 2 (t - lambda)``.
- MAAM (Biddle & Das Sarma, PRL 104, 070601, 2010) writes the hopping ``t e^{-p |n-m|}``;
  with ``t = t1 e^p`` (t1: the nearest-neighbour hopping) their edge ``lambda cosh p = E + t``
  is the KAN paper's ``lambda cosh p = E + t1 e^p``. Hopping is positive; its sign matters here.

All four formulas were checked against exact diagonalization (tests/datasets/test_anderson.py).

Boundary conditions: periodic, with b replaced by the Fibonacci ratio ``F_{j+1} / F_j`` and
``n_sites = kappa F_j`` (``gcd(kappa, F_j) = 1``, kappa = 1 for GAAM and MAAM), so the ring is
exactly one unit cell of a periodic approximant of the quasicrystal. An open chain would cut
the potential at two ends and add boundary states whose IPR reads "localized" inside
extended regions; the ring has no ends, and at lambda = 0 it has the exact band
``2 t cos(2 pi j / n_sites)``. For MAAM the ring sums every periodic image of the hopping,
``t_nm = sum_j t e^{-p |n - m + j n_sites|}``, so its clean band is exactly the
infinite-chain dispersion ``t (sinh p / (cosh p - cos k) - 1)``.

Localization labels: ``IPR = sum_n |psi_n|^4`` and ``D2 = -ln(IPR) / ln(n_sites)``;
extended states have D2 -> 1, localized ones D2 -> 0, and :func:`label` calls a state
localized when ``D2 < 0.5``. A localized state with localization length xi has
``IPR ~ 1 / xi``, so at finite size states within ``xi ~ sqrt(n_sites)`` of the
mobility edge are mislabelled; this is why mosaic3 (Lyapunov exponent divided by 3)
uses a longer default ring (699 sites) than the others (377, mosaic2: 466).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import sympy
import torch

from kansci.blas import single_threaded_blas
from kansci.datasets.base import Dataset, provenance
from kansci.datasets.registry import register

__all__ = [
    "MODELS",
    "Spectrum",
    "commensurate_frequency",
    "edge_residual",
    "fractal_dimension",
    "generate",
    "hamiltonian",
    "inverse_participation_ratio",
    "label",
    "mobility_edge",
    "spectrum",
    "theory_label",
]

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
"""States with fractal dimension below this are localized."""


@dataclass(frozen=True)
class _Model:
    kappa: int  # mosaic period; 1 for GAAM and MAAM
    parameters: tuple[str, ...]  # keyword names of the swept parameters (phase excluded)
    columns: tuple[str, ...]  # their dataset column names
    ranges: tuple[tuple[float, float], ...]  # default sweep ranges
    n_sites: int  # default ring length


MODELS: Mapping[str, _Model] = MappingProxyType(
    {
        "mosaic2": _Model(2, ("strength",), ("lambda",), ((0.5, 4.0),), 466),
        "mosaic3": _Model(3, ("strength",), ("lambda",), ((0.5, 4.0),), 699),
        "gaam": _Model(1, ("alpha", "strength"), ("alpha", "lambda"), ((-0.8, 0.8), (0.2, 1.8)), 377),
        "maam": _Model(1, ("decay", "strength"), ("p", "lambda"), ((0.5, 2.5), (0.5, 3.5)), 377),
    }
)
"""Model name -> mosaic period, swept parameters, dataset columns, default ranges and ring length."""


@dataclass(frozen=True)
class Spectrum:
    """Eigenstates of one Hamiltonian, in ascending energy.

    Parameters
    ----------
    energy : ndarray, shape (n_sites,)
    ipr : ndarray, shape (n_sites,)
        Inverse participation ratio ``sum_n |psi_n|^4``.
    fractal_dimension : ndarray, shape (n_sites,)
        ``-ln(ipr) / ln(n_sites)``.
    """

    energy: np.ndarray
    ipr: np.ndarray
    fractal_dimension: np.ndarray

    @property
    def n_sites(self) -> int:
        return self.energy.shape[0]


def _model(model: str) -> _Model:
    if model not in MODELS:
        raise ValueError(f"unknown Anderson model {model!r}; choose one of {sorted(MODELS)}")
    return MODELS[model]


def _fibonacci(up_to: int) -> list[int]:
    numbers = [1, 2]
    while numbers[-1] <= up_to:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers


def commensurate_frequency(n_sites: int, kappa: int = 1) -> float:
    """The Fibonacci ratio ``F_{j+1} / F_j`` approximating the golden ratio on a ring of ``kappa F_j`` sites.

    Raises
    ------
    ValueError
        If ``n_sites`` is not ``kappa`` times a Fibonacci number coprime to ``kappa`` (the message lists valid sizes).
    """
    fib = _fibonacci(max(n_sites, 2000))
    for f, f_next in zip(fib[1:], fib[2:]):
        if kappa * f == n_sites and math.gcd(f, kappa) == 1:
            return f_next / f
    valid = [kappa * f for f in fib[1:] if math.gcd(f, kappa) == 1 and kappa * f <= 2000]
    raise ValueError(
        f"n_sites={n_sites} does not make a commensurate ring for kappa={kappa}; use one of {valid} "
        "(kappa times a Fibonacci number coprime to kappa)"
    )


def _check_params(model: str, alpha: float | None, decay: float | None, hopping: float) -> None:
    if not hopping > 0:
        raise ValueError(f"hopping must be > 0, got {hopping}")
    if (alpha is not None) != (model == "gaam"):
        raise ValueError(f"alpha is a parameter of gaam only (and required there); model is {model!r}")
    if (decay is not None) != (model == "maam"):
        raise ValueError(f"decay (p) is a parameter of maam only (and required there); model is {model!r}")
    if alpha is not None and not abs(alpha) < 1:
        raise ValueError(f"gaam needs |alpha| < 1 (else the potential has poles), got alpha={alpha}")
    if decay is not None and not decay > 0:
        raise ValueError(f"maam needs decay p > 0, got {decay}")


def hamiltonian(
    model: str,
    n_sites: int,
    *,
    strength: float,
    phase: float = 0.0,
    alpha: float | None = None,
    decay: float | None = None,
    hopping: float = 1.0,
) -> np.ndarray:
    """The real symmetric Hamiltonian of ``model`` on a commensurate ring (see the module docstring).

    Parameters
    ----------
    model : {"mosaic2", "mosaic3", "gaam", "maam"}
    n_sites : int
        Ring length, ``kappa`` times a Fibonacci number (see :func:`commensurate_frequency`).
    strength : float
        Potential strength lambda.
    phase : float
        Potential phase phi.
    alpha : float
        GAAM deformation, ``|alpha| < 1`` (gaam only).
    decay : float
        MAAM hopping decay rate p > 0 (maam only).
    hopping : float
        Nearest-neighbour hopping t (t1 for MAAM), > 0.

    Returns
    -------
    ndarray, shape (n_sites, n_sites), float64
    """
    spec = _model(model)
    _check_params(model, alpha, decay, hopping)
    b = commensurate_frequency(n_sites, spec.kappa)
    sites = np.arange(n_sites)
    cos = np.cos(2 * np.pi * b * sites + phase)
    if model == "gaam":
        potential = 2 * strength * cos / (1 - alpha * cos)
    else:
        potential = np.where(sites % spec.kappa == 0, strength * cos, 0.0)
    offset = (sites[:, None] - sites[None, :]) % n_sites
    if model == "maam":
        t = hopping * np.exp(decay)
        wrap = 1 - np.exp(-decay * n_sites)
        matrix = t * (np.exp(-decay * offset) + np.exp(-decay * (n_sites - offset))) / wrap
        np.fill_diagonal(matrix, 2 * t * np.exp(-decay * n_sites) / wrap)
    else:
        matrix = np.where((offset == 1) | (offset == n_sites - 1), float(hopping), 0.0)
    return matrix + np.diag(potential)


def inverse_participation_ratio(states: np.ndarray) -> np.ndarray:
    """``sum_n |psi_n|^4 / (sum_n |psi_n|^2)^2`` of each column of ``states`` (shape (n_sites, n_states))."""
    weight = np.abs(np.asarray(states)) ** 2
    return (weight**2).sum(0) / weight.sum(0) ** 2


def fractal_dimension(ipr: np.ndarray, n_sites: int) -> np.ndarray:
    """``D2 = -ln(ipr) / ln(n_sites)``: 1 for a uniform state, 0 for a state on one site."""
    return -np.log(ipr) / np.log(n_sites)


def spectrum(model: str, n_sites: int, **parameters: float) -> Spectrum:
    """Exact diagonalization: energy, IPR and fractal dimension of every eigenstate.

    ``parameters`` are those of :func:`hamiltonian` (``strength``, ``phase``, ``alpha``, ``decay``, ``hopping``).

    Examples
    --------
    >>> s = spectrum("gaam", 233, strength=0.5, alpha=0.3, phase=0.1)
    >>> s.energy.shape, bool((label(s) == theory_label("gaam", s.energy, strength=0.5, alpha=0.3)).mean() > 0.9)
    ((233,), True)
    """
    energy, states = np.linalg.eigh(hamiltonian(model, n_sites, **parameters))
    ipr = inverse_participation_ratio(states)
    return Spectrum(energy, ipr, fractal_dimension(ipr, n_sites))


def label(states: Spectrum | np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Localized (1) / extended (0) from the fractal dimension: localized when ``D2 < threshold``.

    ``states`` is a :class:`Spectrum` or an array of fractal dimensions.
    """
    dimension = states.fractal_dimension if isinstance(states, Spectrum) else np.asarray(states)
    return (dimension < threshold).astype(np.int64)


def edge_residual(
    model: str,
    energy: np.ndarray,
    *,
    strength: float | np.ndarray,
    alpha: float | np.ndarray | None = None,
    decay: float | np.ndarray | None = None,
    hopping: float = 1.0,
) -> np.ndarray:
    """Left minus right side of the "localized when" inequality: > 0 localized, < 0 extended, 0 on the edge.

    Arrays broadcast. The sign conventions are those of the module docstring; a negative
    strength is a phase shift by pi for mosaic and MAAM, and uses GPD's ``sgn(lambda)`` for GAAM.
    """
    _model(model)
    if not hopping > 0:
        raise ValueError(f"hopping must be > 0, got {hopping}")
    energy, lam, t = np.asarray(energy, dtype=np.float64), np.asarray(strength, dtype=np.float64), hopping
    if model == "mosaic2":
        return np.abs(lam * energy) - 2 * t**2
    if model == "mosaic3":
        return np.abs(lam * (energy**2 - t**2)) - 2 * t**3
    if model == "gaam":
        if alpha is None:
            raise ValueError("gaam needs alpha")
        return np.sign(lam) * np.asarray(alpha) * energy - 2 * (t - np.abs(lam))
    if decay is None:
        raise ValueError("maam needs decay (p)")
    p = np.asarray(decay, dtype=np.float64)
    return np.abs(lam) * np.cosh(p) - energy - t * np.exp(p)


def theory_label(model: str, energy: np.ndarray, **parameters) -> np.ndarray:
    """What the mobility-edge formula predicts: 1 localized, 0 extended (see :func:`edge_residual`)."""
    return (edge_residual(model, energy, **parameters) > 0).astype(np.int64)


def mobility_edge(model: str, hopping: float = 1.0) -> tuple[sympy.Eq, sympy.Rel]:
    """The mobility edge and the "localized when" inequality in the dataset's column symbols.

    Examples
    --------
    >>> mobility_edge("gaam")[0]
    Eq(alpha*energy, 2 - 2*lambda)
    """
    _model(model)
    lam, energy = sympy.Symbol("lambda", real=True), sympy.Symbol("energy", real=True)
    t = sympy.nsimplify(hopping)
    if model == "mosaic2":
        lhs, rhs = lam * sympy.Abs(energy), 2 * t**2
    elif model == "mosaic3":
        lhs, rhs = lam * sympy.Abs(energy**2 - t**2), 2 * t**3
    elif model == "gaam":
        lhs, rhs = sympy.Symbol("alpha", real=True) * energy, 2 * (t - lam)
    else:
        p = sympy.Symbol("p", real=True)
        lhs, rhs = lam * sympy.cosh(p), energy + t * sympy.exp(p)
    return sympy.Eq(lhs, rhs), sympy.StrictGreaterThan(lhs, rhs)


def _sample_split(
    model: str,
    n_rows: int,
    *,
    rng: np.random.Generator,
    n_sites: int,
    ranges: tuple[tuple[float, float], ...],
    states_per_system: int,
    hopping: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (parameters..., phi, energy) and the fractal dimension of each, from fresh systems."""
    spec = MODELS[model]
    rows, dimensions = [], []
    while sum(map(len, rows)) < n_rows:
        values = {name: rng.uniform(lo, hi) for name, (lo, hi) in zip(spec.parameters, ranges)}
        phase = rng.uniform(0.0, 2 * np.pi)
        result = spectrum(model, n_sites, phase=phase, hopping=hopping, **values)
        take = min(states_per_system, n_rows - sum(map(len, rows)))
        chosen = np.sort(rng.choice(n_sites, size=take, replace=False))
        params = np.broadcast_to([*values.values(), phase], (take, len(values) + 1))
        rows.append(np.column_stack([params, result.energy[chosen]]))
        dimensions.append(result.fractal_dimension[chosen])
    return np.concatenate(rows), np.concatenate(dimensions)


def generate(
    model: str,
    *,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    noise: float = 0.0,
    dtype: torch.dtype = torch.float32,
    n_sites: int | None = None,
    target: str = "label",
    threshold: float = DEFAULT_THRESHOLD,
    states_per_system: int | None = None,
    ranges: dict[str, tuple[float, float]] | None = None,
    hopping: float = 1.0,
) -> Dataset:
    """Sweep ``model``'s parameters, diagonalize, and return (parameters..., phi, energy) -> localized.

    Every system draws its parameters uniformly in ``ranges`` and phi uniformly in [0, 2 pi);
    ``states_per_system`` of its eigenstates, drawn at random, become rows. Train and test rows
    come from different systems. Deterministic given ``seed``. BLAS runs on one thread meanwhile
    when threadpoolctl is installed (see :func:`single_threaded_blas`).

    Parameters
    ----------
    model : {"mosaic2", "mosaic3", "gaam", "maam"}
    n_train, n_test : int
    seed : int
    noise : float
        ``target="label"``: probability of flipping each training label (<= 1);
        ``target="fractal_dimension"``: Gaussian noise on the training labels, relative to their std.
    dtype : torch.dtype
    n_sites : int, optional
        Ring length (default ``MODELS[model].n_sites``; see :func:`commensurate_frequency`).
    target : {"label", "fractal_dimension"}
        Binary label (1 = localized, ``D2 < threshold``) or the fractal dimension D2 itself.
    threshold : float
    states_per_system : int, optional
        Eigenstates kept per diagonalized system; default ``n_sites // 8``.
    ranges : dict, optional
        Column name (``"lambda"``, ``"alpha"``, ``"p"``) -> (lo, hi), overriding ``MODELS[model].ranges``.
    hopping : float
        t (t1 for MAAM).

    Returns
    -------
    Dataset
        Inputs ``(*MODELS[model].columns, "phi", "energy")``; ``formula`` None; ``metadata`` has
        provenance, ``mobility_edge`` / ``localized_when`` (str and sympy ``srepr``), ``n_sites``,
        ``frequency`` and ``theory_agreement`` (fraction of rows whose D2 label matches the formula).
    """
    spec = _model(model)
    if target not in ("label", "fractal_dimension"):
        raise ValueError(f"target must be 'label' or 'fractal_dimension', got {target!r}")
    if not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if target == "label" and noise > 1:
        raise ValueError(f"noise is a label-flip probability for target='label'; got {noise}, need <= 1")
    n_sites = spec.n_sites if n_sites is None else n_sites
    frequency = commensurate_frequency(n_sites, spec.kappa)
    states_per_system = n_sites // 8 if states_per_system is None else states_per_system
    if isinstance(states_per_system, bool) or not isinstance(states_per_system, int) or states_per_system < 1:
        raise ValueError(f"states_per_system must be a positive integer, got {states_per_system!r}")
    states_per_system = min(states_per_system, n_sites)
    unknown = set(ranges or {}) - set(spec.columns)
    if unknown:
        raise ValueError(f"{model} sweeps {list(spec.columns)}; ranges has unknown keys {sorted(unknown)}")
    bounds = tuple(tuple(map(float, (ranges or {}).get(c, r))) for c, r in zip(spec.columns, spec.ranges))
    if any(not lo <= hi for lo, hi in bounds):
        raise ValueError(f"every range needs lo <= hi, got {dict(zip(spec.columns, bounds))}")

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    options = dict(rng=rng, n_sites=n_sites, ranges=bounds, states_per_system=states_per_system, hopping=hopping)
    with single_threaded_blas():
        x_train, d_train = _sample_split(model, n_train, **options)
        x_test, d_test = _sample_split(model, n_test, **options)
    x_all, d_all = np.concatenate([x_train, x_test]), np.concatenate([d_train, d_test])
    swept = {name: x_all[:, i] for i, name in enumerate(spec.parameters)}
    agreement = float((label(d_all, threshold) == theory_label(model, x_all[:, -1], hopping=hopping, **swept)).mean())

    if target == "label":
        y_train, y_test = label(d_train, threshold).astype(np.float64), label(d_test, threshold).astype(np.float64)
        y_train = np.where(rng.random(n_train) < noise, 1.0 - y_train, y_train)
    else:
        y_train, y_test = d_train, d_test
        y_train = y_train + noise * float(np.std(y_train)) * rng.standard_normal(n_train)
    logger.debug("%s: %d rows from %d-site rings in %.2f s", model, len(x_all), n_sites, time.perf_counter() - start)

    edge, localized_when = mobility_edge(model, hopping)
    meta = provenance(
        "kansci.datasets.anderson.generate",
        model=model,
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        noise=noise,
        n_sites=n_sites,
        frequency=frequency,
        target=target,
        threshold=threshold,
        states_per_system=states_per_system,
        ranges=dict(zip(spec.columns, bounds)),
        hopping=hopping,
    )
    meta.update(
        mobility_edge=str(edge),
        mobility_edge_srepr=sympy.srepr(edge),
        localized_when=str(localized_when),
        localized_when_srepr=sympy.srepr(localized_when),
        theory_agreement=agreement,
    )
    energy_range = (float(x_all[:, -1].min()), float(x_all[:, -1].max()))
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dtype)  # noqa: E731
    return Dataset(
        as_tensor(x_train),
        as_tensor(y_train[:, None]),
        as_tensor(x_test),
        as_tensor(y_test[:, None]),
        (*spec.columns, "phi", "energy"),
        ("localized" if target == "label" else "fractal_dimension",),
        meta,
        None,
        (*bounds, (0.0, 2 * np.pi), energy_range),
    )


for _name in MODELS:
    register(f"anderson/{_name}", functools.partial(generate, _name))
