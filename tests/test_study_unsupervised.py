"""The unsupervised study, quick: two seeds on the paper's toy, each recovering the true grouping."""

import pytest

from kansci.studies import unsupervised


def test_quick_study_finds_the_true_grouping(tmp_path):
    ds = unsupervised.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert {p.name for p in tmp_path.iterdir()} >= {"results.nc", "scores.png", "summary.md", "runs"}
    assert list(ds["seed"].values) == [0, 1]
    assert list(ds["variable"].values) == ["x1", "x2", "x3", "x4", "x5", "x6"]
    # measured: seed 0 uses x1..x5 at once and the cancellation read-out splits them into the two relations
    # (residuals 6e-4 and 4e-3); seed 1 finds {x4, x5}, then {x1, x2, x3} in the remaining four. Which relation
    # a seed's first search finds is its trajectory's; that every relation found is a true one is the claim.
    assert bool(ds["true_relations"].all())
    assert bool(ds["partition_correct"].all())
    assert float(ds["residual"].max()) < 0.02
    assert float(ds["accuracy"].min()) > 0.85  # measured 0.925 and 0.942 (chance 0.5)
    assert float(ds["score"].sel(seed=1, variable="x6")) < 0.05
    counts = unsupervised.tally(ds)
    assert {c.group for c in counts} <= {("x1", "x2", "x3"), ("x4", "x5")} and counts
    assert all(set(c.seeds) <= {0, 1} for c in counts)
    summary = (tmp_path / "summary.md").read_text()
    assert "in the majority of seeds: 2 of 2, met" in summary
    (claim,) = unsupervised.claims(ds)
    assert claim.verdict == "within"
    assert claim.ours.startswith("full grouping in 2/2 seeds")


def test_bad_seed_count_is_named():
    with pytest.raises(ValueError, match="--seeds must be >= 1"):
        unsupervised.configs(quick=True, seed=0, n_seeds=0)
