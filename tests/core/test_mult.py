"""Multiplication nodes (KAN 2.0): configuration, forward, exact derivatives and Jacobians, fit, prune, formula."""

import pytest
import sympy
import torch

import kansci
from kansci import KAN
from kansci.core.jacobian import output_jacobian
from kansci.core.prune import node_scores, prune
from kansci.datasets import from_function
from kansci.pde.jet_jacobian import jet_jacobian
from kansci.pde.taylor import jet
from kansci.symbolic import auto_symbolic, formula
from tests.pde.test_derivatives import _assert_jet_matches_autograd


def _randomized(model: KAN, seed: int = 0) -> KAN:
    """Non-trivial coefficients and scales, so products of subnodes are far from zero and from linear."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            layer.scale_spline.uniform_(0.5, 1.5, generator=gen)
            layer.scale_base.uniform_(-1.0, 1.0, generator=gen)
            layer.coef.normal_(generator=gen)
        for bias in getattr(model, "node_bias", []):
            bias.uniform_(-1.0, 1.0, generator=gen)
    return model


def _fitted_params(model: KAN) -> list[torch.Tensor]:
    """What the closed-form Jacobians cover: coefficients and base weights, and the products' biases."""
    params = [p for layer in model.layers for p in (layer.coef, layer.scale_base)]
    return params + [b for b in getattr(model, "node_bias", []) if b.numel()]


def test_width_pairs_give_sum_and_multiplication_nodes():
    model = KAN([3, [2, 2], [1, 1]], seed=0)
    assert model.width == (3, 4, 2)
    assert model.config.mult == (0, 2, 1)
    assert [layer.out_features for layer in model.layers] == [2 + 2 * 2, 1 + 2]
    assert model.config.display_width() == [3, [2, 2], [1, 1]]
    assert model.owners(0) == [0, 1, 2, 2, 3, 3]
    assert [b.shape[0] for b in model.node_bias] == [2, 1]  # a bias per multiplication node, trainable
    assert not hasattr(KAN([2, 3, 1]), "node_bias")  # a plain KAN's parameters and checkpoints are unchanged
    three = KAN([2, [0, 1]], mult_arity=3)
    assert three.layers[0].out_features == 3
    plain = KAN([2, [3, 0], 1])
    assert plain.config.mult is None and plain.width == (2, 3, 1)  # no multiplication nodes: a plain KAN


@pytest.mark.parametrize(
    ("width", "kwargs", "message"),
    [
        ([[1, 1], 2, 1], {}, "inputs cannot be multiplication nodes"),
        ([2, [1, 1, 1], 1], {}, "pair"),
        ([2, [1, -1], 1], {}, "integer or a pair"),
        ([2, [1, 1], 1], {"mult": (0, 1, 0)}, "not both"),
        ([2, 2, 1], {"mult": (0, 3, 0)}, "more multiplication nodes than nodes"),
        ([2, 2, 1], {"mult": (0, 1)}, "each of the 3 layers"),
        ([2, [0, 1]], {"mult_arity": 1}, "mult_arity"),
    ],
)
def test_bad_multiplication_settings_name_the_problem(width, kwargs, message):
    with pytest.raises(ValueError, match=message):
        KAN(width, **kwargs)


def test_forward_multiplies_the_subnodes():
    model = _randomized(KAN([3, [2, 2], [1, 1]], seed=1, dtype=torch.float64))
    x = torch.rand(30, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    sub = model.layers[0](x)
    hidden = torch.cat([sub[:, :2], sub[:, 2:4].prod(1, keepdim=True), sub[:, 4:6].prod(1, keepdim=True)], 1)
    hidden[:, 2:] += model.node_bias[0]
    out = model.layers[1](hidden)
    expected = torch.cat([out[:, :1], out[:, 1:2] * out[:, 2:3] + model.node_bias[1]], 1)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-14)
    acts = model.layer_inputs(x)
    torch.testing.assert_close(acts[1], hidden, rtol=0, atol=1e-14)


@pytest.mark.parametrize("arity", [2, 3])
def test_jet_through_multiplication_nodes_matches_autograd_to_1e10(arity):
    model = _randomized(KAN([2, [2, 2], [1, 1]], grid=6, seed=2, dtype=torch.float64, mult_arity=arity))
    with torch.no_grad():  # values of order one: the check is absolute (unscaled, second derivatives reached 1e4)
        for layer in model.layers:
            layer.coef.mul_(0.3)
            layer.scale_base.mul_(0.3)
    gen = torch.Generator().manual_seed(arity)
    x = (torch.rand(40, 2, generator=gen, dtype=torch.float64) * 2 - 1).requires_grad_()
    j = _assert_jet_matches_autograd(model, x)
    assert 0.1 < float(j.second.detach().abs().max()) < 100


def test_output_jacobian_through_multiplication_nodes_equals_autograd():
    model = _randomized(KAN([3, [1, 2], [1, 1]], grid=7, seed=3, dtype=torch.float64))
    x = torch.rand(25, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    out, blocks = output_jacobian(model, x)
    y = model(x)
    torch.testing.assert_close(out, y.detach(), rtol=0, atol=1e-14)
    params = _fitted_params(model)
    eye = torch.eye(y.numel(), dtype=y.dtype).view(-1, *y.shape)
    grads = torch.autograd.grad(y, params, eye, is_grads_batched=True)
    for p, g in zip(params, grads):
        torch.testing.assert_close(blocks[p], g.view(*y.shape, *p.shape), rtol=0, atol=1e-12)


def test_pde_jet_jacobian_through_multiplication_nodes_equals_autograd():
    model = _randomized(KAN([2, [1, 2], [0, 1]], grid=5, seed=4, dtype=torch.float64))
    x = torch.rand(20, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1

    def head(u, du, d2u):  # nonlinear in value, gradient and second derivatives
        return torch.cat([du[:, 1] + u * du[:, 0] - 0.1 * d2u[:, 0], d2u.sum(1) * u], 1)

    r, blocks = jet_jacobian(model, x, head)
    j = jet(model, x)
    ref = head(j.value, j.grad, j.second)
    torch.testing.assert_close(r, ref.detach(), rtol=0, atol=1e-12)
    params = _fitted_params(model)
    for b in range(0, 20, 3):
        for c in range(2):
            for p, g in zip(params, torch.autograd.grad(ref[b, c], params, retain_graph=True)):
                torch.testing.assert_close(blocks[p][b, c], g, rtol=0, atol=1e-10)


@pytest.fixture(scope="module")
def product_data():
    return from_function(
        lambda x: x[:, :1] * x[:, 1:2], 2, (-1, 1), n_train=500, n_test=500, seed=0, dtype=torch.float64
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_multiplication_node_fits_x_times_y_and_reads_x_times_y(product_data, seed, one_thread):
    # measured: test RMSE 2e-10, 2e-10 and 1.6e-6 for seeds 0-2 after 50 LM steps; every edge snaps to x or 0
    model = KAN([2, [0, 1]], grid=5, seed=seed, dtype=torch.float64)
    history = kansci.fit(model, product_data, steps=50, opt="lm")
    assert history.test_rmse[-1] < 1e-4
    auto_symbolic(model, product_data)
    x, y = kansci.symbolic.symbols(model, ["x", "y"])
    assert formula(model, ["x", "y"])[0] == x * y


def test_save_load_and_refine_keep_multiplication_nodes(tmp_path):
    model = _randomized(KAN([2, [1, 1], 1], seed=5, dtype=torch.float64))
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    path = kansci.save(model, tmp_path / "mult.pt")
    back = kansci.load(path)
    assert back.config == model.config
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)
    finer = model.refine(10)
    assert finer.config.mult == model.config.mult
    torch.testing.assert_close(finer.node_bias[0], model.node_bias[0], rtol=0, atol=0)
    inside = model.inside_grid(x)  # refinement keeps the function on the grids' span
    assert int(inside.sum()) >= 10
    torch.testing.assert_close(finer(x)[inside], model(x)[inside], rtol=0, atol=1e-10)


def test_prune_drops_a_dead_multiplication_node_as_a_unit():
    model = _randomized(KAN([2, [1, 2], 1], seed=6, dtype=torch.float64))
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    with torch.no_grad():  # silence one factor of the first multiplication node: its product carries nothing
        model.layers[0].mask[:, 1] = 0.0
    pruned = prune(model, x)
    assert pruned.config.display_width() == [2, [1, 1], 1]
    assert pruned.layers[0].out_features == 3
    torch.testing.assert_close(pruned.node_bias[0], model.node_bias[0][1:], rtol=0, atol=0)
    inside = model.inside_grid(x)  # the removed node's constant is carried exactly on the grids' span
    assert int(inside.sum()) >= 10
    torch.testing.assert_close(pruned(x)[inside], model(x)[inside], rtol=0, atol=1e-10)


def test_node_scores_split_a_product_between_its_factors():
    model = _randomized(KAN([2, [0, 1]], seed=7, dtype=torch.float64))
    x = torch.rand(100, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    scores = node_scores(model, x)
    assert float(scores[0].sum()) == pytest.approx(1.0, abs=1e-9)
    assert float(scores[1].sum()) == pytest.approx(1.0, abs=1e-12)


def test_a_product_plus_a_constant_in_one_layer(one_thread):
    # a*sin(t) + 1: a product's factors alone cannot add the 1; the node's bias does. Measured: test RMSE 1e-9 to 1e-8
    # over seeds 0-2 after 40 LM steps at G = 10, and the formula reads a*sin(t) + 1
    data = from_function(
        lambda x: x[:, :1] * torch.sin(x[:, 1:]) + 1,
        2,
        [(-1, 1), (0, 3)],
        n_train=400,
        n_test=200,
        seed=0,
        dtype=torch.float64,
    )
    model = KAN([2, [0, 1]], grid=10, seed=0, dtype=torch.float64)
    kansci.fit(model, data, steps=10)
    history = kansci.fit(model, data, steps=40, opt="lm", update_grid=False)
    assert history.test_rmse[-1] < 1e-5
    auto_symbolic(model, data)
    kansci.fit(model, data, steps=20, opt="lm", update_grid=False)
    a, t = kansci.symbolic.symbols(model, ["a", "t"])
    assert formula(model, ["a", "t"])[0] == a * sympy.sin(t) + 1


def test_sparsity_training_and_grid_updates_run_through_multiplication_nodes(product_data):
    model = KAN([2, [1, 1], 1], grid=5, seed=0, dtype=torch.float64)
    history = kansci.fit(model, product_data, steps=10, lamb=1e-2)  # LBFGS with the L1 + entropy penalty
    assert all(torch.isfinite(torch.tensor(history.loss))) and history.reg[-1] > 0
    assert history.loss[-1] < history.loss[0]
    initial = torch.linspace(-1, 1, 6, dtype=torch.float64).expand(2, 6)
    assert not torch.allclose(model.layers[1].grid, initial)  # the hidden grid moved to the nodes' values
