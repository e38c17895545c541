"""Properties of the B-spline basis and of the core's input handling, checked on generated cases (hypothesis).

Deterministic (derandomized, no example database) and small, so they pass alike on any CPU.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kansci import KAN
from kansci.core.basis import bspline_basis, extend_grid
from kansci.core.checks import as_integer, as_real

QUICK = settings(max_examples=30, deadline=None, derandomize=True, database=None)


@st.composite
def grids(draw, max_intervals: int = 8, min_order: int = 1):
    """(extended knots of one feature, k, the grid's ends, the narrowest interval): widths in [0.1, 2]."""
    k = draw(st.integers(min_order, 4))
    widths = draw(st.lists(st.floats(0.1, 2.0), min_size=1, max_size=max_intervals))
    lo = draw(st.floats(-3.0, 3.0))
    grid = torch.tensor([lo, *(lo + np.cumsum(widths))], dtype=torch.float64)
    return extend_grid(grid.unsqueeze(0), k), k, (float(grid[0]), float(grid[-1])), min(widths)


def _points(span: tuple[float, float], fractions: list[float]) -> torch.Tensor:
    lo, hi = span
    return torch.tensor([[lo + (hi - lo) * f] for f in fractions], dtype=torch.float64)


FRACTIONS = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20)


@QUICK
@given(grids(), FRACTIONS)
def test_bases_are_a_non_negative_local_partition_of_unity_on_the_grid(case, fractions):
    knots, k, span, _ = case
    values = bspline_basis(_points(span, fractions), knots, k)[:, 0, :]  # (batch, G + k)
    torch.testing.assert_close(values.sum(-1), torch.ones(len(fractions), dtype=torch.float64), rtol=0, atol=1e-12)
    assert bool((values >= -1e-14).all())
    assert int((values.abs() > 1e-14).sum(-1).max()) <= k + 1  # only k + 1 bases touch any point


@QUICK
@given(grids(min_order=3), FRACTIONS)
def test_first_derivative_matches_central_differences(case, fractions):
    # from k = 3 on, B'' is continuous, so a central difference errs by O(h^2) even across a knot
    knots, k, span, narrowest = case
    x = _points(span, fractions)
    h = 1e-5 * narrowest
    derivative = bspline_basis(x, knots, k, derivative=1)
    differences = (bspline_basis(x + h, knots, k) - bspline_basis(x - h, knots, k)) / (2 * h)
    # central differences err by h^2/6 |B'''| (|B'''| <= 8 / narrowest^3 for k <= 4) plus round-off 1e-16 / h
    tolerance = 2 * h**2 / narrowest**3 + 1e-13 / h
    torch.testing.assert_close(derivative, differences, rtol=0, atol=tolerance)


@QUICK
@given(grids(max_intervals=5), FRACTIONS)
def test_second_derivative_is_the_autograd_derivative_of_the_first(case, fractions):
    knots, k, span, _ = case
    x = _points(span, fractions).requires_grad_()
    first = bspline_basis(x, knots, k, derivative=1)
    second = bspline_basis(x, knots, k, derivative=2)
    for j in range(first.shape[-1]):
        (grad,) = torch.autograd.grad(first[:, 0, j].sum(), x, retain_graph=True)
        torch.testing.assert_close(grad[:, 0], second[:, 0, j].detach(), rtol=1e-9, atol=1e-9)


WIDTHS = st.lists(st.integers(1, 4), min_size=2, max_size=4)


@QUICK
@given(WIDTHS, st.integers(0, 6), st.integers(1, 6), st.integers(1, 3))
def test_any_valid_model_maps_any_batch_to_its_output_shape(width, batch, grid, k):
    model = KAN(width, grid=grid, k=k, dtype=torch.float64)
    x = torch.linspace(-2.0, 2.0, batch * width[0], dtype=torch.float64).reshape(batch, width[0])
    y = model(x)
    assert y.shape == (batch, width[-1]) and bool(torch.isfinite(y).all())
    same = KAN(np.array(width), grid=np.int64(grid), k=np.int32(k), dtype=torch.float64)
    assert torch.equal(same(x), y)  # numpy integers build the very same model


@QUICK
@given(WIDTHS, st.integers(1, 5))
def test_any_wrong_column_count_is_named(width, extra):
    model = KAN(width)
    with pytest.raises(ValueError, match=rf"but the model expects \(batch, {width[0]}\)"):
        model(torch.zeros(3, width[0] + extra))


@QUICK
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.booleans()))
def test_integers_refuse_floats_text_and_booleans(value):
    with pytest.raises(ValueError, match="must be an integer"):
        as_integer("grid", value)


@QUICK
@given(st.integers(-(2**70), 2**70), st.sampled_from([int, np.int64, np.int32]))
def test_integers_accept_python_and_numpy_integers(value, kind):
    value = int(np.clip(value, -(2**31), 2**31 - 1)) if kind is np.int32 else value
    value = int(np.clip(value, -(2**63), 2**63 - 1)) if kind is np.int64 else value
    assert as_integer("seed", kind(value)) == value


@QUICK
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_reals_are_finite_or_refused(value):
    if math.isfinite(value):
        assert as_real("noise_scale", value) == value
    else:
        with pytest.raises(ValueError, match="noise_scale must be a finite number"):
            as_real("noise_scale", value)
