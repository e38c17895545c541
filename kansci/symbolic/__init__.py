"""Reading a trained KAN: candidate functions, per-edge fits, snapping and formulas."""

from kansci.symbolic.fit import R2_FLOOR, AffineFit, fit_affine, suggest
from kansci.symbolic.formula import evaluate, formula, latex, snap_constants, symbols, tidy
from kansci.symbolic.library import LIBRARY, SymbolicFunction, get, register, unregister
from kansci.symbolic.snap import EdgeChoice, auto_symbolic, edge_data, fix_symbolic, unfix

__all__ = [
    "LIBRARY",
    "R2_FLOOR",
    "AffineFit",
    "EdgeChoice",
    "SymbolicFunction",
    "auto_symbolic",
    "edge_data",
    "evaluate",
    "fit_affine",
    "fix_symbolic",
    "formula",
    "get",
    "latex",
    "register",
    "snap_constants",
    "suggest",
    "symbols",
    "tidy",
    "unfix",
    "unregister",
]
