"""One KAN layer: phi(x) = w_b * SiLU(x) + w_s * spline(x) on every edge."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from kansci.core.basis import BasisTable, extend_grid, local_bases, local_basis, scatter_dense
from kansci.core.checks import as_integer, as_real, check_fits, check_samples, layer_bytes
from kansci.core.fused import (
    SparseDesign,
    dense_layer,
    design_matrix,
    edge_weights,
    kept_layer,
    silu_derivatives,
    sparse_design,
    sparse_layer,
)
from kansci.core.grid import adaptive_grid, fit_coefficients, subdivide_grid, uniform_grid
from kansci.core.polynomial import edge_values, polynomial_layer
from kansci.core.symbolic_edges import SymbolicEdges

__all__ = ["KANLayer", "BasisMode"]

BasisMode = Literal["auto", "dense", "sparse", "polynomial"]

# Above this many bases per edge the sparse (gather) path beats the dense matmul.
SPARSE_FROM_BASES = 40

# Up to this many outputs, evaluating each edge as its interval's polynomial (kansci.core.polynomial) beats the
# dense path (first number) and the sparse path (second) for an input that is not kept. Forward + backward time
# against the other path (benchmarks/bench_paths.py, 2 cores, float32 and float64): dense 0.67-1.03 at one output,
# 1.00-1.18 at two; sparse 0.25-0.95 up to ten outputs (one case 1.21: 100 inputs, float64), 1.6-1.8 at a hundred
POLYNOMIAL_UP_TO_OUTPUTS = (1, 10)


# the input layer keeps the design matrix of fixed data (see _input_design): dense up to this many entries,
# else (and always on the sparse path) in CSR form up to this many non-zeros
DESIGN_CACHE_SIZE = 1 << 22
SPARSE_DESIGN_CACHE_SIZE = 1 << 22


# per-edge terms (combine_edges) gather the k+1 touched coefficients from this many bases on; a dense
# scatter + batched matmul is faster below (measured on 2 CPU cores: KAN [2,5,5,1], 10,000 points)
EDGE_GATHER_FROM_BASES = 9


class KANLayer(nn.Module):
    """A layer of learnable activation functions on every edge ``in -> out``.

    ``y_o = sum_i mask_io * (w_b[i,o] * SiLU(x_i) + w_s[i,o] * sum_j c[i,j,o] B_j(x_i))``

    The forward pass never builds the (batch, in, out) edge tensor: the spline
    bases of the batch and SiLU(x) are combined with one weight matrix of shape
    ``(in * (G + k + 1), out)``, either by a dense matmul (small G) or by a
    sparse weighted gather over the ``k + 2`` non-zero entries per input (large
    G), so the cost does not grow with G. A narrow layer (few outputs) instead
    evaluates each edge as the polynomial of the interval its input falls in
    (:mod:`kansci.core.polynomial`), at any G. Use :meth:`edge_activations`
    for the per-edge values.

    Parameters
    ----------
    in_features, out_features : int
        Number of input and output nodes.
    grid : int
        Number of grid intervals G.
    k : int
        Spline order (3 = cubic).
    grid_range : tuple of float
        Initial grid span; inputs outside the extended grid get a zero spline
        part (the SiLU branch still responds).
    noise_scale : float
        Initial spline coefficients fit uniform noise of amplitude
        ``noise_scale / (2 G)`` at the grid points.
    scale_base_mu, scale_base_sigma : float
        ``w_b = (mu + sigma * U(-1, 1)) / sqrt(in_features)``.
    grid_eps : float
        Blend of uniform (1) and sample-quantile (0) grids in :meth:`update_grid_`.
    basis_mode : {"auto", "dense", "sparse", "polynomial"}
        How the spline part is evaluated; ``auto`` picks by the number of
        bases and outputs (``polynomial`` for narrow layers, see
        :mod:`kansci.core.polynomial`).
    generator : torch.Generator, optional
        Randomness for the initialization.
    dtype, device : optional
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid: int = 5,
        k: int = 3,
        *,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.3,
        scale_base_mu: float = 0.0,
        scale_base_sigma: float = 1.0,
        grid_eps: float = 0.02,
        basis_mode: BasisMode = "auto",
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        reals = {"noise_scale": noise_scale, "scale_base_mu": scale_base_mu, "scale_base_sigma": scale_base_sigma}
        reals["grid_eps"] = grid_eps
        in_features, out_features, grid, k = _check_layer_args(
            in_features, out_features, grid, k, grid_range, basis_mode, reals
        )
        kw = {"dtype": dtype or torch.get_default_dtype(), "device": device}
        itemsize = torch.empty((), dtype=kw["dtype"]).element_size()
        needed = layer_bytes(in_features, out_features, grid, k, itemsize)
        check_fits(needed, f"KANLayer({in_features}, {out_features}) with grid={grid}", device)
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.k = grid, k
        self.grid_eps = float(grid_eps)
        self.basis_mode: BasisMode = basis_mode
        lo = torch.full((in_features,), float(grid_range[0]), **kw)
        hi = torch.full((in_features,), float(grid_range[1]), **kw)
        knots = extend_grid(uniform_grid(lo, hi, grid), k)
        self._table_key: tuple | None = None
        self._table: BasisTable | None = None
        self._designs: list[tuple] = []
        self._mask_key: tuple | None = None
        self._mask_full = False
        self.register_buffer("knots", knots)
        self.register_buffer("mask", torch.ones(in_features, out_features, **kw))
        self.symbolic = SymbolicEdges(in_features, out_features, **kw)
        n_basis = grid + k
        self.coef = nn.Parameter(torch.zeros(in_features, n_basis, out_features, **kw))
        fan = 1.0 / math.sqrt(in_features)
        u = torch.rand(in_features, out_features, generator=generator, **kw) * 2 - 1
        self.scale_base = nn.Parameter((scale_base_mu + scale_base_sigma * u) * fan)
        self.scale_spline = nn.Parameter(torch.full((in_features, out_features), fan, **kw))
        with torch.no_grad():
            points = knots[:, k : k + grid + 1].t()  # (G+1, in): the grid points
            noise = torch.rand(grid + 1, in_features, out_features, generator=generator, **kw) - 0.5
            noise = noise * (noise_scale / grid)
            self.coef.copy_(fit_coefficients(self.basis(points), noise))

    # ------------------------------------------------------------------ basis
    @property
    def grid(self) -> Tensor:
        """The knots without extension, shape (in_features, G + 1)."""
        return self.knots[:, self.k : self.knots.shape[1] - self.k]

    @property
    def n_basis(self) -> int:
        return self.grid_size + self.k

    def table(self) -> BasisTable:
        """Tabulated grid constants, rebuilt only when the knots change."""
        key = (self.knots.data_ptr(), self.knots._version, self.knots.dtype, self.knots.device)
        if self._table is None or self._table_key != key:
            self._table = BasisTable.build(self.knots, self.k)
            self._table_key = key
        return self._table

    def basis(self, x: Tensor, derivative: int = 0) -> Tensor:
        """Dense basis (or its derivative), shape (batch, in_features, G + k)."""
        table = self.table()
        values, row = local_basis(x, table, derivative)
        return scatter_dense(values, row, table)

    def _input_design(self, x: Tensor, table: BasisTable) -> Tensor | SparseDesign | None:
        """``[B(x) | SiLU(x)]`` of an input that needs no gradient, kept while the same tensor comes back.

        A full-batch fit feeds the input layer the same data at every step
        (and evaluates it on the test data between steps). Dense when that is
        small and the layer is on the dense path, else in CSR form; None
        (nothing kept) when even that would be too large. See :meth:`_kept`.
        """
        batch, n_in = x.shape
        if not self.use_sparse() and batch * n_in * (self.n_basis + 1) <= DESIGN_CACHE_SIZE:
            # built at once unless the polynomial path, faster for an input seen once, is there to take it
            build = lambda: design_matrix(x, table)[0]  # noqa: E731
            return self._kept(x, table, "dense", build, at_once=not self.use_polynomial())
        if batch * n_in * (self.k + 2) > SPARSE_DESIGN_CACHE_SIZE:
            return None
        return self._kept(x, table, "csr", lambda: sparse_design(x, table))

    def input_jet_designs(self, x: Tensor) -> tuple[Tensor, ...] | None:
        """Dense designs of derivative orders 0, 1, 2 of an input needing no gradient, kept like the design.

        Order 0 shaped (batch, in_features, G + k + 1), orders 1 and 2
        (in_features, batch, G + k + 1), ready for a batched product per
        input: the bases' derivative, then SiLU's. The exact PDE derivatives of the input layer at
        fixed collocation points are then three matrix products. None when
        they would be too large.
        """
        batch, n_in = x.shape
        if x.requires_grad or 3 * batch * n_in * (self.n_basis + 1) > DESIGN_CACHE_SIZE:
            return None
        table = self.table()

        def build() -> tuple[Tensor, ...]:
            values, row = local_bases(x, table, (0, 1, 2))
            d0, d1, d2 = (scatter_dense(v, row, table, extra=s) for v, s in zip(values, silu_derivatives(x)))
            return d0, d1.transpose(0, 1).contiguous(), d2.transpose(0, 1).contiguous()

        return self._kept(x, table, "jet", build)

    def _kept(self, x: Tensor, table: BasisTable, kind: str, build: Callable[[], Any], at_once: bool = False) -> Any:
        """``build()`` for input x, kept while the same tensor comes back (up to three entries).

        The key is the tensor itself (held weakly), its version counter (any
        in-place change), the table (any grid change) and ``kind``. Unless
        ``at_once``, it is built on the second sighting only: a fresh
        minibatch every step would not repay the building.
        """
        seen = False
        for i, (ref, version, key, k, value) in enumerate(self._designs):
            if ref() is x and version == x._version and key is table and k == kind:
                if value is not None:
                    return value
                seen = True
                del self._designs[i]
                break
        value = build() if seen or at_once else None
        self._designs = [(weakref.ref(x), x._version, table, kind, value), *self._designs[:2]]
        return value

    def __getstate__(self) -> dict:
        """Pickling and deepcopy leave the kept designs behind (they hold a weak reference to the data)."""
        return {**super().__getstate__(), "_designs": []}

    def use_sparse(self) -> bool:
        """Whether the design of kept inputs, and the per-edge terms, use the sparse (gather) form."""
        if self.basis_mode == "auto":
            return self.n_basis > SPARSE_FROM_BASES
        return self.basis_mode == "sparse"

    def use_polynomial(self) -> bool:
        """Whether the forward pass evaluates each edge as its interval's polynomial (inputs not kept)."""
        if self.basis_mode == "auto":
            return self.out_features <= POLYNOMIAL_UP_TO_OUTPUTS[self.use_sparse()]
        return self.basis_mode == "polynomial"

    # ---------------------------------------------------------------- forward
    def weights(self, stacked: bool = False) -> tuple[Tensor, ...]:
        """Effective weights of the spline and base parts.

        With ``stacked``, one matrix (in_features * (G + k + 1), out_features)
        instead: per input its spline rows, then its base row.

        Returns
        -------
        spline : Tensor, shape (in_features * (G + k), out_features)
            Row ``i * (G + k) + j`` is ``mask * w_s * c[i, j]``.
        base : Tensor, shape (in_features, out_features)
            ``mask * w_b``.

        Symbolic edges are masked off here; :attr:`symbolic` adds them.
        """
        out = edge_weights(self.coef, self.scale_spline, self.scale_base, self._weight_mask(), stacked)
        return (out,) if stacked else out

    def _weight_mask(self) -> Tensor | None:
        """The spline part's mask, or None when it is all ones (then the weights need no product with it).

        Whether the mask is full is remembered per (storage, version) of the mask tensor, so an edit in
        place (pruning by hand, ``load_state_dict``) is seen without a check at every call.
        """
        if len(self.symbolic):
            return self.symbolic.numeric_mask(self.mask)
        key = (self.mask.data_ptr(), self.mask._version)
        if key != getattr(self, "_mask_key", None):  # (a layer pickled by an earlier version has no key)
            self._mask_key, self._mask_full = key, bool((self.mask == 1).all())
        return None if self._mask_full else self.mask

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer.

        Parameters
        ----------
        x : Tensor, shape (batch, in_features)

        Returns
        -------
        Tensor, shape (batch, out_features)
        """
        if x.ndim != 2 or x.shape[1] != self.in_features or x.dtype != self.knots.dtype:
            raise ValueError(self._input_error(x))
        if x.shape[0] == 0:  # an empty batch gives an empty output, as torch's own layers do
            return F.silu(x) @ self.scale_base
        table = self.table()
        design = None if x.requires_grad else self._input_design(x, table)
        params = (self.coef, self.scale_spline, self.scale_base, self._weight_mask())
        if isinstance(design, SparseDesign):
            out = kept_layer(edge_weights(*params, stacked=True), design)
        elif design is None and self.use_polynomial():
            out = polynomial_layer(x, *params, table)
        elif self.use_sparse():
            out = sparse_layer(x, *params, table)
        else:
            out = dense_layer(x, *params, table, design)
        if len(self.symbolic):
            out = out + self.symbolic.summed(self.symbolic.terms(x, self.mask)[0])
        return out

    def _input_error(self, x: Tensor) -> str:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            return f"x has shape {tuple(x.shape)} but the layer expects (batch, {self.in_features})"
        return f"x has dtype {x.dtype} but the layer is {self.knots.dtype}; use x.to({self.knots.dtype})"

    def combine(self, values: Tensor, row: Tensor, base: Tensor, spline_weight: Tensor, base_weight: Tensor) -> Tensor:
        """Contract local basis values and base-function values with the weights.

        ``out = sum_{i,s} values[b,i,s] * spline_weight[index(row[b,i], s)] + base @ base_weight``

        Parameters
        ----------
        values : Tensor, shape (batch, in_features, k + 1)
            Local basis values (or derivatives) from :func:`local_basis`.
        row : Tensor of int64, shape (batch, in_features)
        base : Tensor, shape (batch, in_features)
            Values (or derivatives) of the base function.
        spline_weight, base_weight : Tensor
            From :meth:`weights`.
        """
        table = self.table()
        batch = values.shape[0]
        if self.use_sparse():  # gather the k+1 coefficient rows each input touches
            idx = table.flat_index.index_select(0, row.reshape(-1)).unflatten(0, (batch, self.in_features))
            out = base @ base_weight
            for s in range(self.k + 1):
                picked = spline_weight.index_select(0, idx[..., s].reshape(-1)).unflatten(0, (batch, self.in_features))
                out = out + (picked * values[..., s : s + 1]).sum(1)
            return out
        # one matmul: per input, G + k basis columns then its base-function column
        dense = scatter_dense(values, row, table, extra=base)
        return dense.flatten(1) @ self._stacked(spline_weight, base_weight)

    def _stacked(self, spline_weight: Tensor, base_weight: Tensor) -> Tensor:
        """Per input, its G + k spline rows then its base-function row: (in * (G + k + 1), out)."""
        weight = torch.cat([spline_weight.view(self.in_features, self.n_basis, -1), base_weight.unsqueeze(1)], dim=1)
        return weight.view(-1, self.out_features)

    def combine_edges(
        self, values: Tensor, row: Tensor, base: Tensor, spline_weight: Tensor, base_weight: Tensor
    ) -> Tensor:
        """:meth:`combine` without the sum over inputs: per-edge terms, shape (batch, in_features, out_features)."""
        table = self.table()
        batch = values.shape[0]
        out = base.unsqueeze(-1) * base_weight
        if self.n_basis >= EDGE_GATHER_FROM_BASES or self.use_sparse():
            idx = table.flat_index.index_select(0, row.reshape(-1)).unflatten(0, (batch, self.in_features))
            for s in range(self.k + 1):
                picked = spline_weight.index_select(0, idx[..., s].reshape(-1)).unflatten(0, (batch, self.in_features))
                out = out + picked * values[..., s : s + 1]
            return out
        dense = scatter_dense(values, row, table)
        return out + torch.einsum("bij,ijo->bio", dense, spline_weight.view(self.in_features, self.n_basis, -1))

    # ------------------------------------------------------------- per edge
    def edge_activations(self, x: Tensor, chunk: int = 4096) -> Tensor:
        """Per-edge outputs phi_io(x_i) (masked), shape (batch, in_features, out_features).

        Built in chunks of ``chunk`` rows; meant for statistics, pruning,
        plotting and symbolic fitting, not for training large batches.
        """
        parts = []
        mask = self.symbolic.numeric_mask(self.mask)
        for xc in x.split(chunk) if x.shape[0] else ():
            spline = torch.einsum("bij,ijo->bio", self.basis(xc), self.coef) * self.scale_spline
            acts = (spline + F.silu(xc).unsqueeze(-1) * self.scale_base) * mask
            if len(self.symbolic):
                acts = acts + self.symbolic.scattered(self.symbolic.terms(xc, self.mask)[0])
            parts.append(acts)
        return torch.cat(parts) if parts else x.new_zeros(0, self.in_features, self.out_features)

    @torch.no_grad()
    def add_constant_(self, i: int, o: int, value: float | Tensor) -> None:
        """Shift edge (i, o) by a constant (its d if symbolic, else its spline, exact on the grid span).

        A masked edge cannot carry it and is left alone.
        """
        if float(self.mask[i, o]) == 0.0:
            return
        row = self.symbolic.index(i, o)
        if row is not None:
            self.symbolic.affine[row, 3] += value
            return
        scale = self.scale_spline[i, o]
        if float(scale.abs()) > 1e-12:  # B-splines sum to one on the grid span
            self.coef[i, :, o] += value / scale

    def spline_values(self, x: Tensor) -> Tensor:
        """The unscaled spline part sum_j c_ij B_j(x_i), shape (batch, in, out)."""
        return edge_values(x, self.coef.view(-1, self.out_features), self.table())

    # ---------------------------------------------------------- grid edits
    @torch.no_grad()
    def update_grid_(self, x: Tensor) -> None:
        """Move the knots to the sample quantiles of x, keeping the function.

        The new grid blends quantiles and a uniform grid by ``grid_eps``; the
        coefficients are refit by least squares to the current spline values
        at x. In place: used during training.

        Parameters
        ----------
        x : Tensor, shape (batch, in_features)
            Inputs this layer sees.
        """
        check_samples(x, "the samples of a grid update")
        target = self.spline_values(x)
        grid = adaptive_grid(x, self.grid_size, self.grid_eps)
        self.knots.copy_(extend_grid(grid, self.k))
        self.coef.copy_(fit_coefficients(self.basis(x), target))

    @torch.no_grad()
    def refined(self, intervals: int, x: Tensor | None = None, points_per_interval: int = 4) -> KANLayer:
        """A copy of this layer on a grid of ``intervals`` intervals, same function.

        The new knots subdivide the current ones (nested, so the function is
        reproduced exactly, when ``intervals`` is a multiple of G); features
        whose samples ``x`` reach outside the current grid get a new grid adapted
        to x instead (blended by ``grid_eps``). Coefficients are fit by
        least squares to the current spline on ``points_per_interval`` points
        per interval of the finer of both grids across the new span (and on
        x), so the result is well posed for any G. The function is kept on the
        new grid span: without ``x``, inputs outside the current span are not
        covered, so pass the samples when the data has drifted off the grid.

        On a drifted feature the adapted knots are not nested, so the refit is
        close, not exact: KAN [2,5,1] fitted to exp(sin(pi x) + y^2) at G = 10
        (test RMSE 1.2e-4) moved by up to 2e-4 on its training inputs when
        refined to G = 20. A grid that covers x while keeping every old knot
        would be exact, but with G fixed it must leave some old intervals
        unsplit; on the paper's Poisson study (KAN [2,10,1], G 5 -> 40, seeds
        0-2) that cost more in the end (relative L2 1.1e-3, 1.4e-3, 3.1e-4)
        than the refit's error does (5.1e-4, 8.7e-4, 3.6e-4).
        """
        intervals = as_integer("grid (number of intervals)", intervals, minimum=1)
        if x is not None:
            check_samples(x, "the samples of a refinement")
        new_grid = subdivide_grid(self.grid, intervals)
        if x is not None:
            outside = (x.min(0).values < self.grid[:, 0]) | (x.max(0).values > self.grid[:, -1])
            if bool(outside.any()):  # the data left the grid: follow the data there
                adapted = adaptive_grid(x, intervals, self.grid_eps)
                new_grid = torch.where(outside[:, None], adapted, new_grid)
        n = points_per_interval * max(intervals, self.grid_size) + 1
        pts = uniform_grid(new_grid[:, 0], new_grid[:, -1], n - 1).t()  # (n, in)
        if x is not None:
            pts = torch.cat([pts, x.detach()], dim=0)
        target = self.spline_values(pts)
        out = self._empty_like(self.in_features, self.out_features, intervals)
        out.knots.copy_(extend_grid(new_grid, self.k))
        out.mask.copy_(self.mask)
        out.coef.copy_(fit_coefficients(out.basis(pts), target))
        out.scale_base.copy_(self.scale_base)
        out.scale_spline.copy_(self.scale_spline)
        out.symbolic = self.symbolic.subset(torch.arange(self.in_features), torch.arange(self.out_features))
        return out

    def _empty_like(self, n_in: int, n_out: int, intervals: int) -> KANLayer:
        """A layer with this one's settings, dtype and device; the caller fills its state."""
        return KANLayer(
            n_in, n_out, intervals, self.k, grid_eps=self.grid_eps, basis_mode=self.basis_mode,
            dtype=self.knots.dtype, device=self.knots.device,
        )  # fmt: skip

    @torch.no_grad()
    def subset(self, in_ids: Tensor, out_ids: Tensor) -> KANLayer:
        """A copy keeping only the given input and output nodes (for pruning)."""
        out = self._empty_like(len(in_ids), len(out_ids), self.grid_size)
        out.knots.copy_(self.knots[in_ids])
        out.mask.copy_(self.mask[in_ids][:, out_ids])
        out.coef.copy_(self.coef[in_ids][:, :, out_ids])
        out.scale_base.copy_(self.scale_base[in_ids][:, out_ids])
        out.scale_spline.copy_(self.scale_spline[in_ids][:, out_ids])
        out.symbolic = self.symbolic.subset(in_ids, out_ids)
        return out

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, grid={self.grid_size}, k={self.k}"


def _check_layer_args(
    n_in: int, n_out: int, grid: int, k: int, grid_range, basis_mode: str, reals: dict[str, float]
) -> tuple[int, int, int, int]:
    """The sizes as Python ints, or a ValueError naming the bad argument (see :mod:`kansci.core.checks`)."""
    n_in, n_out = as_integer("in_features", n_in, minimum=1), as_integer("out_features", n_out, minimum=1)
    grid = as_integer("grid (number of intervals)", grid, minimum=1)
    k = as_integer("spline order k", k, minimum=1)
    span = () if isinstance(grid_range, (str, bytes)) else tuple(getattr(grid_range, "__iter__", tuple)())
    if len(span) != 2 or as_real("grid_range", span[0]) >= as_real("grid_range", span[1]):
        raise ValueError(f"grid_range must be finite with lo < hi, got {grid_range!r}")
    if basis_mode not in ("auto", "dense", "sparse", "polynomial"):
        raise ValueError(f"basis_mode must be 'auto', 'dense', 'sparse' or 'polynomial', got {basis_mode!r}")
    for name, value in reals.items():
        as_real(name, value, *((0.0, 1.0) if name == "grid_eps" else ()))
    return n_in, n_out, grid, k
