"""Equations of a user's own: named derivatives, conditions, exact Dirichlet values, rows and their Jacobian."""

import math

import pytest
import torch

from kansci import KAN
from kansci.baselines import mlp
from kansci.core.least_squares import fitted_parameters
from kansci.pde import Ball, Box, Interval, SpaceTime, l_shape, solve
from kansci.pde.conditions import (
    BoundaryResidual,
    Data,
    Dirichlet,
    Initial,
    Neumann,
    Periodic,
    Robin,
    equation_conditions,
)
from kansci.pde.equation import Equation
from kansci.pde.hard import Constrained, HardConstraint
from kansci.pde.multiindex import _autograd_partials
from kansci.pde.residuals import PDEResiduals
from kansci.pde.solver import _resample


def _kan(width, seed: int = 0) -> KAN:
    model = KAN(width, grid=5, seed=seed, dtype=torch.float64)
    with torch.no_grad():  # coefficients of order one: every derivative matters
        for layer in model.layers:
            layer.coef.normal_(generator=torch.Generator().manual_seed(seed))
    return model


def _square() -> Box:
    return Box([-1.0, -1.0], [1.0, 1.0])


def _rows(eq: Equation, model, n: int = 24, seed: int = 0) -> tuple[PDEResiduals, list]:
    x = eq.interior_points(n, seed=seed)
    found = equation_conditions(eq, x, alpha=0.5, n_boundary=n, n_initial=n, seed=seed)
    return PDEResiduals(eq, found), found


def _autograd_residual(model, x, fn) -> torch.Tensor:
    """fn(derivatives by multi-index from nested autograd)."""
    return fn(lambda c: _autograd_partials(model, x, [c])[c][:, 0] if sum(c) else model(x)[:, 0]).detach()


@pytest.mark.parametrize("model", [_kan([2, 3, 1]), _kan([2, [2, 1], 1], seed=3), mlp([2, 8, 1], dtype=torch.float64)],
                         ids=["kan", "kan-mult", "mlp"])  # fmt: skip
def test_named_derivatives_reach_the_residual(model):
    # the biharmonic operator plus a mixed third derivative: five multi-indices of orders 3 and 4
    def residual(x, d):
        return d("u", "xxxx") + 2 * d("u", "xxyy") + d("u", "yyyy") + x[:, 0] * d("u", "xyy") - d("u")

    eq = Equation(_square(), residual, conditions=[Dirichlet(0.0)])
    system, found = _rows(eq, model)
    assert set(found[0].needs) == {(4, 0), (2, 2), (0, 4), (1, 2), (0, 0)}
    x = found[0].points
    got = system._evaluate(model, 0, slice(None))[:, 0]
    want = _autograd_residual(
        model, x, lambda p: p((4, 0)) + 2 * p((2, 2)) + p((0, 4)) + x[:, 0] * p((1, 2)) - p((0, 0))
    )
    scale = float(want.abs().max().clamp_min(1))
    assert torch.allclose(got, want, rtol=0, atol=1e-10 * scale)


def test_boundary_conditions_rows():
    model = _kan([2, 3, 1], seed=1)
    g = lambda x: torch.sin(x[:, 0]) + x[:, 1]  # noqa: E731
    disk = Ball([0.0, 0.0], 1.0)
    eq = Equation(disk, lambda x, d: d.laplacian("u"), conditions=[
        Dirichlet(g), Neumann(2.0), Robin(0.5, 3.0, g, where=lambda x: x[:, 1] > 0)])  # fmt: skip
    system, found = _rows(eq, model, n=20)
    names = [c.name for c in found]
    assert names == ["residual", "boundary", "neumann", "robin"]
    for i, c in enumerate(found[1:], start=1):
        x = c.points
        assert torch.allclose(x.norm(dim=1), torch.ones(20, dtype=torch.float64), atol=1e-12)
        normal = x  # the unit disk's outward normal at x
        u = model(x)[:, 0]
        grad = torch.stack([_autograd_partials(model, x, [e])[e][:, 0] for e in [(1, 0), (0, 1)]], 1)
        dn = (grad * normal).sum(1)
        want = {"boundary": u - g(x), "neumann": dn - 2.0, "robin": 0.5 * u + 3.0 * dn - g(x)}[c.name]
        assert torch.allclose(system._evaluate(model, i, slice(None))[:, 0], want, atol=1e-12)
    assert bool((found[3].points[:, 1] > 0).all())  # where= keeps the upper half


def test_initial_periodic_and_data_rows():
    model = _kan([2, 3, 2], seed=2)
    domain = SpaceTime(Interval(0.0, 2 * math.pi), 0.0, 1.0)
    observed = torch.tensor([[1.0, 0.5], [2.0, 0.25]], dtype=torch.float64)
    eq = Equation(
        domain,
        lambda x, d: [d("u", "t") - d("v", "xx"), d("v", "t") + d("u", "xx")],
        fields=("u", "v"),
        conditions=[
            Initial(lambda x: torch.sin(x[:, 0]), field="u"),
            Initial(0.5, field="v", order=1),
            Periodic("x", order=1),
            Data(observed, torch.tensor([0.1, 0.2]), field="v"),
        ],
    )
    system, found = _rows(eq, model, n=10)
    assert [c.name for c in found] == ["residual", "initial", "initial_d1t", "periodic_x", "data"]
    assert found[0].width == 2 and found[3].width == 4 and found[3].n_rows == 10
    init = found[1].points
    assert torch.allclose(init[:, 1], torch.zeros(10, dtype=torch.float64))
    rows = system._evaluate(model, 1, slice(None))[:, 0]
    assert torch.allclose(rows, model(init)[:, 0] - torch.sin(init[:, 0]), atol=1e-12)
    dt = _autograd_partials(model, found[2].points, [(0, 1)])[(0, 1)][:, 1]
    assert torch.allclose(system._evaluate(model, 2, slice(None))[:, 0], dt - 0.5, atol=1e-12)
    pairs = found[3].points
    low, high = pairs[:10], pairs[10:]
    assert torch.allclose(low[:, 0], torch.zeros(10, dtype=torch.float64))
    assert torch.allclose(high[:, 0], torch.full((10,), 2 * math.pi, dtype=torch.float64))
    assert torch.equal(low[:, 1], high[:, 1])
    u_x = lambda x: _autograd_partials(model, x, [(1, 0)])[(1, 0)]  # noqa: E731
    want = torch.cat([model(low) - model(high), u_x(low) - u_x(high)], 1)[:, [0, 2, 1, 3]]  # u, u_x, v, v_x
    assert torch.allclose(system._evaluate(model, 3, slice(None)), want, atol=1e-12)
    misfit = model(observed)[:, 1] - torch.tensor([0.1, 0.2], dtype=torch.float64)
    assert torch.allclose(system._evaluate(model, 4, slice(None))[:, 0], misfit)
    # a slice of a paired condition's rows takes both halves of those pairs
    part = system._evaluate(model, 3, slice(2, 5))
    assert torch.allclose(part, want[2:5], atol=1e-12)


def test_a_periodic_field_has_zero_periodic_rows():
    net = lambda x: torch.stack([torch.sin(x[:, 0]) * x[:, 1], torch.cos(2 * x[:, 0])], 1)  # noqa: E731
    eq = Equation(Box([0.0, 0.0], [math.pi, 1.0]), lambda x, d: d("u", "xx"), fields=("u", "v"),
                  conditions=[Periodic("x", fields=("v",), order=3)])  # fmt: skip
    system, found = _rows(eq, net, n=12)
    assert float(system._evaluate(net, 1, slice(None)).abs().max()) < 1e-12


def test_exact_dirichlet_values_compose_to_the_constrained_models_derivatives():
    domain = _square() - Ball([0.3, 0.2], 0.25)  # a plate with a hole: the product of smooth distances
    g = lambda x: torch.cos(x[:, 0]) * x[:, 1]  # noqa: E731
    eq = Equation(domain, lambda x, d: d("u", "xxyy") + d("u", "xyy") + d("u", "x") + d("u"),
                  conditions=[Dirichlet(g, hard=True)])  # fmt: skip
    net = _kan([2, 3, 1], seed=4)
    system, found = _rows(eq, net)
    assert [c.name for c in found] == ["residual"]
    hard = HardConstraint(eq)
    solution = Constrained(net, hard)
    x = found[0].points
    want = _autograd_residual(solution, x, lambda p: p((2, 2)) + p((1, 2)) + p((1, 0)) + p((0, 0)))
    got = system._evaluate(net, 0, slice(None))[:, 0]
    assert torch.allclose(got, want, rtol=0, atol=1e-10 * float(want.abs().max().clamp_min(1)))
    # on the boundary the solution is g, whatever the network
    xb, _ = domain.boundary_points(50, seed=1)
    assert torch.allclose(solution(xb)[:, 0], g(xb), atol=1e-12)


def test_errors_name_the_fix():
    square = _square()
    laplace = lambda x, d: d.laplacian("u")  # noqa: E731
    with pytest.raises(ValueError, match="unknown field 'w'"):
        Equation(square, laplace, conditions=[Dirichlet(0.0, field="w")])
    with pytest.raises(ValueError, match="SpaceTime"):
        Equation(square, laplace, conditions=[Initial(0.0)])
    with pytest.raises(ValueError, match="box"):
        Equation(Ball([0.0, 0.0], 1.0), laplace, conditions=[Periodic("x")])
    with pytest.raises(ValueError, match="no smooth distance"):
        Equation(l_shape(), laplace, conditions=[Dirichlet(0.0, hard=True)])
    with pytest.raises(ValueError, match="drop where="):
        Equation(square, laplace, conditions=[Dirichlet(0.0, hard=True, where=lambda x: x[:, 0] > 0)])
    with pytest.raises(ValueError, match="not both zero"):
        Equation(square, laplace, conditions=[Robin(0.0, 0.0)])
    with pytest.raises(TypeError, match="kansci.pde.conditions"):
        Equation(square, laplace, conditions=[lambda x: x])
    with pytest.raises(ValueError, match="variables"):
        Equation(square, laplace, variables="xyz")
    with pytest.raises(ValueError, match="not among the variables"):
        Equation(square, lambda x, d: d("u", "xz"), conditions=[Dirichlet()]).check(square.interior_points(4))
    eq = Equation(square, laplace, conditions=[Dirichlet()], exact=lambda x: x)
    with pytest.raises(ValueError, match="exact must return"):
        eq.exact(square.interior_points(4))
    with pytest.raises(ValueError, match="hard=True"):
        solve(eq, KAN([2, 3, 1], dtype=torch.float64), steps=1, hard_boundary=True, n_interior=8, n_boundary=8)


def test_solve_a_manufactured_poisson_problem_on_a_disk():
    """-Laplace u = f on the unit disk, u = (1 - r^2) cos(x + y) vanishes on the circle: exact Dirichlet values."""

    def exact(x):
        return (1 - x.square().sum(1)) * torch.cos(x[:, 0] + x[:, 1])

    def source(x):  # -Laplace of exact, by hand
        r2, s = x.square().sum(1), x[:, 0] + x[:, 1]
        return 4 * torch.cos(s) - 4 * s * torch.sin(s) + 2 * (1 - r2) * torch.cos(s)

    eq = Equation(Ball([0.0, 0.0], 1.0), lambda x, d: -d.laplacian("u") - source(x),
                  conditions=[Dirichlet(0.0, hard=True)], exact=exact)  # fmt: skip
    result = solve(eq, KAN([2, 5, 1], seed=0, dtype=torch.float64), opt="lbfgs", steps=60, n_interior=600,
                   n_test=500, progress=False)  # fmt: skip
    assert isinstance(result.model, Constrained)
    assert result.errors["relative_l2"] < 1e-3
    xb, _ = Ball([0.0, 0.0], 1.0).boundary_points(40)
    assert float(result.model(xb).detach().abs().max()) < 1e-12


def _autograd_jacobian(system: PDEResiduals, model, rows: slice) -> tuple[torch.Tensor, dict]:
    r = system.residuals(model, rows)
    params = list(fitted_parameters(model))
    rows_of = [torch.autograd.grad(r[k], params, retain_graph=True, allow_unused=True) for k in range(r.numel())]
    blocks = {
        p: torch.stack([torch.zeros_like(p) if g[j] is None else g[j] for g in rows_of]) for j, p in enumerate(params)
    }
    return r.detach(), blocks


@pytest.mark.parametrize(
    "model",
    [_kan([2, 3, 1], seed=5), _kan([2, [1, 2], [0, 1]], seed=6), mlp([2, 6, 1], dtype=torch.float64)],
    ids=["kan", "kan-mult", "mlp"],
)
@pytest.mark.parametrize("hard", [False, True], ids=["penalty", "exact"])
def test_jacobian_of_the_rows_matches_autograd(model, hard):
    box = Box([0.0, -1.0], [1.0, 1.0])
    eq = Equation(
        box,
        lambda x, d: [d("u", "xxxx") + d("u", "xyy") * d("u"), torch.sin(d("u", "xy")) - x[:, 1]],
        conditions=[
            Dirichlet(lambda x: x[:, 0] ** 2, hard=hard),
            Neumann(1.0, where=lambda x: x[:, 0] > 0.5, n=6),
            Periodic("y", order=2, n=5),
            Data(torch.tensor([[0.5, 0.5], [0.25, -0.5]]), torch.tensor([1.0, 2.0])),
        ],
    )
    system, found = _rows(eq, model, n=7)
    assert system.has_jacobian(model)
    for rows in (slice(None), slice(3, 16)):  # a chunk that cuts the residual and the periodic rows
        r, blocks = system.jacobian(model, rows)
        r_ref, ref = _autograd_jacobian(system, model, rows)
        assert torch.allclose(r, r_ref, atol=1e-12)
        for p, b in ref.items():
            scale = float(b.abs().max().clamp_min(1))
            assert torch.allclose(blocks[p], b, rtol=0, atol=1e-10 * scale)


def test_levenberg_marquardt_solves_the_biharmonic_plate():
    """u_xxxx + 2 u_xxyy + u_yyyy = f on [0, 1]^2, u = sin(pi x) sin(pi y): u and Laplace(u) vanish on the edges."""
    pi = math.pi

    def exact(x):
        return torch.sin(pi * x[:, 0]) * torch.sin(pi * x[:, 1])

    eq = Equation(
        Box([0.0, 0.0], [1.0, 1.0]),
        lambda x, d: d("u", "xxxx") + 2 * d("u", "xxyy") + d("u", "yyyy") - 4 * pi**4 * exact(x),
        conditions=[Dirichlet(0.0, hard=True), BoundaryResidual(lambda x, d, n: d.laplacian("u"))],
        exact=exact,
        alpha=1 / (4 * pi**4) ** 2,
    )
    result = solve(eq, KAN([2, 5, 1], k=5, seed=0, dtype=torch.float64), opt="lm", steps=40, n_interior=400,
                   n_boundary=200, n_test=500, progress=False)  # fmt: skip
    assert result.errors["relative_l2"] < 1e-3


def test_residual_based_resampling_on_an_equation_adds_its_worst_points():
    disk = Ball([0.0, 0.0], 1.0)
    eq = Equation(disk, lambda x, d: [d.laplacian("u"), 10 * d("u", "x")], conditions=[Dirichlet(1.0, hard=True)])
    net = _kan([2, 3, 1], seed=7)
    x = eq.interior_points(40, seed=1)
    system = PDEResiduals(eq, equation_conditions(eq, x, alpha=1.0, n_boundary=8, n_initial=8))
    grown = _resample(system, net, x, 20, seed=3)
    assert torch.equal(grown[:40], x) and grown.shape == (60, 2)
    pool = eq.interior_points(200, "uniform", seed=3)  # the pool: 10 * count points
    u = Constrained(net, HardConstraint(eq))
    worst = torch.maximum(_autograd_residual(u, pool, lambda p: p((2, 0)) + p((0, 2))).abs(),
                          _autograd_residual(u, pool, lambda p: 10 * p((1, 0))).abs())  # fmt: skip
    assert torch.allclose(grown[40:], pool[worst.topk(20).indices])
    result = solve(eq, net, steps=4, resample_every=2, resample_count=30, n_interior=200, progress=False)
    assert result.points.shape == (230, 2)
