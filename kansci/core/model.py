"""The KAN: a stack of :class:`KANLayer` with a rebuildable configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import Tensor, nn

from kansci.core.checks import as_integer, as_real, check_fits, layer_bytes
from kansci.core.layer import BasisMode, KANLayer
from kansci.core.mult import multiply, owners

__all__ = ["KAN", "KANConfig"]


@dataclass(frozen=True)
class KANConfig:
    """Everything needed to rebuild a :class:`KAN` (saved with every checkpoint).

    Parameters
    ----------
    width : tuple of int
        Nodes per layer, inputs first: ``(2, 5, 1)`` is a [2,5,1] KAN. An entry
        may be a pair ``[n_sum, n_mult]``: ``[2, [3, 2], 1]`` has 3 sum and 2
        multiplication nodes in its hidden layer (stored as ``width=(2, 5, 1)``,
        ``mult=(0, 2, 0)``).
    grid : int
        Grid intervals G of every layer.
    k : int
        Spline order.
    seed : int
        Seed of the initialization.
    grid_range : tuple of float
        Initial span of every layer's grid.
    grid_eps : float
        Uniform share of a sample-adaptive grid (0 = pure quantiles).
    noise_scale, scale_base_mu, scale_base_sigma : float
        Initialization (see :class:`KANLayer`).
    basis_mode : {"auto", "dense", "sparse", "polynomial"}
    input_ids : tuple of int, optional
        Columns of the original inputs this model reads (set by pruning inputs).
    dtype : str
        ``"float32"`` or ``"float64"``.
    mult : tuple of int, optional
        Multiplication nodes per layer of nodes (the last ``mult[l]`` of layer
        ``l``'s nodes; see :mod:`kansci.core.mult`); None when there are none.
    mult_arity : int
        Subnodes each multiplication node multiplies (default 2).
    """

    width: tuple[int, ...]
    grid: int = 5
    k: int = 3
    seed: int = 0
    grid_range: tuple[float, float] = (-1.0, 1.0)
    grid_eps: float = 0.02
    noise_scale: float = 0.3
    scale_base_mu: float = 0.0
    scale_base_sigma: float = 1.0
    basis_mode: BasisMode = "auto"
    input_ids: tuple[int, ...] | None = None
    dtype: str = "float32"
    mult: tuple[int, ...] | None = None
    mult_arity: int = 2

    def __post_init__(self) -> None:
        width, mult = _parse_width(self.width, self.mult)
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "mult", mult)
        object.__setattr__(self, "mult_arity", as_integer("mult_arity", self.mult_arity, minimum=2))
        object.__setattr__(self, "grid", as_integer("grid (number of intervals)", self.grid, minimum=1))
        object.__setattr__(self, "k", as_integer("spline order k", self.k, minimum=1))
        object.__setattr__(self, "seed", as_integer("seed", self.seed))
        if not -(2**63) <= self.seed < 2**64:
            raise ValueError(f"seed must fit in 64 bits, got {self.seed}")
        object.__setattr__(self, "grid_eps", as_real("grid_eps", self.grid_eps, 0.0, 1.0))
        for name in ("noise_scale", "scale_base_mu", "scale_base_sigma"):
            object.__setattr__(self, name, as_real(name, getattr(self, name)))
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.basis_mode not in ("auto", "dense", "sparse", "polynomial"):
            raise ValueError(f"basis_mode must be 'auto', 'dense', 'sparse' or 'polynomial', got {self.basis_mode!r}")
        span = () if isinstance(self.grid_range, (str, bytes)) else tuple(getattr(self.grid_range, "__iter__", tuple)())
        if len(span) != 2:
            raise ValueError(f"grid_range must be a pair (lo, hi), got {self.grid_range!r}")
        lo, hi = (as_real("grid_range", v) for v in span)
        if not lo < hi:
            raise ValueError(f"grid_range must have lo < hi, got {self.grid_range!r}")
        object.__setattr__(self, "grid_range", (lo, hi))
        if self.input_ids is not None:
            ids = tuple(as_integer("input_ids", i, minimum=0) for i in self.input_ids)
            if len(ids) != width[0]:
                raise ValueError(f"input_ids has {len(ids)} entries but width[0] is {width[0]}")
            object.__setattr__(self, "input_ids", ids)

    def n_mult(self, layer: int) -> int:
        """Multiplication nodes in layer ``layer`` of nodes (0 = the inputs)."""
        return 0 if self.mult is None else self.mult[layer]

    def n_sum(self, layer: int) -> int:
        """Sum nodes in layer ``layer`` of nodes."""
        return self.width[layer] - self.n_mult(layer)

    def subnodes(self, layer: int) -> int:
        """Outputs of the KAN layer feeding node layer ``layer``: ``n_sum + arity * n_mult``."""
        return self.width[layer] + (self.mult_arity - 1) * self.n_mult(layer)

    def display_width(self) -> list:
        """``width`` as the user writes it: ``[2, [3, 2], 1]`` where a layer has multiplication nodes."""
        return [w if not self.n_mult(i) else [self.n_sum(i), self.n_mult(i)] for i, w in enumerate(self.width)]

    def build_bytes(self) -> int:
        """Estimated peak memory to build this model (see :func:`kansci.core.checks.layer_bytes`)."""
        itemsize = 8 if self.dtype == "float64" else 4
        sizes = [(self.width[i], self.subnodes(i + 1)) for i in range(len(self.width) - 1)]
        return sum(layer_bytes(n_in, n_out, self.grid, self.k, itemsize) for n_in, n_out in sizes)

    def to_dict(self) -> dict:
        return asdict(self)


def _parse_width(width, mult) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """Node counts per layer and multiplication nodes per layer (None if none) from ``width`` and ``mult``."""
    if isinstance(width, (str, bytes)) or not hasattr(width, "__iter__"):
        raise ValueError(f"width must be a sequence of layer sizes such as [2, 5, 1], got {width!r}")
    entries = list(width)
    if len(entries) < 2:
        raise ValueError(f"width needs at least an input and an output size, got {entries}")
    pairs = [not isinstance(w, (str, bytes)) and hasattr(w, "__iter__") for w in entries]
    if any(pairs):
        if mult is not None:
            raise ValueError("give multiplication nodes as [n_sum, n_mult] entries of width or as mult, not both")
        try:
            split = [
                tuple(as_integer("width", v, minimum=0) for v in w) if p else (w, 0) for w, p in zip(entries, pairs)
            ]
        except ValueError as err:
            raise ValueError(f"every width must be an integer or a pair [n_sum, n_mult], got {entries}") from err
        if any(len(w) != 2 for w in split):
            raise ValueError(f"a width entry with multiplication nodes is a pair [n_sum, n_mult], got {entries}")
        entries, mult = [a + b for a, b in split], [b for _, b in split]
    try:
        counts = tuple(as_integer("width", w, minimum=1) for w in entries)
    except ValueError as err:
        raise ValueError(f"every width must be a positive integer, got {list(width)}") from err
    if mult is None:
        return counts, None
    if isinstance(mult, (str, bytes)) or not hasattr(mult, "__iter__") or len(tuple(mult)) != len(counts):
        raise ValueError(f"mult must give the multiplication nodes of each of the {len(counts)} layers, got {mult!r}")
    mult = tuple(as_integer("mult", m, minimum=0) for m in mult)
    if mult[0]:
        raise ValueError(f"the inputs cannot be multiplication nodes (width {list(width)})")
    if any(m > w for m, w in zip(mult, counts)):
        raise ValueError(f"a layer has more multiplication nodes than nodes: width {counts}, mult {mult}")
    return counts, (mult if any(mult) else None)


# KANConfig fields that KAN takes as keyword options (the others are its named arguments)
_OPTIONS = frozenset(
    {"grid_range", "grid_eps", "noise_scale", "scale_base_mu", "scale_base_sigma", "basis_mode", "input_ids"}
    | {"mult", "mult_arity"}
)


def _check_device(device: torch.device | str | None) -> torch.device | None:
    """``device`` as a torch.device that this torch build can use, or a ValueError naming the fix."""
    if device is None:
        return None
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda:0', got {device!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} needs CUDA, which this torch build or machine lacks; use 'cpu'")
    return device


def _dtype_name(dtype: torch.dtype | str | None) -> str:
    if dtype is None:
        dtype = torch.get_default_dtype()
    if isinstance(dtype, str):
        return dtype.replace("torch.", "")
    if not isinstance(dtype, torch.dtype) or dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return str(dtype).replace("torch.", "")


class KAN(nn.Module):
    """Kolmogorov-Arnold Network of any depth.

    Parameters
    ----------
    width : sequence of int or [n_sum, n_mult] pairs
        Nodes per layer, inputs first, e.g. ``[2, 5, 1]``; ``[2, [3, 2], 1]``
        has 3 sum and 2 multiplication nodes in its hidden layer (each
        multiplying ``mult_arity`` subnodes, see :mod:`kansci.core.mult`).
    grid : int
        Grid intervals G (default 5).
    k : int
        Spline order (default 3, cubic).
    seed : int
        Seed of the initialization; the global RNG is untouched.
    dtype : torch.dtype, optional
        ``torch.float32`` (default) or ``torch.float64``.
    device : torch.device or str, optional
    **options
        Further :class:`KANConfig` fields (``grid_range``, ``grid_eps``,
        ``noise_scale``, ``basis_mode``, ``mult_arity``, ...).

    Examples
    --------
    >>> model = KAN([2, 5, 1], grid=5, seed=0)
    >>> model(torch.zeros(3, 2)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        width,
        grid: int = 5,
        k: int = 3,
        seed: int = 0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        **options,
    ) -> None:
        super().__init__()
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ValueError(f"unknown KAN option(s) {unknown}; the options are {sorted(_OPTIONS)}")
        config = KANConfig(width=width, grid=grid, k=k, seed=seed, dtype=_dtype_name(dtype), **options)
        device = _check_device(device)
        check_fits(config.build_bytes(), f"KAN {config.display_width()} with grid={config.grid}", device)
        self.config = config
        gen = torch.Generator().manual_seed(config.seed)
        torch_dtype = getattr(torch, config.dtype)
        self.layers = nn.ModuleList(
            KANLayer(
                n_in,
                n_out,
                config.grid,
                config.k,
                grid_range=config.grid_range,
                noise_scale=config.noise_scale,
                scale_base_mu=config.scale_base_mu,
                scale_base_sigma=config.scale_base_sigma,
                grid_eps=config.grid_eps,
                basis_mode=config.basis_mode,
                generator=gen,
                dtype=torch_dtype,
            )
            for n_in, n_out in zip(config.width[:-1], map(config.subnodes, range(1, len(config.width))))
        )
        self._add_node_bias()
        if device is not None:
            self.to(device)

    def _add_node_bias(self) -> None:
        """``node_bias``: per layer, a trainable bias of each multiplication node (zeros); only with such nodes."""
        if self.config.mult is None:
            return
        dtype = getattr(torch, self.config.dtype)
        sizes = [self.config.n_mult(index + 1) for index in range(len(self.config.width) - 1)]
        self.node_bias = nn.ParameterList(nn.Parameter(torch.zeros(n, dtype=dtype)) for n in sizes)

    def bias(self, index: int) -> Tensor | None:
        """The bias of the multiplication nodes that layer ``index`` feeds (None without any)."""
        return self.node_bias[index] if self.config.n_mult(index + 1) else None

    @classmethod
    def from_config(cls, config: KANConfig, device: torch.device | str | None = None) -> KAN:
        """Build an (initialized) KAN from a configuration."""
        options = {k: v for k, v in config.to_dict().items() if k not in ("width", "grid", "k", "seed", "dtype")}
        return cls(config.width, config.grid, config.k, config.seed, getattr(torch, config.dtype), device, **options)

    # ----------------------------------------------------------- properties
    @property
    def width(self) -> tuple[int, ...]:
        return self.config.width

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].knots.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].knots.device

    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # -------------------------------------------------------------- forward
    def check_input(self, x: Tensor, name: str = "x") -> None:
        """Raise a clear error if x cannot be fed to this model."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}; use torch.as_tensor({name})")
        if x.ndim != 2 or x.shape[1] != self.width[0]:
            hint = ""
            if self.config.input_ids is not None:
                ids = list(self.config.input_ids)
                hint = f" (this model was pruned to input columns {ids}: pass x[:, model.config.input_ids])"
            shape = tuple(x.shape)
            raise ValueError(f"{name} has shape {shape} but the model expects (batch, {self.width[0]}){hint}")
        if x.dtype != self.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the model is {self.dtype}; use {name}.to({self.dtype})")
        if x.device != self.device:
            raise ValueError(
                f"{name} is on {x.device} but the model is on {self.device}; use {name}.to('{self.device}')"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Evaluate the network.

        Parameters
        ----------
        x : Tensor, shape (batch, width[0])

        Returns
        -------
        Tensor, shape (batch, width[-1])
        """
        self.check_input(x)
        for index, layer in enumerate(self.layers):
            x = self.nodes(index, layer(x))
        return x

    def nodes(self, index: int, y: Tensor) -> Tensor:
        """Node values from the outputs (subnodes) of layer ``index``: products at multiplication nodes."""
        return multiply(y, self.config.n_sum(index + 1), self.config.mult_arity, self.bias(index))

    def owners(self, index: int) -> list[int]:
        """For each output (subnode) of layer ``index``, the node of layer ``index + 1`` it feeds."""
        config = self.config
        return owners(config.n_sum(index + 1), config.n_mult(index + 1), config.mult_arity)

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """Inputs of every layer (``depth + 1`` tensors, the last is the output)."""
        self.check_input(x)
        acts = [x]
        for index, layer in enumerate(self.layers):
            acts.append(self.nodes(index, layer(acts[-1])))
        return acts

    @torch.no_grad()
    def inside_grid(self, x: Tensor) -> Tensor:
        """Which rows of ``x`` stay inside every layer's grid (a bool tensor of shape (batch,)).

        Outside a grid's span a spline extrapolates (and is exactly 0 beyond its
        extended knots); a test point whose hidden activations leave the span
        seen in training can dominate a test error. Masked edges count too.
        """
        acts = self.layer_inputs(x)
        inside = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        for layer, a in zip(self.layers, acts[:-1]):
            inside &= ((a >= layer.grid[:, 0]) & (a <= layer.grid[:, -1])).all(dim=1)
        return inside

    def edge_activations(self, x: Tensor) -> list[Tensor]:
        """Per-edge outputs of every layer, each of shape (batch, in_l, out_l)."""
        acts = self.layer_inputs(x)
        return [layer.edge_activations(a) for layer, a in zip(self.layers, acts[:-1])]

    # ---------------------------------------------------------- grid edits
    @torch.no_grad()
    def update_grid_(self, x: Tensor) -> None:
        """Adapt every layer's grid to the inputs it sees for x (in place)."""
        self.check_input(x)
        for index, layer in enumerate(self.layers):
            layer.update_grid_(x)
            x = self.nodes(index, layer(x))

    @torch.no_grad()
    def refine(self, grid: int, x: Tensor | None = None) -> KAN:
        """A new KAN on a grid of ``grid`` intervals computing the same function.

        Grid extension of the paper: every spline is refit by least squares onto
        the finer grid, which subdivides the current one (exact when ``grid`` is
        a multiple of the current G). With ``x``, an input whose samples reach
        outside its current grid (a hidden layer's inputs move in training) gets
        a grid adapted to those samples instead, where the refit is close but
        not exact (see :meth:`KANLayer.refined`). The caller's model is untouched.

        Parameters
        ----------
        grid : int
            New number of intervals.
        x : Tensor, shape (batch, width[0]), optional

        Returns
        -------
        KAN
        """
        config = replace(self.config, grid=grid)  # checks grid
        check_fits(config.build_bytes(), f"KAN {config.display_width()} refined to grid={config.grid}", self.device)
        inputs = self.layer_inputs(x) if x is not None else [None] * (self.depth + 1)
        out = self._shell(config)
        grid = config.grid
        out.layers = nn.ModuleList(layer.refined(grid, xi) for layer, xi in zip(self.layers, inputs[:-1]))
        if self.config.mult is not None:
            out.node_bias = nn.ParameterList(nn.Parameter(b.detach().clone()) for b in self.node_bias)
        return out

    def _shell(self, config: KANConfig) -> KAN:
        """A KAN with ``config`` whose layers the caller replaces."""
        out = KAN.__new__(KAN)
        nn.Module.__init__(out)
        out.config = config
        return out

    def extra_repr(self) -> str:
        arity = f", mult_arity={self.config.mult_arity}" if self.config.mult and self.config.mult_arity != 2 else ""
        return f"width={self.config.display_width()}{arity}, grid={self.config.grid}, k={self.config.k}"
