"""Continual learning (KAN paper §3.5): five Gaussian peaks on [-1, 1], shown one peak at a time.

The target is ``f(x) = sum_c exp(-SHARPNESS (x - c)^2)`` over the five
:data:`CENTRES`. ``load("continual/peaks")`` samples the whole domain (use it
to measure forgetting); :func:`phases` gives the five training phases, phase
``i`` holding only samples in ``[CENTRES[i] - HALF_WIDTH, CENTRES[i] + HALF_WIDTH)``.
The windows tile [-1, 1) without overlap.

Examples
--------
>>> from kansci.datasets import continual
>>> [round(d.input_ranges[0][0], 1) for d in continual.phases(100)]
[-1.0, -0.6, -0.2, 0.2, 0.6]
"""

from __future__ import annotations

import numpy as np
import sympy
import torch

from kansci.datasets.base import Dataset, provenance
from kansci.datasets.registry import FunctionSpec, register

__all__ = ["CENTRES", "DOMAIN", "HALF_WIDTH", "SHARPNESS", "load_peaks", "peaks", "phases"]

CENTRES: tuple[float, ...] = (-0.8, -0.4, 0.0, 0.4, 0.8)
"""Peak centres c_i, in the order the phases show them."""
SHARPNESS = 300.0
"""Each peak is exp(-SHARPNESS (x - c)^2): standard deviation 1/sqrt(600), about 0.041."""
HALF_WIDTH = 0.2
"""Phase i shows x in [c_i - HALF_WIDTH, c_i + HALF_WIDTH)."""
DOMAIN = (-1.0, 1.0)
"""Input range of the full-domain dataset."""

_X = sympy.Symbol("x", real=True)
_FORMULA = sympy.Add(*(sympy.exp(-sympy.Integer(int(SHARPNESS)) * (_X - sympy.Rational(str(c))) ** 2) for c in CENTRES))


def peaks(x: np.ndarray) -> np.ndarray:
    """The target ``sum_c exp(-SHARPNESS (x - c)^2)`` at ``x`` (any shape), float64."""
    x = np.asarray(x, dtype=np.float64)
    return sum(np.exp(-SHARPNESS * (x - c) ** 2) for c in CENTRES)


_SPEC = FunctionSpec(
    name="continual/peaks",
    variables=("x",),
    ranges=(DOMAIN,),
    expr=_FORMULA,
    fn=peaks,
    output="f",
    description="five Gaussian peaks exp(-300 (x - c)^2), c in {-0.8, -0.4, 0, 0.4, 0.8} (paper §3.5, KAN [1,1])",
)


def load_peaks(
    *,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    noise: float = 0.0,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """The five peaks sampled uniformly on the whole domain [-1, 1] (the ``continual/peaks`` loader)."""
    return _SPEC.sample(n_train=n_train, n_test=n_test, seed=seed, noise=noise, dtype=dtype)


def phases(n_per_phase: int = 100, seed: int = 0, dtype: torch.dtype = torch.float32) -> list[Dataset]:
    """The five training phases, in order: phase ``i`` samples only the window around ``CENTRES[i]``.

    Parameters
    ----------
    n_per_phase : int
        Training samples per phase (the paper shows 100); each phase's test set
        has as many, drawn from the same window.
    seed : int
    dtype : torch.dtype

    Returns
    -------
    list of Dataset
        Five datasets with inputs uniform on ``[c - HALF_WIDTH, c + HALF_WIDTH)``,
        labels from the full five-peak target, ``input_ranges`` the window and
        ``metadata["phase"]`` the phase index.

    Raises
    ------
    ValueError
        If ``n_per_phase`` is not a positive integer.
    """
    if isinstance(n_per_phase, bool) or not isinstance(n_per_phase, int) or n_per_phase < 1:
        raise ValueError(f"n_per_phase must be a positive integer, got {n_per_phase!r}")
    rng = np.random.default_rng(seed)
    result = []
    for index, centre in enumerate(CENTRES):
        lo, hi = centre - HALF_WIDTH, centre + HALF_WIDTH
        x = lo + (hi - lo) * rng.random((2 * n_per_phase, 1))
        y = peaks(x)
        tensors = [torch.as_tensor(a, dtype=torch.float64).to(dtype) for a in (x, y)]
        meta = provenance(
            "kansci.datasets.continual.phases",
            phase=index,
            centre=centre,
            window=[lo, hi],
            n_per_phase=n_per_phase,
            seed=seed,
        )
        train, test = slice(0, n_per_phase), slice(n_per_phase, None)
        result.append(
            Dataset(
                tensors[0][train],
                tensors[1][train],
                tensors[0][test],
                tensors[1][test],
                ("x",),
                ("f",),
                meta,
                _FORMULA,
                ((lo, hi),),
            )
        )
    return result


register("continual/peaks", load_peaks)
