"""Bad input to the core's public API: one clear error each, raised before any work (one row per bad input)."""

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

import kansci
from kansci import KAN, KANLayer
from kansci.core.checks import layer_bytes, memory_limit
from kansci.core.prune import edge_scores, prune
from kansci.datasets import Dataset, from_function

NAN, INF = math.nan, math.inf


def _small() -> KAN:
    return KAN([2, 3, 1], seed=0)


def _data(n: int = 16) -> Dataset:
    return from_function(lambda x: x[:, 0] * x[:, 1], 2, n_train=n, n_test=n)


def _saved_and_loaded(**options) -> KAN:
    with tempfile.TemporaryDirectory() as folder:
        return kansci.load(kansci.save(_small(), Path(folder) / "model.pt"), **options)


CONSTRUCTION = [
    ("width a string", lambda: KAN("231"), "width must be a sequence"),
    ("width an int", lambda: KAN(3), "width must be a sequence"),
    ("width of floats", lambda: KAN([2.0, 3, 1]), "positive integer"),
    ("grid a float", lambda: KAN([2, 1], grid=5.0), r"grid \(number of intervals\) must be an integer"),
    ("grid a bool", lambda: KAN([2, 1], grid=True), "must be an integer"),
    ("grid too large to build", lambda: KAN([2, 3, 1], grid=10**9), r"needs about .* GiB to build"),
    ("k a string", lambda: KAN([2, 1], k="3"), "spline order k must be an integer"),
    ("seed a string", lambda: KAN([2, 1], seed="a"), "seed must be an integer"),
    ("seed beyond 64 bits", lambda: KAN([2, 1], seed=2**70), "seed must fit in 64 bits"),
    ("noise_scale nan", lambda: KAN([2, 1], noise_scale=NAN), "noise_scale must be a finite number"),
    ("scale_base_sigma inf", lambda: KAN([2, 1], scale_base_sigma=INF), "scale_base_sigma must be a finite"),
    ("scale_base_mu nan", lambda: KAN([2, 1], scale_base_mu=NAN), "scale_base_mu must be a finite"),
    ("grid_eps nan", lambda: KAN([2, 1], grid_eps=NAN), "grid_eps must be a finite"),
    ("grid_eps a string", lambda: KAN([2, 1], grid_eps="a"), "grid_eps must be a real number"),
    ("grid_range reversed", lambda: KAN([2, 1], grid_range=(1, -1)), "lo < hi"),
    ("grid_range nan", lambda: KAN([2, 1], grid_range=(NAN, 1)), "grid_range must be a finite"),
    ("grid_range of three", lambda: KAN([2, 1], grid_range=(0, 1, 2)), r"grid_range must be a pair"),
    ("basis_mode unknown", lambda: KAN([2, 1], basis_mode="fast"), "basis_mode must be"),
    ("dtype float16", lambda: KAN([2, 1], dtype=torch.float16), "float32 or torch.float64"),
    ("dtype not a dtype", lambda: KAN([2, 1], dtype=np.float32), "float32"),
    ("device unknown", lambda: KAN([2, 1], device="nonsense"), "device must be a torch device"),
    ("unknown option", lambda: KAN([2, 1], grids=5), r"unknown KAN option\(s\) \['grids'\]"),
    ("input_ids negative", lambda: KAN([2, 1], input_ids=(0, -1)), "input_ids must be an integer >= 0"),
    ("layer in_features 0", lambda: KANLayer(0, 1), "in_features must be an integer >= 1"),
    ("layer grid numpy float", lambda: KANLayer(2, 1, np.float64(5)), "must be an integer"),
    ("layer noise_scale nan", lambda: KANLayer(2, 1, noise_scale=NAN), "noise_scale must be a finite"),
    ("layer too large to build", lambda: KANLayer(2, 1, 10**8), "GiB to build"),
    ("layer fed 3 columns", lambda: KANLayer(2, 1)(torch.zeros(4, 3)), r"shape \(4, 3\) but the layer expects"),
    ("layer fed a vector", lambda: KANLayer(2, 1)(torch.zeros(4)), r"shape \(4,\) but the layer expects"),
    ("layer fed float64", lambda: KANLayer(2, 1)(torch.zeros(4, 2, dtype=torch.float64)), "use x.to"),
    ("layer fed integers", lambda: KANLayer(2, 1)(torch.zeros(4, 2, dtype=torch.long)), "dtype torch.int64"),
]

MODEL_USE = [
    ("refine to a float grid", lambda: _small().refine(10.5), "must be an integer"),
    ("refine to a huge grid", lambda: _small().refine(10**9), r"refined to grid=1000000000 needs about"),
    ("refine on NaN samples", lambda: _small().refine(10, torch.full((4, 2), NAN)), "hold NaN or inf"),
    ("grid update on no rows", lambda: _small().update_grid_(torch.zeros(0, 2)), "are empty"),
    ("grid update on NaN rows", lambda: _small().update_grid_(torch.full((4, 2), NAN)), "hold NaN or inf"),
    ("prune a non-KAN", lambda: prune(torch.nn.Linear(2, 1), torch.rand(4, 2)), "need a kansci.KAN"),
    ("prune on no rows", lambda: prune(_small(), torch.zeros(0, 2)), "are empty"),
    ("prune on NaN rows", lambda: prune(_small(), torch.full((4, 2), NAN)), "hold NaN or inf"),
    ("prune threshold nan", lambda: prune(_small(), torch.rand(4, 2), NAN), "threshold must be a finite"),
    ("prune threshold negative", lambda: prune(_small(), torch.rand(4, 2), -1.0), r"threshold must lie in \[0"),
    ("prune edge_threshold str", lambda: prune(_small(), torch.rand(4, 2), edge_threshold="x"), "real number"),
    ("edge scores on NaN rows", lambda: edge_scores(_small(), torch.full((3, 2), INF)), "hold NaN or inf"),
    ("save into a directory", lambda: kansci.save(_small(), "."), "is a directory; pass a file path inside it"),
    ("load onto an unknown device", lambda: _saved_and_loaded(device="gpu0"), "device must be a torch device"),
]

TRAINING = [
    ("lamb nan", lambda: kansci.fit(_small(), _data(), lamb=NAN), "lamb must be a finite number"),
    ("lamb negative", lambda: kansci.fit(_small(), _data(), lamb=-1.0), r"lamb must lie in \[0"),
    ("lamb_entropy inf", lambda: kansci.fit(_small(), _data(), lamb_entropy=INF), "lamb_entropy must be a finite"),
    ("lr zero", lambda: kansci.fit(_small(), _data(), lr=0.0), "lr must be a positive"),
    ("lr nan", lambda: kansci.fit(_small(), _data(), lr=NAN), "lr must be a finite"),
    ("steps a float", lambda: kansci.fit(_small(), _data(), steps=2.5), "steps must be an integer"),
    ("batch below -1", lambda: kansci.fit(_small(), _data(), batch=-2), "batch must be an integer >= -1"),
    ("batch zero", lambda: kansci.fit(_small(), _data(), batch=0), "batch must be -1"),
    ("fit seed a string", lambda: kansci.fit(_small(), _data(), seed="a"), "seed must be an integer"),
    ("reg_samples zero", lambda: kansci.fit(_small(), _data(), reg_samples=0), "reg_samples must be an integer >= 1"),
    ("lbfgs_iters zero", lambda: kansci.fit(_small(), _data(), lbfgs_iters=0), "lbfgs_iters must be"),
    ("model not a module", lambda: kansci.fit("model", _data()), "model must be a torch.nn.Module"),
    ("loss_fn not callable", lambda: kansci.fit(_small(), _data(), loss_fn=3), "loss_fn must be a callable"),
    ("metric not callable", lambda: kansci.fit(_small(), _data(), metrics={"m": 1}), r"metrics\['m'\] must be a"),
    ("callback not callable", lambda: kansci.fit(_small(), _data(), callbacks=[1]), "callbacks must be a sequence"),
    ("checkpoint a directory", lambda: kansci.fit(_small(), _data(), checkpoint="."), "checkpoint '.' is a directory"),
    (
        "grid_samples of the wrong width",
        lambda: kansci.fit(_small(), lambda m: m(torch.rand(3, 2)).sum(), grid_samples=torch.rand(4, 3)),
        r"grid_samples has shape \(4, 3\)",
    ),
]

DATA = [
    ("from_function f not callable", lambda: from_function(3, 2), "f must be a callable"),
    ("from_function n_var a float", lambda: from_function(lambda x: x[:, 0], 2.5), "n_var must be an integer >= 1"),
    ("from_function n_train zero", lambda: from_function(lambda x: x[:, 0], 1, n_train=0), "n_train must be"),
    ("from_function seed a string", lambda: from_function(lambda x: x[:, 0], 1, seed="a"), "seed must be an integer"),
    ("from_function noise negative", lambda: from_function(lambda x: x[:, 0], 1, noise=-1.0), "noise .* >= 0"),
    ("from_function noise nan", lambda: from_function(lambda x: x[:, 0], 1, noise=NAN), "noise .* finite"),
    ("from_function ranges nan", lambda: from_function(lambda x: x[:, 0], 1, ranges=(NAN, 1)), "ranges must be"),
    ("from_function f drops rows", lambda: from_function(lambda x: x[:3, 0], 2), r"got \(3,\)"),
]

ALL = CONSTRUCTION + MODEL_USE + TRAINING + DATA


@pytest.mark.parametrize(("make", "message"), [row[1:] for row in ALL], ids=[row[0] for row in ALL])
def test_bad_input_gets_one_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message) as caught:
        make()
    raised_in = caught.traceback[-1].path.as_posix()
    assert "/kansci/" in raised_in and "/tests/" not in raised_in  # by kansci's own check, not deep in torch


def test_the_table_covers_at_least_forty_distinct_bad_inputs():
    names = [row[0] for row in ALL]
    assert len(set(names)) == len(names) >= 40


def test_numpy_and_tensor_integers_are_integers():
    model = KAN(np.array([2, 3, 1]), grid=np.int64(4), k=np.int32(2), seed=np.int64(3))
    assert model.width == (2, 3, 1) and type(model.width[0]) is int
    assert (model.config.grid, model.config.k, model.config.seed) == (4, 2, 3)
    assert model.refine(np.int64(8)).config.grid == 8
    reference = KAN([2, 3, 1], grid=4, k=2, seed=3)
    x = torch.rand(5, 2)
    assert torch.equal(model(x), reference(x))


def test_an_empty_batch_gives_an_empty_output_connected_to_the_graph():
    model = _small()
    x = torch.zeros(0, 2, requires_grad=True)
    y = model(x)
    assert y.shape == (0, 1) and y.dtype == model.dtype
    y.sum().backward()  # an empty minibatch contributes a zero gradient, as torch's own layers do
    assert x.grad.shape == (0, 2)
    assert model.inside_grid(torch.zeros(0, 2)).shape == (0,)
    assert [tuple(e.shape) for e in model.edge_activations(torch.zeros(0, 2))] == [(0, 2, 3), (0, 3, 1)]


def test_the_size_refused_is_the_estimate_and_buildable_sizes_pass():
    limit = memory_limit("cpu")
    if limit is None:
        pytest.skip("this platform does not report its memory (no os.sysconf)")
    big = next(g for g in (10**4, 10**5, 10**6, 10**7) if layer_bytes(2, 3, g, 3, 4) > limit)
    with pytest.raises(ValueError, match="GiB"):
        KAN([2, 3, 1], grid=big)
    assert layer_bytes(2, 3, 20, 3, 4) < 1e6  # the usual sizes are nowhere near the limit
    KAN([2, 3, 1], grid=200)


def test_a_loss_not_finite_at_the_start_raises_and_leaves_the_parameters():
    model = _small()
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.rand(8, 2)

    def loss(m):
        return (m(x) * NAN).square().mean()

    for opt in ("lbfgs", "adam"):
        with pytest.raises(ValueError, match=r"the loss is nan at the starting parameters \(step 0\)"):
            kansci.fit(model, loss, steps=3, opt=opt, grid_samples=x, progress=False)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_nan_parameters_make_fit_raise_instead_of_claiming_a_restore():
    model = _small()
    with torch.no_grad():
        model.layers[0].coef[0, 0, 0] = NAN
    with pytest.raises(ValueError, match="Check the data, the loss and the model for NaN"):
        kansci.fit(model, _data(), steps=2, update_grid=False, progress=False)
    assert math.isnan(float(model.layers[0].coef.detach()[0, 0, 0]))  # left as it was, not silently "restored"
