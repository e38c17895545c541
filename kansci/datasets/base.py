"""The one dataset type every loader returns."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import sympy
import torch
from torch import Tensor

__all__ = ["Dataset", "from_arrays", "from_function", "provenance"]


def provenance(generator: str, **parameters) -> dict:
    """Metadata of generated data: generator name, its parameters and the versions of the packages used."""
    from importlib import metadata

    versions = {}
    for package in ("kansci", "torch", "numpy", "scipy", "sympy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {"generator": generator, **parameters, "versions": versions}


@dataclass(frozen=True)
class Dataset:
    """Train / test inputs and labels with names.

    Parameters
    ----------
    train_input : Tensor, shape (n_train, n_inputs)
    train_label : Tensor, shape (n_train, n_outputs)
    test_input : Tensor, shape (n_test, n_inputs)
    test_label : Tensor, shape (n_test, n_outputs)
    input_names, output_names : tuple of str, optional
        Default ``x0, x1, ...`` and ``y0, ...``.
    metadata : dict
        Provenance: generator, parameters, seed, package versions (see
        :func:`provenance`), plus anything a loader adds.
    formula : sympy.Expr, optional
        The true formula of the (single) output in the symbols
        ``sympy.Symbol(name, real=True)`` of ``input_names``, when known.
    input_ranges : tuple of (float, float), optional
        Sampling range of every input; default the span of the data.

    Raises
    ------
    ValueError
        On empty data, mismatched shapes, NaN or inf.
    TypeError
        On non-tensor or mixed-dtype data.
    """

    train_input: Tensor
    train_label: Tensor
    test_input: Tensor
    test_label: Tensor
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)
    formula: sympy.Expr | None = None
    input_ranges: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        parts = {n: getattr(self, n) for n in ("train_input", "train_label", "test_input", "test_label")}
        for name, t in parts.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}; use torch.as_tensor")
            if t.ndim != 2:
                raise ValueError(
                    f"{name} must be 2-D (samples, features), got shape {tuple(t.shape)}; "
                    "reshape 1-D data with .reshape(-1, 1)"
                )
            if not t.is_floating_point():
                raise TypeError(f"{name} must be floating point, got {t.dtype}; use .to(torch.float32)")
            if t.numel() == 0:
                raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); a dataset needs train and test samples")
            bad = ~torch.isfinite(t)
            if bool(bad.any()):
                row = int(torch.nonzero(bad)[0, 0])
                raise ValueError(
                    f"{name} has {int(bad.sum())} NaN/inf entries (first in row {row}); drop or impute them first"
                )
        dtypes = {t.dtype for t in parts.values()}
        if len(dtypes) > 1:
            found = sorted(map(str, dtypes))
            raise TypeError(f"all tensors must share one dtype, got {found}; convert with .to(dtype)")
        for split in ("train", "test"):
            x, y = parts[f"{split}_input"], parts[f"{split}_label"]
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"{split}_input has {x.shape[0]} rows but {split}_label has {y.shape[0]}")
        if self.train_input.shape[1] != self.test_input.shape[1]:
            raise ValueError("train_input and test_input have different numbers of columns")
        if self.train_label.shape[1] != self.test_label.shape[1]:
            raise ValueError("train_label and test_label have different numbers of columns")
        names_in = tuple(self.input_names) or tuple(f"x{i}" for i in range(self.n_inputs))
        names_out = tuple(self.output_names) or tuple(f"y{i}" for i in range(self.n_outputs))
        if len(names_in) != self.n_inputs or len(names_out) != self.n_outputs:
            raise ValueError(
                f"got {len(names_in)} input / {len(names_out)} output names for "
                f"{self.n_inputs} input / {self.n_outputs} output columns"
            )
        object.__setattr__(self, "input_names", names_in)
        object.__setattr__(self, "output_names", names_out)
        self._set_ranges()
        if self.formula is not None:
            unknown = {str(s) for s in self.formula.free_symbols} - set(names_in)
            if unknown:
                raise ValueError(f"formula uses {sorted(unknown)}, which are not input names {list(names_in)}")

    def _set_ranges(self) -> None:
        if not self.input_ranges:
            both = torch.cat([self.train_input, self.test_input])
            spans = zip(both.min(0).values.tolist(), both.max(0).values.tolist())
            object.__setattr__(self, "input_ranges", tuple((float(a), float(b)) for a, b in spans))
            return
        ranges = tuple((float(a), float(b)) for a, b in self.input_ranges)
        if len(ranges) != self.n_inputs or any(not a <= b for a, b in ranges):
            raise ValueError(f"input_ranges must be {self.n_inputs} pairs (lo, hi) with lo <= hi, got {ranges}")
        object.__setattr__(self, "input_ranges", ranges)

    def symbols(self) -> list[sympy.Symbol]:
        """The sympy symbols of the inputs, in column order (the ones :attr:`formula` uses)."""
        return [sympy.Symbol(n, real=True) for n in self.input_names]

    @property
    def n_inputs(self) -> int:
        return self.train_input.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.train_label.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.train_input.dtype

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Dataset:
        """A copy with every tensor converted."""
        conv = {
            n: getattr(self, n).to(dtype=dtype, device=device)
            for n in ("train_input", "train_label", "test_input", "test_label")
        }
        return replace(self, **conv)

    def select_inputs(self, ids: Sequence[int]) -> Dataset:
        """A copy with only the input columns ``ids`` (e.g. a pruned model's ``input_ids``)."""
        ids = list(ids)
        return replace(
            self,
            train_input=self.train_input[:, ids],
            test_input=self.test_input[:, ids],
            input_names=tuple(self.input_names[i] for i in ids),
            input_ranges=tuple(self.input_ranges[i] for i in ids),
            formula=self.formula if self.formula is None or self._uses_only(ids) else None,
        )

    def _uses_only(self, ids: Sequence[int]) -> bool:
        kept = {self.input_names[i] for i in ids}
        return {str(s) for s in self.formula.free_symbols} <= kept


def from_function(
    f: Callable[[Tensor], Tensor],
    n_var: int,
    ranges: tuple[float, float] | Sequence[tuple[float, float]] = (-1.0, 1.0),
    *,
    n_train: int = 1000,
    n_test: int = 1000,
    noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    input_names: Sequence[str] = (),
    output_names: Sequence[str] = (),
) -> Dataset:
    """Sample ``y = f(x)`` with x uniform in ``ranges``.

    Parameters
    ----------
    f : callable
        Maps a tensor of shape (n, n_var) to shape (n,) or (n, n_out).
    n_var : int
    ranges : (lo, hi) or one (lo, hi) per variable
    n_train, n_test : int
    noise : float
        Standard deviation of Gaussian noise added to the training labels.
    seed : int
    dtype : torch.dtype

    Examples
    --------
    >>> data = from_function(lambda x: x[:, 0] * x[:, 1], 2, n_train=100, n_test=50)
    >>> data.train_input.shape, data.train_label.shape
    (torch.Size([100, 2]), torch.Size([100, 1]))
    """
    if not callable(f):
        raise ValueError(f"f must be a callable mapping x of shape (n, n_var) to y, got {type(f).__name__}")
    counts = {"n_var": n_var, "n_train": n_train, "n_test": n_test, "seed": seed}
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or (name != "seed" and value < 1):
            raise ValueError(f"{name} must be an integer" + (" >= 1" if name != "seed" else "") + f", got {value!r}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0.0 <= noise < math.inf:
        raise ValueError(f"noise (the labels' noise standard deviation) must be a finite number >= 0, got {noise!r}")
    one_pair = len(ranges) == 2 and not isinstance(ranges[0], Sequence)
    bounds = torch.tensor([ranges] * n_var if one_pair else ranges, dtype=torch.float64)
    if bounds.shape != (n_var, 2) or not bool((bounds[:, 0] < bounds[:, 1]).all() and bounds.isfinite().all()):
        raise ValueError(f"ranges must be finite (lo, hi) or {n_var} such pairs with lo < hi, got {ranges!r}")
    gen = torch.Generator().manual_seed(seed)

    def sample(n: int) -> tuple[Tensor, Tensor]:
        x = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * torch.rand(n, n_var, generator=gen, dtype=torch.float64)
        x = x.to(dtype)
        y = f(x)
        if not isinstance(y, Tensor) or y.ndim not in (1, 2) or y.shape[0] != n:
            got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise ValueError(
                f"f must return a tensor of shape (n,) or (n, n_out) for x of shape {(n, n_var)}, got {got}"
            )
        return x, (y.reshape(n, -1) if y.ndim == 1 else y).to(dtype)

    x_train, y_train = sample(n_train)
    x_test, y_test = sample(n_test)
    if noise > 0:
        y_train = y_train + noise * torch.randn(y_train.shape, generator=gen, dtype=torch.float64).to(dtype)
    meta = provenance("from_function", n_var=n_var, ranges=bounds.tolist(), noise=noise, seed=seed)
    ranges = tuple(tuple(r) for r in bounds.tolist())
    return Dataset(x_train, y_train, x_test, y_test, tuple(input_names), tuple(output_names), meta, None, ranges)


def from_arrays(
    x,
    y,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    input_names: Sequence[str] = (),
    output_names: Sequence[str] = (),
) -> Dataset:
    """Split arrays (numpy or torch) into a shuffled train / test Dataset."""
    x = torch.as_tensor(x).to(dtype)
    y = torch.as_tensor(y).to(dtype)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    n = x.shape[0]
    n_test = max(1, int(round(test_fraction * n)))
    if n - n_test < 1:
        raise ValueError(f"{n} samples are too few to split into train and test")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tr, te = perm[n_test:], perm[:n_test]
    meta = provenance("from_arrays", test_fraction=test_fraction, seed=seed)
    return Dataset(x[tr], y[tr], x[te], y[te], tuple(input_names), tuple(output_names), meta)
