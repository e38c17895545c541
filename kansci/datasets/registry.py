"""Dataset registry: ``load(name, ...)`` and ``names()`` over every shipped loader.

A loader is any callable ``loader(*, n_train, n_test, seed, noise, dtype, **options) -> Dataset``.
Analytic datasets (a formula sampled on input ranges) are described by a
:class:`FunctionSpec` and registered with :func:`register_spec`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch

from kansci.datasets.base import Dataset, provenance

__all__ = ["FunctionSpec", "load", "names", "register", "register_spec", "spec"]

Loader = Callable[..., Dataset]

_LOADERS: dict[str, Loader] = {}
_SPECS: dict[str, FunctionSpec] = {}
_BUILTINS_LOADED = False


@dataclass(frozen=True)
class FunctionSpec:
    """A dataset defined by a formula: ``y = f(x_1, ..., x_n)`` with x uniform on ranges.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"toy/exp_sin"`` or ``"feynman/I.6.2"``.
    variables : tuple of str
        Input names, in column order.
    ranges : tuple of (float, float)
        Sampling interval of every input.
    expr : sympy.Expr or None
        The formula in ``sympy.Symbol(v, real=True)`` of the variables; None if
        there is no sympy form (then ``fn`` is required).
    fn : callable, optional
        ``fn(*columns) -> values`` on float64 numpy arrays; default: ``expr``
        lambdified with scipy and numpy.
    output : str
        Output name.
    description : str
        One line for :func:`names` listings and summaries.
    """

    name: str
    variables: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    expr: sympy.Expr | None = None
    fn: Callable[..., np.ndarray] | None = field(default=None, repr=False, compare=False)
    output: str = "y"
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(self.variables))
        object.__setattr__(self, "ranges", tuple((float(a), float(b)) for a, b in self.ranges))
        if len(self.ranges) != len(self.variables):
            raise ValueError(f"{self.name}: {len(self.variables)} variables but {len(self.ranges)} ranges")
        if any(not a < b for a, b in self.ranges):
            raise ValueError(f"{self.name}: every range needs lo < hi, got {self.ranges}")
        if self.expr is None and self.fn is None:
            raise ValueError(f"{self.name}: give a sympy expr or a numpy fn")
        if self.expr is not None:
            unknown = {str(s) for s in self.expr.free_symbols} - set(self.variables)
            if unknown:
                raise ValueError(f"{self.name}: expr uses {sorted(unknown)}, not among variables {self.variables}")

    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(v, real=True) for v in self.variables]

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The formula at the rows of ``x`` (shape (n, n_variables)), float64, shape (n,)."""
        if self.fn is None:
            from kansci.symbolic.formula import evaluate  # lazy: kansci.symbolic imports kansci.core, which imports us

            return evaluate(self.expr, self.symbols(), x)
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            y = np.asarray(self.fn(*x.T), dtype=np.float64)
        return np.broadcast_to(y, (x.shape[0],)).copy()

    def sample(
        self,
        *,
        n_train: int = 1000,
        n_test: int = 1000,
        seed: int = 0,
        noise: float = 0.0,
        dtype: torch.dtype = torch.float32,
    ) -> Dataset:
        """Draw a train and a test set (deterministic given ``seed``).

        ``noise`` is the standard deviation of Gaussian noise added to the
        training labels only, relative to the labels' standard deviation.
        """
        _check_sizes(n_train, n_test, noise)
        rng = np.random.default_rng(seed)
        lo, hi = np.array(self.ranges).T
        x = lo + (hi - lo) * rng.random((n_train + n_test, len(self.variables)))
        y = self.evaluate(x)
        bad = ~np.isfinite(y)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{self.name} is not finite at {dict(zip(self.variables, x[row]))}; fix its ranges")
        y_train = y[:n_train] + noise * float(np.std(y[:n_train])) * rng.standard_normal(n_train)
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float64).to(dtype)  # noqa: E731
        meta = provenance("FunctionSpec.sample", name=self.name, n_train=n_train, n_test=n_test, seed=seed, noise=noise)
        return Dataset(
            as_tensor(x[:n_train]),
            as_tensor(y_train[:, None]),
            as_tensor(x[n_train:]),
            as_tensor(y[n_train:, None]),
            self.variables,
            (self.output,),
            meta,
            self.expr,
            self.ranges,
        )


def register(name: str, loader: Loader, *, overwrite: bool = False) -> None:
    """Make ``load(name, ...)`` call ``loader``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"dataset name must be a non-empty string, got {name!r}")
    if name in _LOADERS and not overwrite:
        raise ValueError(f"dataset {name!r} is already registered; pass overwrite=True to replace it")
    _LOADERS[name] = loader


def register_spec(function_spec: FunctionSpec, *, overwrite: bool = False) -> None:
    """Register an analytic dataset under its name."""
    register(function_spec.name, function_spec.sample, overwrite=overwrite)
    _SPECS[function_spec.name] = function_spec


def names(prefix: str = "") -> list[str]:
    """Registered dataset names (sorted), optionally those starting with ``prefix`` (e.g. ``"feynman/"``)."""
    _load_builtins()
    return sorted(n for n in _LOADERS if n.startswith(prefix))


def spec(name: str) -> FunctionSpec:
    """The :class:`FunctionSpec` of an analytic dataset."""
    _load_builtins()
    if name not in _SPECS:
        raise ValueError(f"{name!r} is not an analytic dataset{_close(name, list(_SPECS))}")
    return _SPECS[name]


def load(
    name: str,
    *,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    noise: float = 0.0,
    dtype: torch.dtype = torch.float32,
    **options,
) -> Dataset:
    """Load or generate a registered dataset (deterministic given ``seed``).

    Raises
    ------
    ValueError
        Unknown name (the message lists close matches) or bad sizes.
    """
    _load_builtins()
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}{_close(name, list(_LOADERS))}; see kansci.datasets.names()")
    _check_sizes(n_train, n_test, noise)
    return _LOADERS[name](n_train=n_train, n_test=n_test, seed=seed, noise=noise, dtype=dtype, **options)


def _check_sizes(n_train: int, n_test: int, noise: float) -> None:
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{label} must be a positive integer, got {n!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")


def _close(name: str, known: Sequence[str]) -> str:
    matches = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    return f" (did you mean {', '.join(map(repr, matches))}?)" if matches else ""


def _load_builtins() -> None:
    """Import the modules that register the shipped datasets (once, on first use)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(f"kansci.datasets.{module}")


BUILTIN_MODULES: tuple[str, ...] = ("toy", "special", "continual", "feynman", "anderson", "knots")
"""Modules under kansci.datasets whose import registers datasets (toy, special, feynman, ...)."""
