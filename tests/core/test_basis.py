"""B-spline kernels: partition of unity, scipy agreement, derivatives, edge cases."""

import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

from kansci.core.basis import BasisTable, bspline_basis, extend_grid, local_basis
from tests.conftest import float64


def _scipy_basis(knots: np.ndarray, k: int, x: np.ndarray, derivative: int) -> np.ndarray:
    cols = []
    for i in range(len(knots) - k - 1):
        b = BSpline.basis_element(knots[i : i + k + 2], extrapolate=False)
        if derivative:
            b = b.derivative(derivative)
        cols.append(np.nan_to_num(b(x)))
    return np.stack(cols, axis=1)


def _nonuniform_grid(n_in: int, intervals: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    steps = 0.2 + torch.rand(n_in, intervals, generator=gen, dtype=torch.float64)
    return torch.cat([torch.full((n_in, 1), -1.0, dtype=torch.float64), steps.cumsum(1) - 1.0], dim=1)


@pytest.mark.parametrize(("k", "derivative"), [(k, d) for k in (1, 2, 3, 4) for d in range(min(k, 2) + 1)])
def test_matches_scipy_on_nonuniform_grids(k, derivative):
    grid = _nonuniform_grid(3, 7, seed=k)
    knots = extend_grid(grid, k)
    x = float64(400, 3, seed=1, lo=-3.0, hi=9.0)
    ours = bspline_basis(x, knots, k, derivative)
    for i in range(3):
        ref = _scipy_basis(knots[i].numpy(), k, x[:, i].numpy(), derivative)
        np.testing.assert_allclose(ours[:, i].numpy(), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("intervals", [7, 200])
def test_uniform_grid_fast_path_matches_scipy(dtype, intervals):
    grid = torch.linspace(-1, 1, intervals + 1, dtype=dtype).expand(2, -1)
    knots = extend_grid(grid, 3)
    assert BasisTable.build(knots, 3).uniform is not None  # located by arithmetic, not search
    x = float64(500, 2, lo=-2.5, hi=2.5)
    x[:8, 0] = knots[0, :8].double()  # exactly on knots
    ours = bspline_basis(x.to(dtype), knots, 3)
    ref = _scipy_basis(knots[0].double().numpy(), 3, x[:, 0].to(dtype).double().numpy(), 0)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    np.testing.assert_allclose(ours[:, 0].double().numpy(), ref, rtol=0, atol=tol)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_partition_of_unity_inside_grid(k):
    grid = _nonuniform_grid(2, 9)
    x = grid[:, 0] + (grid[:, -1] - grid[:, 0]) * float64(1000, 2, lo=0.0, hi=1.0 - 1e-12)
    total = bspline_basis(x, extend_grid(grid, k), k).sum(-1)
    torch.testing.assert_close(total, torch.ones_like(total), rtol=0, atol=1e-13)


def test_zero_outside_extended_grid_and_finite_everywhere():
    grid = torch.linspace(-1, 1, 6, dtype=torch.float64).expand(1, -1)
    knots = extend_grid(grid, 3)
    x = torch.tensor([[-1e30], [-5.0], [knots[0, -1].item()], [7.0], [1e30]], dtype=torch.float64)
    basis = bspline_basis(x, knots, 3)
    assert torch.equal(basis, torch.zeros_like(basis))


def test_derivative_above_order_is_zero():
    knots = extend_grid(_nonuniform_grid(2, 5), 1)
    out = bspline_basis(float64(30, 2), knots, 1, 2)
    assert torch.equal(out, torch.zeros_like(out))


def test_repeated_knots_give_finite_values():
    grid = torch.tensor([[-1.0, 0.0, 0.0, 0.0, 1.0]], dtype=torch.float64)
    x = float64(200, 1)
    basis = bspline_basis(x, extend_grid(grid, 3), 3, 1)
    assert torch.isfinite(basis).all()


@pytest.mark.parametrize("derivative", [0, 1])
def test_analytic_derivative_matches_autograd(derivative):
    k = 3
    knots = extend_grid(_nonuniform_grid(2, 6), k)
    x = float64(50, 2, seed=3, lo=-1.5, hi=5.0).requires_grad_()
    values = bspline_basis(x, knots, k, derivative)
    weights = float64(*values.shape[1:], seed=4)
    (grad,) = torch.autograd.grad((values * weights).sum(), x)
    expected = (bspline_basis(x.detach(), knots, k, derivative + 1) * weights).sum(-1)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-12)


def test_local_basis_gradcheck_to_second_order():
    table = BasisTable.build(extend_grid(_nonuniform_grid(2, 5), 3), 3)
    x = float64(20, 2, seed=5).requires_grad_()
    torch.autograd.gradcheck(lambda t: local_basis(t, table)[0], (x,))
    torch.autograd.gradgradcheck(lambda t: local_basis(t, table)[0], (x,))


def test_local_values_are_only_the_nonzero_bases():
    k = 3
    knots = extend_grid(_nonuniform_grid(1, 12), k)
    x = float64(300, 1, lo=-1.0, hi=1.0)
    dense = bspline_basis(x, knots, k)
    values, _ = local_basis(x, BasisTable.build(knots, k))
    torch.testing.assert_close(values.sum(-1), dense.sum(-1), rtol=0, atol=1e-14)
    assert (dense > 0).sum(-1).max() <= k + 1


def test_several_orders_at_once_match_single_orders_and_differentiate():
    from kansci.core.basis import local_bases

    table = BasisTable.build(extend_grid(_nonuniform_grid(2, 6), 3), 3)
    x = float64(30, 2, seed=8, lo=-1.3, hi=1.3).requires_grad_()
    together, _ = local_bases(x, table, (0, 1, 2))
    for order, values in enumerate(together):
        torch.testing.assert_close(values, local_basis(x, table, order)[0], rtol=0, atol=1e-13)
    weights = float64(3, 2, 4, seed=9)

    def combined(t):
        outs, _ = local_bases(t, table, (0, 1, 2))
        return sum((o * w).sum(-1) for o, w in zip(outs, weights))

    torch.autograd.gradcheck(combined, (x,))
    torch.autograd.gradgradcheck(combined, (x,))
