"""KAN model: construction, input checks, refine, prune, scores, save/load."""

import pytest
import torch

import kansci
from kansci import KAN
from kansci.core.prune import edge_scores, node_scores, prune
from kansci.datasets import from_function
from tests.conftest import float64


def test_any_depth_maps_shapes_and_counts_parameters():
    model = KAN([3, 4, 5, 2], grid=6, seed=1)
    assert model(torch.rand(7, 3)).shape == (7, 2)
    per_edge = 6 + 3 + 2  # coefficients, base and spline scales
    assert model.n_params() == (3 * 4 + 4 * 5 + 5 * 2) * per_edge


def test_same_seed_same_model_and_outputs():
    x = torch.rand(20, 2)
    a, b, c = KAN([2, 3, 1], seed=5), KAN([2, 3, 1], seed=5), KAN([2, 3, 1], seed=6)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))


def test_construction_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    KAN([2, 5, 1], seed=0)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("width", "kwargs", "message"),
    [
        ([2], {}, "at least an input and an output"),
        ([2, 0, 1], {}, "positive integer"),
        ([2, -1], {}, "positive integer"),
        ([2, 1], {"grid": 0}, "grid"),
        ([2, 1], {"k": 0}, "spline order"),
        ([2, 1], {"grid_eps": 2.0}, "grid_eps"),
    ],
)
def test_bad_configuration_is_named(width, kwargs, message):
    with pytest.raises(ValueError, match=message):
        KAN(width, **kwargs)


def test_bad_input_names_problem_and_fix():
    model = KAN([2, 3, 1])
    with pytest.raises(ValueError, match=r"shape \(4, 3\) but the model expects \(batch, 2\)"):
        model(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="expects"):
        model(torch.zeros(4))
    with pytest.raises(TypeError, match="float64.*float32"):
        model(torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0, 1.0]])


def test_inputs_far_outside_the_grid_give_finite_outputs():
    model = KAN([2, 3, 1], dtype=torch.float64)
    x = torch.tensor([[1e8, -1e8], [50.0, 3.0], [-1e300, 1e300]], dtype=torch.float64)
    assert torch.isfinite(model(x)).all()


def test_refine_reproduces_the_function_and_leaves_the_original():
    data = from_function(lambda x: torch.sin(torch.pi * x[:, 0]) * x[:, 1], 2, n_train=300, dtype=torch.float64)
    model = KAN([2, 3, 1], grid=5, dtype=torch.float64)
    x = data.test_input
    fine = model.refine(10)  # inputs inside the initial [-1, 1] grids: kept without samples
    torch.testing.assert_close(fine(x), model(x), rtol=0, atol=1e-12)
    kansci.fit(model, data, steps=5, progress=False)
    before = [p.detach().clone() for p in model.parameters()]
    fine = model.refine(10, data.train_input)
    # one hidden input drifted off its grid in training; that spline is refit on a
    # data-adapted grid (least squares, not exact); the others are nested (exact)
    torch.testing.assert_close(fine(x), model(x), rtol=0, atol=2e-2)
    assert fine.config.grid == 10 and model.config.grid == 5
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    model.update_grid_(data.train_input)  # grids cover the data again: nested refine is exact
    xtr = data.train_input
    torch.testing.assert_close(model.refine(20, xtr)(xtr), model(xtr), rtol=0, atol=1e-9)


def test_scores_see_masked_inputs_and_sum_to_outputs():
    model = KAN([3, 4, 2], dtype=torch.float64)
    with torch.no_grad():
        model.layers[0].mask[2].zero_()
    x = float64(200, 3)
    scores = edge_scores(model, x)
    assert torch.equal(scores[0][2], torch.zeros(4, dtype=torch.float64))
    manual = model.layers[0].edge_activations(x).abs().mean(0)
    torch.testing.assert_close(scores[0], manual)
    nodes = node_scores(model, x)
    assert nodes[0][2] == 0.0
    for layer_scores in nodes:
        assert layer_scores.sum().item() == pytest.approx(2.0, rel=1e-9)


def test_prune_removes_dead_hidden_nodes_and_inputs_exactly():
    model = KAN([3, 4, 1], dtype=torch.float64, seed=2)
    with torch.no_grad():
        model.layers[0].mask[:, 1] = 0.0  # hidden node 1 gets nothing in
        model.layers[1].mask[3, :] = 0.0  # hidden node 3 gives nothing out
        model.layers[0].mask[2, :] = 0.0  # input 2 feeds nothing
    x = float64(300, 3)
    model.update_grid_(x)  # every layer's inputs inside its grid span
    small = prune(model, x, threshold=1e-8, inputs=True)
    assert small.width == (2, 2, 1)
    assert small.config.input_ids == (0, 1)
    torch.testing.assert_close(small(x[:, [0, 1]]), model(x), rtol=1e-12, atol=1e-12)
    assert model.width == (3, 4, 1)
    kept = prune(model, x, threshold=1e-8)
    assert kept.width == (3, 2, 1) and kept.config.input_ids is None
    with pytest.raises(ValueError, match=r"pruned to input columns \[0, 1\]"):
        small(x)


def test_save_load_round_trip_is_exact(tmp_path):
    model = KAN([2, 4, 3], grid=7, seed=3, dtype=torch.float64)
    with torch.no_grad():
        model.layers[1].mask[0, 1] = 0.0
    model.update_grid_(float64(100, 2, lo=-0.5, hi=0.7))
    small = prune(model, float64(100, 2), inputs=True)
    for m in (model, small):
        path = kansci.save(m, tmp_path / "sub" / "m.pt")
        loaded = kansci.load(path)
        x = float64(50, m.width[0], seed=9)
        assert torch.equal(loaded(x), m(x))
        assert loaded.config == m.config
    assert not list(tmp_path.glob("sub/.*tmp"))


def test_load_rejects_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        kansci.load(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt or not a kansci checkpoint"):
        kansci.load(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not a kansci KAN checkpoint"):
        kansci.load(foreign)
    mismatched = tmp_path / "mismatch.pt"
    record = torch.load(kansci.save(KAN([2, 2]), tmp_path / "ok.pt"), weights_only=True)
    record["config"]["width"] = (3, 2)
    torch.save(record, mismatched)
    with pytest.raises(ValueError, match="does not match its configuration"):
        kansci.load(mismatched)


def test_inside_grid_flags_rows_that_leave_any_layers_grid():
    model = KAN([2, 3, 1], grid=5, seed=0, dtype=torch.float64)  # default grids span [-1, 1]
    x = torch.tensor([[0.0, 0.5], [1.5, 0.0], [-0.99, 0.99]], dtype=torch.float64)
    hidden = model.layer_inputs(x)[1]
    expected = (x.abs() <= 1).all(1) & ((hidden >= -1) & (hidden <= 1)).all(1)
    assert model.inside_grid(x).tolist() == expected.tolist()
    assert model.inside_grid(x)[0] and not model.inside_grid(x)[1]  # row 1: its first input is outside layer 0's grid
    model.layers[1].knots.mul_(1e-3)  # hidden grid squeezed around 0: only rows whose hidden values are ~0 stay inside
    tight = (hidden.abs() <= 1e-3).all(1) & (x.abs() <= 1).all(1)
    assert model.inside_grid(x).tolist() == tight.tolist()
