"""Reading a trained KAN: candidate functions, per-edge fits, snapping and formulas; compiling formulas into KANs."""

from kansci.symbolic.compile import compile_formula
from kansci.symbolic.discover import Discovery, Shape, Trial, candidate_shapes, discover
from kansci.symbolic.fit import R2_FLOOR, R2_TOLERANCE, AffineFit, fit_affine, rank, suggest
from kansci.symbolic.formula import evaluate, formula, latex, snap_constants, symbols, tidy
from kansci.symbolic.library import LIBRARY, SymbolicFunction, get, register, unregister
from kansci.symbolic.snap import EdgeChoice, auto_symbolic, edge_data, fix_symbolic, unfix
from kansci.symbolic.splines import fit_splines_, to_numeric

__all__ = [
    "LIBRARY",
    "R2_FLOOR",
    "R2_TOLERANCE",
    "AffineFit",
    "Discovery",
    "EdgeChoice",
    "Shape",
    "SymbolicFunction",
    "Trial",
    "auto_symbolic",
    "candidate_shapes",
    "compile_formula",
    "discover",
    "edge_data",
    "evaluate",
    "fit_affine",
    "fit_splines_",
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
    "to_numeric",
    "unfix",
    "unregister",
]
