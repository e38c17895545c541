"""Reference solutions of 1D time-dependent PDEs, the ground truth for PINN errors.

Viscous Burgers is solved by a Fourier pseudo-spectral method and checked against
the exact Cole-Hopf solution; Allen-Cahn by Chebyshev (Dirichlet) or Fourier
(periodic) collocation. Both integrate in time with ETDRK4 (Cox and Matthews 2002,
coefficients by the contour integrals of Kassam and Trefethen 2005).
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import RectBivariateSpline

from kansci.blas import single_threaded_blas
from kansci.pde.spectral import (
    barycentric,
    chebyshev,
    etdrk4,
    fourier_evaluate,
    spectral_tail,
    wavenumbers,
)

__all__ = ["allen_cahn", "burgers", "burgers_cole_hopf", "interpolate"]

logger = logging.getLogger(__name__)

Array = NDArray[np.float64]

_UNRESOLVED = 1e-8  # relative size of the top-third Fourier modes that counts as under-resolved


# ---------------------------------------------------------------------------- checks


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value}")
    return value


def _check_count(name: str, value: int, minimum: int, *, even: bool = False) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if even and value % 2:
        raise ValueError(f"{name} must be even, got {value}; use {value + 1}")
    return int(value)


# ---------------------------------------------------------------------------- time stepping


# ---------------------------------------------------------------------------- Fourier on [-1, 1)


def _warn_if_unresolved(name: str, coefficients: NDArray) -> None:
    tail = spectral_tail(coefficients)
    if tail > _UNRESOLVED:
        logger.warning("%s: top Fourier modes at %.1e of the largest; use more spatial_points", name, tail)


# ---------------------------------------------------------------------------- Burgers


def _burgers_fourier(nu: float, t_end: float, n_outputs: int, points: int, time_step: float) -> NDArray:
    """Fourier coefficients (``rfft`` of the grid ``-1 + 2 j / points``) of Burgers at ``linspace(0, t_end, n)``."""
    grid = -1.0 + 2.0 * np.arange(points) / points
    k = wavenumbers(points)

    def nonlinear(w: NDArray) -> NDArray:
        u = np.fft.irfft(w, n=points)
        return -0.5j * k * np.fft.rfft(u * u)

    w0 = np.fft.rfft(-np.sin(np.pi * grid))
    w0[-1] = 0.0
    return etdrk4(w0, -nu * k**2, nonlinear, t_end, n_outputs, time_step)


def burgers(
    nu: float = 0.01 / math.pi,
    nx: int = 256,
    nt: int = 101,
    t_end: float = 1.0,
    *,
    spatial_points: int = 2048,
    time_step: float = 2.5e-4,
) -> tuple[Array, Array, Array]:
    """Viscous Burgers ``u_t + u u_x = nu u_xx`` with ``u(x, 0) = -sin(pi x)`` and ``u(+-1, t) = 0``.

    The solution is odd and 2-periodic, so a Fourier pseudo-spectral method on
    ``[-1, 1)`` is exact for the boundary conditions; ETDRK4 steps in time and the
    Fourier series is evaluated at the output grid. At the defaults (``nu = 0.01/pi``)
    the solution agrees with :func:`burgers_cole_hopf` to about 2e-10 on ``[0, 1]`` (all of
    it time-stepping error) and reproduces the steepest slope ``u_x(0, t) = -152.00516`` at
    ``t = 1.6037/pi`` (Basdevant et al. 1986).

    The output grid, not the solver, limits errors measured with :func:`interpolate`: the
    shock is about 0.006 wide, so the default 256 x 101 grid interpolates to 4e-3 near it
    (relative L2 3e-4); ``nx=1025, nt=201`` gives 9e-5 (relative L2 3e-6).

    Parameters
    ----------
    nu : float
        Viscosity, > 0. Smaller values need more ``spatial_points`` (about ``6/nu``).
    nx, nt : int
        Output grid sizes, >= 2: ``x = linspace(-1, 1, nx)``, ``t = linspace(0, t_end, nt)``.
    t_end : float
        Final time, > 0.
    spatial_points : int
        Even number of Fourier collocation points used internally.
    time_step : float
        Largest ETDRK4 step; the step divides the output interval exactly.

    Returns
    -------
    x : ndarray, shape (nx,)
    t : ndarray, shape (nt,)
    u : ndarray, shape (nt, nx)
        ``u[i, j] = u(x[j], t[i])``.

    Raises
    ------
    ValueError
        For a non-positive ``nu``, ``t_end`` or ``time_step``, grid sizes below their minimum,
        or an odd ``spatial_points``.
    RuntimeError
        When the time integration blows up (too few ``spatial_points``).

    Examples
    --------
    >>> x, t, u = burgers(nx=5, nt=3)
    >>> u.shape
    (3, 5)
    """
    nu = _check_positive("nu", nu)
    t_end = _check_positive("t_end", t_end)
    time_step = _check_positive("time_step", time_step)
    nx, nt = _check_count("nx", nx, 2), _check_count("nt", nt, 2)
    points = _check_count("spatial_points", spatial_points, 16, even=True)
    coefficients = _burgers_fourier(nu, t_end, nt, points, time_step)
    _warn_if_unresolved("burgers", coefficients)
    x, t = np.linspace(-1.0, 1.0, nx), np.linspace(0.0, t_end, nt)
    u = fourier_evaluate(coefficients, points, x)
    u[0] = -np.sin(np.pi * x)
    u[:, [0, -1]] = 0.0
    return x, t, u


def burgers_cole_hopf(x: ArrayLike, t: ArrayLike, nu: float = 0.01 / math.pi, *, nodes: int | None = None) -> Array:
    """The exact Burgers solution of :func:`burgers` by the Cole-Hopf transform and quadrature.

    ``u = -int sin(pi (x - eta)) f(x - eta) G(eta) d eta / int f(x - eta) G(eta) d eta`` with
    ``f(y) = exp(-cos(pi y) / (2 pi nu))`` and ``G(eta) = exp(-eta^2 / (4 nu t))``, evaluated by
    the trapezoid rule in ``s = eta / sqrt(4 nu t)`` on ``[-S, S]`` with the largest exponent
    subtracted (nothing overflows). ``S`` cuts the tails below ``exp(-40)`` of the peak.

    Parameters
    ----------
    x, t : array_like
        Broadcastable coordinates with ``t >= 0``; any real x (the solution is 2-periodic).
    nu : float
        Viscosity, > 0.
    nodes : int, optional
        Quadrature nodes; the default (a few hundred at ``nu = 0.01/pi``, t <= 1) agrees with
        15x more nodes to 1e-15.

    Returns
    -------
    ndarray, shape broadcast(x, t)

    Raises
    ------
    ValueError
        For ``nu <= 0``, a negative or non-finite ``t``, or ``nodes < 16``.
    """
    nu = _check_positive("nu", nu)
    xb, tb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if not (np.all(np.isfinite(tb)) and np.all(tb >= 0)):
        raise ValueError("t must be finite and >= 0 (the initial condition is at t = 0)")
    if not np.all(np.isfinite(xb)):
        raise ValueError("x must be finite; drop NaN or infinite points")
    half_width = math.sqrt(1.0 / (math.pi * nu) + 40.0)
    if nodes is None:
        # spacing a quarter of the narrowest peak of the integrand in s
        spacing = 0.25 / math.sqrt(2.0 * (1.0 + math.pi * float(tb.max(initial=0.0))))
        nodes = 2 * math.ceil(half_width / spacing) + 1
    nodes = _check_count("nodes", nodes, 16)
    s = np.linspace(-half_width, half_width, nodes)
    flat_x, flat_t = xb.ravel(), tb.ravel()
    u = np.empty_like(flat_x)
    chunk = max(1, 2**22 // nodes)
    for start in range(0, flat_x.size, chunk):
        xc, tc = flat_x[start : start + chunk, None], flat_t[start : start + chunk, None]
        y = xc - np.sqrt(4.0 * nu * tc) * s
        exponent = -(s**2) - np.cos(np.pi * y) / (2.0 * np.pi * nu)
        weight = np.exp(exponent - exponent.max(axis=1, keepdims=True))
        u[start : start + chunk] = -(np.sin(np.pi * y) * weight).sum(axis=1) / weight.sum(axis=1)
    initial = flat_t == 0
    u[initial] = -np.sin(np.pi * flat_x[initial])
    return u.reshape(xb.shape)


# ---------------------------------------------------------------------------- Allen-Cahn


def _allen_cahn_dirichlet(d: float, c: float, x: Array, nt: int, t_end: float, n: int, time_step: float) -> Array:
    """Even Chebyshev collocation of ``v = u + 1`` (zero at +-1) on the nodes ``x >= 0``."""
    nodes, dmat = chebyshev(n)
    d2 = dmat @ dmat
    np.fill_diagonal(d2, 0.0)
    np.fill_diagonal(d2, -d2.sum(axis=1))
    m = n // 2
    inner = np.arange(1, m + 1)  # nodes in (0, 1], x = 0 last
    folded = d2[np.ix_(inner, inner)].copy()
    folded[:, :-1] += d2[np.ix_(inner, n - inner[:-1])]  # mirror columns of the even solution
    eigenvalues, vectors = np.linalg.eig(d * folded)
    if np.abs(eigenvalues.imag).max() > 1e-8 * np.abs(eigenvalues).max():
        raise RuntimeError("the Chebyshev diffusion matrix has complex eigenvalues; use another spatial_points")
    eigenvalues, vectors = eigenvalues.real, vectors.real
    inverse = np.linalg.inv(vectors)

    def nonlinear(w: Array) -> Array:
        u = vectors @ w - 1.0
        return inverse @ (c * (u - u**3))

    xs = nodes[inner]
    w0 = inverse @ (xs**2 * np.cos(np.pi * xs) + 1.0)
    w = etdrk4(w0, eigenvalues, nonlinear, t_end, nt, time_step)
    v_half = w @ vectors.T  # (nt, m)
    v = np.zeros((nt, n + 1))
    v[:, inner] = v_half
    v[:, n - inner[:-1]] = v_half[:, :-1]
    return barycentric(nodes, v.T, x).T - 1.0


def _allen_cahn_periodic(d: float, c: float, x: Array, nt: int, t_end: float, points: int, time_step: float) -> Array:
    grid = -1.0 + 2.0 * np.arange(points) / points
    k = wavenumbers(points)
    nyquist = np.ones(k.size)
    nyquist[-1] = 0.0

    def nonlinear(w: NDArray) -> NDArray:
        u = np.fft.irfft(w, n=points)
        return nyquist * np.fft.rfft(c * (u - u**3))

    w0 = nyquist * np.fft.rfft(grid**2 * np.cos(np.pi * grid))
    w = etdrk4(w0, -d * k**2, nonlinear, t_end, nt, time_step)
    _warn_if_unresolved("allen_cahn", w[-1])  # interfaces are sharpest at the end
    return fourier_evaluate(w, points, x)


def allen_cahn(
    d: float = 1e-3,
    c: float = 5.0,
    nx: int = 256,
    nt: int = 101,
    t_end: float = 1.0,
    *,
    boundary: Literal["dirichlet", "periodic"] = "dirichlet",
    spatial_points: int | None = None,
    time_step: float = 1e-3,
) -> tuple[Array, Array, Array]:
    """Allen-Cahn ``u_t = d u_xx + c (u - u^3)`` on ``[-1, 1]`` with ``u(x, 0) = x^2 cos(pi x)``.

    ``boundary="dirichlet"`` holds ``u(+-1, t) = -1`` (the PINNacle setup, d = 1e-3) and is
    solved by Chebyshev collocation of the even solution; ``boundary="periodic"`` is the setup
    of Raissi et al. (2019) when called with ``d=1e-4``, solved by Fourier collocation. ETDRK4
    steps in time in both cases.

    Measured accuracy at the defaults: Dirichlet, 3e-9 at t = 1 against Chebyshev degree 768
    and 2.6e-6 against independent 4th-order finite differences on 1001 points (which converge
    to it at 4th order). Periodic with ``d=1e-4``: the periodic extension of ``u(x, 0)`` has a
    kink at ``x = +-1`` that Fourier modes resolve slowly, so errors next to it are about 1e-4
    at t = 0.01, 1e-5 at t = 0.1, 1e-7 at t = 0.5 and 4e-10 at t = 1 (4x smaller per doubling
    of ``spatial_points``); for ``|x| < 0.9`` they stay below 1e-13.

    Parameters
    ----------
    d : float
        Diffusion coefficient, > 0. Interfaces are ``sqrt(2 d / c)`` wide.
    c : float
        Reaction rate, > 0.
    nx, nt : int
        Output grid sizes, >= 2: ``x = linspace(-1, 1, nx)``, ``t = linspace(0, t_end, nt)``.
    t_end : float
        Final time, > 0.
    boundary : {"dirichlet", "periodic"}
    spatial_points : int, optional
        Even internal resolution: the Chebyshev degree (default 512) or the number of
        Fourier points (default 2048).
    time_step : float
        Largest ETDRK4 step.

    Returns
    -------
    x : ndarray, shape (nx,)
    t : ndarray, shape (nt,)
    u : ndarray, shape (nt, nx)
        ``u[i, j] = u(x[j], t[i])``.

    Raises
    ------
    ValueError
        For non-positive ``d``, ``c``, ``t_end`` or ``time_step``, an unknown ``boundary``,
        or sizes below their minimum.

    Examples
    --------
    >>> x, t, u = allen_cahn(nx=5, nt=3)
    >>> u[-1].round(3).tolist()
    [-1.0, -0.248, 0.275, -0.248, -1.0]
    """
    d, c = _check_positive("d", d), _check_positive("c", c)
    t_end = _check_positive("t_end", t_end)
    time_step = _check_positive("time_step", time_step)
    nx, nt = _check_count("nx", nx, 2), _check_count("nt", nt, 2)
    if boundary not in ("dirichlet", "periodic"):
        raise ValueError(f"boundary must be 'dirichlet' or 'periodic', got {boundary!r}")
    x, t = np.linspace(-1.0, 1.0, nx), np.linspace(0.0, t_end, nt)
    if boundary == "dirichlet":
        n = _check_count("spatial_points", 512 if spatial_points is None else spatial_points, 8, even=True)
        with single_threaded_blas():
            u = _allen_cahn_dirichlet(d, c, x, nt, t_end, n, time_step)
        u[:, 0] = u[:, -1] = -1.0
    else:
        n = _check_count("spatial_points", 2048 if spatial_points is None else spatial_points, 16, even=True)
        u = _allen_cahn_periodic(d, c, x, nt, t_end, n, time_step)
    u[0] = x**2 * np.cos(np.pi * x)
    return x, t, u


# ---------------------------------------------------------------------------- interpolation


def interpolate(
    x: ArrayLike, t: ArrayLike, u: ArrayLike, points: ArrayLike, *, method: Literal["cubic", "linear"] = "cubic"
) -> Array:
    """Evaluate a gridded solution ``u[i, j] = u(x[j], t[i])`` at scattered ``(x, t)`` points.

    Parameters
    ----------
    x : array_like, shape (nx,)
        Strictly increasing.
    t : array_like, shape (nt,)
        Strictly increasing.
    u : array_like, shape (nt, nx)
    points : array_like, shape (n, 2)
        Columns ``x`` and ``t``, inside the grid.
    method : {"cubic", "linear"}
        Interpolating bicubic spline (needs >= 4 nodes per axis) or bilinear.

    Returns
    -------
    ndarray, shape (n,)

    Raises
    ------
    ValueError
        On mismatched shapes, unsorted axes, or points outside the grid.

    Examples
    --------
    >>> x, t, u = burgers(nx=1025, nt=201)
    >>> points = [[-0.5, 0.0], [0.5, 0.0], [0.0, 1.0]]
    >>> interpolate(x, t, u, points).round(6).tolist()
    [1.0, -1.0, 0.0]
    """
    xa, ta = np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
    ua, pa = np.asarray(u, dtype=np.float64), np.asarray(points, dtype=np.float64)
    if xa.ndim != 1 or ta.ndim != 1 or ua.shape != (ta.size, xa.size):
        raise ValueError(f"u must have shape (len(t), len(x)) = ({ta.size}, {xa.size}), got {ua.shape}")
    if pa.ndim != 2 or pa.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2) with columns x, t; got {pa.shape}")
    if method not in ("cubic", "linear"):
        raise ValueError(f"method must be 'cubic' or 'linear', got {method!r}")
    order = 3 if method == "cubic" else 1
    for name, axis in (("x", xa), ("t", ta)):
        if axis.size < order + 1:
            raise ValueError(f"{name} has {axis.size} nodes; method={method!r} needs >= {order + 1}")
        if not np.all(np.diff(axis) > 0):
            raise ValueError(f"{name} must be strictly increasing")
    for column, name, axis in ((0, "x", xa), (1, "t", ta)):
        slack = 1e-12 * (axis[-1] - axis[0])
        values = pa[:, column]
        if not np.all((values >= axis[0] - slack) & (values <= axis[-1] + slack)):
            raise ValueError(f"points[:, {column}] ({name}) must lie in [{axis[0]}, {axis[-1]}]; clip or drop them")
    spline = RectBivariateSpline(ta, xa, ua, kx=order, ky=order, s=0)
    return spline.ev(pa[:, 1], pa[:, 0])
