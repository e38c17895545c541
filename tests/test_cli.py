"""The studies' command lines: bad arguments end in an argparse error naming the fix; outputs per seed."""

import argparse
import datetime
import importlib
import re
import sys
from pathlib import Path

import matplotlib
import pytest
import xarray as xr

from kansci import netcdf
from kansci.studies import common

matplotlib.use("Agg")

STUDIES = [
    "anderson",
    "continual",
    "feynman",
    "knots",
    "poisson",
    "report",
    "scaling",
    "special",
    "toy",
    "unsupervised",
]


def _missing(monkeypatch, *modules):
    """Make ``import module`` fail here as where the module is not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def _no_cuda(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)


CASES = {
    "out is a file": ("toy", ["--out", "{file}"], None, "is a file; give a folder"),
    "out below a file": ("toy", ["--out", "{file}/sub"], None, "is a file; give a folder"),
    "cuda on a CPU build": ("poisson", ["--device", "cuda"], _no_cuda, "use --device cpu"),
    "cuda:7 on a CPU build": ("poisson", ["--device", "cuda:7"], _no_cuda, "use --device cpu"),
    "unknown device": ("poisson", ["--device", "nonsense"], None, "unknown device 'nonsense'; use cpu, cuda"),
    "scheduler without dask": (
        "toy",
        ["--scheduler", "tcp://127.0.0.1:8786"],
        lambda mp: _missing(mp, "distributed"),
        r'pip install "kansci\[distributed\]"',
    ),
    "scheduler not an address": ("toy", ["--scheduler", "nowhere"], None, "like tcp://HOST:PORT"),
    "feynman without pyoperon": ("feynman", [], lambda mp: _missing(mp, "pyoperon"), r'pip install "kansci\[sr\]"'),
    "unknown engine": ("feynman", ["--engine", "eureqa"], None, "unknown engine 'eureqa'; choose from"),
    "negative workers": ("toy", ["--workers", "-1"], None, "--workers: must be >= 0, got -1"),
    "negative seed": ("toy", ["--seed", "-3"], None, "--seed: must be >= 0, got -3"),
    "seed not a number": ("toy", ["--seed", "x"], None, "--seed: expected a whole number >= 0"),
    "zero seeds": ("unsupervised", ["--seeds", "0"], None, "--seeds: must be >= 1, got 0"),
    "zero training knots": ("knots", ["--n-train", "0"], None, "--n-train: must be >= 1, got 0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_argument_is_an_argparse_error_naming_the_fix(case, tmp_path, monkeypatch, capsys):
    study, argv, setup, message = CASES[case]
    file = tmp_path / "results.txt"
    file.write_text("not a folder")
    if setup is not None:
        setup(monkeypatch)
    module = importlib.import_module(f"kansci.studies.{study}")
    argv = ["--quick", *[a.format(file=file) for a in argv]]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stop:
        module.main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m kansci.studies.")
    last = err.strip().splitlines()[-1]  # usage, then one message; no traceback
    assert "Traceback" not in err and last.startswith(f"python -m kansci.studies.{study}: error: argument --")
    assert re.search(message, last), err
    assert not (tmp_path / "out").exists()  # nothing ran


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_refuses_a_negative_seed(study, tmp_path, capsys):
    module = importlib.import_module(f"kansci.studies.{study}")
    with pytest.raises(SystemExit) as stop:
        module.main(["--quick", "--seed", "-3", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and "--seed: must be >= 0, got -3" in capsys.readouterr().err


def test_each_seed_writes_into_its_own_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = common.parser("toy", "test")
    folders = [common.output_folder("toy", p.parse_args(argv)) for argv in ([], ["--seed", "1"], ["--quick"])]
    folders.append(common.output_folder("toy", p.parse_args(["--quick", "--seed", "2"])))
    assert [str(f) for f in folders] == [
        "results/toy",
        "results/toy_seed1",
        "results/toy_quick",
        "results/toy_quick_seed2",
    ]
    assert all((tmp_path / f).is_dir() for f in folders)
    explicit = p.parse_args(["--seed", "3", "--out", "mine"])
    assert common.output_folder("toy", explicit) == Path("mine")  # an explicit --out is taken as given


def test_outputs_say_when_their_runs_were_computed(tmp_path):
    runs = [
        xr.Dataset(attrs={"sweep_computed_at": "2026-01-02T03:04:05Z"}),
        xr.Dataset(attrs={"sweep_computed_at": "2025-12-30T10:00:00Z"}),
    ]
    ds = xr.Dataset({"value": ("run", [1.0, 2.0])}, attrs=common.provenance_attrs(study="test"))
    common.write_outputs(ds, tmp_path, {}, "# summary\n", runs)
    saved = netcdf.read(tmp_path / "results.nc")
    assert saved.attrs["runs_computed_from"] == "2025-12-30T10:00:00Z"
    assert saved.attrs["runs_computed_to"] == "2026-01-02T03:04:05Z"
    written = datetime.datetime.strptime(saved.attrs["written"], "%Y-%m-%dT%H:%M:%S%z")
    assert abs(datetime.datetime.now(datetime.timezone.utc) - written) < datetime.timedelta(minutes=5)
    summary = (tmp_path / "summary.md").read_text()
    assert "Runs computed 2025-12-30T10:00:00Z to 2026-01-02T03:04:05Z UTC (2 runs" in summary
    assert f"outputs written {saved.attrs['written']}" in summary


def test_validators_accept_good_values():
    assert common.non_negative_int("0") == 0 and common.positive_int("3") == 3
    assert common.torch_device("cpu") == "cpu"
    with pytest.raises(argparse.ArgumentTypeError, match=">= 1"):
        common.positive_int("0")
