"""The Dataset type and the registry: formula and ranges checked, provenance, unknown names."""

import pytest
import sympy
import torch

from kansci.datasets import Dataset, FunctionSpec, from_function, load, names, register_spec


def _xy(n=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=gen, dtype=torch.float64), torch.rand(n, 1, generator=gen, dtype=torch.float64)


def test_ranges_default_to_the_data_span_and_formula_symbols_are_checked():
    x, y = _xy()
    ds = Dataset(x, y, x, y, ("a", "b"))
    assert ds.input_ranges == tuple((float(x[:, j].min()), float(x[:, j].max())) for j in range(2))
    a, b = ds.symbols()
    assert Dataset(x, y, x, y, ("a", "b"), formula=a * b).formula == a * b
    with pytest.raises(ValueError, match=r"formula uses \['c'\]"):
        Dataset(x, y, x, y, ("a", "b"), formula=sympy.Symbol("c") * a)
    with pytest.raises(ValueError, match="input_ranges must be 2 pairs"):
        Dataset(x, y, x, y, input_ranges=((0.0, 1.0),))
    # selecting inputs keeps the formula only if it still makes sense
    with_formula = Dataset(x, y, x, y, ("a", "b"), formula=2 * a)
    assert with_formula.select_inputs([0]).formula == 2 * a
    assert with_formula.select_inputs([1]).formula is None


def test_from_function_records_provenance():
    ds = from_function(lambda t: t[:, 0], 1, ranges=(0.0, 2.0), n_train=5, n_test=3, seed=4)
    assert ds.metadata["generator"] == "from_function" and ds.metadata["seed"] == 4
    assert set(ds.metadata["versions"]) == {"kansci", "torch", "numpy", "scipy", "sympy"}
    assert ds.input_ranges == ((0.0, 2.0),)


def test_function_spec_sampling_is_deterministic_and_noise_is_relative():
    u, v = sympy.symbols("u v", real=True)
    spec = FunctionSpec("test/product", ("u", "v"), ((1.0, 2.0), (-1.0, 1.0)), u * v, output="w")
    register_spec(spec, overwrite=True)
    a = load("test/product", n_train=400, n_test=50, seed=3, dtype=torch.float64)
    b = load("test/product", n_train=400, n_test=50, seed=3, dtype=torch.float64)
    assert torch.equal(a.train_input, b.train_input) and torch.equal(a.test_label, b.test_label)
    torch.testing.assert_close(a.train_label[:, 0], a.train_input[:, 0] * a.train_input[:, 1], rtol=0, atol=1e-15)
    assert a.input_names == ("u", "v") and a.output_names == ("w",) and a.formula == u * v
    assert a.input_ranges == ((1.0, 2.0), (-1.0, 1.0))
    noisy = load("test/product", n_train=4000, n_test=50, seed=3, noise=0.1, dtype=torch.float64)
    clean = noisy.train_input[:, 0] * noisy.train_input[:, 1]
    ratio = float((noisy.train_label[:, 0] - clean).std() / clean.std())
    assert abs(ratio - 0.1) < 0.01  # relative noise: measured 0.0997
    torch.testing.assert_close(noisy.test_label[:, 0], noisy.test_input[:, 0] * noisy.test_input[:, 1])
    assert "test/product" in names("test/")


def test_bad_requests_are_named():
    with pytest.raises(ValueError, match="did you mean 'test/product'"):
        register_spec(FunctionSpec("test/product", ("u",), ((0.0, 1.0),), sympy.Symbol("u", real=True)), overwrite=True)
        load("test/prodcut")
    with pytest.raises(ValueError, match="n_train must be a positive integer"):
        load("test/product", n_train=0)
    with pytest.raises(ValueError, match="lo < hi"):
        FunctionSpec("bad", ("u",), ((1.0, 0.0),), sympy.Symbol("u", real=True))
    with pytest.raises(ValueError, match="not finite"):
        u = sympy.Symbol("u", real=True)
        FunctionSpec("test/log", ("u",), ((-1.0, 1.0),), sympy.log(u)).sample(n_train=50, n_test=5)


@pytest.mark.parametrize("name", names())
def test_every_registered_dataset_loads_finite_with_consistent_names_ranges_and_formula(name):
    """The acceptance sweep: each of the registry's datasets at small n (Anderson, knots and Feynman included)."""
    ds = load(name, n_train=16, n_test=8, seed=1, dtype=torch.float64)
    assert ds.train_input.shape == (16, ds.n_inputs) and ds.test_input.shape == (8, ds.n_inputs)
    assert ds.train_label.shape == (16, ds.n_outputs) and ds.test_label.shape == (8, ds.n_outputs)
    for t in (ds.train_input, ds.train_label, ds.test_input, ds.test_label):
        assert t.dtype == torch.float64 and bool(torch.isfinite(t).all())
    assert (
        len(ds.input_names) == ds.n_inputs and len(set(ds.input_names + ds.output_names)) == ds.n_inputs + ds.n_outputs
    )
    for column, (lo, hi) in enumerate(ds.input_ranges):
        assert lo <= float(ds.test_input[:, column].min()) and float(ds.test_input[:, column].max()) <= hi
    if ds.formula is not None:  # noise-free labels are the formula at the inputs (mpmath, point by point)
        f = sympy.lambdify(ds.symbols(), ds.formula, "mpmath")
        expected = [float(sympy.re(f(*row))) for row in ds.test_input.tolist()]
        torch.testing.assert_close(
            ds.test_label[:, 0], torch.tensor(expected, dtype=torch.float64), rtol=1e-8, atol=1e-12
        )
