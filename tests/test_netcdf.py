"""NetCDF records round-trip, and writing works with SnapPy and dask.distributed installed together."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from kansci import netcdf


def test_write_is_atomic_and_reads_back(tmp_path):
    ds = xr.Dataset({"err": ("stage", np.array([1e-2, 3e-4]))}, coords={"stage": [0, 1]}, attrs={"name": "KAN"})
    path = netcdf.write(ds, tmp_path / "sub" / "run.nc")
    back = netcdf.read(path)
    xr.testing.assert_identical(back, ds)
    assert [p.name for p in path.parent.iterdir()] == ["run.nc"]  # no temporary file left behind


@pytest.mark.needs("snappy", "distributed")
def test_snappy_and_distributed_coexist(tmp_path):
    # a fresh interpreter: SnapPy's `snappy` module breaks distributed's compression probe unless guarded
    code = (
        "import sys, xarray as xr\n"
        "from kansci import netcdf\n"
        f"netcdf.write(xr.Dataset({{'a': ('x', [1.0])}}), {str(tmp_path / 'a.nc')!r})\n"
        "import distributed, snappy\n"
        "print(hasattr(snappy, 'Manifold'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
