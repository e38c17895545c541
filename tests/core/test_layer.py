"""KANLayer: forward paths agree, gradients, initialization, grid edits."""

import math

import pytest
import torch

from kansci.core.basis import local_basis
from kansci.core.fused import SparseDesign
from kansci.core.grid import fit_coefficients
from kansci.core.layer import KANLayer
from tests.conftest import float64


def _layer(mode="auto", grid=7, n_in=3, n_out=4, seed=0, **kw):
    gen = torch.Generator().manual_seed(seed)
    return KANLayer(n_in, n_out, grid, 3, basis_mode=mode, generator=gen, dtype=torch.float64, **kw)


def _smooth_layer(grid=10):
    """A layer whose splines are smooth functions (sin, cos, x^2 per edge)."""
    layer = _layer(grid=grid, n_in=2, n_out=2)
    x = torch.linspace(-1, 1, 400, dtype=torch.float64).unsqueeze(1).expand(-1, 2)
    target = torch.stack([torch.sin(3 * x), torch.cos(2 * x) * x, x**2, torch.exp(x)], -1)
    with torch.no_grad():
        layer.coef.copy_(fit_coefficients(layer.basis(x), target.reshape(400, 2, 4)[:, :, :2]))
    return layer


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_forward_equals_sum_of_edge_activations(mode):
    layer = _layer(mode)
    with torch.no_grad():
        layer.mask[1, 2] = 0.0
    x = float64(64, 3, lo=-2.5, hi=2.5)
    torch.testing.assert_close(layer(x), layer.edge_activations(x).sum(1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("mode", "grid"), [("dense", 4), ("dense", 12), ("sparse", 60)])
def test_combine_edges_is_edge_activations(mode, grid):
    # grid 4 takes the dense scatter, 12 and 60 the gather of the touched coefficients
    layer = _layer(mode, grid=grid)
    with torch.no_grad():
        layer.mask[1, 2] = 0.0
    x = float64(64, 3, lo=-1.5, hi=1.5)
    values, row = local_basis(x, layer.table())
    edges = layer.combine_edges(values, row, torch.nn.functional.silu(x), *layer.weights())
    torch.testing.assert_close(edges, layer.edge_activations(x), rtol=1e-12, atol=1e-12)


def test_dense_and_sparse_paths_agree_at_large_grid():
    dense, sparse = _layer("dense", grid=60), _layer("sparse", grid=60)
    x = float64(128, 3, lo=-1.2, hi=1.2)
    torch.testing.assert_close(dense(x), sparse(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_gradcheck_float64(mode):
    layer = _layer(mode, grid=4, n_in=2, n_out=2)
    with torch.no_grad():
        layer.mask[0, 1] = 0.0
    x = float64(16, 2, seed=2, lo=-1.3, hi=1.3).requires_grad_()
    names = ("coef", "scale_base", "scale_spline")
    params = tuple(getattr(layer, n).detach().clone().requires_grad_() for n in names)

    def fn(x, *values):
        return torch.func.functional_call(layer, dict(zip(names, values)), (x,))

    assert torch.autograd.gradcheck(fn, (x, *params))


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_second_derivative_through_layer(mode):
    layer = _layer(mode, grid=5, n_in=2, n_out=1)
    x = float64(8, 2, seed=3).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: layer(t), (x,))


@pytest.mark.parametrize(("mode", "grid", "kind"), [("dense", 4, torch.Tensor), ("sparse", 45, SparseDesign)])
def test_gradcheck_parameters_with_a_fixed_input_and_its_kept_design(mode, grid, kind):
    # an input that needs no gradient takes the kept design (dense, or CSR on the sparse path) from then on
    layer = _layer(mode, grid=grid, n_in=2, n_out=2)
    x = float64(16, 2, seed=4, lo=-1.3, hi=1.3)
    names = ("coef", "scale_base", "scale_spline")
    params = tuple(getattr(layer, n).detach().clone().requires_grad_() for n in names)

    def fn(*values):
        return torch.func.functional_call(layer, dict(zip(names, values)), (x,))

    fn(*params)  # a CSR design is built on the second sighting
    assert torch.autograd.gradcheck(fn, params)
    assert torch.autograd.gradgradcheck(fn, params)
    assert len(layer._designs) == 1 and isinstance(layer._designs[0][4], kind)


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_second_derivative_in_x_differentiates_in_the_parameters(mode):
    # what a residual loss built by nested autograd needs: d/dcoef of d2 phi/dx2
    layer = _layer(mode, grid=5, n_in=2, n_out=1)
    x = float64(8, 2, seed=5).requires_grad_()
    coef = layer.coef.detach().clone().requires_grad_()

    def fn(x, coef):
        return torch.func.functional_call(layer, {"coef": coef}, (x,))

    assert torch.autograd.gradgradcheck(fn, (x, coef))


@pytest.mark.parametrize("case", ["sparse path", "dense path, design too large"])
def test_kept_sparse_design_matches_the_computed_layer_and_its_weight_gradient(case, monkeypatch):
    from kansci.core import layer as layer_module

    if case == "sparse path":
        layer = _layer("sparse", grid=50, n_in=3, n_out=2)
    else:
        layer = _layer("dense", grid=6, n_in=3, n_out=2)
        monkeypatch.setattr(layer_module, "DESIGN_CACHE_SIZE", 100)
    x = float64(300, 3, seed=7, lo=-1.2, hi=1.2)  # a few points outside the grid too

    def out_and_grads(inp):
        layer.zero_grad()
        out = layer(inp)
        (out * torch.linspace(-1, 1, 2, dtype=torch.float64)).square().sum().backward()
        return out.detach(), [p.grad.clone() for p in (layer.coef, layer.scale_base, layer.scale_spline)]

    reference = out_and_grads(x.clone().requires_grad_())  # needs a gradient: computed, never kept
    first = out_and_grads(x)
    assert layer._designs[0][4] is None  # seen once: nothing built yet
    kept = out_and_grads(x)
    assert isinstance(layer._designs[0][4], SparseDesign)
    for got in (first, kept):
        torch.testing.assert_close(got[0], reference[0], rtol=1e-12, atol=1e-13)
        for g, r in zip(got[1], reference[1]):
            torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-13)
    with torch.no_grad():
        x.mul_(0.5)  # same tensor, new values
    torch.testing.assert_close(layer(x), layer(x.clone().requires_grad_()).detach(), rtol=1e-12, atol=1e-13)
    layer.update_grid_(x)
    layer(x)
    torch.testing.assert_close(layer(x), layer(x.clone().requires_grad_()).detach(), rtol=1e-12, atol=1e-13)


def test_kept_design_follows_in_place_edits_of_the_input_and_grid_updates():
    layer = _layer("dense", grid=6)
    x = float64(200, 3, seed=6, lo=-1.0, hi=1.0)
    fresh = lambda: layer(x.clone().requires_grad_()).detach()  # noqa: E731 - an input needing a gradient: never kept
    torch.testing.assert_close(layer(x), fresh(), rtol=0, atol=0)
    torch.testing.assert_close(layer(x), fresh(), rtol=0, atol=0)  # second call: from the kept design
    assert len(layer._designs) == 1
    with torch.no_grad():
        x.mul_(0.5)  # same tensor, new values
    torch.testing.assert_close(layer(x), fresh(), rtol=0, atol=0)
    layer.update_grid_(x)  # new knots
    torch.testing.assert_close(layer(x), fresh(), rtol=0, atol=0)
    with torch.no_grad():
        layer.coef.add_(0.1)  # weights are never kept
    torch.testing.assert_close(layer(x), fresh(), rtol=0, atol=0)


def test_initialization_follows_reference():
    layer = KANLayer(50, 40, grid=5, k=3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fan = 1 / math.sqrt(50)
    assert torch.all(layer.scale_base.abs() <= fan)
    assert abs(layer.scale_base.std().item() - fan / math.sqrt(3)) < 0.05 * fan
    torch.testing.assert_close(layer.scale_spline, torch.full_like(layer.scale_spline, fan))
    # the spline interpolates noise of amplitude noise_scale / (2G) = 0.03 at the grid points
    values = layer.spline_values(layer.grid.t())
    assert values.abs().max() <= 0.03 + 1e-12
    assert values.abs().max() > 0.025
    torch.testing.assert_close(layer.grid[0], torch.linspace(-1, 1, 6, dtype=torch.float64))


def test_update_grid_keeps_a_smooth_function():
    layer = _smooth_layer()
    x = float64(500, 2, seed=4, lo=-0.8, hi=0.6)
    before = layer(x)
    layer.update_grid_(x)
    assert layer.grid[:, 0].tolist() == pytest.approx(x.min(0).values.tolist(), abs=1e-3)
    # a cubic spline on a different G=10 grid reproduces the old one to O(h^4 f^(4)) ~ 3e-4
    torch.testing.assert_close(layer(x), before, rtol=0, atol=1e-3)


def test_update_grid_on_constant_input_is_finite():
    layer = _layer(n_in=2)
    x = torch.zeros(100, 2, dtype=torch.float64)
    layer.update_grid_(x)
    assert torch.isfinite(layer.coef).all() and torch.isfinite(layer(x)).all()


@pytest.mark.parametrize("mode", ["dense", "sparse", "polynomial"])
def test_a_mask_edited_after_a_call_is_seen(mode):
    # the layer remembers that its mask is all ones (to skip the products with it); an edit in place must end that
    layer = _layer(mode)
    x = float64(50, 3, seed=2)
    layer(x)
    with torch.no_grad():
        layer.mask[1, 2] = 0.0
    out = layer(x)
    torch.testing.assert_close(out, layer.edge_activations(x).sum(1), rtol=0, atol=1e-12)
    out.sum().backward()
    assert float(layer.coef.grad[1, :, 2].abs().sum()) == 0.0 and float(layer.scale_base.grad[1, 2]) == 0.0
    assert float(layer.coef.grad[1, :, 1].abs().sum()) > 0.0
    with torch.no_grad():
        layer.mask.fill_(1.0)
    torch.testing.assert_close(layer(x), layer.edge_activations(x).sum(1), rtol=0, atol=1e-12)


def test_refine_nested_grid_is_exact_and_general_grid_close():
    layer = _smooth_layer(grid=10)
    x = float64(300, 2, seed=5)
    torch.testing.assert_close(layer.refined(20)(x), layer(x), rtol=0, atol=1e-12)
    # non-nested knots: least-squares error of the finer spline, ~3e-5 here
    torch.testing.assert_close(layer.refined(33)(x), layer(x), rtol=0, atol=1e-4)
    assert layer.grid_size == 10  # the original is untouched


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_features": 0}, "in_features"),
        ({"out_features": -2}, "out_features"),
        ({"grid": 0}, "grid"),
        ({"k": 0}, "spline order"),
        ({"grid_range": (1.0, -1.0)}, "grid_range"),
        ({"basis_mode": "fast"}, "basis_mode"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"in_features": 2, "out_features": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        KANLayer(**args)


@pytest.mark.parametrize(("grid", "n_out"), [(5, 1), (60, 3)])
def test_polynomial_path_agrees_with_the_dense_path_in_value_and_gradients(grid, n_out):
    # sample-adapted (non-uniform) grids, and points beyond them
    layers = [_layer(mode, grid=grid, n_out=n_out) for mode in ("dense", "polynomial")]
    for layer in layers:
        layer.update_grid_(float64(300, 3, seed=3, lo=-0.7, hi=0.9))
    x = float64(128, 3, seed=4, lo=-1.5, hi=1.5)
    results = []
    for layer in layers:
        xg = x.clone().requires_grad_()
        out = layer(xg)
        out.sin().sum().backward()
        results.append((out, xg.grad, layer.coef.grad, layer.scale_spline.grad, layer.scale_base.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("grid", [5, 60])
def test_auto_mode_takes_the_polynomial_path_for_narrow_layers_only(grid, monkeypatch):
    from kansci.core import layer as layer_module

    calls = []
    monkeypatch.setattr(layer_module, "polynomial_layer", lambda *args: calls.append(args) or args[0][:, :1])
    x = float64(10, 3).requires_grad_()
    widest = layer_module.POLYNOMIAL_UP_TO_OUTPUTS[grid > layer_module.SPARSE_FROM_BASES]
    _layer(grid=grid, n_out=widest)(x)
    _layer(grid=grid, n_out=widest + 1)(x)
    assert len(calls) == 1


def test_edge_derivatives_gradcheck_and_agree_with_autograd():
    from kansci.core.polynomial import edge_derivatives

    layer = _layer("polynomial", grid=5, n_in=2, n_out=2)
    layer.update_grid_(float64(200, 2, seed=3, lo=-0.7, hi=0.9))  # non-uniform grids
    spline = layer.weights()[0].detach().clone().requires_grad_()
    x = float64(12, 2, seed=8, lo=-1.4, hi=1.4).requires_grad_()  # some points beyond the grids
    table = layer.table()

    def fn(x, spline):
        return edge_derivatives(x, spline, table, (0, 1, 2))

    assert torch.autograd.gradcheck(fn, (x, spline))
    assert torch.autograd.gradgradcheck(fn, (x, spline))
    # orders 1 and 2 are the x-derivatives of order 0, edge by edge (input-major rows)
    d0, d1, d2 = fn(x, spline)
    (g1,) = torch.autograd.grad(d0.sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x)
    torch.testing.assert_close(g1, d1.sum(-1).view(2, 12).t(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(g2, d2.sum(-1).view(2, 12).t(), rtol=1e-10, atol=1e-10)
