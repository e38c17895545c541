"""Unsupervised dependency discovery: contrastive data, one search on the paper's toy, counting, bad input."""

import math

import numpy as np
import pytest
import torch

from kansci import discovery
from kansci.discovery import TOY_NAMES

FAST = {"steps": 20, "warmup": 5}  # the study's quick settings


def _split(inputs, labels):
    real = labels[:, 0] == 1
    return inputs[real], inputs[~real]


def _corr(a, b):
    return float(np.corrcoef(a.numpy(), b.numpy())[0, 1])


def test_toy_variables_obey_the_two_relations():
    x = discovery.toy_variables(500, seed=3)
    x1, x2, x3, x4, x5, _ = x.unbind(1)
    torch.testing.assert_close(x3, torch.exp(torch.sin(math.pi * x1) + x2**2), rtol=1e-12, atol=0)
    torch.testing.assert_close(x5, x4**3, rtol=1e-12, atol=0)
    assert float(x.abs()[:, [0, 1, 3, 5]].max()) <= 1.0


def test_negatives_keep_the_marginals_but_lose_the_dependence():
    x = discovery.toy_variables(2000, seed=0)
    data = discovery.contrastive_dataset(x, TOY_NAMES, seed=1, test_fraction=0.2)
    assert data.input_names == TOY_NAMES
    assert data.train_input.shape == (3200, 6) and data.test_input.shape == (800, 6)
    for inputs, labels in ((data.train_input, data.train_label), (data.test_input, data.test_label)):
        real, fake = _split(inputs, labels)
        assert len(real) == len(fake)
        # same marginals: every column of the negatives is a permutation of the positives' column
        torch.testing.assert_close(fake.sort(dim=0).values, real.sort(dim=0).values, rtol=0, atol=0)
    # the positives are the original samples, each exactly once
    real = torch.cat([_split(data.train_input, data.train_label)[0], _split(data.test_input, data.test_label)[0]])
    torch.testing.assert_close(real[real[:, 0].argsort()], x[x[:, 0].argsort()], rtol=0, atol=0)
    real, fake = _split(data.train_input, data.train_label)
    # corr(u, u^3) for u ~ U(-1,1) is 0.2 / sqrt(1/21) = 0.917; measured 0.918 (positives), 0.002 (negatives)
    assert _corr(real[:, 3], real[:, 4]) == pytest.approx(0.917, abs=0.02)
    assert abs(_corr(fake[:, 3], fake[:, 4])) < 0.08  # 1600 pairs: standard error 0.025
    # the seed decides the permutations
    again = discovery.contrastive_dataset(x, TOY_NAMES, seed=1)
    torch.testing.assert_close(again.train_input, data.train_input, rtol=0, atol=0)


def test_one_search_on_the_toy_returns_only_true_relations():
    x = discovery.toy_variables(300, seed=0)
    found = discovery.find_dependencies(x, TOY_NAMES, seed=1, **FAST)
    # measured at seed 1: group (x4, x5), scores 0.00, 0.00, 0.00, 0.98, 1.00, 0.00, residual 6e-4; which true
    # group a search lands on is its trajectory's (the unsupervised study's seed 0 finds x1..x5, residuals 6e-4
    # and 4e-3), so any true groups are accepted
    relations = {frozenset(r) for r in found.relations}
    assert relations and relations <= {frozenset(("x1", "x2", "x3")), frozenset(("x4", "x5"))}
    assert set().union(*relations) <= set(found.group)
    assert max(found.residuals) < 0.02  # phi(x) sums to a constant on real samples; the study's bound
    assert found.accuracy > 0.85  # measured 0.925 on 120 held-out rows (chance is 0.5)
    assert max(found.score_of(n) for n in TOY_NAMES if n not in found.group) < 0.05
    assert found.model.width == (6, 1, 1)
    torch.testing.assert_close(found.shift, x.mean(dim=0))


def test_partition_of_a_pair_and_a_loner_and_nothing_between_independent_variables():
    gen = torch.Generator().manual_seed(2)
    u, v = (2 * torch.rand(2, 300, generator=gen, dtype=torch.float64) - 1).unbind(0)
    part = discovery.partition(torch.stack([u, u**3, v], dim=1), ("a", "b", "c"), seed=0, **FAST)
    assert part.groups == (("a", "b"), ("c",))
    assert len(part.searches) == 1  # one variable left: nothing more to search
    alone = discovery.find_dependencies(torch.stack([u, v], dim=1), ("u", "v"), seed=0, **FAST)
    assert alone.group == () and alone.relations == ()
    assert abs(alone.accuracy - 0.5) < 0.1  # measured 0.5: chance, as there is no relation


def test_relations_split_a_classifier_that_uses_two_at_once():
    # edges of a node that sums two independent relations: a + b = 0 and c + d + e = 0 on real samples
    gen = torch.Generator().manual_seed(0)
    a, c, d, f = torch.randn(4, 500, generator=gen, dtype=torch.float64)
    noise = 1e-3 * torch.randn(500, generator=gen, dtype=torch.float64)
    phi = torch.stack([a, -a + noise, c, d, -(c + d), 0.3 * f], dim=1)[:, :, None]
    used = torch.tensor([True, True, True, True, True, False])[:, None]
    relations = discovery.read_relations(phi, used, tolerance=0.02)
    assert [ids for ids, _ in relations] == [[0, 1], [2, 3, 4]]
    assert relations[0][1] == pytest.approx(5e-7, rel=0.2)  # var(noise) / (2 var(a)) = 1e-6 / 2
    assert relations[1][1] == pytest.approx(0.0, abs=1e-12)
    # with the unrelated f in use too, it is left out of both relations
    with_f = discovery.read_relations(phi, torch.ones(6, 1, dtype=torch.bool), tolerance=0.02)
    assert [ids for ids, _ in with_f] == [[0, 1], [2, 3, 4]]
    # no subset cancels: the used inputs count as one relation, with their residual (about 1 for unrelated ones)
    (whole,) = discovery.read_relations(phi[:, [0, 2, 5]], torch.ones(3, 1, dtype=torch.bool), tolerance=0.02)
    assert whole[0] == [0, 1, 2] and whole[1] == pytest.approx(1.0, abs=0.15)


def test_tally_counts_groups_regardless_of_order():
    found = [(0, ("x4", "x5")), (1, ("x1", "x2", "x3")), (2, ("x5", "x4")), (3, ("x6",)), (2, ("x1", "x3", "x2"))]
    counts = discovery.tally(found)
    assert [(c.group, c.seeds) for c in counts] == [
        (("x1", "x2", "x3"), (1, 2)),
        (("x4", "x5"), (0, 2)),
        (("x6",), (3,)),
    ]
    assert counts[0].count == 2


def test_partition_matches_ignores_order():
    part = discovery.Partition((("x5", "x4"), ("x1", "x3", "x2"), ("x6",)), ())
    assert part.matches(discovery.TOY_GROUPS)
    assert not discovery.Partition((("x1", "x2", "x3", "x4", "x5"), ("x6",)), ()).matches(discovery.TOY_GROUPS)


@pytest.mark.parametrize(
    ("x", "names", "message"),
    [
        (torch.zeros(50), None, "must be 2-D"),
        (torch.rand(50, 1), None, "at least 2 columns"),
        (torch.rand(5, 3), None, "at least 10"),
        (torch.tensor([[0.0, 1.0]] * 19 + [[float("nan"), 1.0]]), None, "row 19, column 0"),
        (torch.rand(50, 3), ("a", "b"), "2 names for 3 columns"),
        (torch.rand(50, 3), ("a", "b", "a"), "distinct"),
    ],
)
def test_bad_input_is_named(x, names, message):
    with pytest.raises(ValueError, match=message):
        discovery.contrastive_dataset(x, names)
    with pytest.raises(ValueError, match=message):
        discovery.find_dependencies(x, names, steps=1, warmup=0)


def test_bad_settings_are_named():
    x = torch.rand(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    constant = torch.cat([x, torch.ones(50, 1, dtype=torch.float64)], dim=1)
    with pytest.raises(ValueError, match=r"\['c3'\] are constant"):
        discovery.find_dependencies(constant, ("c0", "c1", "c2", "c3"), steps=1)
    with pytest.raises(ValueError, match="threshold"):
        discovery.find_dependencies(x, threshold=1.5)
    with pytest.raises(ValueError, match="width"):
        discovery.find_dependencies(x, width=0)
    with pytest.raises(ValueError, match="test_fraction"):
        discovery.contrastive_dataset(x, test_fraction=1.0)
    with pytest.raises(ValueError, match="min_accuracy"):
        discovery.partition(x, min_accuracy=0.5)
    with pytest.raises(ValueError, match="tolerance"):
        discovery.find_dependencies(x, tolerance=0.0)
    with pytest.raises(ValueError, match=r"used \(inputs, hidden\)"):
        discovery.read_relations(x[:, :, None], torch.ones(2, 1, dtype=torch.bool))
    with pytest.raises(KeyError, match="not one of the variables"):
        fields = (("a", "b"), (1.0, 0.0), ("a",), (), (), 0.2, 0.9, 0.9, 0.01, 0, None, x[0], x[0])
        discovery.Dependencies(*fields).score_of("z")
