"""The five toy functions of the KAN paper (Liu et al. 2024, §3.1), every input uniform on [-1, 1].

=========================  ================================================  ==============
name                       formula                                           KAN shape
=========================  ================================================  ==============
``toy/bessel_j0``          J0(20 x)                                          [1, 1]
``toy/exp_sin``            exp(sin(pi x) + y^2)                              [2, 1, 1]
``toy/xy``                 x y                                               [2, 2, 1]
``toy/exp_mean_sin2_100``  exp(mean_i sin^2(pi x_i / 2)), i = 1..100         [100, 1, 1]
``toy/exp_sin_4``          exp(0.5 (sin(pi (x_1^2 + x_2^2))                  [4, 4, 2, 1]
                           + sin(pi (x_3^2 + x_4^2))))
=========================  ================================================  ==============

Inputs are named ``x`` (and ``y``) for one or two variables, ``x_1, x_2, ...``
otherwise; the output is ``f``.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import sympy

from kansci.datasets.registry import FunctionSpec, register_spec

__all__ = ["SPECS"]

_UNIT = (-1.0, 1.0)


def _symbols(names: tuple[str, ...]) -> list[sympy.Symbol]:
    return [sympy.Symbol(n, real=True) for n in names]


def _numbered(n: int) -> tuple[str, ...]:
    return tuple(f"x_{i}" for i in range(1, n + 1))


def _bessel_j0() -> FunctionSpec:
    (x,) = _symbols(("x",))
    return FunctionSpec(
        name="toy/bessel_j0",
        variables=("x",),
        ranges=(_UNIT,),
        expr=sympy.besselj(0, 20 * x),
        fn=lambda x: scipy.special.j0(20.0 * x),
        output="f",
        description="J0(20x), Bessel function of the first kind (paper §3.1, KAN [1,1])",
    )


def _exp_sin() -> FunctionSpec:
    x, y = _symbols(("x", "y"))
    return FunctionSpec(
        name="toy/exp_sin",
        variables=("x", "y"),
        ranges=(_UNIT, _UNIT),
        expr=sympy.exp(sympy.sin(sympy.pi * x) + y**2),
        output="f",
        description="exp(sin(pi x) + y^2) (paper §3.1, KAN [2,1,1])",
    )


def _xy() -> FunctionSpec:
    x, y = _symbols(("x", "y"))
    return FunctionSpec(
        name="toy/xy",
        variables=("x", "y"),
        ranges=(_UNIT, _UNIT),
        expr=x * y,
        output="f",
        description="x y (paper §3.1, KAN [2,2,1])",
    )


def _mean_sin2_numpy(*columns: np.ndarray) -> np.ndarray:
    x = np.stack(columns)
    return np.exp(np.mean(np.sin(0.5 * np.pi * x) ** 2, axis=0))


def _exp_mean_sin2_100() -> FunctionSpec:
    names = _numbered(100)
    terms = [sympy.sin(sympy.pi * xi / 2) ** 2 / len(names) for xi in _symbols(names)]  # 1/100 inside: faster
    return FunctionSpec(
        name="toy/exp_mean_sin2_100",
        variables=names,
        ranges=(_UNIT,) * len(names),
        expr=sympy.exp(sympy.Add(*terms)),
        fn=_mean_sin2_numpy,
        output="f",
        description="exp(mean of sin^2(pi x_i/2) over 100 inputs) (paper §3.1, KAN [100,1,1])",
    )


def _exp_sin_4() -> FunctionSpec:
    names = _numbered(4)
    x1, x2, x3, x4 = _symbols(names)
    pi = sympy.pi
    return FunctionSpec(
        name="toy/exp_sin_4",
        variables=names,
        ranges=(_UNIT,) * 4,
        expr=sympy.exp((sympy.sin(pi * (x1**2 + x2**2)) + sympy.sin(pi * (x3**2 + x4**2))) / 2),
        output="f",
        description="exp(0.5 (sin(pi(x_1^2+x_2^2)) + sin(pi(x_3^2+x_4^2)))) (paper §3.1, KAN [4,4,2,1])",
    )


SPECS: tuple[FunctionSpec, ...] = (_bessel_j0(), _exp_sin(), _xy(), _exp_mean_sin2_100(), _exp_sin_4())
"""The toy FunctionSpecs, in the paper's order."""

for _spec in SPECS:
    register_spec(_spec)
