"""Knot invariants -> signature: the shipped table, the SnapPy generator on known knots, the DeepMind CSV loader."""

import math
import warnings

import numpy as np
import pytest
import torch

import kansci.datasets
from kansci.datasets import knots
from tests.conftest import require

FIGURE_EIGHT_VOLUME = 2.029883212819307  # 4_1, twice the volume of the regular ideal tetrahedron
FIVE_TWO_VOLUME = 2.828122088330783  # 5_2


# --- the shipped table -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table():
    return knots.read_table()


def test_shipped_table_has_17_named_inputs_and_even_signatures(table):
    assert table.sizes["knot"] >= 20_000
    assert tuple(str(f) for f in table["feature"].values) == knots.FEATURES
    assert len(knots.FEATURES) == 17
    inputs = table["inputs"].values
    assert inputs.shape == (table.sizes["knot"], 17)
    assert np.isfinite(inputs).all()
    signature = table["signature"].values
    assert np.issubdtype(signature.dtype, np.integer)
    assert (signature % 2 == 0).all()
    assert signature.min() < 0 < signature.max()  # both chiralities present


def test_shipped_table_columns_follow_their_definitions(table):
    x = {name: table["inputs"].values[:, i].astype(np.float64) for i, name in enumerate(knots.FEATURES)}
    genus = table["genus"].values
    np.testing.assert_array_equal(x["hyperbolic_torsion_degree"], 4 * genus - 2)
    np.testing.assert_array_equal(x["hyperbolic_adjoint_torsion_degree"], 3 * (2 * genus - 1))
    np.testing.assert_allclose(x["injectivity_radius"], x["short_geodesic_real_part"] / 2, rtol=1e-6)
    # cusp volume = area / 2 = Im(mu) * lambda / 2 for the maximal cusp
    area = x["meridinal_translation_imag"] * x["longitudinal_translation"]
    np.testing.assert_allclose(x["cusp_volume"], area / 2, rtol=1e-5)
    one_hot = np.stack([x[f"Symmetry_{g}"] for g in knots.SYMMETRY_GROUPS], axis=1)
    assert set(np.unique(one_hot)) <= {0.0, 1.0} and (one_hot.sum(axis=1) <= 1).all()
    assert (x["volume"] > 2.0).all() and (np.abs(x["chern_simons"]) <= 0.5).all()
    assert (x["short_geodesic_real_part"] > 0).all() and (np.abs(x["short_geodesic_imag_part"]) <= math.pi + 1e-6).all()


def test_shipped_table_geodesic_fill_rule(table):
    # rows without a Dirichlet domain carry the medians of the exact rows (documented in knots_generate)
    x = table["inputs"].values.astype(np.float64)
    real = x[:, knots.FEATURES.index("short_geodesic_real_part")]
    imag = x[:, knots.FEATURES.index("short_geodesic_imag_part")]
    exact = table["geodesic_exact"].values == 1
    assert exact.mean() > 0.2 and (~exact).any()
    np.testing.assert_allclose(real[~exact], np.float32(np.median(real[exact])), rtol=1e-6)
    np.testing.assert_allclose(imag[~exact], np.float32(np.median(imag[exact])), rtol=1e-6)
    assert "medians over the exact rows" in table.attrs["geodesic_fill"]


def test_signature_follows_the_natural_slope(table):
    # Davies et al. 2021: 2 sigma ~ slope = Re(lambda / mu); a sign mix-up would make this correlation negative.
    x = table["inputs"].values.astype(np.float64)
    i = {name: k for k, name in enumerate(knots.FEATURES)}
    mu = x[:, i["meridinal_translation_real"]] + 1j * x[:, i["meridinal_translation_imag"]]
    slope = (x[:, i["longitudinal_translation"]] / mu).real
    assert np.corrcoef(2 * table["signature"].values, slope)[0, 1] > 0.9


def test_registered_loader_draws_seeded_splits_with_selected_features(table):
    assert "knots/signature" in kansci.datasets.names("knots/")
    data = kansci.datasets.load("knots/signature", n_train=200, n_test=100, seed=3)
    assert data.input_names == knots.FEATURES and data.output_names == ("signature",)
    assert data.train_input.shape == (200, 17) and data.test_label.shape == (100, 1)
    assert data.dtype == torch.float32
    assert bool(torch.all(torch.remainder(data.train_label, 2) == 0))
    assert data.metadata["generator"] == "knots/signature" and data.metadata["table"]["census"]
    again = kansci.datasets.load("knots/signature", n_train=200, n_test=100, seed=3)
    torch.testing.assert_close(again.train_input, data.train_input, rtol=0, atol=0)
    small = kansci.datasets.load("knots/signature", n_train=50, n_test=20, features=knots.PAPER_FEATURES)
    assert small.input_names == knots.PAPER_FEATURES and small.n_inputs == 3
    n_exact = int((table["geodesic_exact"].values == 1).sum())
    exact = kansci.datasets.load("knots/signature", n_train=n_exact - 10, n_test=10, exact_geodesics=True)
    assert exact.metadata["table_rows"] == n_exact and exact.metadata["exact_geodesics"] is True
    n = table.sizes["knot"]
    with pytest.raises(ValueError, match="the table has"):
        kansci.datasets.load("knots/signature", n_train=n, n_test=1)
    with pytest.raises(ValueError, match="features must be distinct names"):
        kansci.datasets.load("knots/signature", features=["volume", "no_such_feature"])


def test_missing_table_names_the_generator_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="knots_generate"):
        knots.load_signature(path=tmp_path / "knots.nc")


# --- the DeepMind CSV layout -------------------------------------------------------------------


def _write_csv(path, rows, columns):
    lines = [",".join(columns)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _deepmind_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 17)).round(6)
    signature = 2 * rng.integers(-4, 5, size=n)
    return [[i, *x[i], int(signature[i])] for i in range(n)], x, signature


def test_deepmind_csv_loader_reads_the_layout(tmp_path):
    rows, x, signature = _deepmind_rows(50)
    path = _write_csv(tmp_path / "knots.csv", rows, ["", *knots.FEATURES, "signature"])
    data = knots.from_deepmind_csv(path, seed=1)
    assert data.train_input.shape == (40, 17) and data.test_input.shape == (10, 17)
    assert data.input_names == knots.FEATURES
    both = torch.cat([data.train_input, data.test_input]).double().numpy()
    labels = torch.cat([data.train_label, data.test_label]).double().numpy()[:, 0]
    order = np.lexsort(both.T[::-1])
    np.testing.assert_allclose(both[order], x[np.lexsort(x.T[::-1])], rtol=1e-6, atol=1e-6)
    assert sorted(labels.tolist()) == sorted(signature.tolist())
    three = knots.from_deepmind_csv(path, n_train=20, n_test=5, features=knots.PAPER_FEATURES, dtype=torch.float64)
    assert three.input_names == knots.PAPER_FEATURES and three.dtype == torch.float64
    assert np.isin(three.train_input.numpy()[:, 0], x[:, knots.FEATURES.index("meridinal_translation_real")]).all()


def test_deepmind_csv_loader_rejects_bad_files(tmp_path):
    rows, _, _ = _deepmind_rows(6)
    columns = ["", *knots.FEATURES, "signature"]
    with pytest.raises(FileNotFoundError, match="no CSV file"):
        knots.from_deepmind_csv(tmp_path / "absent.csv")
    dropped = [c for c in columns if c != "cusp_volume"]
    short = _write_csv(tmp_path / "short.csv", [r[:2] + r[3:] for r in rows], dropped)
    with pytest.raises(ValueError, match=r"lacks the DeepMind knot columns \['cusp_volume'\]"):
        knots.from_deepmind_csv(short)
    text = [list(r) for r in rows]
    text[2][5] = "n/a"
    with pytest.raises(ValueError, match="line 4: not a number"):
        knots.from_deepmind_csv(_write_csv(tmp_path / "text.csv", text, columns))
    odd = [list(r) for r in rows]
    odd[1][-1] = 3
    with pytest.raises(ValueError, match="even integer"):
        knots.from_deepmind_csv(_write_csv(tmp_path / "odd.csv", odd, columns))
    nan = [list(r) for r in rows]
    nan[0][3] = "nan"
    with pytest.raises(ValueError, match="NaN or inf"):
        knots.from_deepmind_csv(_write_csv(tmp_path / "nan.csv", nan, columns))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        knots.from_deepmind_csv(tmp_path / "empty.csv")


# --- the generator (needs SnapPy) --------------------------------------------------------------


@pytest.fixture(scope="module")
def generate():
    require("snappy")
    with warnings.catch_warnings():  # SnapPy reads a JSON file at import and leaves it to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        import snappy  # noqa: F401  # kansci imports it lazily, inside the first test otherwise
    from kansci.datasets import knots_generate

    return knots_generate


def _invariants(generate, name, mirrored=False):
    import snappy
    import spherogram

    manifold = snappy.Manifold(name)
    link = manifold.link()
    if mirrored:
        manifold.reverse_orientation()
        link = spherogram.Link(link.mirror().PD_code())
    return generate.knot_invariants(manifold, link)


def test_figure_eight_knot(generate):
    row = _invariants(generate, "4_1")
    assert (row["complete"], row["geodesic_exact"]) == (1, 1)
    assert row["volume"] == pytest.approx(FIGURE_EIGHT_VOLUME, abs=1e-6)
    assert row["chern_simons"] == pytest.approx(0.0, abs=1e-6)  # amphichiral
    # maximal cusp of 4_1: meridian 1, longitude 2 sqrt 3, cusp volume sqrt 3
    assert complex(row["meridian_real"], row["meridian_imag"]) == pytest.approx(1j, abs=1e-6)
    assert row["longitude"] == pytest.approx(2 * math.sqrt(3), abs=1e-6)
    assert row["cusp_volume"] == pytest.approx(math.sqrt(3), abs=1e-6)
    assert complex(row["geodesic_real"], row["geodesic_imag"]) == pytest.approx(
        1.0870701449957 + 1.7227684498701j, abs=1e-6
    )
    assert (row["signature"], row["genus"], row["fibered"], row["symmetry_group"]) == (0, 1, 1, "D4")


def test_five_two_knot_and_its_mirror(generate):
    row = _invariants(generate, "5_2")
    mirror = _invariants(generate, "5_2", mirrored=True)
    assert row["volume"] == pytest.approx(FIVE_TWO_VOLUME, abs=1e-6)
    assert mirror["volume"] == pytest.approx(FIVE_TWO_VOLUME, abs=1e-6)
    assert (row["signature"], mirror["signature"]) == (-2, 2)
    assert (row["genus"], row["symmetry_group"]) == (1, "Z/2 + Z/2")
    assert mirror["chern_simons"] == pytest.approx(-row["chern_simons"], abs=1e-6)
    assert mirror["meridian_real"] == pytest.approx(-row["meridian_real"], abs=1e-6)  # mu -> -conj(mu)
    assert mirror["meridian_imag"] == pytest.approx(row["meridian_imag"], abs=1e-6)
    assert mirror["longitude"] == pytest.approx(row["longitude"], abs=1e-6)
    assert mirror["geodesic_real"] == pytest.approx(row["geodesic_real"], abs=1e-6)
    assert mirror["geodesic_imag"] == pytest.approx(-row["geodesic_imag"], abs=1e-6)


def test_signature_convention_positive_knots_negative(generate):
    import spherogram

    for word, expected in (([1, 1, 1], -2), ([1, 1, 1, 1, 1], -4), ([1, -2, 1, -2], 0)):
        link = spherogram.Link(braid_closure=word)
        assert -generate.signature(link.seifert_matrix()) == expected


def test_exact_and_floating_signatures_agree():
    from kansci.datasets.knots_generate import _exact_signature, signature

    rng = np.random.default_rng(0)
    for _ in range(20):
        v = rng.integers(-2, 3, size=(6, 6))
        v[:, 0] = v[:, 1]  # make some forms singular
        assert signature(v) == _exact_signature(v + v.T)
    assert _exact_signature(np.array([[0, 1], [1, 0]])) == 0  # zero diagonal: hyperbolic plane
    assert signature([[1, -1], [0, 1]]) == 2


def test_trefoil_is_not_hyperbolic_and_is_skipped(generate):
    row = _invariants(generate, "3_1")
    assert (row["hyperbolic"], row["complete"]) == (0, 0)
    assert math.isnan(row["chern_simons"])


def test_chunk_to_table_pipeline(generate):
    config = {"seed": 0, "chunk": 0, "chunk_size": 5, "census_size": 12, "tries": 3, "time_cap": 0.5, "version": 1}
    chunk = generate.compute_chunk(config)
    assert chunk.sizes["knot"] == 5
    n = int((chunk["complete"].values == 1).sum())
    assert n >= 3 and chunk["geodesic_exact"].values.max() == 1  # small hyperbolic knots get a Dirichlet domain
    table = generate.assemble([chunk], n, {"command": "test"})
    assert table["inputs"].shape == (n, 17) and np.isfinite(table["inputs"].values).all()
    assert table.attrs["knots_drawn"] <= 5 and table.attrs["geodesic_exact_rows"] >= 1
    data = knots.from_table(table["inputs"].values, table["signature"].values, n_train=n - 1, n_test=1)
    assert data.n_inputs == 17
    with pytest.raises(ValueError, match="complete knots"):
        generate.assemble([chunk], n + 1)


def test_watchdog_skips_a_knot_that_runs_too_long(generate, monkeypatch):
    monkeypatch.setattr(generate, "KNOT_TIMEOUT", 1e-3)
    config = {"seed": 0, "chunk": 0, "chunk_size": 2, "census_size": 12, "tries": 1, "time_cap": 0.5, "version": 1}
    chunk = generate.compute_chunk(config)
    np.testing.assert_array_equal(chunk["hyperbolic"].values, [-1, -1])
    np.testing.assert_array_equal(chunk["complete"].values, [0, 0])
