"""Reading a trained KAN: candidate functions and per-edge affine fits ``c*f(a*x+b)+d``."""

from kansci.symbolic.fit import R2_FLOOR, AffineFit, fit_affine, suggest
from kansci.symbolic.library import LIBRARY, SymbolicFunction, get, register, unregister

__all__ = [
    "LIBRARY",
    "R2_FLOOR",
    "AffineFit",
    "SymbolicFunction",
    "fit_affine",
    "get",
    "register",
    "suggest",
    "unregister",
]
