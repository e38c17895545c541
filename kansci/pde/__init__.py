"""Physics-informed training: problems, collocation, exact KAN derivatives, the solver."""

from kansci.pde.operators import divergence, gradient, laplacian, partial, second_partial
from kansci.pde.problems import Problem, helmholtz, poisson_paper, poisson_sine
from kansci.pde.sampling import boundary_points, interior_points
from kansci.pde.solver import SolveResult, derivatives, errors, solve
from kansci.pde.taylor import Jet, jet

__all__ = [
    "Jet",
    "Problem",
    "SolveResult",
    "boundary_points",
    "derivatives",
    "divergence",
    "errors",
    "gradient",
    "helmholtz",
    "interior_points",
    "jet",
    "laplacian",
    "partial",
    "poisson_paper",
    "poisson_sine",
    "second_partial",
    "solve",
]
