"""The KAN itself: bases, grids, layers, models, training, saving."""

from kansci.core.basis import bspline_basis, extend_grid, local_basis
from kansci.core.io import load, save
from kansci.core.layer import KANLayer
from kansci.core.least_squares import DataResiduals, LeastSquares
from kansci.core.model import KAN, KANConfig
from kansci.core.prune import edge_scores, node_scores, prune
from kansci.core.regularize import sparsity_penalty
from kansci.core.train import History, fit, rmse

__all__ = [
    "KAN",
    "DataResiduals",
    "History",
    "KANConfig",
    "KANLayer",
    "LeastSquares",
    "bspline_basis",
    "edge_scores",
    "extend_grid",
    "fit",
    "load",
    "local_basis",
    "node_scores",
    "prune",
    "rmse",
    "save",
    "sparsity_penalty",
]
