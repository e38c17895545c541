"""Reading a trained KAN: candidate functions, per-edge fits, snapping and formulas."""

from kansci.symbolic.fit import R2_FLOOR, R2_TOLERANCE, AffineFit, fit_affine, rank, suggest
from kansci.symbolic.formula import evaluate, formula, latex, snap_constants, symbols, tidy
from kansci.symbolic.library import LIBRARY, SymbolicFunction, get, register, unregister
from kansci.symbolic.snap import EdgeChoice, auto_symbolic, edge_data, fix_symbolic, unfix

__all__ = [
    "LIBRARY",
    "R2_FLOOR",
    "R2_TOLERANCE",
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
    "rank",
    "register",
    "snap_constants",
    "suggest",
    "symbols",
    "tidy",
    "unfix",
    "unregister",
]
