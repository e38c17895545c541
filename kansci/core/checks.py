"""Argument checks shared by the core: integers, finite reals, and whether a model's size can fit in memory.

Each check is O(1) (or one pass over a short list): they run when a model is
built or a function is called, never per sample.
"""

from __future__ import annotations

import math
import numbers
import operator
import os

import torch

__all__ = ["as_integer", "as_real", "check_fits", "check_samples", "layer_bytes", "memory_limit"]


def as_integer(name: str, value: object, minimum: int | None = None) -> int:
    """``value`` as a Python int (numpy and 0-d tensor integers included), or a ValueError naming ``name``.

    Booleans and floats are refused, even integral ones (``5.0``): a count must be an integer.
    """
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    try:
        number = operator.index(value)
    except TypeError as err:  # numpy bools and multi-element tensors have __index__ but refuse it
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})") from err
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def as_real(name: str, value: object, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a finite Python float within [minimum, maximum], or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if not (torch.is_tensor(value) and value.numel() == 1 and value.dtype.is_floating_point):
            raise ValueError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        lo = "-inf" if minimum is None else minimum
        hi = "inf" if maximum is None else maximum
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {number}")
    return number


def layer_bytes(n_in: int, n_out: int, grid: int, k: int, itemsize: int) -> int:
    """Peak bytes to build one layer (an estimate, within a small factor).

    The initialization fits the spline coefficients by least squares on the
    dense basis at the G + 1 grid points, shape (G + 1, in, G + k): that is
    quadratic in G and dominates for large grids. The parameters and their
    gradient, and the float64 basis table, are added.
    """
    n_basis = grid + k
    init_fit = 2 * n_in * (grid + 1) * n_basis  # the dense basis and the solver's copy
    params = 3 * n_in * n_basis * n_out  # coefficients, their gradient, one optimizer buffer
    table = n_in * (grid + 2 * k + 2) * ((k + 1) ** 2 + 2 * (k + 1) + 2)  # float64 / int64 entries
    return itemsize * (init_fit + params) + 8 * table


def memory_limit(device: torch.device | str | None) -> int | None:
    """Total memory of ``device`` in bytes (physical RAM for the CPU), or None when it cannot be told."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device).total_memory)
    if device.type == "cpu":
        try:
            return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):  # no sysconf (Windows): no check
            return None
    return None


def check_fits(needed: int, what: str, device: torch.device | str | None) -> None:
    """Raise a ValueError when ``needed`` bytes exceed the memory of ``device``, with the estimate."""
    limit = memory_limit(device)
    if limit is not None and needed > limit:
        raise ValueError(
            f"{what} needs about {needed / 2**30:.3g} GiB to build, more than the {limit / 2**30:.3g} GiB of "
            "memory here; use a smaller grid (the build grows as G^2 per input) or fewer nodes"
        )


def check_samples(x: torch.Tensor, what: str) -> None:
    """Refuse an empty or non-finite sample set where one is fitted to (grid updates, refinements)."""
    if x.shape[0] == 0:
        raise ValueError(f"{what} are empty: pass at least one row")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} hold NaN or inf; drop or repair those rows first")
