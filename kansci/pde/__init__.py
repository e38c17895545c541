"""Physics-informed training: differential operators and exact KAN derivatives."""

from kansci.pde.operators import divergence, gradient, laplacian, partial, second_partial
from kansci.pde.taylor import Jet, jet

__all__ = ["Jet", "divergence", "gradient", "jet", "laplacian", "partial", "second_partial"]
