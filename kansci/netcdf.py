"""NetCDF records (xarray + h5netcdf): atomic writes, full reads, and a guard for a module-name clash.

dask.distributed probes ``import snappy`` for python-snappy compression. SnapPy,
the 3-manifold software behind the knot data (extra ``knots``), owns the same
module name and has no ``compress``, so the probe raises AttributeError and
distributed cannot be imported — and xarray imports it whenever it writes a
file while dask is installed. :func:`write` first imports distributed once
with ``snappy`` hidden (it then simply lacks snappy compression), leaving
SnapPy importable as before.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import xarray as xr

__all__ = ["import_distributed", "read", "write"]

_ABSENT = object()


def _import_distributed_beside_snappy() -> None:
    if "distributed" in sys.modules or importlib.util.find_spec("distributed") is None:
        return
    saved = sys.modules.get("snappy", _ABSENT)
    sys.modules["snappy"] = None  # type: ignore[assignment]  # `import snappy` raises ImportError meanwhile
    try:
        import distributed  # noqa: F401
    except ImportError:
        pass  # a broken dask install: xarray falls back to its own error then
    finally:
        if saved is _ABSENT:
            del sys.modules["snappy"]
        else:
            sys.modules["snappy"] = saved


def import_distributed():
    """``dask.distributed``, imported beside SnapPy; a clear error naming the extra when it is missing."""
    _import_distributed_beside_snappy()
    try:
        import distributed
    except ImportError as err:
        raise ImportError('a Dask scheduler needs dask.distributed: pip install "kansci[distributed]"') from err
    return distributed


def write(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` (h5netcdf) through a temporary file and a rename: never a truncated file."""
    _import_distributed_beside_snappy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read(path: str | os.PathLike) -> xr.Dataset:
    """Read a whole NetCDF file into memory (the file is closed on return)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
