"""AI Feynman datasets: registry counts, sampling, formulas checked by sympy, physics spot checks."""

import math

import numpy as np
import pytest
import sympy
import torch

import kansci.datasets as datasets
from kansci.datasets import feynman

# The KAN paper (arXiv 2404.19756) §3.3: its dimensionless Feynman equations, in its order.
PAPER_IDS = (
    "I.6.2",
    "I.6.2b",
    "I.9.18",
    "I.12.11",
    "I.13.12",
    "I.15.3x",
    "I.16.6",
    "I.18.4",
    "I.26.2",
    "I.27.6",
    "I.29.16",
    "I.30.3",
    "I.30.5",
    "I.37.4",
    "I.40.1",
    "I.44.4",
    "I.50.26",
    "II.2.42",
    "II.6.15a",
    "II.11.7",
    "II.11.27",
    "II.35.18",
    "II.36.38",
    "II.38.3",
    "III.9.52",
    "III.10.19",
    "III.17.37",
)

ALL_NAMES = [f"feynman/{i}" for i in feynman.EQUATIONS] + [f"feynman_dimless/{i}" for i in feynman.DIMENSIONLESS]


def _at(name: str, **values: float) -> float:
    """The registered formula of ``name`` at one point given by variable name."""
    spec = datasets.spec(name)
    assert set(values) == set(spec.variables)
    return float(spec.evaluate(np.array([[values[v] for v in spec.variables]]))[0])


def test_counts_and_ids():
    assert len(datasets.names("feynman/")) == 100
    assert len(datasets.names("feynman_dimless/")) == 27
    assert len(set(feynman.EQUATIONS)) == 100
    assert feynman.EQUATIONS[:3] == ("I.6.2a", "I.6.2", "I.6.2b")
    assert feynman.EQUATIONS[-1] == "III.21.20"
    assert feynman.DIMENSIONLESS == PAPER_IDS
    assert sorted(datasets.names("feynman/")) == sorted(f"feynman/{i}" for i in feynman.EQUATIONS)


def test_table_ranges_and_names_are_the_published_ones():
    spec = datasets.spec("feynman/I.15.3x")
    assert spec.variables == ("x", "u", "c", "t")
    assert spec.ranges == ((5.0, 10.0), (1.0, 2.0), (3.0, 20.0), (1.0, 2.0))
    assert spec.output == "x1"
    spec = datasets.spec("feynman/I.9.18")
    assert spec.variables == ("m1", "m2", "G", "x1", "x2", "y1", "y2", "z1", "z2")
    assert spec.ranges == ((1, 2), (1, 2), (1, 2), (3, 4), (1, 2), (3, 4), (1, 2), (3, 4), (1, 2))
    assert datasets.spec("feynman/I.30.5").variables == ("lambd", "d", "n")
    assert "Python keyword" in datasets.spec("feynman/I.30.5").description
    assert datasets.spec("feynman_dimless/I.16.6").ranges == ((-1.0, 1.0), (-1.0, 1.0))
    assert datasets.spec("feynman_dimless/I.12.11").ranges[1] == (0.0, pytest.approx(2 * math.pi))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_samples_match_formula_evaluated_by_sympy(name):
    spec = datasets.spec(name)
    data = datasets.load(name, n_train=64, n_test=16, dtype=torch.float64)
    n_vars = len(spec.variables)
    assert data.train_input.shape == (64, n_vars) and data.test_input.shape == (16, n_vars)
    assert data.train_label.shape == (64, 1) and data.test_label.shape == (16, 1)
    assert data.dtype == torch.float64
    assert data.input_names == spec.variables and data.output_names == (spec.output,)
    assert spec.description
    x = torch.cat([data.train_input, data.test_input])
    y = torch.cat([data.train_label, data.test_label])[:, 0]
    assert bool(torch.isfinite(x).all()) and bool(torch.isfinite(y).all())
    low, high = torch.tensor(spec.ranges, dtype=torch.float64).T
    assert bool(((x >= low) & (x <= high)).all())
    assert {str(s) for s in data.formula.free_symbols} == set(spec.variables)
    for row in (0, 1, 70):
        point = {s: sympy.Float(float(v), 30) for s, v in zip(data.symbols(), x[row].tolist())}
        exact = data.formula.evalf(30, subs=point)
        assert exact.is_real, f"{name} is not real at row {row}: {exact}"
        assert float(y[row]) == pytest.approx(float(exact), rel=1e-9, abs=1e-300)


SPOT_CHECKS = [
    # relativistic velocity addition: 0.5c (+) 0.5c = 1/(1 + 1/4) c = 0.8c
    ("feynman/I.16.6", {"u": 0.5, "v": 0.5, "c": 1.0}, 0.8),
    ("feynman/I.16.6", {"u": 1.5, "v": 1.5, "c": 3.0}, 2.4),
    ("feynman_dimless/I.16.6", {"a": 0.5, "b": 0.5}, 0.8),
    # friction F = mu N
    ("feynman/I.12.1", {"mu": 0.3, "Nn": 4.0}, 1.2),
    # Coulomb: 2*3/(4 pi * 1 * 2^2) = 3/(8 pi)
    ("feynman/I.12.2", {"q1": 2.0, "q2": 3.0, "epsilon": 1.0, "r": 2.0}, 0.11936620731892151),
    # standard normal density at 0: 1/sqrt(2 pi)
    ("feynman/I.6.2a", {"theta": 0.0}, 0.3989422804014327),
    # relativistic mass at v = 0.6c: gamma = 1.25
    ("feynman/I.10.7", {"m_0": 1.0, "v": 0.6, "c": 1.0}, 1.25),
    # gravity with G = m1 = m2 = 1 over the separation (1, 2, 2), |r|^2 = 9
    ("feynman/I.9.18", {"m1": 1, "m2": 1, "G": 1, "x1": 0, "x2": 1, "y1": 0, "y2": 2, "z1": 0, "z2": 2}, 1 / 9),
    # Snell: asin(0.5 * sin(pi/2)) = pi/6
    ("feynman/I.26.2", {"n": 0.5, "theta2": math.pi / 2}, 0.5235987755982988),
    # law of cosines at a right angle: 3-4-5
    ("feynman/I.29.16", {"x1": 3.0, "x2": 4.0, "theta1": math.pi / 2, "theta2": 0.0}, 5.0),
    # isothermal work with V2/V1 = e and n kb T = 1
    ("feynman/I.44.4", {"n": 1.0, "kb": 1.0, "T": 1.0, "V1": 1.0, "V2": math.e}, 1.0),
    # Bose-Einstein with hbar omega / kT = ln 2: 1/(2 - 1)
    ("feynman/III.4.32", {"h": 2 * math.pi, "omega": math.log(2.0), "kb": 1.0, "T": 1.0}, 1.0),
    # Clausius-Mossotti dielectric constant at n alpha = 1: 1 + 1/(2/3) = 2.5
    ("feynman/II.11.28", {"n": 1.0, "alpha": 1.0}, 2.5),
    # rest energy m c^2 = 2 * 9
    ("feynman/I.48.2", {"m": 2.0, "v": 0.0, "c": 3.0}, 18.0),
    # hydrogen with m = q = hbar = 4 pi epsilon = 1: E_2 = -1/(2 * 2^2)
    ("feynman/III.19.51", {"m": 1.0, "q": 1.0, "h": 2 * math.pi, "n": 2.0, "epsilon": 1 / (4 * math.pi)}, -0.125),
    # resonance probability, (p E t/hbar)^2 = 4 and (omega - omega_0) t/2 = pi/2: 4 * 1/(pi/2)^2 = 16/pi^2
    (
        "feynman/III.9.52",
        {"p_d": 2.0, "Ef": 1.0, "t": 1.0, "h": 2 * math.pi, "omega": 1.0 + math.pi, "omega_0": 1.0},
        1.6211389382774044,
    ),
    # Lorentz force ratio 1 + 0.5 sin(pi/6)
    ("feynman_dimless/I.12.11", {"a": 0.5, "theta": math.pi / 6}, 1.25),
    # two-state populations at zero field: n_0/2
    ("feynman_dimless/II.35.18", {"n_0": 1.0, "a": 0.0}, 0.5),
    # diffraction: asin(0.5/1) = pi/6
    ("feynman_dimless/I.30.5", {"a": 0.5, "n": 1.0}, 0.5235987755982988),
]


@pytest.mark.parametrize(("name", "values", "expected"), SPOT_CHECKS)
def test_physics_spot_checks(name, values, expected):
    assert _at(name, **values) == pytest.approx(expected, rel=1e-12, abs=1e-15)


# original id -> (values of the original variables) -> (scale, dimensionless variables); original = scale * dimless
NONDIMENSIONALISATION = {
    "I.12.11": lambda v: (v["q"] * v["Ef"], {"a": v["B"] * v["v"] / v["Ef"], "theta": v["theta"]}),
    "I.13.12": lambda v: (v["G"] * v["m1"] * v["m2"] / v["r1"], {"a": 1.0, "b": v["r2"] / v["r1"]}),
    "I.15.3x": lambda v: (v["x"], {"a": v["u"] * v["t"] / v["x"], "b": v["u"] / v["c"]}),
    "I.16.6": lambda v: (v["c"], {"a": v["u"] / v["c"], "b": v["v"] / v["c"]}),
    "I.18.4": lambda v: (v["r1"], {"a": v["m2"] / v["m1"], "b": v["r2"] / v["r1"]}),
    "I.27.6": lambda v: (v["d1"], {"a": v["n"], "b": v["d1"] / v["d2"]}),
    "I.29.16": lambda v: (v["x1"], {"a": v["x2"] / v["x1"], "theta1": v["theta1"], "theta2": v["theta2"]}),
    "I.37.4": lambda v: (v["I1"], {"a": v["I2"] / v["I1"], "delta": v["delta"]}),
    "II.2.42": lambda v: (v["kappa"] * v["T1"] * v["d"], {"a": v["T2"] / v["T1"], "b": v["A"] / v["d"] ** 2}),
    "II.6.15a": lambda v: (
        v["p_d"] / (v["epsilon"] * v["r"] ** 3),
        {"a": v["x"] / v["r"], "b": v["y"] / v["r"], "c": 3 * v["z"] / v["r"]},
    ),
    "II.36.38": lambda v: (
        1.0,
        {
            "a": v["mom"] * v["H"] / (v["kb"] * v["T"]),
            "alpha": v["alpha"],
            "b": v["mom"] * v["M"] / (v["epsilon"] * v["c"] ** 2 * v["kb"] * v["T"]),
        },
    ),
    "III.9.52": lambda v: (
        1.0,
        {
            "a": (v["p_d"] * v["Ef"] * v["t"] * 2 * math.pi / v["h"]) ** 2,
            "b": v["omega"] * v["t"],
            "c": v["omega_0"] * v["t"],
        },
    ),
    "III.10.19": lambda v: (v["mom"] * v["Bx"], {"a": v["By"] / v["Bx"], "b": v["Bz"] / v["Bx"]}),
}


@pytest.mark.parametrize("equation_id", sorted(NONDIMENSIONALISATION))
def test_dimensionless_form_is_the_scaled_original(equation_id):
    spec = datasets.spec(f"feynman/{equation_id}")
    rng = np.random.default_rng(7)
    for _ in range(5):
        values = {v: rng.uniform(lo, hi) for v, (lo, hi) in zip(spec.variables, spec.ranges)}
        scale, dimless = NONDIMENSIONALISATION[equation_id](values)
        expected = scale * _at(f"feynman_dimless/{equation_id}", **dimless)
        assert _at(f"feynman/{equation_id}", **values) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("name", ["feynman/I.9.18", "feynman_dimless/III.9.52"])
def test_same_seed_same_data_other_seed_other_data(name):
    first = datasets.load(name, n_train=32, n_test=8, seed=3, dtype=torch.float64)
    again = datasets.load(name, n_train=32, n_test=8, seed=3, dtype=torch.float64)
    other = datasets.load(name, n_train=32, n_test=8, seed=4, dtype=torch.float64)
    for part in ("train_input", "train_label", "test_input", "test_label"):
        assert torch.equal(getattr(first, part), getattr(again, part))
        assert not torch.equal(getattr(first, part), getattr(other, part))
