"""Lossless NetCDF / HDF5 files of a :class:`Dataset`, and an on-disk cache of generated datasets.

Both formats hold the same layout:

=================  ==========================  ==========================================
name               shape                       content
=================  ==========================  ==========================================
``train_input``    (train_sample, input)       float32 or float64, as in the Dataset
``train_label``    (train_sample, output)
``test_input``     (test_sample, input)
``test_label``     (test_sample, output)
``input_name``     (input,)                    strings
``output_name``    (output,)                   strings
``input_range``    (input, bound)              float64 (lo, hi)
attribute          ``layout``                  :data:`LAYOUT`
attribute          ``metadata``                JSON text
attribute          ``formula``                 ``sympy.srepr`` text; absent when None
=================  ==========================  ==========================================

Gridded PDE reference solutions (``{"x": (nx,), "t": (nt,), "u": (nt, nx)}``, the
``reference`` of a :class:`kansci.pde.Problem`) use the same files and cache through
:func:`reference_to_netcdf`, :func:`reference_from_netcdf` and :func:`cached_reference`
(layout :data:`REFERENCE_LAYOUT`).

Metadata goes through JSON: tuples come back as lists and dict keys as strings.
Reading parses the formula with sympy (which evaluates the text), so read only
files you trust. Writes go to a temporary file renamed into place: a failed or
interrupted write never leaves a partial file under the target name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import sympy
import torch

from kansci.datasets.base import Dataset

__all__ = [
    "LAYOUT",
    "REFERENCE_LAYOUT",
    "cache_dir",
    "cached",
    "cached_reference",
    "from_hdf5",
    "from_netcdf",
    "reference_from_netcdf",
    "reference_to_netcdf",
    "to_hdf5",
    "to_netcdf",
]

LAYOUT = "kansci.datasets.Dataset/1"
"""Value of the ``layout`` attribute that marks a file written by this module."""

REFERENCE_LAYOUT = "kansci.pde.reference/1"
"""Value of the ``layout`` attribute of a gridded reference solution file."""

_TENSORS = {
    "train_input": ("train_sample", "input"),
    "train_label": ("train_sample", "output"),
    "test_input": ("test_sample", "input"),
    "test_label": ("test_sample", "output"),
}
_VARIABLES = (*_TENSORS, "input_name", "output_name", "input_range")
_ATTRIBUTES = ("layout", "metadata")
_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def _parts(ds: Dataset) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays and text attributes that describe ``ds``."""
    if not isinstance(ds, Dataset):
        raise TypeError(f"expected a kansci.datasets.Dataset, got {type(ds).__name__}")
    if ds.dtype not in _DTYPES:
        raise ValueError(f"cannot store {ds.dtype} data; convert with ds.to(torch.float32) or ds.to(torch.float64)")
    try:
        metadata = json.dumps(ds.metadata)
    except TypeError as err:
        raise ValueError(f"metadata must be JSON-serialisable (str, numbers, lists, dicts): {err}") from err
    arrays = {name: getattr(ds, name).detach().cpu().numpy() for name in _TENSORS}
    arrays["input_name"] = np.array(ds.input_names, dtype=object)
    arrays["output_name"] = np.array(ds.output_names, dtype=object)
    arrays["input_range"] = np.array(ds.input_ranges, dtype=np.float64).reshape(ds.n_inputs, 2)
    attrs = {"layout": LAYOUT, "metadata": metadata}
    if ds.formula is not None:
        attrs["formula"] = sympy.srepr(ds.formula)
    return arrays, attrs


def _check_layout(path: Path, variables: set[str], attrs: dict) -> None:
    missing = [f"variable {v!r}" for v in _VARIABLES if v not in variables]
    missing += [f"attribute {a!r}" for a in _ATTRIBUTES if a not in attrs]
    if missing:
        raise ValueError(
            f"{path} is not a kansci Dataset file: missing {', '.join(missing)}; "
            "write it with kansci.datasets.to_netcdf or to_hdf5"
        )
    if attrs["layout"] != LAYOUT:
        raise ValueError(f"{path} has layout {attrs['layout']!r}, but this version reads {LAYOUT!r}")


def _assemble(arrays: dict[str, np.ndarray], attrs: dict) -> Dataset:
    tensors = [torch.from_numpy(np.array(arrays[name])) for name in _TENSORS]
    formula = attrs.get("formula")
    return Dataset(
        *tensors,
        input_names=tuple(str(n) for n in arrays["input_name"]),
        output_names=tuple(str(n) for n in arrays["output_name"]),
        metadata=json.loads(attrs["metadata"]),
        formula=None if formula is None else sympy.sympify(formula),
        input_ranges=tuple((float(lo), float(hi)) for lo, hi in arrays["input_range"]),
    )


def _not_readable(path: Path, err: Exception) -> ValueError:
    return ValueError(
        f"{path} is not a readable NetCDF / HDF5 file; it is corrupt, truncated or of another format "
        f"({type(err).__name__}: {err}). A kansci Dataset file is written by kansci.datasets.to_hdf5; write it again"
    )


def to_netcdf(ds: Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to a NetCDF-4 file (h5netcdf), atomically; return the path.

    Raises
    ------
    ValueError
        If the data are not float32 / float64 or the metadata is not JSON-serialisable.
    """
    import xarray as xr

    from kansci import netcdf

    arrays, attrs = _parts(ds)
    data_vars = {name: (dims, arrays[name]) for name, dims in _TENSORS.items()}
    data_vars["input_range"] = (("input", "bound"), arrays["input_range"])
    coords = {"input_name": ("input", arrays["input_name"]), "output_name": ("output", arrays["output_name"])}
    record = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    for name in (*_TENSORS, "input_range"):
        record[name].encoding["_FillValue"] = None
    return netcdf.write(record, path)


def from_netcdf(path: str | os.PathLike) -> Dataset:
    """Read a Dataset written by :func:`to_netcdf`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not NetCDF / HDF5, or lacks part of the layout (the message names what is missing).
    """
    from kansci import netcdf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset file at {path}")
    record = netcdf.read(path, remedy="a kansci Dataset file is written by kansci.datasets.to_netcdf; write it again")
    _check_layout(path, set(record.variables), record.attrs)
    return _assemble({name: record[name].values for name in _VARIABLES}, record.attrs)


def _write_atomically(path: Path, write: Callable[[str], None]) -> Path:
    from kansci.core.io import open_temp_beside, writable_path

    path = writable_path(path)
    fd, tmp = open_temp_beside(path)  # the permissions a new file gets (mkstemp's are always 0600)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_hdf5(ds: Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to a plain HDF5 file (h5py), atomically; return the path.

    Raises
    ------
    ValueError
        If the data are not float32 / float64 or the metadata is not JSON-serialisable.
    """
    import h5py

    arrays, attrs = _parts(ds)

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            for name, array in arrays.items():
                kind = h5py.string_dtype() if array.dtype == object else None
                f.create_dataset(name, data=array, dtype=kind)
            f.attrs.update(attrs)

    return _write_atomically(Path(path), write)


def from_hdf5(path: str | os.PathLike) -> Dataset:
    """Read a Dataset written by :func:`to_hdf5`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not HDF5, or lacks part of the layout (the message names what is missing).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset file at {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise _not_readable(path, err) from err
    with f:
        try:
            attrs = {key: str(value) for key, value in f.attrs.items()}
            names = {k for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        except (OSError, RuntimeError, KeyError) as err:
            raise _not_readable(path, err) from err
        _check_layout(path, names, attrs)
        try:
            arrays = {name: f[name].asstr()[()] if f[name].dtype.kind == "O" else f[name][()] for name in _VARIABLES}
        except (OSError, RuntimeError, KeyError) as err:
            raise _not_readable(path, err) from err
    return _assemble(arrays, attrs)


def cache_dir() -> Path:
    """Where :func:`cached` keeps datasets.

    ``$KANSCI_CACHE`` if set, else ``$XDG_CACHE_HOME/kansci`` (default
    ``~/.cache/kansci``). The directory is created on the first write, not here.
    """
    if os.environ.get("KANSCI_CACHE"):
        return Path(os.environ["KANSCI_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "kansci"


def _cache_path(key: str) -> Path:
    parts = PurePosixPath(key).parts if isinstance(key, str) else ()
    if not parts or key.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in key or "\0" in key:
        raise ValueError(f"cache key must be a relative name like 'toy/exp_sin-n1000-seed0', got {key!r}")
    return cache_dir().joinpath(*parts).with_name(parts[-1] + ".nc")


def cached(key: str, make: Callable[[], Dataset]) -> Dataset:
    """``cache_dir()/<key>.nc`` if it exists, else ``make()`` written there atomically.

    The key must determine the data (include name, sizes, seed, dtype): a
    stale file is returned as is. Delete the file to regenerate it.

    Raises
    ------
    ValueError
        On a bad key, or a file under the key that is not a kansci Dataset.
    TypeError
        If ``make()`` does not return a Dataset.
    """
    path = _cache_path(key)
    if path.is_file():
        try:
            return from_netcdf(path)
        except ValueError as err:
            raise ValueError(f"{err}; delete {path} to regenerate it") from err
    ds = make()
    if not isinstance(ds, Dataset):
        raise TypeError(f"make() must return a kansci.datasets.Dataset, got {type(ds).__name__}")
    to_netcdf(ds, path)
    return ds


def _check_reference(reference: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = {"x", "t", "u"} - set(reference)
    if missing:
        raise ValueError(f"a reference solution needs arrays x, t and u; missing {sorted(missing)}")
    x, t, u = (np.asarray(reference[k], dtype=np.float64) for k in ("x", "t", "u"))
    if x.ndim != 1 or t.ndim != 1 or u.shape != (t.size, x.size):
        raise ValueError(f"need x (nx,), t (nt,) and u (nt, nx); got x {x.shape}, t {t.shape}, u {u.shape}")
    if not (np.isfinite(x).all() and np.isfinite(t).all() and np.isfinite(u).all()):
        raise ValueError("the reference solution has NaN or inf; recompute it with a finer time step")
    return {"x": x, "t": t, "u": u}


def reference_to_netcdf(
    reference: Mapping[str, np.ndarray], path: str | os.PathLike, attrs: Mapping[str, str | float] | None = None
) -> Path:
    """Write a gridded reference solution (x, t, u = u(t, x)) to NetCDF atomically; return the path.

    ``attrs`` (e.g. the solver and its resolution) are kept as file attributes.
    """
    import xarray as xr

    from kansci import netcdf

    grid = _check_reference(reference)
    record = xr.Dataset(
        {"u": (("t", "x"), grid["u"])},
        coords={"x": grid["x"], "t": grid["t"]},
        attrs={**(attrs or {}), "layout": REFERENCE_LAYOUT},
    )
    record["u"].encoding["_FillValue"] = None
    return netcdf.write(record, path)


def reference_from_netcdf(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a reference solution written by :func:`reference_to_netcdf` as ``{"x", "t", "u"}`` arrays."""
    from kansci import netcdf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no reference solution file at {path}")
    record = netcdf.read(path, remedy="a reference solution is written by reference_to_netcdf; compute it again")
    if record.attrs.get("layout") != REFERENCE_LAYOUT or "u" not in record:
        raise ValueError(f"{path} is not a kansci reference solution (layout {REFERENCE_LAYOUT!r})")
    return _check_reference({"x": record["x"].values, "t": record["t"].values, "u": record["u"].values})


def cached_reference(key: str, make: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``cache_dir()/<key>.nc`` if it exists, else ``make()`` written there atomically (as :func:`cached`)."""
    path = _cache_path(key)
    if path.is_file():
        try:
            return reference_from_netcdf(path)
        except ValueError as err:
            raise ValueError(f"{err}; delete {path} to regenerate it") from err
    grid = _check_reference(make())
    reference_to_netcdf(grid, path)
    return grid
