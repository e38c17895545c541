"""Autograd operators on closed forms; exact KAN derivatives against autograd."""

import pytest
import torch

from kansci import KAN
from kansci.pde import divergence, gradient, jet, laplacian, partial, partials, second_partial
from tests.conftest import float64


def test_operators_on_a_closed_form_field():
    x = float64(64, 2, lo=-1.0, hi=1.0).requires_grad_()
    u = (torch.sin(torch.pi * x[:, 0]) * torch.exp(x[:, 1])).unsqueeze(1)
    sx, cx, ey = torch.sin(torch.pi * x[:, 0]), torch.cos(torch.pi * x[:, 0]), torch.exp(x[:, 1])
    expected_grad = torch.stack([torch.pi * cx * ey, sx * ey], dim=1)
    torch.testing.assert_close(gradient(u, x), expected_grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(partial(u, x, 1), (sx * ey).unsqueeze(1), rtol=1e-12, atol=1e-12)
    expected_lap = ((1 - torch.pi**2) * sx * ey).unsqueeze(1)
    torch.testing.assert_close(laplacian(u, x), expected_lap, rtol=1e-12, atol=1e-12)
    mixed = (torch.pi * cx * ey).unsqueeze(1)
    torch.testing.assert_close(second_partial(u, x, 0, 1), mixed, rtol=1e-12, atol=1e-12)
    v = torch.stack([x[:, 0] ** 2 * x[:, 1], torch.sin(x[:, 1])], dim=1)
    expected_div = (2 * x[:, 0] * x[:, 1] + torch.cos(x[:, 1])).unsqueeze(1)
    torch.testing.assert_close(divergence(v, x), expected_div, rtol=1e-12, atol=1e-12)


def test_operators_name_misuse():
    x = float64(4, 2)
    with pytest.raises(ValueError, match="requires_grad_"):
        gradient(x[:, :1] * 2, x)
    x.requires_grad_()
    with pytest.raises(ValueError, match=r"shape \(batch, 1\)"):
        gradient(x * 2, x)


@pytest.mark.parametrize(("grid", "mode"), [(5, "dense"), (60, "sparse"), (5, "polynomial"), (60, "polynomial")])
def test_jet_matches_autograd_to_1e10(grid, mode):
    model = KAN([2, 4, 3, 2], grid=grid, seed=3, dtype=torch.float64, basis_mode=mode)
    model.update_grid_(float64(300, 2, lo=-0.8, hi=0.9))  # non-uniform grids
    x = float64(50, 2, seed=7, lo=-1.2, hi=1.2).requires_grad_()  # some points off the grid
    _assert_jet_matches_autograd(model, x)


@pytest.mark.parametrize(("grid", "mode"), [(5, "dense"), (60, "sparse"), (5, "polynomial")])
def test_jet_at_fixed_points_from_kept_designs_matches_the_computed_jet(grid, mode):
    # fixed collocation points (no gradient needed): the input layer's designs are kept from the 2nd call
    model = KAN([2, 4, 1], grid=grid, seed=4, dtype=torch.float64, basis_mode=mode)
    model.update_grid_(float64(300, 2, lo=-0.8, hi=0.9))
    model.layers[0].symbolic.set(1, 2, "sin", (2.0, 0.1, 0.5, 0.2))
    x = float64(60, 2, seed=9, lo=-1.1, hi=1.1)

    def laplacian_and_grads(inp):
        model.zero_grad()
        j = jet(model, inp)
        j.laplacian().square().sum().backward()
        return [j.value, j.grad, j.second], [p.grad.clone() for p in model.parameters() if p.numel()]

    reference = laplacian_and_grads(x.clone().requires_grad_())  # never kept
    for _ in range(3):  # computed, then kept, then reused
        got = laplacian_and_grads(x)
        for a, b in zip(got[0] + got[1], reference[0] + reference[1]):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-11, atol=1e-11)
    assert any(kind == "jet" and value is not None for *_, kind, value in model.layers[0]._designs)


def test_jet_is_differentiable_in_the_parameters():
    model = KAN([2, 3, 1], grid=5, seed=1, dtype=torch.float64)
    wrapped = _JetLaplacian(model)
    x = float64(20, 2)
    names = [f"model.layers.{i}.{n}" for i in (0, 1) for n in ("coef", "scale_base", "scale_spline")]
    params = tuple(wrapped.get_parameter(n).detach().clone().requires_grad_() for n in names)

    def laplacian_of(*values):
        return torch.func.functional_call(wrapped, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(laplacian_of, params)


class _JetLaplacian(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return jet(self.model, x).laplacian()


def test_jet_through_symbolic_edges_matches_autograd_to_1e10():
    model = KAN([2, 3, 2], grid=5, seed=2, dtype=torch.float64)
    model.layers[0].symbolic.set(0, 1, "sin", (2.0, 0.1, 0.5, 0.2))
    model.layers[0].symbolic.set(1, 0, "x", (1.5, 0.2, 0.7, 0.0))  # linear: zero second derivative
    model.layers[0].symbolic.set(1, 2, "exp", (0.7, -0.2, 0.3, 0.1))
    model.layers[1].symbolic.set(1, 0, "1/x", (0.5, 3.0, 1.0, 0.0))
    model.layers[1].symbolic.set(2, 1, "0", (1.0, 0.0, 0.0, 0.4))
    x = float64(40, 2, seed=5, lo=-1.1, hi=1.1).requires_grad_()
    j = _assert_jet_matches_autograd(model, x)
    # and it trains: the Laplacian is differentiable in the affine parameters
    j.laplacian().sum().backward()
    assert torch.isfinite(model.layers[0].symbolic.affine.grad).all()
    assert float(model.layers[0].symbolic.affine.grad.abs().sum()) > 0


def _assert_jet_matches_autograd(model, x):
    """Value, gradient, pure second derivatives and Laplacian of every output against nested autograd."""
    j = jet(model, x)
    out = model(x)
    torch.testing.assert_close(j.value, out, rtol=0, atol=1e-12)
    for o in range(out.shape[1]):
        u = out[:, o : o + 1]
        torch.testing.assert_close(j.grad[:, :, o], gradient(u, x), rtol=0, atol=1e-10)
        for a in range(x.shape[1]):
            torch.testing.assert_close(j.second[:, a, o : o + 1], second_partial(u, x, a, a), rtol=0, atol=1e-10)
        torch.testing.assert_close(j.laplacian()[:, o : o + 1], laplacian(u, x), rtol=0, atol=1e-10)
    return j


@pytest.mark.parametrize(("grid", "mode"), [(5, "dense"), (60, "sparse"), (5, "polynomial")])
def test_an_empty_batch_gives_empty_values_and_derivatives(grid, mode):
    # a condition whose predicate selects no point of a draw hands the model zero rows
    model = KAN([2, 3, 1], grid=grid, seed=5, dtype=torch.float64, basis_mode=mode)
    x = torch.zeros(0, 2, dtype=torch.float64, requires_grad=True)
    u = model(x)
    u.sum().backward()
    assert u.shape == (0, 1) and x.grad.shape == (0, 2)
    assert all(int(torch.count_nonzero(p.grad)) == 0 for p in model.parameters() if p.grad is not None)
    j = jet(model, x.detach())
    assert (j.value.shape, j.grad.shape, j.second.shape) == ((0, 1), (0, 2, 1), (0, 2, 1))
    d = partials(model, x.detach(), ["xy", "xxxx", "y"], variables="xy")
    assert all(v.shape == (0, 1) for v in d.values())
