"""Knot invariants -> signature (KAN paper §4.3; data layout of Davies et al. 2021).

Seventeen geometric invariants of a hyperbolic knot predict its signature, an
even integer. Two sources give the same :class:`~kansci.datasets.Dataset`:

* ``load("knots/signature")`` reads the table shipped in ``datasets/knots.nc``,
  computed with SnapPy for 20,000 knots drawn from the Hoste–Thistlethwaite
  census of knots up to 14 crossings, each mirrored with probability 1/2 (how
  every column is computed, its sign convention, and the fill rule of the
  three shortest-geodesic columns where SnapPy found no Dirichlet domain are
  in :mod:`kansci.datasets.knots_generate`; make a bigger table with
  ``python -m kansci.datasets.knots_generate``);
* :func:`from_deepmind_csv` reads DeepMind's ``knot_theory_invariants.csv``.

The shipped table is an xarray / NetCDF file (not the train/test layout of
:func:`~kansci.datasets.to_netcdf`): one row per knot with its census name,
chirality and genus kept beside the inputs, so every ``seed`` draws its own
split. The loader returns a Dataset, which :func:`~kansci.datasets.to_netcdf`
stores as usual.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from kansci.datasets.base import Dataset, provenance
from kansci.datasets.registry import register

__all__ = [
    "FEATURES",
    "PAPER_FEATURES",
    "SYMMETRY_GROUPS",
    "TARGET",
    "default_path",
    "from_deepmind_csv",
    "from_table",
    "load_signature",
    "read_table",
]

SYMMETRY_GROUPS: tuple[str, ...] = ("0", "D3", "D4", "D6", "D8", "Z/2 + Z/2")
"""Symmetry groups with a one-hot column (SnapPy's names; ``"0"`` is the trivial group)."""

FEATURES: tuple[str, ...] = (
    "chern_simons",
    "cusp_volume",
    "hyperbolic_adjoint_torsion_degree",
    "hyperbolic_torsion_degree",
    "injectivity_radius",
    "longitudinal_translation",
    "meridinal_translation_imag",
    "meridinal_translation_real",
    "short_geodesic_imag_part",
    "short_geodesic_real_part",
    *(f"Symmetry_{group}" for group in SYMMETRY_GROUPS),
    "volume",
)
"""The 17 inputs, named and ordered as the columns of DeepMind's CSV (``meridinal`` sic)."""

PAPER_FEATURES: tuple[str, ...] = (
    "meridinal_translation_real",
    "meridinal_translation_imag",
    "longitudinal_translation",
)
"""The three inputs of the KAN paper's small network: mu_r, mu_i, lambda."""

TARGET = "signature"
"""The label column."""

GENERATOR_COMMAND = "python -m kansci.datasets.knots_generate --out datasets/knots.nc --n 20000 --workers 2"
"""How the shipped table was made (and how to remake it; needs the extra ``knots``)."""

_SHIPPED = Path("datasets") / "knots.nc"


def default_path() -> Path:
    """The shipped table: ``$KANSCI_KNOTS`` if set, else ``datasets/knots.nc`` at the repository root."""
    if os.environ.get("KANSCI_KNOTS"):
        return Path(os.environ["KANSCI_KNOTS"]).expanduser()
    return Path(__file__).resolve().parents[2] / _SHIPPED


def read_table(path: str | os.PathLike | None = None):
    """The shipped knot table as an ``xarray.Dataset`` (dims ``knot``, ``feature``).

    Variables: ``inputs`` (knot, feature) float32 with the names of
    :data:`FEATURES` as the ``feature`` coordinate, ``signature`` (knot) int,
    and per knot ``name`` (census name), ``census_index``, ``mirrored``,
    ``genus``, ``fibered``, ``crossings``, ``symmetry_group`` and
    ``geodesic_exact`` (0 where the geodesic columns hold the fill value, see
    :mod:`kansci.datasets.knots_generate`). Attributes: the generator command,
    package versions, counts, conventions.

    Raises
    ------
    FileNotFoundError
        If the file is missing (the message names the generator command).
    ValueError
        If the file lacks the layout.
    """
    from kansci import netcdf

    path = default_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no knot table at {path}; generate it with `{GENERATOR_COMMAND}` "
            '(needs pip install "kansci[knots]"), or point $KANSCI_KNOTS at a copy'
        )
    table = netcdf.read(
        path, remedy=f"regenerate it with `{GENERATOR_COMMAND}`, or point $KANSCI_KNOTS at an intact copy"
    )
    missing = [v for v in ("inputs", "signature", "feature") if v not in table.variables]
    if missing:
        raise ValueError(f"{path} is not a knot table: missing {missing}; regenerate it with `{GENERATOR_COMMAND}`")
    return table


def _select(features: Sequence[str] | None, available: Sequence[str]) -> list[int]:
    if isinstance(features, str):
        raise TypeError(f"features must be a sequence of names, got the string {features!r}; wrap it in a list")
    chosen = list(FEATURES if features is None else features)
    unknown = [f for f in chosen if f not in available]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"features must be distinct names among {list(available)}, got {chosen}")
    return [list(available).index(f) for f in chosen]


def from_table(
    inputs: np.ndarray,
    signature: np.ndarray,
    *,
    n_train: int | None,
    n_test: int | None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    features: Sequence[str] | None = None,
    names: Sequence[str] = FEATURES,
    metadata: dict | None = None,
) -> Dataset:
    """A seeded train / test draw from a table of the 17 inputs and signatures.

    Parameters
    ----------
    inputs : array, shape (n_knots, len(names))
    signature : array, shape (n_knots,)
        Even integers.
    n_train, n_test : int or None
        Rows drawn without replacement; ``None`` for ``n_test`` takes 20% of
        the table, ``None`` for ``n_train`` all rows the test set leaves.
    features : sequence of str, optional
        Input columns to keep (default all of ``names``), e.g. :data:`PAPER_FEATURES`.

    Raises
    ------
    ValueError
        On too few rows, unknown features, NaN, or a non-integer or odd signature.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    signature = np.asarray(signature, dtype=np.float64).reshape(-1)
    if inputs.ndim != 2 or inputs.shape != (signature.size, len(names)):
        raise ValueError(f"inputs must have shape ({signature.size}, {len(names)}), got {inputs.shape}")
    _check_signature(signature)
    n = signature.size
    n_test = max(1, n // 5) if n_test is None else n_test
    n_train = n - n_test if n_train is None else n_train
    if n_train < 1 or n_test < 1 or n_train + n_test > n:
        raise ValueError(f"asked for {n_train} train + {n_test} test knots, but the table has {n}")
    columns = _select(features, names)
    order = np.random.default_rng(seed).permutation(n)
    train, test = order[:n_train], order[n_train : n_train + n_test]

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float64).to(dtype)

    meta = {**(metadata or {}), "n_train": n_train, "n_test": n_test, "seed": seed, "table_rows": n}
    return Dataset(
        tensor(inputs[np.ix_(train, columns)]),
        tensor(signature[train, None]),
        tensor(inputs[np.ix_(test, columns)]),
        tensor(signature[test, None]),
        tuple(names[i] for i in columns),
        (TARGET,),
        meta,
    )


def _check_signature(signature: np.ndarray) -> None:
    if not np.all(np.isfinite(signature)):
        raise ValueError("signature has NaN or inf entries; drop those rows first")
    odd = (signature != np.round(signature)) | (np.round(signature) % 2 != 0)
    if odd.any():
        row = int(np.flatnonzero(odd)[0])
        raise ValueError(f"the signature of a knot is an even integer, got {signature[row]} in row {row}")


def load_signature(
    *,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    noise: float = 0.0,
    dtype: torch.dtype = torch.float32,
    features: Sequence[str] | None = None,
    exact_geodesics: bool = False,
    path: str | os.PathLike | None = None,
) -> Dataset:
    """The shipped SnapPy knot table: 17 invariants (or ``features``) -> signature.

    Registered as ``"knots/signature"``. Rows are drawn without replacement
    (seeded); ask for at most the table's size (``read_table().sizes["knot"]``).
    ``exact_geodesics=True`` keeps only the knots whose shortest geodesic
    SnapPy computed (the others carry a fill value in the three geodesic
    columns; see :mod:`kansci.datasets.knots_generate`).

    Raises
    ------
    FileNotFoundError
        If the table is missing (the message names the generator command).
    ValueError
        On ``noise != 0`` (labels are exact integers), too many rows, or unknown features.
    """
    if noise != 0:
        raise ValueError("knots/signature has integer labels; noise must be 0")
    table = read_table(path)
    if exact_geodesics:
        table = table.isel(knot=np.flatnonzero(table["geodesic_exact"].values == 1))
    names = tuple(str(f) for f in table["feature"].values)
    where = str(default_path() if path is None else path)
    meta = provenance("knots/signature", path=where, features=features, exact_geodesics=exact_geodesics)
    meta["table"] = {k: v.item() if isinstance(v, np.generic) else v for k, v in table.attrs.items()}
    return from_table(
        table["inputs"].values,
        table["signature"].values,
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        dtype=dtype,
        features=features,
        names=names,
        metadata=meta,
    )


def from_deepmind_csv(
    path: str | os.PathLike,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    features: Sequence[str] | None = None,
) -> Dataset:
    """DeepMind's ``knot_theory_invariants.csv`` (columns :data:`FEATURES` and ``signature``).

    Extra columns (an unnamed index, knot ids) are ignored. By default 80% of
    the rows train and 20% test.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If columns are missing (the message lists them), a value is not a
        number, or a signature is not an even integer.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {path}")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty; expected a header with {[*FEATURES, TARGET]}")
        header = [h.strip() for h in header]
        missing = [c for c in (*FEATURES, TARGET) if c not in header]
        if missing:
            raise ValueError(f"{path} lacks the DeepMind knot columns {missing}; found columns {header}")
        where = [header.index(c) for c in (*FEATURES, TARGET)]
        rows = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                rows.append([float(row[i]) for i in where])
            except (ValueError, IndexError) as err:
                raise ValueError(f"{path}, line {line}: not a number in a knot column ({err})") from err
    if not rows:
        raise ValueError(f"{path} has a header but no rows")
    values = np.array(rows)
    if not np.all(np.isfinite(values[:, :-1])):
        bad = int(np.flatnonzero(~np.isfinite(values[:, :-1]).all(1))[0])
        raise ValueError(f"{path}, line {bad + 2}: NaN or inf in an input column; drop or impute those rows")
    meta = provenance("knots.from_deepmind_csv", path=str(path), features=features)
    return from_table(
        values[:, :-1],
        values[:, -1],
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        dtype=dtype,
        features=features,
        metadata=meta,
    )


register("knots/signature", load_signature)
