"""Continual-learning peaks (§3.5): the full-domain loader and the five phases."""

import math

import numpy as np
import pytest
import sympy
import torch

from kansci.datasets import continual, load


def test_constants_match_the_paper():
    assert continual.CENTRES == (-0.8, -0.4, 0.0, 0.4, 0.8)
    assert continual.SHARPNESS == 300.0
    assert continual.HALF_WIDTH == 0.2
    assert continual.DOMAIN == (-1.0, 1.0)


def test_peaks_values():
    # at a centre: 1 from its own peak plus exp(-300 * 0.16) = exp(-48) from each neighbour
    assert continual.peaks(np.array(0.4)) == pytest.approx(1.0 + math.exp(-48.0) + math.exp(-192.0), rel=1e-15)
    assert continual.peaks(np.array(0.2)) == pytest.approx(2 * math.exp(-12.0), rel=1e-12)
    assert continual.peaks(np.array(0.05)) == pytest.approx(math.exp(-0.75) + math.exp(-36.75), rel=1e-12)


def test_full_domain_dataset():
    ds = load("continual/peaks", n_train=64, n_test=16, seed=1, dtype=torch.float64)
    assert ds.input_names == ("x",) and ds.output_names == ("f",)
    assert ds.input_ranges == ((-1.0, 1.0),)
    x = ds.train_input[:, 0].numpy()
    np.testing.assert_allclose(ds.train_label[:, 0].numpy(), continual.peaks(x), rtol=1e-14, atol=0)
    (symbol,) = ds.symbols()
    formula = sympy.lambdify(symbol, ds.formula, "numpy")
    np.testing.assert_allclose(formula(x), continual.peaks(x), rtol=1e-13, atol=1e-300)
    expected = sum(sympy.exp(-300 * (symbol - sympy.Rational(c)) ** 2) for c in ("-4/5", "-2/5", "0", "2/5", "4/5"))
    assert sympy.simplify(ds.formula - expected) == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_phases_are_disjoint_windows_in_order(dtype):
    phases = continual.phases(100, seed=0, dtype=dtype)
    assert len(phases) == 5
    previous_hi = -math.inf
    for index, (phase, centre) in enumerate(zip(phases, continual.CENTRES)):
        assert phase.dtype == dtype
        assert phase.train_input.shape == (100, 1) and phase.test_input.shape == (100, 1)
        (lo, hi) = phase.input_ranges[0]
        assert lo == pytest.approx(centre - 0.2, abs=1e-15) and hi == pytest.approx(centre + 0.2, abs=1e-15)
        assert lo >= previous_hi - 1e-15  # windows do not overlap
        both = torch.cat([phase.train_input, phase.test_input])[:, 0].double()
        assert float(both.min()) >= lo - 1e-7 and float(both.max()) <= hi + 1e-7
        assert float(both.min()) > previous_hi  # samples of consecutive phases are disjoint
        previous_hi = float(both.max())
        assert phase.metadata["phase"] == index and phase.metadata["centre"] == centre
        assert phase.formula is not None
    assert phases[0].input_ranges[0][0] == -1.0 and phases[-1].input_ranges[0][1] == 1.0


def test_each_phase_is_dominated_by_its_own_peak():
    for phase, centre in zip(continual.phases(100, seed=2, dtype=torch.float64), continual.CENTRES):
        x = phase.train_input[:, 0].numpy()
        label = phase.train_label[:, 0].numpy()
        own = np.exp(-continual.SHARPNESS * (x - centre) ** 2)
        np.testing.assert_allclose(label, continual.peaks(x), rtol=1e-14)
        assert own.sum() / label.sum() > 0.9999
        assert abs(x[np.argmax(label)] - centre) < 0.02  # the tallest sample sits next to the phase's centre
        assert label.max() > 0.9


def test_phases_are_deterministic_and_seeded():
    a = continual.phases(20, seed=5, dtype=torch.float64)
    b = continual.phases(20, seed=5, dtype=torch.float64)
    c = continual.phases(20, seed=6, dtype=torch.float64)
    assert all(torch.equal(p.train_input, q.train_input) for p, q in zip(a, b))
    assert not torch.equal(a[0].train_input, c[0].train_input)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_phases_reject_bad_sizes(bad):
    with pytest.raises(ValueError, match="n_per_phase"):
        continual.phases(bad)
