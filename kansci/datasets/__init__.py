"""Datasets: every loader returns :class:`Dataset`; ``load(name)`` and ``names()`` cover the shipped ones."""

from kansci.datasets.base import Dataset, from_arrays, from_function, provenance
from kansci.datasets.registry import FunctionSpec, load, names, register, register_spec, spec
from kansci.datasets.storage import (
    cache_dir,
    cached,
    cached_reference,
    from_hdf5,
    from_netcdf,
    reference_from_netcdf,
    reference_to_netcdf,
    to_hdf5,
    to_netcdf,
)

__all__ = [
    "Dataset",
    "FunctionSpec",
    "from_arrays",
    "from_function",
    "load",
    "names",
    "provenance",
    "register",
    "register_spec",
    "spec",
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
