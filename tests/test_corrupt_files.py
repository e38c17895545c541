"""Damaged files (results, knot tables, datasets, checkpoints) are named with what to do.

Also: results files get the permissions of a figure written beside them.
"""

import os
import stat

import numpy as np
import pytest
import torch
import xarray as xr

import kansci
from kansci import KAN, netcdf
from kansci.datasets import from_function
from kansci.datasets.knots import GENERATOR_COMMAND, read_table
from kansci.datasets.storage import from_hdf5, from_netcdf, to_hdf5, to_netcdf


def _record() -> xr.Dataset:
    return xr.Dataset({"err": ("stage", np.linspace(1e-3, 1e-1, 200))}, attrs={"name": "KAN"})


def _damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:  # the signature survives, the superblock behind it is overwritten
        path.write_bytes(data[:8] + bytes(64) + data[72:])


# (a zeroed data block behind an intact header and metadata reads back as zeros: HDF5 stores no checksum)
DAMAGE = ["truncated", "empty", "garbage", "zeroed superblock"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_results_file_is_named_with_what_to_do(tmp_path, how):
    path = netcdf.write(_record(), tmp_path / "runs" / "0123abcd.nc")  # as a sweep stores a run
    _damage(path, how)
    with pytest.raises(ValueError, match="not a readable NetCDF / HDF5 file") as caught:
        netcdf.read(path)
    message = str(caught.value)
    assert str(path) in message and "Delete it so that it is computed again" in message


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_knot_table_says_how_to_regenerate_it(tmp_path, how):
    path = netcdf.write(_record(), tmp_path / "knots.nc")
    _damage(path, how)
    with pytest.raises(ValueError, match="not a readable NetCDF / HDF5 file") as caught:
        read_table(path)
    assert str(path) in str(caught.value) and GENERATOR_COMMAND in str(caught.value)


def test_damaged_dataset_files_are_named(tmp_path):
    data = from_function(lambda x: x[:, 0], 1, n_train=20, n_test=10)
    nc, h5 = to_netcdf(data, tmp_path / "d.nc"), to_hdf5(data, tmp_path / "d.h5")
    for path, read in ((nc, from_netcdf), (h5, from_hdf5)):
        _damage(path, "truncated")
        with pytest.raises(ValueError, match="not a readable") as caught:
            read(path)
        assert str(path) in str(caught.value) and "write it again" in str(caught.value)


def test_reading_or_writing_a_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a directory; pass the path of a NetCDF file"):
        netcdf.read(tmp_path)
    with pytest.raises(ValueError, match="is a directory; pass a file path inside it"):
        netcdf.write(_record(), tmp_path)
    with pytest.raises(FileNotFoundError, match="no NetCDF file at"):
        netcdf.read(tmp_path / "missing.nc")


def _saved_state(tmp_path, edit) -> str:
    path = kansci.save(KAN([2, 3, 1], seed=0), tmp_path / "model.pt")
    record = torch.load(path, weights_only=True)
    edit(record["state"])
    torch.save(record, path)
    return path


def _reverse_knots(state: dict) -> None:
    state["layers.1.knots"] = state["layers.1.knots"].flip(1)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda state: state["layers.0.coef"].view(-1)[3:5].fill_(float("nan")), r"layers.0.coef holds 2 NaN/inf"),
        (lambda state: state["layers.1.scale_base"].fill_(float("inf")), "layers.1.scale_base holds 3 NaN/inf"),
        (_reverse_knots, "layers.1.knots of input 0 are not increasing"),
    ],
    ids=["nan coefficients", "infinite base scale", "decreasing knots"],
)
def test_a_damaged_checkpoint_is_refused_not_loaded(tmp_path, edit, message):
    path = _saved_state(tmp_path, edit)
    with pytest.raises(ValueError, match=message) as caught:
        kansci.load(path)
    assert str(path) in str(caught.value) and "save the model again" in str(caught.value)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_permissions_of_any_new_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        figure = tmp_path / "figure.png"
        figure.write_bytes(b"png")  # as matplotlib creates a figure
        written = [
            netcdf.write(_record(), tmp_path / "results.nc"),
            kansci.save(KAN([2, 1]), tmp_path / "model.pt"),
            to_netcdf(from_function(lambda x: x[:, 0], 1, n_train=5, n_test=5), tmp_path / "data.nc"),
        ]
    finally:
        os.umask(previous)
    assert _mode(figure) == 0o666 & ~umask
    assert [_mode(p) for p in written] == [_mode(figure)] * len(written)


def test_fit_refuses_to_resume_from_a_damaged_checkpoint(tmp_path):
    data = from_function(lambda x: x[:, 0] * x[:, 1], 2, n_train=20, n_test=10)
    path = tmp_path / "fit.pt"
    kansci.fit(KAN([2, 3, 1]), data, steps=1, opt="adam", checkpoint=path, progress=False)
    record = torch.load(path, weights_only=True)
    record["model"]["state"]["layers.0.coef"].fill_(float("nan"))
    torch.save(record, path)
    with pytest.raises(ValueError, match=r"fit.pt is damaged: layers.0.coef holds 48 NaN/inf"):
        kansci.fit(KAN([2, 3, 1]), data, steps=2, opt="adam", checkpoint=path, resume=True, progress=False)
