"""The reproduction report: verdict rules, collection of claims, a failing study, and the whole quick report."""

import math
import sys
import types
from pathlib import Path

import pytest
import xarray as xr

from kansci.studies import common, report


@pytest.mark.parametrize(
    ("ours", "verdict"),
    [(4e-4, "beyond"), (5.1e-4, "within"), (2e-3, "within"), (2.1e-3, "short"), (math.nan, "short")],
)
def test_error_claims_compare_within_a_factor_of_two(ours, verdict):
    assert common.error_claim("e", 1e-3, ours).verdict == verdict


@pytest.mark.parametrize(("ours", "verdict"), [(83.0, "beyond"), (82.6, "within"), (80.6, "within"), (80.5, "short")])
def test_score_claims_compare_within_one_point(ours, verdict):
    assert common.score_claim("acc", 81.6, ours).verdict == verdict


def test_a_claim_rejects_an_unknown_verdict():
    with pytest.raises(ValueError, match="verdict must be one of"):
        common.Claim("e", "1", "2", "better")


def _fake_study(name, value, fail=False):
    module = types.ModuleType(f"kansci.studies.{name}")

    def main(argv):
        if fail:
            raise RuntimeError("no data")
        out = argv[argv.index("--out") + 1]
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "summary.md").write_text("# fake\n")
        return xr.Dataset(attrs={"value": value, "quick": "--quick" in argv})

    module.main = main
    module.claims = lambda ds: [common.error_claim(f"{name} error", 1e-3, ds.attrs["value"])]
    return module


def test_report_collects_every_claim_and_survives_a_failing_study(tmp_path, monkeypatch):
    studies = {
        "fake_a": _fake_study("fake_a", 1e-4),
        "fake_b": _fake_study("fake_b", 1e-3),
        "fake_c": _fake_study("fake_c", 0.0, fail=True),
    }
    for name, module in studies.items():
        monkeypatch.setitem(sys.modules, f"kansci.studies.{name}", module)
    monkeypatch.setattr(report, "STUDIES", {name: (name,) for name in studies})
    ds = report.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert list(ds["verdict"].values) == ["beyond", "within"]
    assert list(ds["study"].values) == ["fake_a", "fake_b", "fake_c"]
    assert ds["study_error"].sel(study="fake_c").item() == "RuntimeError: no data"
    text = (tmp_path / "REPORT.md").read_text()
    assert "2 claims: 1 beyond the paper, 1 within, 0 short" in text
    assert "python -m kansci.studies.fake_a --out" in text and "--quick" in text
    assert "## Failed studies" in text and "fake_c" in text
    assert {"REPORT.md", "results.nc", "verdicts.png", "summary.md"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.slow
@pytest.mark.needs("pyoperon")  # the Feynman study's engine
def test_quick_report_runs_every_study(tmp_path):
    ds = report.main(["--quick", "--out", str(tmp_path), "--workers", "0"])
    assert list(ds["study"].values) == list(report.STUDIES)
    assert (ds["study_error"] == "").all(), ds["study_error"].values
    assert set(ds["source"].values) == set(report.STUDIES)  # every study states at least one claim
    for name in report.STUDIES:
        assert (tmp_path / name / "summary.md").is_file()
    assert ds.sizes["claim"] >= len(report.STUDIES)
