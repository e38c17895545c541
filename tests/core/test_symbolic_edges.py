"""Symbolic edges inside a KAN layer: forward, gradients, save/load, pruning, refinement, poles."""

import copy
import pickle

import pytest
import sympy
import torch

import kansci
from kansci import KAN
from kansci.symbolic import SymbolicFunction, register, unregister
from tests.conftest import float64


def _model(mode="auto", seed=0):
    model = KAN([2, 3, 2], grid=5, seed=seed, dtype=torch.float64, basis_mode=mode)
    model.layers[0].symbolic.set(0, 1, "sin", (2.0, 0.1, 0.5, 0.2))
    model.layers[0].symbolic.set(1, 2, "x^2", (1.5, -0.3, -0.7, 0.05))
    model.layers[1].symbolic.set(2, 0, "exp", (0.8, 0.0, 1.2, -1.0))
    return model


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_symbolic_edge_replaces_the_spline(mode):
    model = _model(mode)
    x = float64(64, 2, lo=-1.3, hi=1.3)
    acts = model.edge_activations(x)
    h = x[:, 0]
    torch.testing.assert_close(acts[0][:, 0, 1], 0.5 * torch.sin(2.0 * h + 0.1) + 0.2, rtol=0, atol=1e-14)
    h = x[:, 1]
    torch.testing.assert_close(acts[0][:, 1, 2], -0.7 * (1.5 * h - 0.3) ** 2 + 0.05, rtol=0, atol=1e-14)
    inputs = model.layer_inputs(x)
    for a, nxt in zip(acts, inputs[1:]):
        torch.testing.assert_close(a.sum(1), nxt, rtol=0, atol=1e-13)
    numeric = KAN([2, 3, 2], grid=5, seed=0, dtype=torch.float64, basis_mode=mode)
    plain = numeric.layers[0].edge_activations(x)
    untouched = torch.ones(2, 3, dtype=torch.bool)
    untouched[0, 1] = untouched[1, 2] = False
    torch.testing.assert_close(acts[0][:, untouched], plain[:, untouched], rtol=0, atol=1e-14)


def test_masked_symbolic_edge_contributes_nothing():
    model = _model()
    with torch.no_grad():
        model.layers[0].mask[0, 1] = 0.0
    x = float64(16, 2)
    assert float(model.edge_activations(x)[0][:, 0, 1].detach().abs().max()) == 0.0


def test_affine_parameters_gradcheck():
    model = _model()
    x = float64(12, 2)

    def out(affine0, affine1):
        params = {"layers.0.symbolic.affine": affine0, "layers.1.symbolic.affine": affine1}
        return torch.func.functional_call(model, params, (x,))

    params = tuple(model.layers[d].symbolic.affine.detach().clone().requires_grad_() for d in (0, 1))
    assert torch.autograd.gradcheck(out, params)


def test_unfix_restores_the_numeric_model_exactly():
    model = KAN([2, 3, 2], grid=5, seed=0, dtype=torch.float64)
    x = float64(32, 2)
    before = model(x)
    model.layers[0].symbolic.set(0, 1, "sin", (2.0, 0.1, 0.5, 0.2))
    assert float((model(x) - before).detach().abs().max()) > 1e-3
    assert kansci.symbolic.unfix(model) == 1
    torch.testing.assert_close(model(x), before, rtol=0, atol=0)
    assert len(model.layers[0].symbolic) == 0


def test_save_load_round_trip_and_unknown_function(tmp_path):
    model = _model()
    x = float64(32, 2)
    kansci.save(model, tmp_path / "m.pt")
    loaded = kansci.load(tmp_path / "m.pt")
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.layers[0].symbolic.names == ["sin", "x^2"]

    register("cube_plus", lambda t: t**3 + t, lambda t: t**3 + t, 4)
    try:
        model.layers[1].symbolic.set(0, 1, "cube_plus", (1.0, 0.0, 1.0, 0.0))
        kansci.save(model, tmp_path / "custom.pt")
        torch.testing.assert_close(kansci.load(tmp_path / "custom.pt")(x), model(x), rtol=0, atol=0)
    finally:
        unregister("cube_plus")
    with pytest.raises(ValueError, match="register it with kansci.symbolic.register"):
        kansci.load(tmp_path / "custom.pt")


def test_pickle_torch_save_and_deepcopy_of_a_snapped_model(tmp_path):
    model = _model()
    x = float64(32, 2)
    torch.save(model, tmp_path / "whole.pt")
    for loaded in (torch.load(tmp_path / "whole.pt", weights_only=False), pickle.loads(pickle.dumps(model))):
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
        assert loaded.layers[1].symbolic.names == ["exp"]
    register("cube_plus", lambda t: t**3 + t, lambda t: t**3 + t, 4)  # a lambda: travels by its name
    try:
        model.layers[1].symbolic.set(0, 1, "cube_plus", (1.0, 0.0, 1.0, 0.0))
        blob = pickle.dumps(model)
        torch.testing.assert_close(pickle.loads(blob)(x), model(x), rtol=0, atol=0)
    finally:
        unregister("cube_plus")
    with pytest.raises(ValueError, match="cube_plus"):
        pickle.loads(blob)
    # a function object that was never registered: deepcopy keeps it
    local = SymbolicFunction("local_cube", lambda t: t**3, lambda t: t**3, lambda t: t**3, 3)
    model.layers[1].symbolic.set(0, 1, local, (1.0, 0.0, 2.0, 0.0))
    twin = copy.deepcopy(model)
    assert twin.layers[1].symbolic.functions()[1] == local
    torch.testing.assert_close(twin(x), model(x), rtol=0, atol=0)


def test_checkpoint_without_symbolic_state_loads():
    model = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    state = {k: v for k, v in model.state_dict().items() if ".symbolic." not in k}
    fresh = KAN([2, 3, 1], grid=5, seed=1, dtype=torch.float64)
    fresh.load_state_dict(state)
    x = float64(8, 2)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


def test_loading_same_shape_keeps_the_parameter_an_optimizer_holds():
    model = _model()
    param = model.layers[0].symbolic.affine
    model.load_state_dict(_model(seed=3).state_dict())
    assert model.layers[0].symbolic.affine is param


def test_prune_and_refine_keep_symbolic_edges():
    model = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)
    x = float64(400, 2)
    with torch.no_grad():  # hidden node 0 dead: its edges out are masked
        model.layers[1].mask[0, 0] = 0.0
    model.layers[0].symbolic.set(1, 2, "sin", (2.0, 0.0, 1.0, 0.5))
    model.layers[1].symbolic.set(2, 0, "x^2", (1.0, 0.0, 1.0, 0.0))
    pruned = kansci.prune(model, x)
    assert pruned.width == (2, 2, 1)
    assert pruned.layers[0].symbolic.edges.tolist() == [[1, 1]]
    assert pruned.layers[1].symbolic.names == ["x^2"]
    torch.testing.assert_close(pruned(x), model(x), rtol=0, atol=1e-12)
    refined = model.refine(10, x)
    torch.testing.assert_close(refined(x), model(x), rtol=0, atol=1e-10)
    assert refined.layers[0].symbolic.names == ["sin"]


@pytest.mark.parametrize("name", ["1/x", "log", "1/x^2", "1/sqrt"])
def test_singular_edge_trains_without_nan(name):
    """An edge whose argument a*x+b crosses the pole: loss, gradients and parameters stay finite."""
    data = kansci.datasets.from_function(lambda t: t[:, :1] ** 2, 1, n_train=200, n_test=50, dtype=torch.float64)
    model = KAN([1, 1], grid=5, seed=0, dtype=torch.float64)
    model.layers[0].symbolic.set(0, 0, name, (1.0, 0.0, 0.1, 0.0))  # pole at x = 0, inside [-1, 1]
    x = torch.cat([data.train_input, torch.zeros(1, 1, dtype=torch.float64)])  # the pole itself
    loss = model(x).square().mean()
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(model.layers[0].symbolic.affine.grad).all()
    history = kansci.fit(model, data, steps=10, update_grid=False)
    assert history.status == "completed"
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.isfinite(torch.tensor(v)) for v in history.loss)
    expr = kansci.symbolic.formula(model, precision=None)[0]
    assert isinstance(expr, sympy.Expr)
