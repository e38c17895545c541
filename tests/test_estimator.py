"""Tests of the scikit-learn estimator ``kansci.KANRegressor``."""

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import kansci  # noqa: E402
from kansci.estimator import KANRegressor  # noqa: E402


def target(X):
    return np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2


def sample(n, seed, n_features=2):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, n_features))


@pytest.fixture(autouse=True, scope="module")
def _deterministic_threads():
    """One torch thread here (overrides conftest's two for this module).

    These networks are tiny: intra-op threads only add synchronization, which
    makes fits several times slower when the CPUs are shared.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def smooth_fit():
    X = sample(500, seed=0)
    reg = KANRegressor(hidden=(5,), steps=50, dtype="float64", random_state=0).fit(X, target(X))
    return reg


# Tiny networks and one LBFGS step keep the ~50 generic checks fast; the
# regression-quality check (score > 0.5) still passes with them.
@parametrize_with_checks([KANRegressor(hidden=(3,), grid=3, steps=1)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_lazy_export():
    assert kansci.KANRegressor is KANRegressor


def test_fits_smooth_function_on_held_out_points(smooth_fit):
    X_test = sample(1000, seed=1)
    assert r2_score(target(X_test), smooth_fit.predict(X_test)) > 0.999
    assert smooth_fit.score(X_test, target(X_test)) > 0.999
    assert smooth_fit.history_.status == "completed"
    assert len(smooth_fit.history_.step) == 50
    assert smooth_fit.history_.train_rmse[-1] < 1e-2


def test_fitted_attributes(smooth_fit):
    reg = smooth_fit
    assert isinstance(reg.model_, kansci.KAN)
    assert reg.model_.width == (2, 5, 1)
    assert reg.model_.dtype == torch.float64
    assert reg.n_features_in_ == 2
    assert reg.n_outputs_ == 1
    X = sample(500, seed=0)
    scaled = (X - reg.x_min_) * reg.x_scale_ - 1.0
    np.testing.assert_allclose(scaled.min(axis=0), [-1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(scaled.max(axis=0), [1.0, 1.0], atol=1e-12)
    y = target(X)
    np.testing.assert_allclose(reg.y_mean_, [y.mean()])
    np.testing.assert_allclose(reg.y_scale_, [y.std()])


def test_same_seed_gives_identical_predictions():
    X = sample(200, seed=2)
    y = target(X)
    X_test = sample(50, seed=3)
    a = KANRegressor(steps=5, random_state=7).fit(X, y).predict(X_test)
    b = KANRegressor(steps=5, random_state=7).fit(X, y).predict(X_test)
    c = KANRegressor(steps=5, random_state=8).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-8
    d, e = (KANRegressor(steps=1, random_state=np.random.RandomState(3)).fit(X, y).predict(X_test) for _ in "de")
    np.testing.assert_array_equal(d, e)


def test_refit_is_idempotent_and_pickle_keeps_predictions():
    X = sample(100, seed=4)
    y = target(X)
    reg = KANRegressor(steps=3).fit(X, y)
    first = reg.predict(X)
    np.testing.assert_array_equal(reg.fit(X, y).predict(X), first)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), first)


def test_get_params_set_params_round_trip():
    params = {
        "hidden": (4, 3),
        "grid": 7,
        "spline_order": 2,
        "steps": 11,
        "optimizer": "adam",
        "learning_rate": 0.01,
        "batch_size": 32,
        "regularization": 1e-3,
        "update_grid": False,
        "dtype": "float32",
        "random_state": 5,
    }
    reg = KANRegressor(**params)
    assert reg.get_params() == params
    other = KANRegressor().set_params(**params)
    assert other.get_params() == params
    assert KANRegressor().get_params() == {
        "hidden": (5,),
        "grid": 5,
        "spline_order": 3,
        "steps": 50,
        "optimizer": "lbfgs",
        "learning_rate": None,
        "batch_size": -1,
        "regularization": 0.0,
        "update_grid": True,
        "dtype": "float64",
        "random_state": 0,
    }


def test_clone_is_unfitted_with_same_params(smooth_fit):
    copy = clone(smooth_fit)
    assert copy.get_params() == smooth_fit.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.predict(sample(3, seed=0))


def test_one_dimensional_and_multi_output_targets():
    X = sample(200, seed=5)
    y1 = target(X)
    reg = KANRegressor(steps=10).fit(X, y1)
    assert reg.predict(X).shape == (200,)
    column = KANRegressor(steps=10).fit(X, y1[:, None])
    assert column.predict(X).shape == (200, 1)
    np.testing.assert_allclose(column.predict(X)[:, 0], reg.predict(X), rtol=1e-10, atol=1e-12)

    Y = np.column_stack([y1, X[:, 0] * X[:, 1] + 3.0])
    multi = KANRegressor(hidden=(6,), steps=15).fit(X, Y)
    assert multi.model_.width == (2, 6, 2)
    assert multi.n_outputs_ == 2
    X_test = sample(200, seed=6)
    pred = multi.predict(X_test)
    assert pred.shape == (200, 2)
    Y_test = np.column_stack([target(X_test), X_test[:, 0] * X_test[:, 1] + 3.0])
    assert r2_score(Y_test, pred, multioutput="raw_values").min() > 0.99


def test_no_hidden_layer_fits_additive_function():
    X = sample(200, seed=16)
    reg = KANRegressor(hidden=(), steps=10).fit(X, target(X))
    assert reg.model_.width == (2, 1)
    assert KANRegressor(hidden=4, steps=0).fit(X, target(X)).model_.width == (2, 4, 1)
    X_test = sample(200, seed=17)
    assert reg.score(X_test, target(X_test)) > 0.999


def test_multiplication_node_fits_a_product_to_high_precision():
    X = sample(300, seed=19)
    y = X[:, 0] * X[:, 1]
    hidden = ([0, 1],)
    reg = KANRegressor(hidden=hidden, optimizer="lm", steps=30).fit(X, y)
    assert reg.model_.config.display_width() == [2, [0, 1], 1]
    # measured: 1 - R^2 about 3e-8 on the training points, 1e-6 on held-out ones
    assert reg.score(X, y) > 0.9999
    X_test = sample(1000, seed=20)
    assert reg.score(X_test, X_test[:, 0] * X_test[:, 1]) > 0.9999
    assert reg.hidden is hidden and reg.get_params()["hidden"] == ([0, 1],)  # parameters stay as given
    copy = clone(reg)
    assert copy.get_params() == reg.get_params() and not hasattr(copy, "model_")


def test_hidden_mixes_sum_layers_and_pairs():
    X = sample(50, seed=21)
    reg = KANRegressor(hidden=[4, [3, 2]], steps=0).fit(X, target(X))
    assert reg.model_.config.display_width() == [2, 4, [3, 2], 1]
    assert reg.model_.width == (2, 4, 5, 1)
    assert KANRegressor(hidden=[[2, 0]], steps=0).fit(X, target(X)).model_.width == (2, 2, 1)


@pytest.mark.parametrize("hidden", [([3, -1],), ([1, 1, 1],), ([0, 0],), ([2.5, 1],), ("ab",), ([True, 1],), "5", 0])
def test_bad_hidden_entry_names_the_accepted_forms(hidden):
    X = sample(10, seed=15)
    with pytest.raises(ValueError, match=r"hidden must be .* pair \[n_sum, n_mult\] .*hidden=\(\[3, 2\],\)"):
        KANRegressor(hidden=hidden).fit(X, target(X))


def test_input_scale_and_offset_do_not_matter():
    X = sample(200, seed=7)
    y = target(X)
    X_test = sample(20, seed=8)
    base = KANRegressor(steps=3).fit(X, y).predict(X_test)
    shift, stretch = np.array([100.0, -3.0]), np.array([1e3, 1e-3])
    moved = KANRegressor(steps=3).fit(X * stretch + shift, y).predict(X_test * stretch + shift)
    np.testing.assert_allclose(moved, base, rtol=1e-6, atol=1e-6)


def test_constant_feature_and_tiny_samples():
    X = sample(200, seed=9, n_features=3)
    X[:, 1] = 4.0
    y = target(X[:, [0, 2]])
    reg = KANRegressor(steps=10).fit(X, y)
    np.testing.assert_array_equal(reg.x_scale_[1], 1.0)
    assert np.all(np.isfinite(reg.x_scale_))
    X_test = sample(20, seed=10, n_features=3)
    X_test[:, 1] = 4.0
    assert np.all(np.isfinite(reg.predict(X_test)))
    assert reg.score(X_test, target(X_test[:, [0, 2]])) > 0.999

    one = KANRegressor(steps=2).fit([[1.0, 2.0]], [3.0])  # one sample: fit exactly, finite elsewhere
    assert one.predict([[1.0, 2.0]])[0] == pytest.approx(3.0, abs=1e-8)
    assert np.all(np.isfinite(one.predict([[0.0, 5.0], [-1e6, 1e6]])))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    X = sample(20, seed=11)
    y = target(X)
    X_bad = X.copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="(?i)nan|inf"):
        KANRegressor(steps=1).fit(X_bad, y)
    y_bad = y.copy()
    y_bad[5] = bad
    with pytest.raises(ValueError, match="(?i)nan|inf"):
        KANRegressor(steps=1).fit(X, y_bad)
    reg = KANRegressor(steps=1).fit(X, y)
    with pytest.raises(ValueError, match="(?i)nan|inf"):
        reg.predict(X_bad)


def test_predict_checks_feature_count():
    X = sample(20, seed=12)
    reg = KANRegressor(steps=1).fit(X, target(X))
    with pytest.raises(ValueError, match="features"):
        reg.predict(sample(5, seed=0, n_features=3))


def test_float32_network():
    X = sample(100, seed=13)
    y = target(X)
    reg = KANRegressor(steps=10, dtype="float32").fit(X, y)
    assert reg.model_.dtype == torch.float32
    assert reg.score(X, y) > 0.99


def test_adam_minibatch_and_regularization_run():
    X = sample(200, seed=14)
    y = target(X)
    reg = KANRegressor(optimizer="adam", learning_rate=0.01, batch_size=32, steps=30, regularization=1e-3)
    reg.fit(X, y)
    assert len(reg.history_.step) == 30
    assert reg.history_.loss[-1] < reg.history_.loss[0]
    assert np.all(np.isfinite(reg.predict(X)))


def test_diverging_training_warns():
    X = sample(50, seed=18)
    reg = KANRegressor(optimizer="adam", learning_rate=1e200, steps=3)
    with pytest.warns(ConvergenceWarning, match="non-finite"):
        reg.fit(X, target(X))
    assert reg.history_.status == "nan_restored"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dtype": "float16"}, "dtype"),
        ({"hidden": (5, 0)}, "hidden"),
        ({"hidden": (2.5,)}, "hidden"),
        ({"optimizer": "sgd"}, "opt"),
        ({"steps": -1}, "steps"),
        ({"grid": 0}, "grid"),
        ({"regularization": -1.0}, "regularization must lie in"),
        ({"regularization": float("nan")}, "regularization must be a finite"),
    ],
)
def test_invalid_parameters_raise(params, match):
    X = sample(10, seed=15)
    with pytest.raises(ValueError, match=match):
        KANRegressor(**params).fit(X, target(X))
