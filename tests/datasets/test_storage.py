"""NetCDF / HDF5 round trips of a Dataset, layout errors, and the atomic on-disk cache."""

import h5py
import numpy as np
import pytest
import sympy
import torch
import xarray as xr

from kansci.datasets import Dataset, cache_dir, cached, from_hdf5, from_netcdf, storage, to_hdf5, to_netcdf

FORMATS = {"netcdf": (to_netcdf, from_netcdf), "hdf5": (to_hdf5, from_hdf5)}


def _dataset(dtype, formula=True):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, 3, generator=gen, dtype=torch.float64).to(dtype)
    t = torch.rand(7, 3, generator=gen, dtype=torch.float64).to(dtype)
    a, b, c = (sympy.Symbol(n, real=True) for n in ("a", "b_1", "théta"))
    expr = sympy.exp(-a * b) + sympy.Float("0.1234567890123456789", 30) * sympy.besselj(sympy.Rational(1, 3), c)
    meta = {"generator": "test", "seed": 3, "noise": 0.01, "nested": {"sizes": [50, 7], "ok": True, "none": None}}
    return Dataset(
        x,
        x[:, :2] ** 2 - 1e-30,
        t,
        t[:, :2] ** 2,
        ("a", "b_1", "théta"),
        ("out", "ünïcode out"),
        meta,
        expr if formula else None,
        ((0.0, 1.0), (-np.pi, np.pi), (1e-300, 1.0 / 3.0)),
    )


def _assert_identical(back, ds):
    for name in ("train_input", "train_label", "test_input", "test_label"):
        got, want = getattr(back, name), getattr(ds, name)
        assert got.dtype == want.dtype and torch.equal(got, want), name
    assert back.input_names == ds.input_names and back.output_names == ds.output_names
    assert back.input_ranges == ds.input_ranges
    assert back.metadata == ds.metadata
    assert back.formula == ds.formula
    if ds.formula is not None:
        assert sympy.srepr(back.formula) == sympy.srepr(ds.formula)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("formula", [True, False])
def test_round_trip_is_exact(tmp_path, fmt, dtype, formula):
    write, read = FORMATS[fmt]
    ds = _dataset(dtype, formula)
    path = write(ds, tmp_path / "sub" / f"data.{fmt}")
    _assert_identical(read(path), ds)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_a_registered_dataset(tmp_path, fmt):
    from kansci.datasets import load

    write, read = FORMATS[fmt]
    ds = load("toy/exp_sin", n_train=64, n_test=16, dtype=torch.float64)
    _assert_identical(read(write(ds, tmp_path / "exp_sin")), ds)


def test_netcdf_file_is_a_readable_xarray_record(tmp_path):
    ds = _dataset(torch.float32)
    with xr.open_dataset(to_netcdf(ds, tmp_path / "d.nc"), engine="h5netcdf") as record:
        assert record["train_input"].dims == ("train_sample", "input")
        assert record["train_input"].dtype == np.float32
        assert list(record["input_name"].values) == ["a", "b_1", "théta"]
        assert record.attrs["layout"] == storage.LAYOUT


def test_unsupported_dtype_and_metadata(tmp_path):
    with pytest.raises(ValueError, match="float16"):
        to_netcdf(_dataset(torch.float16), tmp_path / "a.nc")
    bad = Dataset(*(torch.ones(2, 1) for _ in range(4)), metadata={"array": np.ones(2)})
    with pytest.raises(ValueError, match="JSON"):
        to_hdf5(bad, tmp_path / "a.h5")
    assert list(tmp_path.iterdir()) == []


def test_netcdf_of_another_layout_names_what_is_missing(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"train_input": (("s", "i"), np.zeros((2, 2)))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="missing variable 'train_label'.*attribute 'layout'") as info:
        from_netcdf(path)
    assert "test_input" in str(info.value) and "metadata" in str(info.value)


def test_hdf5_of_another_layout_names_what_is_missing(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        for name in ("train_input", "train_label", "test_input", "test_label"):
            f.create_dataset(name, data=np.zeros((2, 1)))
        f.attrs["layout"] = storage.LAYOUT
    with pytest.raises(ValueError, match="missing variable 'input_name', variable 'output_name'") as info:
        from_hdf5(path)
    assert "input_range" in str(info.value) and "attribute 'metadata'" in str(info.value)


def test_wrong_layout_version_and_non_hdf5_files(tmp_path):
    path = to_hdf5(_dataset(torch.float64), tmp_path / "d.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["layout"] = "kansci.datasets.Dataset/0"
    with pytest.raises(ValueError, match="layout 'kansci.datasets.Dataset/0'"):
        from_hdf5(path)
    text = tmp_path / "notes.txt"
    text.write_text("not a dataset\n")
    for read in (from_netcdf, from_hdf5):
        with pytest.raises(ValueError, match="not a readable NetCDF / HDF5 file"):
            read(text)
        with pytest.raises(FileNotFoundError):
            read(tmp_path / "absent.nc")


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("KANSCI_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "kansci"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "kansci"
    assert not (tmp_path / "home").exists()  # asking creates nothing


def test_cached_makes_once_then_loads(monkeypatch, tmp_path):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    calls = []

    def make():
        calls.append(1)
        return _dataset(torch.float64)

    first = cached("toy/demo-n50-seed0", make)
    assert (tmp_path / "toy" / "demo-n50-seed0.nc").is_file()
    second = cached("toy/demo-n50-seed0", make)
    assert len(calls) == 1
    _assert_identical(second, first)


@pytest.mark.parametrize("key", ["", "/abs", "../escape", "a/../b", "a\\b"])
def test_cached_rejects_bad_keys(monkeypatch, tmp_path, key):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="cache key"):
        cached(key, lambda: _dataset(torch.float32))


def test_cached_requires_a_dataset(monkeypatch, tmp_path):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    with pytest.raises(TypeError, match="make"):
        cached("x", lambda: {"train_input": 1})


def test_interrupted_cache_write_leaves_nothing_loadable(monkeypatch, tmp_path):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    real_to_netcdf = xr.Dataset.to_netcdf

    def write_half_then_fail(self, target, *args, **kwargs):
        real_to_netcdf(self, target, *args, **kwargs)
        with open(target, "r+b") as f:  # a crash midway: half the bytes on disk
            f.truncate(f.seek(0, 2) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", write_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        cached("peaks", lambda: _dataset(torch.float32))
    assert list(tmp_path.iterdir()) == []  # neither the target nor the half-written temporary file

    monkeypatch.setattr(xr.Dataset, "to_netcdf", real_to_netcdf)
    calls = []

    def make():
        calls.append(1)
        return _dataset(torch.float32)

    _assert_identical(cached("peaks", make), _dataset(torch.float32))
    assert calls == [1]  # nothing stale was loaded: the dataset was made again


def test_stray_temporary_file_is_never_loaded(monkeypatch, tmp_path):
    # a writer killed outright (no cleanup) leaves only a hidden temporary name, never "<key>.nc"
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    (tmp_path / ".peaks.nc.abc123.tmp").write_bytes(b"\x89HDF\r\n\x1a\n half")
    calls = []
    cached("peaks", lambda: calls.append(1) or _dataset(torch.float64))
    assert calls == [1]


def test_corrupt_cache_file_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("KANSCI_CACHE", str(tmp_path))
    (tmp_path / "bad.nc").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="delete .*bad.nc to regenerate"):
        cached("bad", lambda: _dataset(torch.float64))
