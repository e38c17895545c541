"""Datasets: every loader returns :class:`Dataset`."""

from kansci.datasets.base import Dataset, from_arrays, from_function

__all__ = ["Dataset", "from_arrays", "from_function"]
