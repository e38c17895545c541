"""The 15 special functions of the KAN paper (Liu et al. 2024, §3.2), two inputs ``(x, y)`` each.

Values come from :mod:`scipy.special`; ``expr`` is the same function in sympy
where sympy has it (Jacobi ``sn`` is missing there, so ``special/ellipj`` has
``expr=None``). Ranges keep every function finite, real and away from
singularities; each description states its range and why.

Conventions
-----------
* ``special/ellipj`` is the Jacobi elliptic function ``sn(u | m)``: component 0
  of ``scipy.special.ellipj(u, m)``, with parameter ``m = k^2``.
* ``special/ellipkinc`` / ``ellipeinc`` are the incomplete elliptic integrals
  ``F(phi | m)`` and ``E(phi | m)`` (sympy ``elliptic_f`` / ``elliptic_e``).
* ``jv, yv, kv, iv`` take ``x`` as the order and ``y`` as the argument.
* ``lpmv_m<m>`` is ``scipy.special.lpmv(m, x, y)``: the Ferrers function
  ``P_x^m(y)`` of real degree ``x``, with the Condon-Shortley phase ``(-1)^m``
  (sympy ``assoc_legendre(x, m, y)`` agrees).
* ``sph_harm_<m><n>`` is the real part of ``Y_n^m(polar = y, azimuth = x)``,
  Condon-Shortley phase included; this is ``sph_harm(m, n, x, y).real`` in the
  SciPy < 1.15 argument order the paper used, and
  ``sph_harm_y(n, m, y, x).real`` in SciPy >= 1.15 (degree first, polar angle
  first). Its sympy form is ``re(Ynm(n, m, y, x))`` expanded into elementary
  functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.special
import sympy

from kansci.datasets.registry import FunctionSpec, register_spec

__all__ = [
    "AZIMUTH",
    "BESSEL_ARGUMENT",
    "BESSEL_ORDER",
    "ELLIPTIC_ANGLE",
    "ELLIPTIC_PARAMETER",
    "LEGENDRE_ARGUMENT",
    "LEGENDRE_DEGREE",
    "POLAR",
    "SPECS",
    "sph_harm_real",
]

_X, _Y = sympy.Symbol("x", real=True), sympy.Symbol("y", real=True)
_XY = ("x", "y")

ELLIPTIC_ANGLE = (-1.0, 1.0)
"""Range of u (ellipj) and phi (ellipkinc, ellipeinc): with m <= 1, m sin^2(phi) <= sin^2(1) < 1 keeps F, E finite."""
ELLIPTIC_PARAMETER = (0.0, 1.0)
"""Range of the parameter m = k^2, where sn, F and E are real."""
BESSEL_ORDER = (0.0, 2.0)
"""Range of the order x of jv, yv, kv, iv."""
BESSEL_ARGUMENT = (0.5, 3.0)
"""Range of the argument y of jv, yv, kv, iv: positive (real for non-integer order), and away from 0 where yv and kv
diverge like y^-x and jv, iv have a y^x branch point; |values| stay below about 8."""
LEGENDRE_DEGREE = (0.0, 3.0)
"""Range of the real degree x of lpmv."""
LEGENDRE_ARGUMENT = (-0.8, 0.8)
"""Range of the argument y of lpmv: inside |y| <= 1 and away from y = -1, where a non-integer degree diverges
(logarithmically for m = 0, like (1 + y)^(-m/2) otherwise)."""
AZIMUTH = (0.0, 2.0 * np.pi)
"""Range of x, the azimuthal angle of sph_harm."""
POLAR = (0.0, np.pi)
"""Range of y, the polar angle of sph_harm."""


def _spec(
    name: str,
    ranges: tuple[tuple[float, float], tuple[float, float]],
    expr: sympy.Expr | None,
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    description: str,
    output: str | None = None,
) -> FunctionSpec:
    return FunctionSpec(
        name=f"special/{name}",
        variables=_XY,
        ranges=ranges,
        expr=expr,
        fn=fn,
        output=output or name,
        description=description,
    )


def _jacobi_sn(u: np.ndarray, m: np.ndarray) -> np.ndarray:
    return scipy.special.ellipj(u, m)[0]


def _elliptic() -> list[FunctionSpec]:
    ranges = (ELLIPTIC_ANGLE, ELLIPTIC_PARAMETER)
    where = "x in [-1, 1], parameter y = m in [0, 1] (real and finite there)"
    return [
        _spec(
            "ellipj",
            ranges,
            None,
            _jacobi_sn,
            f"Jacobi elliptic function sn(x | m=y), component 0 of ellipj(x, y); {where}; paper KAN [2,2,1]",
            output="sn",
        ),
        _spec(
            "ellipkinc",
            ranges,
            sympy.elliptic_f(_X, _Y),
            scipy.special.ellipkinc,
            f"incomplete elliptic integral of the first kind F(phi=x | m=y); {where}",
        ),
        _spec(
            "ellipeinc",
            ranges,
            sympy.elliptic_e(_X, _Y),
            scipy.special.ellipeinc,
            f"incomplete elliptic integral of the second kind E(phi=x | m=y); {where}",
        ),
    ]


def _bessel() -> list[FunctionSpec]:
    ranges = (BESSEL_ORDER, BESSEL_ARGUMENT)
    where = "order x in [0, 2], argument y in [0.5, 3] (positive, away from the singularity at 0)"
    kinds = (
        ("jv", sympy.besselj, scipy.special.jv, "Bessel function of the first kind J_x(y)"),
        ("yv", sympy.bessely, scipy.special.yv, "Bessel function of the second kind Y_x(y)"),
        ("kv", sympy.besselk, scipy.special.kv, "modified Bessel function of the second kind K_x(y)"),
        ("iv", sympy.besseli, scipy.special.iv, "modified Bessel function of the first kind I_x(y)"),
    )
    return [
        _spec(name, ranges, f(_X, _Y), fn, f"{what}; {where}" + ("; paper KAN [2,1,1]" if name == "kv" else ""))
        for name, f, fn, what in kinds
    ]


def _legendre() -> list[FunctionSpec]:
    specs = []
    for m in range(3):
        shape = "; paper KAN [2,2,1]" if m == 0 else ""
        specs.append(
            _spec(
                f"lpmv_m{m}",
                (LEGENDRE_DEGREE, LEGENDRE_ARGUMENT),
                sympy.assoc_legendre(_X, m, _Y),
                lambda x, y, m=m: scipy.special.lpmv(m, x, y),
                f"associated Legendre (Ferrers) function P_x^{m}(y) = lpmv({m}, x, y), Condon-Shortley phase; "
                f"real degree x in [0, 3], argument y in [-0.8, 0.8] (|y| <= 1, away from y = -1 where a "
                f"non-integer degree diverges){shape}",
            )
        )
    return specs


def sph_harm_real(m: int, n: int, azimuth: np.ndarray, polar: np.ndarray) -> np.ndarray:
    """Real part of the spherical harmonic ``Y_n^m`` (Condon-Shortley phase) with whichever API SciPy has.

    Parameters
    ----------
    m, n : int
        Order and degree, ``|m| <= n``.
    azimuth, polar : ndarray
        Azimuthal angle in [0, 2 pi] and polar angle in [0, pi].

    Returns
    -------
    ndarray
        ``Re Y_n^m(polar, azimuth) = N P_n^m(cos polar) cos(m azimuth)``.
    """
    if hasattr(scipy.special, "sph_harm_y"):  # SciPy >= 1.15: degree, order, polar, azimuth
        return np.real(scipy.special.sph_harm_y(n, m, polar, azimuth))
    return np.real(scipy.special.sph_harm(m, n, azimuth, polar))  # SciPy < 1.15: order, degree, azimuth, polar


def _spherical() -> list[FunctionSpec]:
    specs = []
    for m, n in ((0, 1), (1, 1), (0, 2), (1, 2), (2, 2)):
        expr = sympy.re(sympy.expand_func(sympy.Ynm(n, m, _Y, _X)))
        shape = "; paper KAN [2,1,1]" if (m, n) == (0, 1) else ""
        specs.append(
            _spec(
                f"sph_harm_{m}{n}",
                (AZIMUTH, POLAR),
                expr,
                lambda x, y, m=m, n=n: sph_harm_real(m, n, x, y),
                f"Re Y_{n}^{m}(polar y, azimuth x), the real part of sph_harm({m}, {n}, x, y); "
                f"azimuth x in [0, 2 pi], polar y in [0, pi] (finite everywhere){shape}",
            )
        )
    return specs


SPECS: tuple[FunctionSpec, ...] = (*_elliptic(), *_bessel(), *_legendre(), *_spherical())
"""The special-function FunctionSpecs, in the paper's order."""

for _function_spec in SPECS:
    register_spec(_function_spec)
