"""kansci: scientific discovery with Kolmogorov-Arnold Networks."""

import logging

from kansci.core import (
    KAN,
    History,
    KANConfig,
    KANLayer,
    edge_scores,
    fit,
    load,
    node_scores,
    prune,
    rmse,
    save,
)
from kansci.datasets import Dataset

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())  # the caller decides where logs go

__all__ = [
    "KAN",
    "Dataset",
    "History",
    "KANConfig",
    "KANLayer",
    "KANRegressor",
    "edge_scores",
    "fit",
    "load",
    "node_scores",
    "prune",
    "rmse",
    "discover",
    "save",
]


def __getattr__(name: str):
    if name == "KANRegressor":  # needs scikit-learn, imported only when asked for
        from kansci.estimator import KANRegressor

        return KANRegressor
    if name == "discover":  # the formula pipeline pulls in sympy and the symbolic library, imported when asked for
        from kansci.symbolic.discover import discover

        return discover
    raise AttributeError(f"module 'kansci' has no attribute {name!r}")
