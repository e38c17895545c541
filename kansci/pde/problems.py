"""PDE problems as data: a box domain, a residual, boundary/initial conditions, an exact solution.

Conventions: points ``x`` have shape (batch, dim); for evolution problems the
last column is time. A problem's ``residual(x, u, du, d2u)`` receives the
model's outputs ``u`` (batch, n_fields), its first derivatives ``du`` and pure
second derivatives ``d2u``, of shape (batch, dim) for a scalar problem and
(batch, dim, n_fields) when the problem has several fields (an inverse problem
learns the unknown coefficient as a second output).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Problem",
    "allen_cahn",
    "burgers",
    "heat",
    "helmholtz",
    "inverse_poisson",
    "poisson_paper",
    "poisson_sine",
]

Residual = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
Field = Callable[[Tensor], Tensor]


@dataclass(frozen=True, eq=False)
class Problem:
    """A boundary-value or initial-boundary-value problem on the box ``[lower, upper]``.

    Parameters
    ----------
    name : str
    lower, upper : tuple of float
        Corners of the domain, one entry per input (time last when ``time``).
    residual : callable
        ``residual(x, u, du, d2u) -> (batch, 1)``; zero for the solution.
    boundary : callable, optional
        Dirichlet values ``g(x) -> (batch, len(boundary_fields))`` on the spatial faces.
    exact : callable, optional
        The solution ``x -> (batch, n_fields)``, or an interpolated reference solution.
    time : bool
        The last coordinate is time: the faces at ``lower[-1]`` carry the
        initial condition and the final time carries none.
    initial : callable, optional
        ``u(x, t0) -> (batch, 1)`` of the first field, needed when ``time``.
    neumann : callable, optional
        Outward normal derivative of the first field on the spatial faces,
        ``x -> (batch, 1)``; imposed beside (or instead of) ``boundary``.
    fields : tuple of str
        Names of the model's outputs.
    boundary_fields : tuple of int
        The outputs that ``boundary`` prescribes.
    observations : (Tensor, Tensor), optional
        Measured ``(points (n, dim), values (n, 1))`` of the first field (inverse problems).
    reference : dict, optional
        A gridded reference solution (``{"x": ..., "t": ..., "u": (nt, nx)}``)
        that ``exact`` interpolates, kept for plots.
    alpha : float
        Default weight of the mean squared residual against the condition
        misfits in :func:`~kansci.pde.solve`: the paper's 0.01, smaller where
        the operator is large (a residual of order ``s * u`` needs about
        ``0.01 / s^2`` relative to the paper's Poisson, ``s ~ 2 pi^2``, so that a
        boundary error is not cheaper than an interior one).
    """

    name: str
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    residual: Residual
    boundary: Field | None = None
    exact: Field | None = None
    time: bool = False
    initial: Field | None = None
    neumann: Field | None = None
    fields: tuple[str, ...] = ("u",)
    boundary_fields: tuple[int, ...] = (0,)
    observations: tuple[Tensor, Tensor] | None = None
    reference: dict[str, np.ndarray] | None = field(default=None, repr=False)
    alpha: float = 0.01

    def __post_init__(self) -> None:
        if len(self.lower) != len(self.upper) or not self.lower:
            raise ValueError(f"lower and upper need one entry per input, got {self.lower} and {self.upper}")
        if any(not (math.isfinite(a) and math.isfinite(b) and a < b) for a, b in zip(self.lower, self.upper)):
            raise ValueError(f"every lower bound must be finite and below its upper bound: {self.lower}, {self.upper}")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha (the residual's weight) must be a positive number, got {self.alpha!r}")
        if self.time and (self.dim < 2 or self.initial is None):
            raise ValueError("an evolution problem (time=True) needs a space column, a time column and initial=")
        if not self.fields or any(not 0 <= f < len(self.fields) for f in self.boundary_fields):
            raise ValueError(f"boundary_fields {self.boundary_fields} must index fields {self.fields}")
        if self.boundary is None and self.neumann is None and self.observations is None and not self.time:
            raise ValueError("a problem needs boundary values, a Neumann condition or observations to be well posed")
        if self.observations is not None:
            points, values = self.observations
            if points.ndim != 2 or points.shape[1] != self.dim or values.shape != (points.shape[0], 1):
                raise ValueError(
                    f"observations must be (points (n, {self.dim}), values (n, 1)), "
                    f"got {tuple(points.shape)} and {tuple(values.shape)}"
                )
            if not (torch.isfinite(points).all() and torch.isfinite(values).all()):
                raise ValueError("observations contain NaN or inf; drop those samples before building the problem")

    @property
    def dim(self) -> int:
        return len(self.lower)

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    @property
    def space_dims(self) -> int:
        """Number of spatial coordinates (all of them unless the last is time)."""
        return self.dim - 1 if self.time else self.dim

    def check(self, x: Tensor) -> None:
        """Evaluate every callable on a few interior points and name the one with a wrong output shape."""
        n = x.shape[0]
        u = x.new_zeros(n, self.n_fields)
        du = x.new_zeros(n, self.dim) if self.n_fields == 1 else x.new_zeros(n, self.dim, self.n_fields)
        expected = {
            "residual": (self.residual(x, u, du, du.clone()), 1),
            "boundary": (self.boundary, len(self.boundary_fields)),
            "exact": (self.exact, self.n_fields),
            "initial": (self.initial, 1),
            "neumann": (self.neumann, 1),
        }
        for name, (fn, width) in expected.items():
            if fn is None:
                continue
            out = fn if isinstance(fn, Tensor) else fn(x)
            if out.shape != (n, width):
                raise ValueError(
                    f"problem {self.name!r}: {name} must return shape (batch, {width}), got {tuple(out.shape)}"
                )


def _column(t: Tensor) -> Tensor:
    return t.unsqueeze(1)


def _zero(x: Tensor) -> Tensor:
    return x.new_zeros(x.shape[0], 1)


def _laplacian(d2u: Tensor, dims: int | None = None) -> Tensor:
    return (d2u if dims is None else d2u[:, :dims]).sum(1, keepdim=True)


def poisson_paper() -> Problem:
    """Paper §3.4: u_xx + u_yy = f on [-1, 1]^2, u = 0 on the boundary, u = sin(pi x) sin(pi y^2)."""

    def exact(x: Tensor) -> Tensor:
        return _column(torch.sin(torch.pi * x[:, 0]) * torch.sin(torch.pi * x[:, 1] ** 2))

    def source(x: Tensor) -> Tensor:
        sx, y = torch.sin(torch.pi * x[:, 0]), x[:, 1]
        f = -(torch.pi**2) * (1 + 4 * y**2) * sx * torch.sin(torch.pi * y**2)
        return _column(f + 2 * torch.pi * sx * torch.cos(torch.pi * y**2))

    return Problem(
        name="poisson_paper",
        lower=(-1.0, -1.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: _laplacian(d2u) - source(x),
        boundary=_zero,
        exact=exact,
    )


def poisson_sine() -> Problem:
    """pykan's tutorial: Laplace(u) = -2 pi^2 sin(pi x) sin(pi y) on [-1, 1]^2, u = sin(pi x) sin(pi y)."""

    def exact(x: Tensor) -> Tensor:
        return _column(torch.sin(torch.pi * x[:, 0]) * torch.sin(torch.pi * x[:, 1]))

    return Problem(
        name="poisson_sine",
        lower=(-1.0, -1.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: _laplacian(d2u) + 2 * torch.pi**2 * exact(x),
        boundary=_zero,
        exact=exact,
    )


def helmholtz(a1: float = 1.0, a2: float = 4.0, k: float = 1.0) -> Problem:
    """Laplace(u) + k^2 u = q on [-1, 1]^2 with u = sin(a1 pi x) sin(a2 pi y), u = 0 on the boundary."""

    def exact(x: Tensor) -> Tensor:
        return _column(torch.sin(a1 * torch.pi * x[:, 0]) * torch.sin(a2 * torch.pi * x[:, 1]))

    scale = k**2 - (a1**2 + a2**2) * torch.pi**2
    return Problem(
        name="helmholtz",
        lower=(-1.0, -1.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: _laplacian(d2u) + k**2 * u - scale * exact(x),
        boundary=_zero,
        exact=exact,
        # the residual is ~|scale| = 16.7 pi^2 times u (paper Poisson: ~2 pi^2): 0.01 * (2 / 16.7)^2 ~ 1e-4.
        # Measured, KAN [2,10,1], grids 5-40, 50 LBFGS steps each: relative L2 1.3e-2 at 0.01, 3.9e-3 at 1e-4,
        # 0.19 at 1e-5
        alpha=0.01 * (2 * torch.pi**2 / scale) ** 2,
    )


def heat() -> Problem:
    """Diffusion with a source, u_t = u_xx - e^-t (sin(pi x) - pi^2 sin(pi x)), on [-1, 1] x [0, 1].

    u(x, 0) = sin(pi x), u(+-1, t) = 0; the solution is u = e^-t sin(pi x).
    """

    def exact(x: Tensor) -> Tensor:
        return _column(torch.exp(-x[:, 1]) * torch.sin(torch.pi * x[:, 0]))

    def residual(x: Tensor, u: Tensor, du: Tensor, d2u: Tensor) -> Tensor:
        return du[:, 1:2] - d2u[:, 0:1] + (1 - torch.pi**2) * exact(x)

    return Problem(
        name="heat",
        lower=(-1.0, 0.0),
        upper=(1.0, 1.0),
        residual=residual,
        boundary=_zero,
        exact=exact,
        time=True,
        initial=lambda x: _column(torch.sin(torch.pi * x[:, 0])),
    )


_REFERENCE_GRIDS = {"burgers": (1025, 201), "allen_cahn": (513, 201)}  # (nx, nt): fine enough across shocks


@functools.lru_cache(maxsize=4)
def _solve_reference(kind: str, *params: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gridded reference solution, computed once per process."""
    from kansci.pde import reference

    nx, nt = _REFERENCE_GRIDS[kind]
    if kind == "burgers":
        return reference.burgers(nu=params[0], nx=nx, nt=nt)
    return reference.allen_cahn(d=params[0], c=params[1], nx=nx, nt=nt)


def _reference(kind: str, *params: float, cache: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference solution; with ``cache``, read from (or written to) the dataset cache directory."""
    if not cache:
        return _solve_reference(kind, *params)
    from kansci.datasets.storage import cached_reference

    nx, nt = _REFERENCE_GRIDS[kind]
    key = f"pde/{kind}-" + "-".join(f"{p!r}" for p in params) + f"-nx{nx}-nt{nt}"
    grid = cached_reference(key, lambda: dict(zip(("x", "t", "u"), _solve_reference(kind, *params))))
    return grid["x"], grid["t"], grid["u"]


def _gridded(x: np.ndarray, t: np.ndarray, u: np.ndarray) -> tuple[Field, dict[str, np.ndarray]]:
    from kansci.pde.reference import interpolate

    def exact(points: Tensor) -> Tensor:
        values = interpolate(x, t, u, points.detach().cpu().numpy())
        return torch.as_tensor(values, dtype=points.dtype, device=points.device).unsqueeze(1)

    return exact, {"x": x, "t": t, "u": u}


def burgers(nu: float = 0.01 / math.pi, *, cache: bool = False) -> Problem:
    """Viscous Burgers u_t + u u_x = nu u_xx on [-1, 1] x [0, 1], u(x, 0) = -sin(pi x), u(+-1, t) = 0.

    No closed form: ``exact`` interpolates a spectral reference solution
    (:func:`kansci.pde.reference.burgers`), computed when the problem is built
    (once per process), or with ``cache=True`` read from the dataset cache
    (:func:`kansci.datasets.cache_dir`; written there the first time).
    """
    exact, grid = _gridded(*_reference("burgers", nu, cache=cache))
    return Problem(
        name="burgers",
        lower=(-1.0, 0.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: du[:, 1:2] + u * du[:, 0:1] - nu * d2u[:, 0:1],
        boundary=_zero,
        exact=exact,
        time=True,
        initial=lambda x: _column(-torch.sin(torch.pi * x[:, 0])),
        reference=grid,
    )


def allen_cahn(d: float = 1e-3, c: float = 5.0, *, cache: bool = False) -> Problem:
    """Allen–Cahn u_t = d u_xx + c (u - u^3) on [-1, 1] x [0, 1], u0 = x^2 cos(pi x), u(+-1, t) = -1.

    ``exact`` interpolates a reference solution (:func:`kansci.pde.reference.allen_cahn`);
    ``cache=True`` keeps it in the dataset cache as :func:`burgers` does.
    """
    exact, grid = _gridded(*_reference("allen_cahn", d, c, cache=cache))
    return Problem(
        name="allen_cahn",
        lower=(-1.0, 0.0),
        upper=(1.0, 1.0),
        residual=lambda x, u, du, d2u: du[:, 1:2] - d * d2u[:, 0:1] - c * (u - u**3),
        boundary=lambda x: -torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device),
        exact=exact,
        time=True,
        initial=lambda x: _column(x[:, 0] ** 2 * torch.cos(torch.pi * x[:, 0])),
        reference=grid,
    )


def inverse_poisson(noise: float = 0.1, n_side: int = 50, seed: int = 0) -> Problem:
    """Recover the coefficient a of -div(a grad u) = f on [0, 1]^2 from noisy observations of u.

    PINNacle's PInv setup: u = sin(pi x) sin(pi y), a = 1 / (1 + x^2 + y^2 + (x-1)^2 + (y-1)^2),
    ``n_side**2`` observations of u on a uniform grid with Gaussian noise of standard
    deviation ``noise``, and a given on the boundary. The model has two outputs,
    (u, a). The source is derived from these u and a (PINNacle's code writes
    ``2x + 1`` where the derivative of a gives ``2x - 1``; we keep the problem consistent).
    """
    if noise < 0 or n_side < 2:
        raise ValueError(f"noise must be >= 0 and n_side >= 2, got {noise}, {n_side}")

    def coefficient(x: Tensor) -> Tensor:
        px, py = x[:, 0], x[:, 1]
        return 1 / (1 + px**2 + py**2 + (px - 1) ** 2 + (py - 1) ** 2)

    def exact(x: Tensor) -> Tensor:
        u = torch.sin(torch.pi * x[:, 0]) * torch.sin(torch.pi * x[:, 1])
        return torch.stack([u, coefficient(x)], 1)

    def source(x: Tensor) -> Tensor:
        sx, cx = torch.sin(torch.pi * x[:, 0]), torch.cos(torch.pi * x[:, 0])
        sy, cy = torch.sin(torch.pi * x[:, 1]), torch.cos(torch.pi * x[:, 1])
        a = coefficient(x)
        slope = (2 * x[:, 0] - 1) * cx * sy + (2 * x[:, 1] - 1) * sx * cy
        return _column(2 * torch.pi**2 * a * sx * sy + 2 * torch.pi * a**2 * slope)

    def residual(x: Tensor, u: Tensor, du: Tensor, d2u: Tensor) -> Tensor:
        # -div(a grad u) = -(grad a . grad u + a Laplace(u))
        flux = (du[:, :, 1] * du[:, :, 0]).sum(1, keepdim=True) + u[:, 1:2] * d2u[:, :, 0].sum(1, keepdim=True)
        return -flux - source(x)

    axis = torch.linspace(0, 1, n_side, dtype=torch.float64)
    points = torch.cartesian_prod(axis, axis)
    gen = torch.Generator().manual_seed(seed)
    values = exact(points)[:, :1] + noise * torch.randn(points.shape[0], 1, generator=gen, dtype=torch.float64)
    return Problem(
        name="inverse_poisson",
        lower=(0.0, 0.0),
        upper=(1.0, 1.0),
        residual=residual,
        boundary=lambda x: _column(coefficient(x)),
        exact=exact,
        fields=("u", "a"),
        boundary_fields=(1,),
        observations=(points, values),
    )
