"""Physics-informed training: problems, collocation, exact KAN derivatives, the solver."""

from kansci.pde.conditions import BoundaryResidual, Data, Dirichlet, Initial, Neumann, Periodic, Robin
from kansci.pde.directional_jacobian import directional_jacobian
from kansci.pde.equation import Equation, Partials
from kansci.pde.geometry import Ball, Box, Geometry, Interval, Polygon, SpaceTime, annulus, l_shape
from kansci.pde.multiindex import directional_jets, partials
from kansci.pde.operators import divergence, gradient, laplacian, partial, second_partial
from kansci.pde.problems import (
    Problem,
    allen_cahn,
    burgers,
    heat,
    helmholtz,
    inverse_poisson,
    poisson_paper,
    poisson_sine,
)
from kansci.pde.sampling import boundary_points, initial_points, interior_points, outward_normals
from kansci.pde.solver import HardDirichlet, SolveResult, Stage, derivatives, errors, solve
from kansci.pde.taylor import Jet, jet

__all__ = [
    "Ball",
    "BoundaryResidual",
    "Data",
    "Dirichlet",
    "Equation",
    "Initial",
    "Neumann",
    "Partials",
    "Periodic",
    "Robin",
    "directional_jacobian",
    "Box",
    "Geometry",
    "HardDirichlet",
    "Interval",
    "Jet",
    "Stage",
    "allen_cahn",
    "annulus",
    "burgers",
    "heat",
    "initial_points",
    "inverse_poisson",
    "outward_normals",
    "Polygon",
    "Problem",
    "SolveResult",
    "SpaceTime",
    "boundary_points",
    "derivatives",
    "directional_jets",
    "divergence",
    "errors",
    "gradient",
    "helmholtz",
    "interior_points",
    "jet",
    "l_shape",
    "laplacian",
    "partial",
    "partials",
    "poisson_paper",
    "poisson_sine",
    "second_partial",
    "solve",
]
