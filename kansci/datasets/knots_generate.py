"""Compute the knot-invariant table of :mod:`kansci.datasets.knots` with SnapPy.

Usage (extra ``knots``: ``pip install "kansci[knots]"``)::

    nice python -m kansci.datasets.knots_generate --out datasets/knots.nc --n 20000 --workers 2

Knots are drawn at random (``--seed``) from the Hoste–Thistlethwaite census
in ``snappy.HTLinkExteriors`` (prime knots up to 14 crossings by default,
59,937 knots; ``--max-crossings 15`` adds the 253,293 15-crossing ones of
``snappy-15-knots``). The census holds one chirality per knot; each drawn knot
is mirrored with probability 1/2 (the exterior's orientation reversed, the
diagram mirrored, every invariant recomputed), so both signs of the signature
occur. A drawn knot enters the table when it is hyperbolic (torus and
satellite knots are skipped and counted in the table's attributes). Work goes
in chunks of ``--chunk-size`` drawn knots through :func:`kansci.sweep.run`:
each finished chunk is stored in ``--store`` (default ``<out>.chunks/``), so a
rerun of the same command resumes, and a progress bar counts chunks. Chunks
are added in rounds until ``--n`` knots are done; the table keeps the first
``--n`` in draw order.

How every column is computed (M the exterior, K its diagram ``M.link()``)
------------------------------------------------------------------------
``volume``
    ``M.volume()``, the hyperbolic volume.
``chern_simons``
    ``M.chern_simons()``, SnapPy's normalisation (defined mod 1/2, values in
    (-1/4, 1/4]). Changes sign under mirroring.
``meridinal_translation_real``, ``meridinal_translation_imag``, ``longitudinal_translation``, ``cusp_volume``
    The maximal cusp: ``N = M.cusp_neighborhood()`` expanded to
    ``N.stopping_displacement()``; ``mu, lambda = N.translations()`` (complex
    meridian translation, real longitude translation) and ``N.volume()``
    (= area / 2 = Im(mu) lambda / 2). SnapPy puts Im(mu) > 0; mirroring maps
    mu to -conj(mu), so the real part changes sign.
``short_geodesic_real_part``, ``short_geodesic_imag_part``, ``injectivity_radius``
    The complex length L + i theta of the shortest closed geodesic (theta in
    (-pi, pi]; among equally short ones the largest theta) and
    ``injectivity_radius = L / 2`` (half the systole), from SnapPy's Dirichlet
    domain: ``M.dirichlet_domain(...).length_spectrum_dicts(c)`` for the
    cutoffs c in :data:`CUTOFFS` until one is non-empty; exact when the domain
    is built. In double precision the construction fails for most larger
    exteriors (shipped table, one attempt: exact for all knots up to 8
    crossings, 59% at 11, 34% at 13, 25% at 14; 28% overall). Each of
    ``--tries`` attempts (default 1) tries two settings
    (``maximize_injectivity_radius`` on and off), later attempts on
    randomized triangulations. Fill rule (the Dataset type takes
    no NaN): a knot without a domain gets the median of each part over the
    table's exact rows, ``injectivity_radius`` half that real part, and
    ``geodesic_exact = 0``; the values are in the table attribute
    ``geodesic_fill``, and ``load("knots/signature", exact_geodesics=True)``
    keeps only exact rows. Measured per knot (one core, 14-15 crossings): a
    domain attempt 30-250 ms, the spectrum up to cutoff 2 up to 0.9 s; every
    other column together about 60 ms. Alternatives measured and rejected:
    ``length_spectrum_alt`` (verified tiling) takes over 20 s per knot,
    ``ManifoldHP`` domains 5-20 s, ``--tries 3`` raises the exact share from
    27% to 48% (1,000 knots) for about twice the time, and the minimum of ``2 arccosh(tr / 2)`` over
    short words of the holonomy misses the systole or takes parabolic words
    for short geodesics.
``hyperbolic_torsion_degree``, ``hyperbolic_adjoint_torsion_degree``
    SnapPy computes the torsion polynomials only inside Sage
    (``M.hyperbolic_torsion()`` raises ``SageNotAvailable`` elsewhere), so the
    degrees come from the Seifert genus g (knot Floer homology,
    ``K.knot_floer_homology()["seifert_genus"]``, exact): the hyperbolic
    torsion degree is 4g - 2 (Dunfield–Friedl–Jackson: the torsion polynomial
    determines the genus; they checked it for every hyperbolic knot up to 15
    crossings); the adjoint (SL(3), Sym^2) torsion degree is 3(2g - 1), the
    Friedl–Kim bound for a 3-dimensional representation, which fibered knots
    attain; for non-fibered knots it is an upper bound (K11n42, g = 2: SnapPy's
    doctest gives degree 7, here 9). The ``genus`` and ``fibered`` columns
    are stored so the degrees can be recomputed.
``Symmetry_0``, ``Symmetry_D3``, ``Symmetry_D4``, ``Symmetry_D6``, ``Symmetry_D8``, ``Symmetry_Z/2 + Z/2``
    One-hot of ``str(M.symmetry_group())``, the symmetry group of the exterior
    (orientation-reversing maps included; ``"0"`` is the trivial group). Other
    groups (``Z/2``, ``Z/4``, ``D5``, ...; ``Z/2`` is 20% of the shipped rows)
    have all six columns 0; the ``symmetry_group`` column keeps the name.
``signature`` (label)
    The signature of V + V^T, V the Seifert matrix of the diagram
    (``K.seifert_matrix()``, spherogram's braid-form algorithm; eigenvalues in
    float64, recounted exactly by rational pivoting if one is near 0), negated
    to the convention of SnapPy >= 3.0 and KnotInfo: positive knots have
    negative signature (the positive trefoil, braid sigma_1^3, has -2). With
    SnapPy's cusp orientation this gives Davies et al.'s relation
    2 sigma ~ slope = Re(lambda / mu) with a positive sign (the table
    attribute ``slope_relation`` reports the correlation).
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import multiprocessing
import re
import sys
import time
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from kansci.datasets.knots import FEATURES, SYMMETRY_GROUPS

__all__ = ["assemble", "census_size", "compute_chunk", "generate", "knot_invariants", "main", "signature"]

log = logging.getLogger(__name__)

VERSION = 2
"""Bumped whenever a computation changes, so stale chunk records are not reused."""

HYPERBOLIC = "all tetrahedra positively oriented"
CUTOFFS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
"""Length-spectrum cutoffs tried in turn for the shortest geodesic."""
KNOT_TIMEOUT = 30.0
"""Seconds after which the computation of one knot is killed (the knot is then skipped)."""
_CENSUS_SIZE = 313_230  # prime knots up to 15 crossings in HTLinkExteriors
_NUMERIC = (
    "volume",
    "chern_simons",
    "cusp_volume",
    "meridian_real",
    "meridian_imag",
    "longitude",
    "geodesic_real",
    "geodesic_imag",
)
_INTEGER = (
    "census_index",
    "mirrored",
    "hyperbolic",
    "complete",
    "genus",
    "fibered",
    "signature",
    "crossings",
    "symmetry_full",
    "geodesic_exact",
    "geodesic_attempt",
)
_TEXT = ("name", "symmetry_group")


def census_size(max_crossings: int = 15) -> int:
    """Knots with at most ``max_crossings`` crossings in SnapPy's Hoste–Thistlethwaite census.

    The census lists knots by crossing number, so they are its first
    ``census_size(c)`` entries (313,230 for c = 15 with snappy-15-knots, 59,937 for 14).
    """
    import snappy

    census = snappy.HTLinkExteriors(knots_vs_links="knots")
    lo, hi = 0, len(census)
    while lo < hi:  # first knot with more crossings: names are K<crossings><a|n><number>
        mid = (lo + hi) // 2
        if int(re.match(r"K(\d+)[an]", census[mid].name()).group(1)) <= max_crossings:
            lo = mid + 1
        else:
            hi = mid
    return lo


def signature(seifert_matrix: Sequence[Sequence[int]]) -> int:
    """Signature of V + V^T (positive minus negative eigenvalues; the caller applies the sign convention).

    Eigenvalues in float64; when one is within 1e-8 of 0 the inertia is
    recounted exactly by rational pivoting.

    Examples
    --------
    >>> signature([[1, -1], [0, 1]])
    2
    """
    v = np.asarray(seifert_matrix, dtype=np.int64).reshape(len(seifert_matrix), -1)
    if v.size == 0:
        return 0
    eigenvalues = np.linalg.eigvalsh((v + v.T).astype(np.float64))
    if np.min(np.abs(eigenvalues)) > 1e-8:
        return int(np.sum(eigenvalues > 0) - np.sum(eigenvalues < 0))
    return _exact_signature(v + v.T)


def _exact_signature(symmetric: np.ndarray) -> int:
    """Inertia of an integer symmetric matrix by symmetric Gaussian elimination over the rationals."""
    s = [[Fraction(int(x)) for x in row] for row in symmetric]
    total = 0
    while s:
        n = len(s)
        pivot = next((i for i in range(n) if s[i][i] != 0), None)
        if pivot is None:
            pair = next(((i, j) for i in range(n) for j in range(n) if s[i][j] != 0), None)
            if pair is None:
                break  # the rest of the form is zero
            i, j = pair  # s[i][i] = s[j][j] = 0 != s[i][j]: add row and column j to i
            for k in range(n):
                s[i][k] += s[j][k]
            for k in range(n):
                s[k][i] += s[k][j]
            pivot = i
        p = s[pivot][pivot]
        total += 1 if p > 0 else -1
        row = s[pivot]
        s = [[s[i][j] - s[i][pivot] * row[j] / p for j in range(n) if j != pivot] for i in range(n) if i != pivot]
    return total


def _shortest(lengths: Sequence[complex]) -> complex:
    """The shortest complex length; ties (within 1e-6) broken by the largest imaginary part."""
    lengths = [complex(z.real, _wrap(z.imag)) for z in lengths]
    shortest = min(z.real for z in lengths)
    return max((z for z in lengths if z.real <= shortest + 1e-6), key=lambda z: z.imag)


def _wrap(theta: float) -> float:
    """theta mod 2 pi in (-pi, pi]."""
    wrapped = math.remainder(theta, 2 * math.pi)
    return math.pi if wrapped == -math.pi else wrapped


def shortest_geodesic(manifold, *, tries: int = 1, time_cap: float = 0.5) -> tuple[complex, int] | None:
    """Complex length of the shortest closed geodesic from SnapPy's Dirichlet domain, and the attempt used.

    The Dirichlet construction often fails in double precision for exteriors
    with 20+ tetrahedra. Each attempt tries two domain settings, the first on
    the given triangulation, later ones on randomized triangulations. The
    length spectrum is listed up to growing cutoffs (its cost grows fast with
    the cutoff) until one is non-empty. ``None`` after ``tries`` attempts or
    ``time_cap`` seconds (checked between attempts).
    """
    start = time.perf_counter()
    manifold = manifold.copy()
    for attempt in range(tries):
        for options in ({}, {"maximize_injectivity_radius": False}):
            try:
                domain = manifold.dirichlet_domain(**options)
            except RuntimeError:  # "The Dirichlet construction failed."
                continue
            for cutoff in CUTOFFS:
                spectrum = domain.length_spectrum_dicts(cutoff)
                if len(spectrum):
                    return _shortest([complex(g.length) for g in spectrum]), attempt
            return None
        if time.perf_counter() - start > time_cap:
            return None
        manifold.randomize()
    return None


def _symmetry(manifold) -> tuple[str, int]:
    try:
        group = manifold.symmetry_group()
    except (ValueError, RuntimeError):
        return "unknown", 0
    return str(group), int(group.is_full_group())


def knot_invariants(manifold, link, *, tries: int = 1, time_cap: float = 0.5) -> dict[str, Any]:
    """Every raw invariant of one knot exterior and its diagram (see the module docstring).

    Returns a dict of floats / ints / strings (the keys of a chunk record).
    ``complete = 0`` (NaN / -1 for the rest) when the knot is not hyperbolic;
    ``geodesic_exact = 0`` with NaN geodesic when no Dirichlet domain was built.
    """
    row: dict[str, Any] = {k: math.nan for k in _NUMERIC}
    row.update({k: -1 for k in _INTEGER})
    row.update(name=manifold.name(), crossings=len(link.crossings), symmetry_group="unknown")
    manifold = manifold.copy()
    for _ in range(8):
        if manifold.solution_type() == HYPERBOLIC:
            break
        manifold.randomize()
    row["hyperbolic"] = int(manifold.solution_type() == HYPERBOLIC and float(manifold.volume()) > 1.0)
    row["complete"] = 0
    if not row["hyperbolic"]:
        return row
    cusp = manifold.cusp_neighborhood()
    cusp.set_displacement(cusp.stopping_displacement())
    meridian, longitude = (complex(t) for t in cusp.translations())
    row.update(
        volume=float(manifold.volume()),
        chern_simons=float(manifold.chern_simons()),
        cusp_volume=float(cusp.volume()),
        meridian_real=meridian.real,
        meridian_imag=meridian.imag,
        longitude=longitude.real,
    )
    row["symmetry_group"], row["symmetry_full"] = _symmetry(manifold)
    hfk = link.knot_floer_homology()
    row.update(
        genus=int(hfk["seifert_genus"]),
        fibered=int(hfk["fibered"]),
        signature=-signature(link.seifert_matrix()),  # SnapPy >= 3.0: positive knots negative
        complete=1,
    )
    geodesic = shortest_geodesic(manifold, tries=tries, time_cap=time_cap)
    row["geodesic_exact"] = int(geodesic is not None)
    if geodesic is not None:
        length, row["geodesic_attempt"] = geodesic
        row.update(geodesic_real=length.real, geodesic_imag=length.imag)
    return row


def _census_order(seed: int, size: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(size)


@functools.cache
def _census():
    """SnapPy's Hoste–Thistlethwaite knot table (opened once per process)."""
    import snappy

    return snappy.HTLinkExteriors(knots_vs_links="knots")


def _census_knot(index: int, mirrored: bool, tries: int, time_cap: float) -> dict[str, Any]:
    """:func:`knot_invariants` of census knot ``index`` (mirrored or not); runs in a watchdog child."""
    import spherogram

    manifold = _census()[index]
    link = manifold.link()
    if mirrored:
        manifold.reverse_orientation()
        link = spherogram.Link(link.mirror().PD_code())  # rebuilt: a mirrored Link's Seifert matrix fails
    row = knot_invariants(manifold, link, tries=tries, time_cap=time_cap)
    row.update(census_index=index, mirrored=int(mirrored))
    return row


def _failed(index: int, mirrored: bool) -> dict[str, Any]:
    """The record of a knot that failed or was stopped by the watchdog: ``hyperbolic = -1``, nothing computed."""
    row: dict[str, Any] = {k: math.nan for k in _NUMERIC}
    row.update({k: -1 for k in _INTEGER})
    row.update(name=f"census[{index}]", symmetry_group="unknown", complete=0, census_index=index)
    row["mirrored"] = int(mirrored)
    return row


def compute_chunk(config: Mapping[str, Any]) -> xr.Dataset:
    """Invariants of the knots ``order[chunk * chunk_size : (chunk + 1) * chunk_size]`` (a sweep run).

    ``config``: ``seed``, ``chunk``, ``chunk_size``, ``census_size``, ``tries``,
    ``time_cap``, ``version``. Returns an ``xarray.Dataset`` over dim ``knot``.
    Each knot runs in a forked child process that is killed after
    :data:`KNOT_TIMEOUT` seconds (a few SnapPy calls run for minutes on rare
    exteriors and cannot be interrupted); such a knot, and one on which
    SnapPy fails (``SnapPeaFatalError`` on a few census knots), is recorded
    with ``hyperbolic = -1`` and left out of the table.
    """
    order = _census_order(int(config["seed"]), int(config["census_size"]))
    start = int(config["chunk"]) * int(config["chunk_size"])
    indices = order[start : start + int(config["chunk_size"])]
    mirror = np.random.default_rng([int(config["seed"]), 1]).random(len(order))[indices] < 0.5
    options = (int(config["tries"]), float(config["time_cap"]))
    _census()  # SnapPy loaded here: the child is forked with it, and its exceptions unpickle here
    context = multiprocessing.get_context("fork")
    pool = context.Pool(1)
    rows = []
    try:
        for index, mirrored in zip(indices.tolist(), mirror.tolist()):
            try:
                rows.append(pool.apply_async(_census_knot, (index, mirrored, *options)).get(KNOT_TIMEOUT))
            except multiprocessing.TimeoutError:
                log.warning("census knot %d ran over %s s; skipped", index, KNOT_TIMEOUT)
                pool.terminate()
                pool = context.Pool(1)
                rows.append(_failed(index, mirrored))
            except Exception as err:  # one knot's SnapPy failure (SnapPeaFatalError, ...) must not stop the sweep
                log.warning("census knot %d failed (%s: %s); skipped", index, type(err).__name__, err)
                rows.append(_failed(index, mirrored))
    finally:
        pool.terminate()
    data = {k: ("knot", np.array([r[k] for r in rows], dtype=np.float64)) for k in _NUMERIC}
    data.update({k: ("knot", np.array([r[k] for r in rows], dtype=np.int64)) for k in _INTEGER})
    data.update({k: ("knot", np.array([r[k] for r in rows], dtype=object)) for k in _TEXT})
    return xr.Dataset(data, attrs={"chunk": int(config["chunk"]), "version": int(config["version"])})


def _features(rows: xr.Dataset, geodesic: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The 17 DeepMind columns, shape (n_knots, 17), float64, given the (filled) geodesic real / imag parts."""
    genus = rows["genus"].values.astype(np.float64)
    symmetry = rows["symmetry_group"].values.astype(str)
    real, imag = geodesic
    columns = {
        "chern_simons": rows["chern_simons"].values,
        "cusp_volume": rows["cusp_volume"].values,
        "hyperbolic_adjoint_torsion_degree": 3 * (2 * genus - 1),
        "hyperbolic_torsion_degree": 4 * genus - 2,
        "injectivity_radius": real / 2,
        "longitudinal_translation": rows["longitude"].values,
        "meridinal_translation_imag": rows["meridian_imag"].values,
        "meridinal_translation_real": rows["meridian_real"].values,
        "short_geodesic_imag_part": imag,
        "short_geodesic_real_part": real,
        **{f"Symmetry_{g}": (symmetry == g).astype(np.float64) for g in SYMMETRY_GROUPS},
        "volume": rows["volume"].values,
    }
    return np.stack([np.asarray(columns[f], dtype=np.float64) for f in FEATURES], axis=1)


def assemble(chunks: Sequence[xr.Dataset], n: int, attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """The shipped table: the first ``n`` hyperbolic knots of ``chunks``, in draw order.

    Knots without an exact geodesic get the fill rule of the module
    docstring (the median over the table's exact rows) and
    ``geodesic_exact = 0``.

    Raises
    ------
    ValueError
        If the chunks hold fewer than ``n`` hyperbolic knots, or none with an exact geodesic.
    """
    rows = xr.concat(list(chunks), dim="knot")
    complete = np.flatnonzero(rows["complete"].values == 1)
    if len(complete) < n:
        raise ValueError(f"only {len(complete)} complete knots in the chunks, {n} asked; compute more chunks")
    drawn = int(complete[n - 1]) + 1  # rows looked at to find the n kept ones
    status = rows["hyperbolic"].values[:drawn]
    rows = rows.isel(knot=complete[:n])
    exact = rows["geodesic_exact"].values == 1
    if not exact.any():
        raise ValueError("no knot has an exact shortest geodesic; the fill rule needs some")
    real, imag = rows["geodesic_real"].values, rows["geodesic_imag"].values
    fill = (float(np.median(real[exact])), float(np.median(imag[exact])))
    inputs = _features(rows, (np.where(exact, real, fill[0]), np.where(exact, imag, fill[1])))
    if not np.isfinite(inputs).all():
        raise ValueError("a complete row has a NaN input; this is a bug in knots_generate")
    mu = rows["meridian_real"].values + 1j * rows["meridian_imag"].values
    slope = (rows["longitude"].values / mu).real
    sig = rows["signature"].values
    table = xr.Dataset(
        {
            "inputs": (("knot", "feature"), inputs.astype(np.float32)),
            "signature": ("knot", sig.astype(np.int8)),
            "name": ("knot", rows["name"].values.astype(str).astype(object)),
            "census_index": ("knot", rows["census_index"].values.astype(np.int32)),
            "mirrored": ("knot", rows["mirrored"].values.astype(np.int8)),
            "genus": ("knot", rows["genus"].values.astype(np.int8)),
            "fibered": ("knot", rows["fibered"].values.astype(np.int8)),
            "crossings": ("knot", rows["crossings"].values.astype(np.int8)),
            "symmetry_group": ("knot", rows["symmetry_group"].values.astype(str).astype(object)),
            "geodesic_exact": ("knot", exact.astype(np.int8)),
        },
        coords={"feature": ("feature", np.array(FEATURES, dtype=object))},
        attrs={
            **dict(attrs or {}),
            "knots_drawn": drawn,
            "knots_not_hyperbolic": int((status == 0).sum()),
            "knots_failed_or_timed_out": int((status == -1).sum()),
            "geodesic_exact_rows": int(exact.sum()),
            "geodesic_fill": (
                f"rows with geodesic_exact = 0 have short_geodesic_real_part = {fill[0]!r}, "
                f"short_geodesic_imag_part = {fill[1]!r}, injectivity_radius = {fill[0] / 2!r} "
                "(medians over the exact rows)"
            ),
            "slope_relation": (
                f"corr(2 sigma, Re(lambda / mu)) = {np.corrcoef(2 * sig, slope)[0, 1]:.3f}, "
                f"median |2 sigma - Re(lambda / mu)| = {np.median(np.abs(2 * sig - slope)):.3f}"
            ),
            "signature_convention": "SnapPy >= 3.0 / KnotInfo: the positive trefoil has signature -2",
        },
    )
    for name in table.data_vars:
        table[name].encoding.update(compression="gzip", compression_opts=4)
    return table


def generate(
    out: str | Path,
    n: int,
    *,
    workers: int = 1,
    seed: int = 0,
    chunk_size: int = 200,
    tries: int = 1,
    time_cap: float = 0.5,
    max_crossings: int = 14,
    store: str | Path | None = None,
    progress: bool | None = None,
) -> Path:
    """Compute (or resume) chunks until ``n`` hyperbolic knots are done, write the table to ``out``; return ``out``.

    Chunks are added in rounds: after each round the rate of complete knots
    sets how many more chunks the next round needs.
    """
    from importlib import metadata

    from kansci import netcdf, sweep

    size = census_size(max_crossings)
    store = Path(f"{out}.chunks") if store is None else Path(store)
    base = {"seed": seed, "chunk_size": chunk_size, "census_size": size, "tries": tries, "time_cap": time_cap}
    base["version"] = VERSION
    n_chunks = math.ceil(n / (0.99 * chunk_size))
    last = math.ceil(size / chunk_size)
    while True:
        n_chunks = min(n_chunks, last)
        configs = [{"name": f"knots-{chunk:05d}", "chunk": chunk, **base} for chunk in range(n_chunks)]
        chunks = sweep.run(compute_chunk, configs, store=store, workers=workers, progress=progress, desc="knot chunks")
        done = sum(int((c["complete"].values == 1).sum()) for c in chunks)
        log.info("%d complete knots in %d chunks", done, n_chunks)
        if done >= n:
            break
        if n_chunks == last:
            raise ValueError(f"the census up to {max_crossings} crossings has only {done} complete knots, {n} asked")
        n_chunks = math.ceil(n_chunks * 1.05 * n / max(done, 1)) + 1
    versions = {p: metadata.version(p) for p in ("snappy", "snappy-15-knots", "spherogram", "knot_floer_homology")}
    command = (
        f"python -m kansci.datasets.knots_generate --out {out} --n {n} --seed {seed} "
        f"--chunk-size {chunk_size} --tries {tries} --time-cap {time_cap} --max-crossings {max_crossings}"
    )
    attrs = {"generator": "kansci.datasets.knots_generate", "command": command, "census": "HTLinkExteriors knots"}
    attrs.update(seed=seed, version=VERSION, **{f"version_{k}": v for k, v in versions.items()})
    return netcdf.write(assemble(chunks, n, attrs), out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="datasets/knots.nc", help="table to write (NetCDF)")
    parser.add_argument("--n", type=int, default=20_000, help="knots in the table")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (0: in this process)")
    parser.add_argument("--seed", type=int, default=0, help="draw order and mirror choice")
    parser.add_argument("--chunk-size", type=int, default=200, help="knots per stored chunk")
    parser.add_argument("--tries", type=int, default=1, help="Dirichlet-domain attempts per knot")
    parser.add_argument("--time-cap", type=float, default=0.5, help="seconds after which no new attempt starts")
    parser.add_argument("--max-crossings", type=int, default=14, help="draw from census knots up to this size")
    parser.add_argument("--store", default=None, help="chunk records (default: <out>.chunks/)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = generate(
        args.out,
        args.n,
        workers=args.workers,
        seed=args.seed,
        chunk_size=args.chunk_size,
        tries=args.tries,
        time_cap=args.time_cap,
        max_crossings=args.max_crossings,
        store=args.store,
        progress=True,
    )
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
