"""Per-point Jacobians of residuals on directional jets up to order 4: they match autograd entry by entry."""

import pytest
import torch
from torch import Tensor, nn

from kansci import KAN
from kansci.baselines import mlp
from kansci.core.least_squares import fitted_parameters
from kansci.pde.directional_jacobian import directional_jacobian
from kansci.pde.jet_jacobian import jet_jacobian
from kansci.pde.mlp_jets import is_plain_mlp
from kansci.pde.multiindex import directional_jets, module_directional_jets
from kansci.symbolic import fix_symbolic
from tests.pde.test_module_jacobian import _Custom

DTYPE = torch.float64
RTOL = 1e-10  # relative to the largest entry of the reference

DIRECTIONS = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, -2.0]], dtype=DTYPE)  # along x, and two oblique lines


def _points(n: int = 6, dim: int = 2, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, dim, generator=generator, dtype=DTYPE) * 1.6 - 0.8


def _randomized(width, seed: int = 0) -> KAN:
    """Non-trivial coefficients, scales and products' biases, so every order of every jet matters."""
    model = KAN(width, grid=5, seed=seed, dtype=DTYPE)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            layer.scale_spline.uniform_(0.5, 1.5, generator=generator)
            layer.scale_base.uniform_(-1.0, 1.0, generator=generator)
            layer.coef.normal_(generator=generator)
        for bias in getattr(model, "node_bias", []):
            bias.uniform_(-1.0, 1.0, generator=generator)
    return model


def _mixing(jets: list[Tensor]) -> Tensor:
    """Two components, nonlinear in the value and in derivatives of orders 1 to 4, first and last outputs."""
    first = jets[4][:, 0, :1] * jets[0][:, -1:] + torch.sin(jets[2][:, 1, -1:])
    second = jets[1][:, 2, :1] ** 2 * jets[3][:, -1, -1:] - jets[0][:, :1]
    return torch.cat([first, second], 1)


def _autograd_jets(model: nn.Module, x: Tensor, directions: Tensor, order: int) -> list[Tensor]:
    """d^k/dt^k model(x + t v) at t = 0 by nested autograd in t (one t per point: rows are independent)."""
    per_direction = []
    for v in directions:
        t = torch.zeros(x.shape[0], dtype=DTYPE, requires_grad=True)
        y = model(x + t[:, None] * v)
        columns = []
        for f in range(y.shape[1]):
            current, derivatives = y[:, f], []
            for _ in range(order):
                (current,) = torch.autograd.grad(current.sum(), t, create_graph=True)
                derivatives.append(current)
            columns.append(derivatives)
        per_direction.append([torch.stack([c[k] for c in columns], 1) for k in range(order)])
    return [model(x)] + [torch.stack([d[k] for d in per_direction], 1) for k in range(order)]


def _reference(model: nn.Module, x: Tensor, directions: Tensor, order: int, head) -> tuple[Tensor, dict]:
    """The residuals and one ``torch.autograd.grad`` per residual entry by each fitted parameter."""
    params = fitted_parameters(model)
    with torch.enable_grad():
        if isinstance(model, KAN):
            jets = directional_jets(model, x, directions, order)
        else:
            jets = _autograd_jets(model, x, directions, order)
        r = head(jets)
        rows: list[list[Tensor]] = [[] for _ in params]
        for b in range(r.shape[0]):
            for k in range(r.shape[1]):
                grads = torch.autograd.grad(r[b, k], params, retain_graph=True, allow_unused=True)
                for found, g, p in zip(rows, grads, params):
                    found.append(torch.zeros_like(p) if g is None else g)
    return r.detach(), {p: torch.stack(g).reshape(*r.shape, *p.shape) for p, g in zip(params, rows)}


def _assert_close(found: Tensor, expected: Tensor) -> None:
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    torch.testing.assert_close(found, expected, rtol=0, atol=RTOL * scale)


def _assert_matches(model: nn.Module, x: Tensor, directions: Tensor, order: int, head, **kwargs) -> None:
    r, blocks = directional_jacobian(model, x, directions, order, head, **kwargs)
    expected_r, expected = _reference(model, x, directions, order, head)
    assert r.dtype == DTYPE and not r.requires_grad
    _assert_close(r, expected_r)
    assert set(expected) <= set(blocks)
    assert all(p.numel() == 0 for p in set(blocks) - set(expected))  # products' biases of layers without products
    for p, want in expected.items():
        assert blocks[p].shape == (*r.shape, *p.shape) and not blocks[p].requires_grad
        _assert_close(blocks[p], want)


@pytest.mark.parametrize("width", [[2, 3, 1], [2, 3, 3, 1], [3, 4, 2], [2, [2, 1], 1], [2, [1, 2], [0, 1]]], ids=str)
def test_kan_in_closed_form_at_order_four(width):
    model = _randomized(width, seed=1)
    directions = DIRECTIONS if width[0] == 2 else torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.5, -2.0, 1.0]])
    _assert_matches(model, _points(dim=directions.shape[1], seed=2), directions, 4, _mixing)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_kan_at_lower_orders(order):
    model = _randomized([2, [2, 1], 1], seed=3)

    def head(jets: list[Tensor]) -> Tensor:
        return jets[order][:, 1] * jets[0] + torch.cos(jets[1]).sum(1)

    _assert_matches(model, _points(seed=4), DIRECTIONS, order, head)


def test_mlp_by_torch_func_in_chunks():
    net = mlp([2, 6, 6, 1], dtype=DTYPE, seed=5)
    x = _points(seed=6)
    _assert_matches(net, x, DIRECTIONS, 4, _mixing)
    _assert_matches(net, x, DIRECTIONS, 4, _mixing, chunk=4)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "silu"])
def test_plain_mlps_take_exact_taylor_jets(activation):
    net = mlp([2, 5, 4, 2], activation, dtype=DTYPE, seed=9)
    x = 2 * _points(seed=10)  # out to +-1.6, where every derivative of the activations matters
    assert is_plain_mlp(net)
    with torch.no_grad():
        found = module_directional_jets(net, x, DIRECTIONS, 4)
    for jet, expected in zip(found, _autograd_jets(net, x, DIRECTIONS, 4)):
        _assert_close(jet, expected.detach())
    _assert_matches(net, x, DIRECTIONS, 4, _mixing)


class _Wrapped(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def test_other_modules_keep_nested_forward_mode():
    net = mlp([2, 5, 1], dtype=DTYPE, seed=11)
    wrapped = _Wrapped(net)
    assert not is_plain_mlp(wrapped) and not is_plain_mlp(mlp([2, 5, 1], "relu")) and not is_plain_mlp(nn.Sequential())
    x = _points(seed=12)
    taylor, nested = (
        directional_jacobian(net, x, DIRECTIONS, 4, _mixing),
        directional_jacobian(wrapped, x, DIRECTIONS, 4, _mixing),
    )
    _assert_close(taylor[0], nested[0])
    for p, block in nested[1].items():
        _assert_close(taylor[1][p], block)


def test_identity_directions_at_order_two_are_the_jet_jacobian():
    model = _randomized([2, [1, 2], [0, 1]], seed=7)
    x = _points(10, seed=8)

    def burgers(u: Tensor, du: Tensor, d2u: Tensor) -> Tensor:
        return torch.cat([du[:, 1] + u * du[:, 0] - 0.1 * d2u[:, 0], d2u.sum(1) * u], 1)

    r, blocks = directional_jacobian(model, x, torch.eye(2, dtype=DTYPE), 2, lambda jets: burgers(*jets))
    expected_r, expected = jet_jacobian(model, x, burgers)
    _assert_close(r, expected_r)
    assert list(blocks) == list(expected)
    for p, want in expected.items():
        _assert_close(blocks[p], want)


@pytest.mark.parametrize("model", [_randomized([2, 3, 1]), mlp([2, 4, 1], dtype=DTYPE)], ids=["kan", "mlp"])
def test_no_points(model):
    r, blocks = directional_jacobian(
        model, _points(0), DIRECTIONS, 3, lambda jets: torch.cat([jets[0], jets[3][:, 1]], 1)
    )
    assert r.shape == (0, 2)
    assert all(blocks[p].shape == (0, 2, *p.shape) for p in fitted_parameters(model))


@pytest.mark.parametrize(
    ("order", "directions", "match"),
    [
        (0, DIRECTIONS, "order must be an integer from 1 to 4"),
        (5, DIRECTIONS, "order must be an integer from 1 to 4"),
        (2.0, DIRECTIONS, "order must be an integer from 1 to 4"),
        (True, DIRECTIONS, "order must be an integer from 1 to 4"),
        (2, DIRECTIONS[:, :1], r"directions must have shape \(n_dir, 2\)"),
        (2, DIRECTIONS[0], r"directions must have shape \(n_dir, 2\)"),
        (2, DIRECTIONS[:0], "at least one real direction"),
    ],
)
@pytest.mark.parametrize("model", [_randomized([2, 3, 1]), mlp([2, 4, 1], dtype=DTYPE)], ids=["kan", "mlp"])
def test_bad_order_or_directions(model, order, directions, match):
    with pytest.raises(ValueError, match=match):
        directional_jacobian(model, _points(), directions, order, lambda jets: jets[0])


@pytest.mark.parametrize(
    "head",
    [
        lambda jets: jets[2].sum((1, 2)),
        lambda jets: jets[2].sum(1)[:3],
        lambda jets: jets[2],
        lambda jets: jets[0][:, :0],
        lambda jets: [jets[0]],
    ],
    ids=["flat", "rows", "three-dimensional", "no-components", "list"],
)
@pytest.mark.parametrize("model", [_randomized([2, 3, 1]), mlp([2, 4, 1], dtype=DTYPE)], ids=["kan", "mlp"])
def test_head_of_the_wrong_shape(model, head):
    with pytest.raises(ValueError, match=r"head must return shape \(batch, c\)"):
        directional_jacobian(model, _points(), DIRECTIONS, 2, head)


def test_bad_points_and_chunk():
    net = mlp([2, 4, 1], dtype=DTYPE)
    with pytest.raises(ValueError, match="batch, n_inputs"):
        directional_jacobian(net, _points()[0], DIRECTIONS, 2, lambda jets: jets[0])
    with pytest.raises(ValueError, match="chunk"):
        directional_jacobian(net, _points(), DIRECTIONS, 2, lambda jets: jets[0], chunk=0)
    with pytest.raises(ValueError, match="expects"):
        directional_jacobian(_randomized([2, 3, 1]), _points(dim=3), DIRECTIONS, 2, lambda jets: jets[0])


def test_without_a_closed_form_or_torch_func_names_the_fallback():
    model = _randomized([2, 2, 1])
    fix_symbolic(model, 0, 0, 0, "sin", params=(1.5, 0.2, 0.7, 0.1))
    with pytest.raises(ValueError, match="batched autograd"):
        directional_jacobian(model, _points(), DIRECTIONS, 2, lambda jets: jets[2][:, 0])
    with pytest.raises(ValueError, match="batched autograd"):
        directional_jacobian(_Custom(), _points(), DIRECTIONS, 2, lambda jets: jets[2][:, 0])
