"""Spectral building blocks for the reference solvers: ETDRK4, Fourier and Chebyshev helpers.

ETDRK4 (Cox and Matthews 2002) integrates ``w' = L w + N(w)`` with diagonal L;
its coefficients come from contour averages (Kassam and Trefethen 2005), which
stay accurate where ``step * L`` is near zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "barycentric",
    "chebyshev",
    "etdrk4",
    "fourier_evaluate",
    "spectral_tail",
    "wavenumbers",
]

Array = NDArray[np.float64]

_CONTOUR_POINTS = 64


def etdrk4_coefficients(eigenvalues: Array, step: float) -> tuple[Array, ...]:
    """ETDRK4 weights for a diagonal linear part, by contour averages around each ``step * eigenvalue``."""
    roots = np.exp(1j * np.pi * (np.arange(1, _CONTOUR_POINTS + 1) - 0.5) / _CONTOUR_POINTS)
    z = step * eigenvalues[:, None] + roots[None, :]
    ez = np.exp(z)
    half = step * np.mean((np.exp(z / 2) - 1) / z, axis=1).real
    f1 = step * np.mean((-4 - z + ez * (4 - 3 * z + z**2)) / z**3, axis=1).real
    f2 = step * np.mean((2 + z + ez * (z - 2)) / z**3, axis=1).real
    f3 = step * np.mean((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3, axis=1).real
    return np.exp(step * eigenvalues), np.exp(step * eigenvalues / 2), half, f1, f2, f3


def etdrk4(
    state: NDArray,
    eigenvalues: Array,
    nonlinear: Callable[[NDArray], NDArray],
    t_end: float,
    n_outputs: int,
    max_step: float,
) -> NDArray:
    """Integrate ``w' = eigenvalues * w + nonlinear(w)`` and return w at ``linspace(0, t_end, n_outputs)``.

    Returns
    -------
    ndarray, shape (n_outputs, *state.shape)
    """
    substeps = max(1, math.ceil(t_end / (n_outputs - 1) / max_step - 1e-9))
    step = t_end / (n_outputs - 1) / substeps
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(eigenvalues, step)
    out = np.empty((n_outputs, *state.shape), dtype=state.dtype)
    out[0] = state
    w = state
    for i in range(1, n_outputs):
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
            for _ in range(substeps):
                nw = nonlinear(w)
                a = e2 * w + q * nw
                na = nonlinear(a)
                b = e2 * w + q * na
                nb = nonlinear(b)
                c = e2 * a + q * (2 * nb - nw)
                nc = nonlinear(c)
                w = e * w + f1 * nw + 2 * f2 * (na + nb) + f3 * nc
        if not np.all(np.isfinite(w)):
            raise RuntimeError(
                f"the solution blew up before t = {i * t_end / (n_outputs - 1):.3g}; "
                "use more spatial_points or a smaller time_step"
            )
        out[i] = w
    return out


def wavenumbers(points: int) -> Array:
    """Wavenumbers of ``rfft`` on period 2, with the Nyquist mode set to zero."""
    k = np.pi * np.arange(points // 2 + 1, dtype=np.float64)
    k[-1] = 0.0
    return k


def fourier_evaluate(coefficients: NDArray, points: int, x: Array, derivative: int = 0) -> Array:
    """Evaluate ``rfft`` coefficients of a grid on ``-1 + 2 j / points`` at arbitrary x (Nyquist mode dropped).

    Returns
    -------
    ndarray, shape (*coefficients.shape[:-1], x.size)
    """
    k = wavenumbers(points)[:-1]
    weights = np.full(k.size, 2.0 / points)
    weights[0] = 1.0 / points
    scaled = coefficients[..., :-1] * weights * (1j * k) ** derivative
    return (scaled @ np.exp(1j * np.outer(k, x + 1.0))).real


def spectral_tail(coefficients: NDArray) -> float:
    """Largest modulus in the top third of the spectrum relative to the largest overall."""
    magnitude = np.abs(coefficients)
    top = magnitude[..., 2 * magnitude.shape[-1] // 3 :].max()
    return float(top / max(magnitude.max(), np.finfo(np.float64).tiny))


def chebyshev(n: int) -> tuple[Array, Array]:
    """Chebyshev points ``cos(pi j / n)`` (descending) and the first-derivative matrix."""
    j = np.arange(n + 1)
    x = np.sin(np.pi * (n - 2 * j) / (2 * n))
    c = np.where((j == 0) | (j == n), 2.0, 1.0) * (-1.0) ** j
    dx = x[:, None] - x[None, :] + np.eye(n + 1)
    d = np.outer(c, 1.0 / c) / dx
    d -= np.diag(d.sum(axis=1))
    return x, d


def barycentric(nodes: Array, values: Array, x: Array) -> Array:
    """Chebyshev interpolant through ``values`` (nodes, m) at x: shape (x.size, m)."""
    n = nodes.size - 1
    weights = (-1.0) ** np.arange(n + 1)
    weights[[0, -1]] *= 0.5
    diff = x[:, None] - nodes[None, :]
    hit = diff == 0
    diff[hit] = 1.0
    c = weights / diff
    out = (c @ values) / c.sum(axis=1, keepdims=True)
    rows, cols = np.nonzero(hit)
    out[rows] = values[cols]
    return out
