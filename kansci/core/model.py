"""The KAN: a stack of :class:`KANLayer` with a rebuildable configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import Tensor, nn

from kansci.core.checks import as_integer, as_real, check_fits, layer_bytes
from kansci.core.layer import BasisMode, KANLayer

__all__ = ["KAN", "KANConfig"]


@dataclass(frozen=True)
class KANConfig:
    """Everything needed to rebuild a :class:`KAN` (saved with every checkpoint).

    Parameters
    ----------
    width : tuple of int
        Nodes per layer, inputs first: ``(2, 5, 1)`` is a [2,5,1] KAN.
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

    def __post_init__(self) -> None:
        if isinstance(self.width, (str, bytes)) or not hasattr(self.width, "__iter__"):
            raise ValueError(f"width must be a sequence of layer sizes such as [2, 5, 1], got {self.width!r}")
        width = tuple(self.width)
        if len(width) < 2:
            raise ValueError(f"width needs at least an input and an output size, got {list(width)}")
        try:
            width = tuple(as_integer("width", w, minimum=1) for w in width)
        except ValueError as err:
            raise ValueError(f"every width must be a positive integer, got {list(width)}") from err
        object.__setattr__(self, "width", width)
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

    def build_bytes(self) -> int:
        """Estimated peak memory to build this model (see :func:`kansci.core.checks.layer_bytes`)."""
        itemsize = 8 if self.dtype == "float64" else 4
        pairs = zip(self.width[:-1], self.width[1:])
        return sum(layer_bytes(n_in, n_out, self.grid, self.k, itemsize) for n_in, n_out in pairs)

    def to_dict(self) -> dict:
        return asdict(self)


# KANConfig fields that KAN takes as keyword options (the others are its named arguments)
_OPTIONS = frozenset(
    {"grid_range", "grid_eps", "noise_scale", "scale_base_mu", "scale_base_sigma", "basis_mode", "input_ids"}
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
    width : sequence of int
        Nodes per layer, inputs first, e.g. ``[2, 5, 1]``.
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
        ``noise_scale``, ``basis_mode``, ...).

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
        check_fits(config.build_bytes(), f"KAN {list(config.width)} with grid={config.grid}", device)
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
            for n_in, n_out in zip(config.width[:-1], config.width[1:])
        )
        if device is not None:
            self.to(device)

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
        for layer in self.layers:
            x = layer(x)
        return x

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """Inputs of every layer (``depth + 1`` tensors, the last is the output)."""
        self.check_input(x)
        acts = [x]
        for layer in self.layers:
            acts.append(layer(acts[-1]))
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
        for layer in self.layers:
            layer.update_grid_(x)
            x = layer(x)

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
        check_fits(config.build_bytes(), f"KAN {list(config.width)} refined to grid={config.grid}", self.device)
        inputs = self.layer_inputs(x) if x is not None else [None] * (self.depth + 1)
        out = self._shell(config)
        grid = config.grid
        out.layers = nn.ModuleList(layer.refined(grid, xi) for layer, xi in zip(self.layers, inputs[:-1]))
        return out

    def _shell(self, config: KANConfig) -> KAN:
        """A KAN with ``config`` whose layers the caller replaces."""
        out = KAN.__new__(KAN)
        nn.Module.__init__(out)
        out.config = config
        return out

    def extra_repr(self) -> str:
        return f"width={list(self.width)}, grid={self.config.grid}, k={self.config.k}"
