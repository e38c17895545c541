"""The knots study (paper §4.3, supervised) and input attribution: ranking rules, data preparation, a quick run."""

import numpy as np
import pytest
import torch

from kansci import KAN, node_scores
from kansci.attribution import MEASURES, InputRanking, attribution_scores, input_shares, rank_inputs, rank_scores
from kansci.datasets import Dataset, knots
from kansci.studies import knots as study


# ---------------------------------------------------------------- attribution
def _twin_input_kan() -> KAN:
    """A KAN [3, 1, 2] whose inputs 1 and 2 have identical edges and whose input 0 is masked off."""
    model = KAN([3, 1, 2], grid=3, seed=0, dtype=torch.float64)
    layer = model.layers[0]
    with torch.no_grad():
        for name in ("coef", "scale_base", "scale_spline"):
            getattr(layer, name)[2] = getattr(layer, name)[1]
        layer.knots[2] = layer.knots[1]
        layer.mask[0] = 0.0
    return model


def _same_column_thrice(n: int = 200) -> torch.Tensor:
    return torch.rand(n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).repeat(1, 3) * 2 - 1


@pytest.mark.parametrize("measure", MEASURES)
def test_input_shares_split_evenly_between_twin_inputs_and_skip_a_masked_one(measure):
    shares = input_shares(_twin_input_kan(), _same_column_thrice(), measure)
    torch.testing.assert_close(shares, torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64), rtol=0, atol=1e-12)


def test_rank_inputs_orders_by_share_and_names_them():
    model = _twin_input_kan()
    with torch.no_grad():  # input 2's edge twice input 1's: shares 1/3, 2/3
        for name in ("scale_base", "scale_spline"):
            getattr(model.layers[0], name)[2] *= 2
    ranking = rank_inputs(model, _same_column_thrice(), ["a", "b", "c"])
    assert ranking.names == ("c", "b", "a")
    np.testing.assert_allclose(ranking.shares, [2 / 3, 1 / 3, 0.0], atol=1e-12)
    assert ranking.rank("b") == 2 and ranking.top(1) == ("c",)
    assert ranking.holds_top(["b", "c"]) and not ranking.holds_top(["a", "c"])


def test_magnitude_scores_are_the_core_node_scores():
    model = KAN([4, 3, 2], grid=3, seed=2, dtype=torch.float64)
    x = torch.randn(300, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for ours, core in zip(attribution_scores(model, x, "magnitude"), node_scores(model, x)):
        torch.testing.assert_close(ours, core, rtol=1e-9, atol=1e-12)


def test_spread_ignores_an_input_that_is_constant_on_the_data_while_magnitude_counts_it():
    model = KAN([3, 1, 2], grid=3, seed=0, dtype=torch.float64)
    x = _same_column_thrice()
    x[:, 0] = 0.5  # input 0 constant: its edge adds an offset, no information
    assert float(input_shares(model, x, "magnitude")[0]) > 0.3  # measured: 0.66, the largest share
    # zero up to round-off: measured 0.0 with MKL_CBWR=COMPATIBLE, 3.3e-16 with MKL's AVX-512 kernels
    assert abs(float(input_shares(model, x, "spread")[0])) < 1e-12


def test_rank_scores_puts_missing_inputs_last_and_keeps_ties_in_order():
    ranking = rank_scores([1.0, np.nan, 3.0, 1.0], ["a", "b", "c", "d"])
    assert ranking.names == ("c", "a", "d", "b")
    np.testing.assert_allclose(ranking.shares[:3], [0.6, 0.2, 0.2])
    assert np.isnan(ranking.shares[3])


def test_attribution_errors_name_the_problem():
    with pytest.raises(ValueError, match="got 2 scores for 3 names"):
        rank_scores([1.0, 2.0], ["a", "b", "c"])
    with pytest.raises(ValueError, match="non-negative"):
        rank_scores([1.0, -2.0], ["a", "b"])
    with pytest.raises(ValueError, match="got 2 names for a model with 3 inputs"):
        rank_inputs(KAN([3, 1, 2], grid=3), torch.zeros(4, 3), ["a", "b"])
    with pytest.raises(ValueError, match="measure must be one of"):
        input_shares(KAN([3, 1, 2], grid=3), torch.zeros(4, 3), "variance")
    with pytest.raises(ValueError, match="at least 2 samples"):
        input_shares(KAN([3, 1, 2], grid=3), torch.zeros(1, 3))
    with pytest.raises(KeyError, match="'z' is not a ranked input"):
        InputRanking(("a",), (1.0,)).rank("z")


# ----------------------------------------------------------- data preparation
def _toy_data() -> Dataset:
    x = torch.tensor([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    y = torch.tensor([[-2.0], [0.0], [2.0]])
    return Dataset(x, y, torch.tensor([[3.0, 6.0]]), torch.tensor([[2.0]]), ("u", "v"), ("signature",))


def test_standardized_uses_training_statistics_and_leaves_constant_columns_unscaled():
    data = study.standardized(_toy_data())
    torch.testing.assert_close(data.train_input[:, 0], torch.tensor([-1.0, 0.0, 1.0]))  # mean 3, sd 2
    torch.testing.assert_close(data.train_input[:, 1], torch.zeros(3))  # constant 5: shifted, not divided
    torch.testing.assert_close(data.test_input, torch.tensor([[0.0, 1.0]]))
    assert data.input_ranges == ((-1.0, 1.0), (0.0, 1.0))


def test_one_hot_encodes_signatures_and_rejects_unknown_ones():
    data = study.one_hot(_toy_data(), [-2, 0, 2])
    torch.testing.assert_close(data.train_label, torch.eye(3))
    torch.testing.assert_close(data.test_label, torch.tensor([[0.0, 0.0, 1.0]]))
    assert data.output_names == ("signature=-2", "signature=0", "signature=2")
    with pytest.raises(ValueError, match=r"signatures \[2.0\] are not among the classes \[-2, 0\]"):
        study.one_hot(_toy_data(), [-2, 0])


def test_configs_cover_models_input_sets_and_seeds():
    runs = study.configs(False, 4, [-2, 0, 2], seeds=2, n_train=100, n_test=None)
    assert len(runs) == 2 * (2 * len(study.FEATURE_SETS) + 1)  # the wide KAN on all inputs only
    assert {r["model"] for r in runs if r["features"] != "all"} == {"KAN", "MLP"}
    assert len({r["name"] for r in runs}) == len(runs)
    assert {r["seed"] for r in runs} == {4, 5}
    assert all(r["n_train"] == 100 and r["n_test"] == study.SETTINGS["full"]["n_test"] for r in runs)
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        study.configs(True, 0, [0], seeds=0)


def test_shipped_table_has_eleven_signature_classes():
    assert study.signature_classes(None) == list(range(-10, 11, 2))


def test_a_deepmind_csv_feeds_the_same_runs(tmp_path):
    table = knots.read_table().isel(knot=slice(0, 400))
    path = tmp_path / "knot_theory_invariants.csv"
    header = ",".join(["", *knots.FEATURES, "signature"])
    rows = [
        ",".join([str(i), *(f"{v:.6g}" for v in x), str(int(y))])
        for i, (x, y) in enumerate(zip(table["inputs"].values, table["signature"].values))
    ]
    path.write_text("\n".join([header, *rows]) + "\n")
    classes = study.signature_classes(str(path))
    assert classes == sorted(set(int(v) for v in table["signature"].values))
    config = study.configs(True, 0, classes, csv=str(path), n_train=300, n_test=100)[0]
    result = study.run_config({**config, "kan_steps": 2})
    assert result["confusion"].sum() == 100
    # 2 LBFGS steps on 300 knots: measured test accuracy 0.60, most frequent class 0.22
    assert float(result["test_accuracy"]) >= float(result["majority_accuracy"]) + 0.2


# ------------------------------------------------------------------ the study
def test_quick_study_writes_outputs_and_ranks_the_paper_inputs_on_top(tmp_path):
    ds = study.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    expected = {"results.nc", "accuracy.png", "attribution.png", "confusion.png", "summary.md", "runs"}
    assert {p.name for p in tmp_path.iterdir()} >= expected
    assert ds.sizes["run"] == 2 * len(study.FEATURE_SETS) + 1
    accuracy = {(r["model"], r["features"]): r["mean"] for r in study.accuracy_table(ds)}
    majority = float(ds["majority_accuracy"].mean())  # measured: 0.251
    # quick run (1500 train / 1000 test knots) measured: KAN 0.714 / 0.748 / 0.713, MLP 0.882 on all inputs; with
    # OMP_NUM_THREADS=1 0.721 / 0.739 / 0.715, 0.882; with MKL_CBWR=COMPATIBLE 0.717 / 0.748 / 0.698, 0.882. The
    # largest spread over settings, 0.017 on mu_r, is about a quarter of its 0.065 margin to 0.65 (a third of the
    # worst case's 0.048); the other margins are 0.11 and 0.08 against spreads of 0.007 and 0
    assert accuracy[("KAN", "all")] >= majority + 0.35
    assert accuracy[("KAN", "mu_r")] >= 0.65  # the paper's 65.0% with mu_r alone
    assert accuracy[("MLP", "all")] >= 0.8
    # every confusion matrix counts each test knot once
    assert (ds["confusion"].sum(["true_signature", "predicted_signature"]) == ds.attrs["n_test"]).all()
    # measured shares (spread), seed 0: mu_r 0.598, lambda 0.110, mu_i 0.079, next 0.047 (before a change of
    # the layers' round-off: 0.580, 0.153, 0.092, 0.044); third over fourth 1.68 (2.09), at seeds 1, 2: 1.16, 1.84.
    # The paper's three on top is the claim; how far the third leads the fourth depends on the trajectory (a 1.5x
    # lead fails at seed 1), so only the order is asserted.
    ranking = study.mean_ranking(ds)
    assert ranking.names[0] == "meridinal_translation_real" and ranking.shares[0] >= 0.4
    assert ranking.holds_top(knots.PAPER_FEATURES)
    claims = {c.experiment: c for c in study.claims(ds)}  # the report's rows: four accuracies and the ranking
    kan_all = claims["knots: KAN on all inputs, test accuracy"]
    assert (kan_all.paper, kan_all.ours) == ("81.6%", f"{100 * accuracy[('KAN', 'all')]:.1f}%")
    assert claims["knots: inputs ranked top 3 by the KAN's attribution"].verdict == "within"
    assert len(claims) == 7  # four accuracies, each KAN against the MLP, the ranking
    wide = claims["knots: KAN-5 accuracy >= the MLP's (all inputs)"]
    assert wide.ours == f"{100 * accuracy[('KAN-5', 'all')]:.1f}% vs {100 * accuracy[('MLP', 'all')]:.1f}%"
    assert wide.verdict == ("within" if accuracy[("KAN-5", "all")] >= accuracy[("MLP", "all")] else "short")
    assert np.isnan(ds["attribution"].sel(run="MLP-all-s0")).all()
    # shares of the KAN on mu_r, mu_i, lambda only: three finite entries summing to 1 per measure
    three = ds["attribution"].sel(run="KAN-mu_r,mu_i,lambda-s0")
    np.testing.assert_allclose(three.sum("feature"), [1.0, 1.0], rtol=1e-5)
    assert int(np.isfinite(three).sum()) == 2 * 3
    summary = (tmp_path / "summary.md").read_text()
    assert "KAN test accuracy >= the MLP's" in summary and "KAN-5 test accuracy" in summary
    assert "ranked top 3" in summary and summary.count(": met.") + summary.count(": not met.") == 3


@pytest.mark.slow  # about a minute uncontended
def test_unsupervised_mode_finds_the_cusp_volume_and_signature_relations(tmp_path):
    from kansci.studies import knot_relations

    ds = study.main(["--unsupervised", "--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "relations.png", "summary.md"}
    groups = {frozenset(g.split(knot_relations.SEPARATOR)) for g in ds["group"].values}
    # measured (seed 0, 2000 exact-geodesic rows): cusp_volume + longitudinal + meridional imag (residual ~2e-2),
    # mu_r + signature, injectivity radius + geodesic real part, the two torsion degrees; the rest alone
    assert frozenset({"cusp_volume", "longitudinal_translation", "meridinal_translation_imag"}) in groups
    assert frozenset({"meridinal_translation_real", "signature"}) in groups
    assert sum(ds["size"].values) == 12  # every variable placed exactly once
    assert [c.verdict for c in study.claims(ds)] == ["within", "within"]
