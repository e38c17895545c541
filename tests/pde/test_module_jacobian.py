"""Per-point residual Jacobians of any module by torch.func: they match autograd entry by entry."""

import pytest
import torch
from torch import Tensor, nn

from kansci.baselines import mlp
from kansci.core.least_squares import fitted_parameters
from kansci.pde import Problem, interior_points, poisson_sine
from kansci.pde.derivatives import autograd_derivatives
from kansci.pde.module_jacobian import module_jacobian
from kansci.pde.residuals import PDEResiduals, conditions

DTYPE = torch.float64


def _points(n: int = 7, dim: int = 2, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, dim, generator=generator, dtype=DTYPE) * 2 - 1


def _reference(model: nn.Module, x: Tensor, head) -> tuple[Tensor, dict[Tensor, Tensor]]:
    """The residuals and one ``torch.autograd.grad`` per residual entry, over nested-autograd derivatives."""
    params = fitted_parameters(model)
    with torch.enable_grad():
        r = head(*autograd_derivatives(model, x))
        rows = [[] for _ in params]
        for b in range(r.shape[0]):
            for k in range(r.shape[1]):
                grads = torch.autograd.grad(r[b, k], params, retain_graph=True, allow_unused=True)
                for found, g, p in zip(rows, grads, params):
                    found.append(torch.zeros_like(p) if g is None else g)
    return r.detach(), {p: torch.stack(g).reshape(*r.shape, *p.shape) for p, g in zip(params, rows)}


def _assert_matches(model: nn.Module, x: Tensor, head, **kwargs) -> None:
    r, blocks = module_jacobian(model, x, head, **kwargs)
    expected_r, expected = _reference(model, x, head)
    assert r.dtype == DTYPE and not r.requires_grad
    torch.testing.assert_close(r, expected_r, atol=1e-10, rtol=0)
    assert list(blocks) == list(expected)
    for p, block in blocks.items():
        assert block.shape == (*r.shape, *p.shape) and not block.requires_grad
        torch.testing.assert_close(block, expected[p], atol=1e-10, rtol=0)


def test_poisson_head_capturing_the_points():
    x = _points()
    net = mlp([2, 6, 5, 1], dtype=DTYPE, seed=1)
    _assert_matches(net, x, lambda u, du, d2u: d2u.sum(1) - torch.sin(x).prod(1, keepdim=True))


def test_nonlinear_head_with_two_components_in_chunks():
    x = _points(seed=2)
    net = mlp([2, 6, 5, 1], dtype=DTYPE, seed=3)

    def burgers(u: Tensor, du: Tensor, d2u: Tensor) -> Tensor:
        return torch.cat([du[:, 1] + u * du[:, 0] - 0.1 * d2u[:, 0], u**2], 1)

    _assert_matches(net, x, burgers)
    _assert_matches(net, x, burgers, chunk=3)


def test_two_outputs_in_three_dimensions():
    x = _points(dim=3, seed=4)
    net = mlp([3, 6, 5, 2], dtype=DTYPE, seed=5)

    def coupled(u: Tensor, du: Tensor, d2u: Tensor) -> Tensor:
        first = d2u[:, :, 0].sum(1, keepdim=True) + u[:, 1:] * du[:, 2, :1]
        return torch.cat([first, u[:, :1] * u[:, 1:] - x[:, :1], d2u[:, 1, 1:] ** 2], 1)

    _assert_matches(net, x, coupled, chunk=2)


def test_pde_residual_rows_with_captured_data():
    """With the heads :class:`PDEResiduals` builds (points, targets and normals sliced outside), as batched autograd."""
    base = poisson_sine()

    def neumann(x: Tensor) -> Tensor:
        return torch.sin(3 * x[:, :1]) * torch.cos(x[:, 1:])

    problem = Problem("neumann", base.lower, base.upper, base.residual, base.boundary, base.exact, neumann=neumann)
    x = interior_points(problem, 9, "random", seed=0)
    system = PDEResiduals(problem, conditions(problem, x, alpha=0.3, n_boundary=4, n_initial=4))
    net = mlp([2, 5, 4, 1], dtype=DTYPE, seed=6)
    params = fitted_parameters(net)
    rows, columns = [], []
    for i, local in system._pieces(slice(None)):
        c, points, data, _ = system._setup(i, local)

        def head(u: Tensor, du: Tensor, d2u: Tensor, c=c, points=points, data=data) -> Tensor:
            return c.residual(points, u, du, d2u, *data) * c.scale

        r, blocks = module_jacobian(net, points, head)
        rows.append(r.reshape(-1))
        columns.append(torch.cat([blocks[p].reshape(r.numel(), -1) for p in params], 1))
    with torch.enable_grad():
        r = system.residuals(net, slice(None))
        eye = torch.eye(r.numel(), dtype=DTYPE)
        grads = torch.autograd.grad(r, params, eye, is_grads_batched=True, allow_unused=True)
    expected = torch.cat([torch.zeros(r.numel(), p.numel(), dtype=DTYPE) if g is None else g.reshape(r.numel(), -1)
                          for g, p in zip(grads, params)], 1)  # fmt: skip
    torch.testing.assert_close(torch.cat(rows), r.detach(), atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(columns), expected, atol=1e-10, rtol=0)


def test_no_points():
    net = mlp([2, 4, 1], dtype=DTYPE)
    r, blocks = module_jacobian(net, _points(0), lambda u, du, d2u: torch.cat([u, d2u.sum(1)], 1))
    assert r.shape == (0, 2)
    assert all(b.shape == (0, 2, *p.shape) for p, b in blocks.items())


@pytest.mark.parametrize(
    "head",
    [lambda u, du, d2u: d2u.sum((1, 2)), lambda u, du, d2u: d2u.sum(1)[:3], lambda u, du, d2u: d2u[..., None]],
)
def test_head_of_the_wrong_shape(head):
    with pytest.raises(ValueError, match=r"head must return shape \(batch, c\)"):
        module_jacobian(mlp([2, 4, 1], dtype=DTYPE), _points(), head)


def test_bad_arguments():
    net = mlp([2, 4, 1], dtype=DTYPE)
    with pytest.raises(ValueError, match="chunk"):
        module_jacobian(net, _points(), lambda u, du, d2u: u, chunk=0)
    with pytest.raises(ValueError, match="batch, dim"):
        module_jacobian(net, _points()[0], lambda u, du, d2u: u)


class _Tanh(torch.autograd.Function):
    """An old-style autograd Function (no ``setup_context``): torch.func cannot transform it."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return g * (1 - y**2)


class _Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1, dtype=DTYPE)

    def forward(self, x: Tensor) -> Tensor:
        return _Tanh.apply(self.linear(x))


def test_untraceable_module_names_the_fallback():
    with pytest.raises(ValueError, match="batched autograd"):
        module_jacobian(_Custom(), _points(), lambda u, du, d2u: d2u.sum(1))
