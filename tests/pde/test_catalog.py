"""The shipped equations: their exact solutions satisfy every residual and condition; small solves converge."""

import dataclasses

import pytest
import torch

from kansci import KAN
from kansci.pde import solve
from kansci.pde.catalog import EQUATIONS, biharmonic, kovasznay
from kansci.pde.conditions import Dirichlet, equation_conditions
from kansci.pde.residuals import PDEResiduals


def _soft(eq):
    """The equation with every exact Dirichlet value turned into a penalty (so the exact solution can be the model)."""
    soft = [dataclasses.replace(c, hard=False) if isinstance(c, Dirichlet) else c for c in eq.conditions]
    return dataclasses.replace(eq, conditions=soft)


@pytest.mark.parametrize("name", sorted(EQUATIONS))
def test_exact_solution_satisfies_every_row(name):
    eq = _soft(EQUATIONS[name]())
    x = eq.interior_points(64, seed=2)
    found = equation_conditions(eq, x, alpha=1.0, n_boundary=64, n_initial=32, seed=3)
    system = PDEResiduals(eq, found)
    for i, c in enumerate(found):
        rows = system._evaluate(eq.exact, i, slice(None)).detach()
        assert float(rows.abs().max()) < 1e-9, (name, c.name, float(rows.abs().max()))
    assert len(found) >= 2


def test_builders_refuse_bad_parameters():
    with pytest.raises(ValueError, match="re must be a positive"):
        kovasznay(re=-1.0)
    for name in ("kdv", "anisotropic", "wave_periodic"):
        with pytest.raises(ValueError, match="positive"):
            EQUATIONS[name](-1.0)


def test_biharmonic_plate_by_levenberg_marquardt():
    result = solve(biharmonic(), KAN([2, 5, 1], k=5, seed=0, dtype=torch.float64), opt="lm", steps=40,
                   n_interior=500, n_boundary=200, n_test=1000, progress=False)  # fmt: skip
    assert result.errors["relative_l2"] < 1e-2
