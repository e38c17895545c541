"""PDE losses as residual vectors: their sum of squares is the loss, and their Jacobian matches autograd."""

import pytest
import torch

from kansci import KAN
from kansci.baselines import mlp
from kansci.core.least_squares import fitted_parameters
from kansci.pde import (
    Problem,
    allen_cahn,
    burgers,
    heat,
    helmholtz,
    interior_points,
    inverse_poisson,
    poisson_paper,
    poisson_sine,
)
from kansci.pde.jet_jacobian import jet_jacobian
from kansci.pde.residuals import PDEResiduals, conditions
from kansci.pde.taylor import jet


def _with_neumann() -> Problem:
    base = poisson_sine()

    def neumann(x):
        return torch.sin(3 * x[:, :1]) * torch.cos(x[:, 1:])

    return Problem("neumann", base.lower, base.upper, base.residual, base.boundary, base.exact, neumann=neumann)


PROBLEMS = {
    "poisson_paper": poisson_paper,
    "poisson_sine": poisson_sine,
    "helmholtz": helmholtz,
    "heat": heat,
    "burgers": burgers,  # its reference solution takes about 4 s, once per process
    "allen_cahn": allen_cahn,
    "inverse_poisson": lambda: inverse_poisson(noise=0.1, n_side=6),
    "neumann": _with_neumann,
}


def _system(problem: Problem, hard: bool, seed: int = 0, exact: bool = True) -> PDEResiduals:
    x = interior_points(problem, 30, "random", seed=seed)
    found = conditions(problem, x, alpha=0.3, n_boundary=12, n_initial=10, hard_boundary=hard, seed=seed)
    return PDEResiduals(problem, found, hard_boundary=hard, exact_derivatives=exact)


def _autograd_jacobian(system: PDEResiduals, model) -> torch.Tensor:
    """Row by row: one backward pass per residual entry, the reference."""
    params = fitted_parameters(model)
    r = system.residuals(model, slice(None))
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(v, params, retain_graph=True)]) for v in r]
    return r.detach(), torch.stack(rows)


def _closed_form(system: PDEResiduals, model, rows: slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
    r, blocks = system.jacobian(model, rows)
    return r, torch.cat([blocks[p].reshape(r.numel(), -1) for p in fitted_parameters(model)], 1)


def _assert_matches_autograd(system: PDEResiduals, model) -> None:
    """The system's Jacobian against row-by-row autograd: residuals to 1e-12, entries to 1e-10 of the largest."""
    r_ref, j_ref = _autograd_jacobian(system, model)
    r, j = _closed_form(system, model)
    torch.testing.assert_close(r, r_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(j, j_ref, rtol=0, atol=1e-10 * max(1.0, float(j_ref.abs().max())))


CASES = [(name, hard) for name in PROBLEMS for hard in (False, True) if not (hard and name in ("inverse_poisson",))]


@pytest.mark.parametrize("name,hard", CASES)
def test_closed_form_jacobian_matches_autograd_on_every_shipped_problem(name, hard):
    problem = PROBLEMS[name]()
    model = KAN([problem.dim, 3, 2, problem.n_fields], grid=4, seed=1, dtype=torch.float64)
    system = _system(problem, hard)
    assert system.has_jacobian(model)
    _assert_matches_autograd(system, model)


def test_rows_in_chunks_across_conditions_give_the_whole_jacobian():
    problem = heat()  # interior, boundary and initial conditions, stacked
    model = KAN([2, 4, 1], grid=5, seed=3, dtype=torch.float64)
    system = _system(problem, hard=False)
    r, j = _closed_form(system, model)
    pieces = [_closed_form(system, model, slice(s, s + 7)) for s in range(0, system.n_rows, 7)]
    torch.testing.assert_close(torch.cat([p[0] for p in pieces]), r, rtol=0, atol=1e-14)
    torch.testing.assert_close(torch.cat([p[1] for p in pieces]), j, rtol=0, atol=1e-14)
    for s in range(0, system.n_rows, 7):  # the plain residuals of a slice are the same rows
        torch.testing.assert_close(system.residuals(model, slice(s, s + 7)).detach(), r[s : s + 7], rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", ["poisson_paper", "heat", "inverse_poisson", "neumann"])
def test_sum_of_squares_is_the_weighted_loss_and_parts_are_unweighted_means(name):
    problem = PROBLEMS[name]()
    model = KAN([problem.dim, 4, problem.n_fields], grid=5, seed=2, dtype=torch.float64)
    system = _system(problem, hard=False)
    total, parts = system(model)
    total, r = total.detach(), system.residuals(model, slice(None)).detach()
    assert float(r.square().sum()) == pytest.approx(float(total), rel=1e-12)
    weights = {c.name: c.weight for c in system.conditions}
    assert float(total) == pytest.approx(sum(weights[k] * float(v) for k, v in parts.items()), rel=1e-12)
    assert weights["residual"] == 0.3 and all(w == 1.0 for k, w in weights.items() if k != "residual")


def test_jet_jacobian_of_a_deep_kan_with_a_pruned_edge():
    model = KAN([2, 4, 3, 1], grid=6, seed=4, dtype=torch.float64)
    with torch.no_grad():
        model.layers[1].mask[2, 1] = 0.0
    x = torch.rand(25, 2, dtype=torch.float64) * 2 - 1

    def head(u, du, d2u):  # nonlinear in all three: a Burgers-like residual and a second component
        return torch.cat([du[:, 1] + u * du[:, 0] - 0.1 * d2u[:, 0], d2u.sum(1) * u], 1)

    r, blocks = jet_jacobian(model, x, head)
    j = jet(model, x)
    ref = head(j.value, j.grad, j.second)
    params = [p for layer in model.layers for p in (layer.coef, layer.scale_base)]
    for b in range(0, 25, 4):
        for c in range(2):
            grads = torch.autograd.grad(ref[b, c], params, retain_graph=True)
            for p, g in zip(params, grads):
                torch.testing.assert_close(blocks[p][b, c], g, rtol=0, atol=1e-11)
    torch.testing.assert_close(r, ref.detach(), rtol=0, atol=1e-13)


@pytest.mark.parametrize("name,hard", [("poisson_paper", True), ("heat", False), ("neumann", False)])
def test_mlp_residual_jacobian_by_torch_func_matches_autograd(name, hard):
    problem = PROBLEMS[name]()
    model = mlp([problem.dim, 6, 5, 1], "tanh", seed=0, dtype=torch.float64)
    system = _system(problem, hard=hard)
    assert system.has_jacobian(model)
    _assert_matches_autograd(system, model)


def test_a_kan_without_exact_derivatives_falls_back_to_batched_backward_passes():
    problem = poisson_sine()
    model = KAN([2, 3, 1], grid=4, seed=0, dtype=torch.float64)
    system = _system(problem, hard=True, exact=False)
    assert not system.has_jacobian(model)
    r = system.residuals(model, slice(None))
    assert r.requires_grad and r.shape == (30,)


def test_jet_jacobian_refuses_symbolic_edges_and_a_bad_head():
    model = KAN([2, 2, 1], grid=4, seed=0, dtype=torch.float64)
    x = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        jet_jacobian(model, x, lambda u, du, d2u: u[:, 0])
    model.layers[0].symbolic.set(0, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="symbolic"):
        jet_jacobian(model, x, lambda u, du, d2u: u)
