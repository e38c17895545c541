"""Partial derivatives by multi-index: exact KAN jets against nested autograd, up to order 4."""

import itertools

import pytest
import torch

from kansci import KAN
from kansci.pde.multiindex import MAX_ORDER, _autograd_partials, directional_jets, multi_index, partials
from kansci.symbolic import fix_symbolic


def _all_indices(n: int, max_order: int = MAX_ORDER) -> list[tuple[int, ...]]:
    return [c for c in itertools.product(range(max_order + 1), repeat=n) if 1 <= sum(c) <= max_order]


def _model(width, seed: int) -> KAN:
    model = KAN(width, grid=5, seed=seed, dtype=torch.float64)
    with torch.no_grad():  # splines of order one, so every derivative matters
        for layer in model.layers:
            layer.coef.normal_(generator=torch.Generator().manual_seed(seed))
    return model


@pytest.mark.parametrize(
    "width",
    [[2, 1], [2, 3, 1], [2, 3, 3, 1], [3, 4, 2], [2, [2, 1], 1], [2, [1, 2], [0, 1]]],
    ids=str,
)
def test_kan_partials_match_nested_autograd(width):
    model = _model(width, seed=1)
    n = model.config.width[0]
    x = torch.rand(16, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8
    wanted = _all_indices(n, 4 if n == 2 else 3)
    exact = partials(model, x, wanted)
    reference = _autograd_partials(model, x, wanted)
    for c in wanted:
        scale = reference[c].detach().abs().max().clamp_min(1.0)
        assert torch.allclose(exact[c], reference[c], rtol=0, atol=1e-10 * float(scale)), c


def test_symbolic_edges_carry_their_derivatives():
    model = _model([2, 2, 1], seed=2)
    fix_symbolic(model, 0, 0, 0, "sin", params=(1.5, 0.2, 0.7, 0.1))
    fix_symbolic(model, 1, 1, 0, "exp", params=(0.5, 0.0, 1.0, 0.0))
    x = torch.rand(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    wanted = _all_indices(2)
    exact, reference = partials(model, x, wanted), _autograd_partials(model, x, wanted)
    for c in wanted:
        scale = max(1.0, float(reference[c].detach().abs().max()))
        assert torch.allclose(exact[c], reference[c], rtol=0, atol=1e-10 * scale), c


def test_named_multi_indices_and_a_plain_module():
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x = torch.rand(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    d = partials(net, x, ["xy", "yx", "xxx"], variables="xy")
    assert torch.allclose(d["xy"], d["yx"], atol=1e-12)
    assert d["xxx"].shape == (10, 1)
    # u = x^2 y by a closed form: u_xy = 2x, u_xxy = 2, u_xxx = 0
    square = lambda x: x[:, :1] ** 2 * x[:, 1:]  # noqa: E731
    d = partials(square, x, ["xy", "xxy", "xxx"], variables="xy")
    assert torch.allclose(d["xy"], 2 * x[:, :1], atol=1e-12)
    assert torch.allclose(d["xxy"], torch.full_like(d["xxy"], 2.0), atol=1e-12)
    assert d["xxx"].abs().max() < 1e-12


def test_a_known_function_through_a_compiled_kan():
    """A KAN with symbolic edges only: u = sin(x) * exp(y) through a multiplication node, exact to round-off."""
    model = KAN([2, [0, 1]], seed=0, dtype=torch.float64)
    fix_symbolic(model, 0, 0, 0, "sin", params=(1.0, 0.0, 1.0, 0.0))
    fix_symbolic(model, 0, 1, 1, "exp", params=(1.0, 0.0, 1.0, 0.0))
    with torch.no_grad():
        model.layers[0].mask.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    x = torch.rand(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    d = partials(model, x, ["xxxy", "yyyy", "xy"], variables="xy")
    sx, cx, ey = torch.sin(x[:, :1]), torch.cos(x[:, :1]), torch.exp(x[:, 1:])
    assert torch.allclose(d["xxxy"], -cx * ey, atol=1e-12)
    assert torch.allclose(d["yyyy"], sx * ey, atol=1e-12)
    assert torch.allclose(d["xy"], cx * ey, atol=1e-12)


def test_directional_jets_are_taylor_derivatives_along_a_line():
    model = _model([2, 3, 1], seed=3)
    x = torch.tensor([[0.1, -0.3]], dtype=torch.float64)
    v = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    jets = directional_jets(model, x, v, 4)
    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    f = model(x + t[:, None] * v)[0, 0]
    for k in range(1, 5):
        (f,) = torch.autograd.grad(f, t, create_graph=True)
        want = float(f.detach())
        assert abs(float(jets[k][0, 0, 0].detach()) - want) < 1e-10 * max(1.0, abs(want))


@pytest.mark.parametrize(
    ("spec", "variables", "match"),
    [
        ("xz", "xy", "not among the variables"),
        ("xy", None, "pass variables="),
        ("xxxxx", "xy", "order must be 1 to 4"),
        ((1, 0, 0), None, "needs 2 non-negative counts"),
        ("xy", ["x", "yy"], "one-character names"),
    ],
)
def test_bad_multi_indices_name_the_fix(spec, variables, match):
    with pytest.raises(ValueError, match=match):
        multi_index(spec, variables, 2)
