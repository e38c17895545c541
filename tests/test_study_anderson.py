"""The Anderson-localization study and the classifier-boundary helpers it uses (kansci.symbolic.boundary)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch

import kansci
from kansci.datasets import from_arrays
from kansci.studies import anderson
from kansci.symbolic import fix_symbolic
from kansci.symbolic.boundary import match_boundary, read_boundary, simplify_boundary, snap_by_loss

A, L, E = (sympy.Symbol(n, real=True) for n in ("alpha", "lambda", "energy"))
EDGE = A * E + 2 * L - 2


@pytest.fixture(autouse=True)
def _one_thread():
    """Many small ops: one thread is faster and steadier on the shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _points(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-0.8, 0.8, n), rng.uniform(0.2, 1.8, n), rng.uniform(-4, 4, n)])


def _linear_classifier(weights: tuple[float, float], shift: float, scale: float, offset: float) -> kansci.KAN:
    """[2,1,1]: g = w0 x0 + w1 x1 + shift, output = scale * g + offset (all edges symbolic)."""
    model = kansci.KAN([2, 1, 1], grid=5, seed=0, dtype=torch.float64)
    model.layers[0].symbolic.set(0, 0, "x", (1.0, 0.0, weights[0], shift))
    model.layers[0].symbolic.set(1, 0, "x", (1.0, 0.0, weights[1], 0.0))
    model.layers[1].symbolic.set(0, 0, "x", (1.0, 0.0, scale, offset))
    return model


def test_read_boundary_of_a_linear_classifier_is_exact():
    # output 2 (3 x0 - x1 + 0.5) - 1 crosses 0 where g = 3 x0 - x1 + 0.5 equals 0.5
    model = _linear_classifier((3.0, -1.0), 0.5, 2.0, -1.0)
    x = torch.as_tensor(_points()[:, :2])
    boundary = read_boundary(model, x, ["u", "v"], level=0.0)
    u, v = sympy.symbols("u v", real=True)
    assert boundary.orientation == 1
    assert boundary.threshold == pytest.approx(0.5, abs=1e-12)
    assert float(sympy.expand(boundary.expression - (3 * u - v)).subs({u: 0.3, v: -0.7})) == pytest.approx(0, abs=1e-12)
    with torch.no_grad():
        network = (model(x)[:, 0] > 0).numpy()
    np.testing.assert_array_equal(boundary.predict(x), network)


def test_read_boundary_of_a_decreasing_output_flips_the_side():
    model = _linear_classifier((1.0, 1.0), 0.0, -1.0, 0.2)  # class 1 where 0.2 - g > 0, i.e. g < 0.2
    x = torch.as_tensor(_points()[:, :2])
    boundary = read_boundary(model, x, level=0.0)
    assert boundary.orientation == -1
    assert boundary.threshold == pytest.approx(0.2, abs=1e-12)
    with torch.no_grad():
        np.testing.assert_array_equal(boundary.predict(x), (model(x)[:, 0] > 0).numpy())


def test_read_boundary_refuses_a_model_without_a_single_output_edge():
    with pytest.raises(ValueError, match=r"\[\.\.\., 1, 1\]"):
        read_boundary(kansci.KAN([2, 3, 1], seed=0, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64))


def test_match_boundary_recognizes_a_scaled_edge_and_rejects_a_different_one():
    x = _points()
    variables = [A, L, E]
    scaled = 3.1 * EDGE + 0.02 * A**2  # the edge up to a positive factor, plus a negligible term
    match = match_boundary(scaled, EDGE, variables, x)
    assert match.scale == pytest.approx(3.1, rel=1e-3)  # measured 3.10004
    assert match.equivalent
    assert match.worst_term < 0.005  # measured 0.0014: (0.02 / 3.1) alpha^2 against the size of the edge here
    assert match.sign_agreement > 0.99
    other = match_boundary(A * E + L - 2, EDGE, variables, x)  # lambda's coefficient 1 instead of 2
    assert not other.equivalent and other.worst_term > 0.3  # measured 0.59
    flipped = match_boundary(-EDGE, EDGE, variables, x)
    assert flipped.scale == pytest.approx(-1.0) and not flipped.equivalent and flipped.sign_agreement == 0.0


def test_simplify_boundary_drops_what_the_labels_do_not_need():
    x = _points(2000, seed=1)
    labels = (x[:, 0] * x[:, 2] + 2 * x[:, 1] - 2 > 0).astype(float)
    noisy = 0.97 * A * E - 0.05 * L**2 + 2.1 * L - 2.0 + 0.03 * E**2 + 0.02 * A * L
    result = simplify_boundary(noisy, [A, L, E], x, labels)
    assert set(result.dropped) == {L**2, E**2, A * L}
    match = match_boundary(result.expression, EDGE, [A, L, E], x)
    assert match.equivalent and match.worst_term < 0.01  # measured 0.0025: exact labels, refit coefficients
    assert result.error <= result.original_error + 0.002 and result.error < 0.01  # measured 0.002


@pytest.mark.parametrize("true_name, copy_name", [("b", "a"), ("a", "b")])
def test_simplify_boundary_breaks_ties_by_loss_not_by_term_order(true_name, copy_name):
    # labels from u + t > 0 with a margin; c is t plus small noise, so dropping either t or c leaves no error
    # (a tie in the error rate) but only t separates with the full margin. Terms go in sympy's order (by name),
    # so the two namings put the true term first and last: a tie broken by position drops it in one of them.
    rng = np.random.default_rng(0)
    u_values, t_values = rng.uniform(-1, 1, (2, 4000))
    margin = np.abs(u_values + t_values) > 0.2
    u_values, t_values = u_values[margin][:400], t_values[margin][:400]
    c_values = t_values + rng.normal(0, 0.02, len(t_values))
    labels = (u_values + t_values > 0).astype(float)
    u, t, c = sympy.symbols(f"u {true_name} {copy_name}", real=True)
    x = np.column_stack([u_values, t_values, c_values])
    result = simplify_boundary(u + 0.5 * t + 0.5 * c, [u, t, c], x, labels)
    assert result.dropped == (c,)
    assert result.error == 0.0
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 1))
    y = (x[:, 0] ** 2 > 0.25).astype(float)[:, None]
    data = from_arrays(x, y, test_fraction=0.3, dtype=torch.float64)
    model = kansci.KAN([1, 1, 1], grid=5, seed=0, dtype=torch.float64)
    fix_symbolic(model, 1, 0, 0, "x", params=(1.0, 0.0, 1.0, 0.0))
    kansci.fit(model, data, steps=10, loss_fn=anderson.logistic_loss, progress=False)
    snapped, search = snap_by_loss(
        model, data, {0: ["x", "x^2"]}, loss_fn=anderson.logistic_loss, criterion=anderson.training_error, steps=5
    )
    assert search.chosen == ("x^2",)
    scores = dict(search.tried)
    assert scores[("x^2",)] < 0.02 and scores[("x",)] > 0.3  # measured 0.0 and 0.65: a line cannot split |x| > 0.5
    assert model.layers[0].symbolic.index(0, 0) is None  # the caller's model is untouched
    with pytest.raises(ValueError, match="max_assignments"):
        snap_by_loss(model, data, {0: ["x", "x^2"]}, max_assignments=1)


def test_quick_study_writes_outputs_and_reads_the_edges(tmp_path):
    ds = anderson.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    names = {p.name for p in tmp_path.iterdir()}
    assert names >= {
        "results.nc",
        "summary.md",
        "runs",
        "boundary_gaam.png",
        "boundary_maam.png",
        "boundary_mosaic2.png",
    }
    assert all({"long_name", "units"} <= set(ds[v].attrs) for v in ds.data_vars)  # results.nc says what each is
    runs = {str(m): ds.sel(run=f"{m}-seed0") for m in ("gaam", "maam", "mosaic2")}
    # quick run measured (300 training / 300 held-out states on 144- and 178-site rings):
    # theory 99.0 / 99.3 / 97.0%, simplified formula 96.3 / 97.0 / 99.3%, numeric KAN 89.0 / 96.7 / 99.3%
    assert float(runs["gaam"]["accuracy_theory"]) == pytest.approx(0.990, abs=0.004)  # data only: deterministic
    assert float(runs["mosaic2"]["accuracy_theory"]) == pytest.approx(0.970, abs=0.004)
    assert float(runs["gaam"]["accuracy_simplified"]) > 0.93
    assert float(runs["maam"]["accuracy_simplified"]) > 0.93
    assert float(runs["mosaic2"]["accuracy_simplified"]) > 0.97
    # even the quick GAAM formula is near the edge alpha E + 2 lambda - 2: largest stray term measured 0.071
    assert float(runs["gaam"]["worst_term"]) < 0.15 and float(runs["gaam"]["scale"]) > 0
    text = (tmp_path / "summary.md").read_text()
    assert "| gaam |" in text and "| maam |" in text and "| mosaic2 |" in text
    claims = anderson.claims(ds)
    assert len(claims) == 7  # gaam: formula, theory, KAN target, edge; maam: formula, theory, KAN target
    assert {c.verdict for c in claims} <= {"beyond", "within", "short"}
