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
from pathlib import Path

import xarray as xr

from kansci.core.io import open_temp_beside, writable_path

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
    path = writable_path(path)
    fd, tmp = open_temp_beside(path)  # the permissions a new file gets (mkstemp's are always 0600)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# what h5py / h5netcdf raise on a file that is not (or no longer) valid NetCDF / HDF5
_UNREADABLE = (OSError, RuntimeError, ValueError, KeyError, TypeError, IndexError)

DEFAULT_REMEDY = "delete it so that it is computed again (a stored run or a cache entry), or restore it from a copy"


def read(path: str | os.PathLike, remedy: str = DEFAULT_REMEDY) -> xr.Dataset:
    """Read a whole NetCDF file into memory (the file is closed on return).

    Parameters
    ----------
    path : str or PathLike
    remedy : str
        What the reader of a corrupt file should do, appended to the error.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If ``path`` is a directory, or the file is corrupt, truncated or not NetCDF / HDF5 (the message
        names the file and ``remedy``).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; pass the path of a NetCDF file")
    if not path.is_file():
        raise FileNotFoundError(f"no NetCDF file at {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load()
    except FileNotFoundError:
        raise
    except _UNREADABLE as err:
        raise ValueError(
            f"{path} is not a readable NetCDF / HDF5 file; it is corrupt, truncated or of another format "
            f"({type(err).__name__}: {err}). {remedy[:1].upper()}{remedy[1:]}"
        ) from err
