"""Shipped equations beyond the paper's: higher orders, mixed derivatives, systems, Robin and periodic data.

Each builder returns an :class:`~kansci.pde.equation.Equation` with its exact
solution (manufactured, or a closed form of the PDE), so that
:func:`~kansci.pde.solve` reports errors against it:

* :func:`biharmonic` — the simply supported plate, ``Laplace^2 u = f`` on the unit
  square (4th order, mixed ``u_xxyy``);
* :func:`kovasznay` — Kovasznay's steady Navier–Stokes flow (3 fields u, v, p);
* :func:`kdv` — a Korteweg–de Vries soliton (3rd order in x, time);
* :func:`robin` — Poisson with Robin data on two faces and Neumann data on two;
* :func:`anisotropic` — diffusion with a rotated conductivity (``u_xy``);
* :func:`wave_periodic` — the periodic wave equation (periodic, second-order initial data);
* :func:`wave` — PINNacle's Wave 1d-C, ``u_tt = 4 u_xx`` with two modes;
* :func:`poisson_nd` — PINNacle's PNd, Poisson in 5 dimensions;
* :func:`poisson_holes` — PINNacle's Poisson 2d-C, Laplace's equation on a square with four round holes
  (finite-element reference, extra ``fem``);
* :func:`poisson_lshape` — ``-Laplace u = 1`` on the L-shape, whose re-entrant corner makes the
  solution singular (finite-element reference, extra ``fem``).

PINNacle: Hao et al. 2023, "PINNacle: A Comprehensive Benchmark of Physics-Informed Neural Networks for
Solving PDEs", arXiv 2306.08827; the problems follow its definitions (domains, equations, conditions).

Sources and boundary data of manufactured solutions are derived from the
closed form by autograd where they are cheap (second order); the
fourth-order source is written out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from kansci.pde.conditions import BoundaryResidual, Dirichlet, Initial, Neumann, Periodic, Robin
from kansci.pde.equation import Equation
from kansci.pde.geometry import Ball, Box, Interval, SpaceTime, l_shape
from kansci.pde.meshing import PINNACLE_HOLES
from kansci.pde.multiindex import _autograd_partials

__all__ = [
    "EQUATIONS",
    "anisotropic",
    "biharmonic",
    "kdv",
    "kovasznay",
    "poisson_holes",
    "poisson_lshape",
    "poisson_nd",
    "robin",
    "wave",
    "wave_periodic",
]

PI = math.pi


def _derivatives(fn: Callable[[Tensor], Tensor], x: Tensor, wanted: list[tuple[int, ...]]) -> dict:
    """Partial derivatives of a closed form (batch,) by nested autograd, each (batch,)."""

    def columns(z: Tensor) -> Tensor:
        return fn(z).unsqueeze(1)

    with torch.enable_grad():
        found = _autograd_partials(columns, x.detach(), wanted)
    return {k: v[:, 0].detach() for k, v in found.items()}


def _normal_derivative(fn: Callable[[Tensor], Tensor], x: Tensor, normal: Tensor) -> Tensor:
    grad = _derivatives(fn, x, [(1, 0), (0, 1)])
    return grad[(1, 0)] * normal[:, 0] + grad[(0, 1)] * normal[:, 1]


def biharmonic() -> Equation:
    """``u_xxxx + 2 u_xxyy + u_yyyy = f`` on [0, 1]^2, u = 0 and Laplace(u) = 0 on the edges (simply supported).

    Solution ``u = sin(pi x) sin(pi y) + sin(2 pi x) sin(3 pi y) / 4``; u = 0 is
    imposed exactly, Laplace(u) = 0 as a penalty. A KAN needs splines of
    order ``k >= 4`` here (their fourth derivative).
    """
    a, b = 4 * PI**4, (4 + 9) ** 2 * PI**4 / 4  # Laplace^2 of each term, by hand

    def modes(x: Tensor) -> tuple[Tensor, Tensor]:
        px, py = PI * x[:, 0], PI * x[:, 1]
        return torch.sin(px) * torch.sin(py), torch.sin(2 * px) * torch.sin(3 * py)

    def exact(x: Tensor) -> Tensor:
        first, second = modes(x)
        return first + second / 4

    def residual(x, d):
        first, second = modes(x)
        return (d("u", "xxxx") + 2 * d("u", "xxyy") + d("u", "yyyy") - a * first - b * second) / b

    return Equation(
        Box([0.0, 0.0], [1.0, 1.0]),
        residual,
        conditions=[Dirichlet(0.0, hard=True), BoundaryResidual(lambda x, d, n: d.laplacian("u") / (13 * PI**2))],
        exact=exact,
        name="biharmonic",
    )


def kovasznay(re: float = 20.0) -> Equation:
    """Kovasznay's flow: steady incompressible Navier–Stokes at Reynolds number ``re``, fields (u, v, p).

    ``u = 1 - e^(l x) cos(2 pi y)``, ``v = l / (2 pi) e^(l x) sin(2 pi y)``,
    ``p = (1 - e^(2 l x)) / 2`` with ``l = re / 2 - sqrt(re^2 / 4 + 4 pi^2)``, on
    [-0.5, 1] x [-0.5, 1.5]; u and v given on the boundary, p on the outflow edge x = 1.
    """
    if not (math.isfinite(re) and re > 0):
        raise ValueError(f"re must be a positive number, got {re!r}")
    lam = re / 2 - math.sqrt(re**2 / 4 + 4 * PI**2)

    def exact(x: Tensor) -> Tensor:
        e, y = torch.exp(lam * x[:, 0]), 2 * PI * x[:, 1]
        return torch.stack([1 - e * torch.cos(y), lam / (2 * PI) * e * torch.sin(y), (1 - e * e) / 2], 1)

    def residual(x, d):
        u, v = d("u"), d("v")
        momentum_x = u * d("u", "x") + v * d("u", "y") + d("p", "x") - d.laplacian("u") / re
        momentum_y = u * d("v", "x") + v * d("v", "y") + d("p", "y") - d.laplacian("v") / re
        return [momentum_x, momentum_y, d("u", "x") + d("v", "y")]

    def column(i: int) -> Callable[[Tensor], Tensor]:
        return lambda x: exact(x)[:, i]

    return Equation(
        Box([-0.5, -0.5], [1.0, 1.5]),
        residual,
        fields=("u", "v", "p"),
        conditions=[
            Dirichlet(column(0), field="u"),
            Dirichlet(column(1), field="v"),
            Dirichlet(column(2), field="p", where=lambda x: x[:, 0] > 1.0 - 1e-9),
        ],
        exact=exact,
        name="kovasznay",
    )


def kdv(speed: float = 4.0, start: float = -2.0) -> Equation:
    """Korteweg–de Vries ``u_t + 6 u u_x + u_xxx = 0`` on [-5, 5] x [0, 1]: one soliton.

    ``u = speed / 2 sech^2(sqrt(speed) / 2 (x - speed t - start))``; initial
    values and the values at both ends, with u_x at the right end (a third-order
    equation takes two conditions at one end and one at the other).
    """
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive number, got {speed!r}")
    root = math.sqrt(speed) / 2

    def exact(x: Tensor) -> Tensor:
        return speed / 2 / torch.cosh(root * (x[:, 0] - speed * x[:, 1] - start)) ** 2

    def slope(x: Tensor) -> Tensor:
        z = root * (x[:, 0] - speed * x[:, 1] - start)
        return -speed * root * torch.tanh(z) / torch.cosh(z) ** 2

    return Equation(
        SpaceTime(Interval(-5.0, 5.0), 0.0, 1.0),
        lambda x, d: d("u", "t") + 6 * d("u") * d("u", "x") + d("u", "xxx"),
        conditions=[Initial(exact), Dirichlet(exact), Neumann(slope, where=lambda x: x[:, 0] > 0)],
        exact=exact,
        # measured, KAN [2,10,1] (k = 5), G 5 -> 10 -> 20 -> 40, 30 LM steps each, 4,000 + 800 points:
        # relative L2 1.2e-3 at weight 1, 4.5e-4 at 1e-2
        alpha=1e-2,
        name="kdv",
    )


def robin() -> Equation:
    """``-Laplace u = f`` on [0, 1]^2 with Robin data ``u + du/dn`` on x = 0, 1 and Neumann data on y = 0, 1.

    Solution ``u = e^(x y) + sin(pi x) cos(pi y / 2)``; no Dirichlet value anywhere.
    """

    def exact(x: Tensor) -> Tensor:
        return torch.exp(x[:, 0] * x[:, 1]) + torch.sin(PI * x[:, 0]) * torch.cos(PI * x[:, 1] / 2)

    def source(x: Tensor) -> Tensor:
        xx, yy = x[:, 0], x[:, 1]
        laplace = (xx**2 + yy**2) * torch.exp(xx * yy) - 1.25 * PI**2 * torch.sin(PI * xx) * torch.cos(PI * yy / 2)
        return -laplace

    def face(axis: int, value: float) -> Callable[[Tensor], Tensor]:
        return lambda x: (x[:, axis] - value).abs() < 1e-9

    def data(axis: int, value: float, robin: bool) -> Callable[[Tensor], Tensor]:
        normal = [0.0, 0.0]
        normal[axis] = 1.0 if value else -1.0

        def g(x: Tensor) -> Tensor:
            flux = _normal_derivative(exact, x, torch.tensor(normal, dtype=x.dtype).expand_as(x))
            return exact(x) + flux if robin else flux

        return g

    conditions = [Robin(1.0, 1.0, data(0, v, True), where=face(0, v)) for v in (0.0, 1.0)]
    conditions += [Neumann(data(1, v, False), where=face(1, v)) for v in (0.0, 1.0)]
    return Equation(
        Box([0.0, 0.0], [1.0, 1.0]),
        lambda x, d: -d.laplacian("u") - source(x),
        conditions=conditions,
        exact=exact,
        name="robin",
    )


def anisotropic(ratio: float = 10.0, angle: float = PI / 6) -> Equation:
    """``-div(K grad u) = f`` on [0, 1]^2, u = 0 on the edges, K rotated by ``angle`` with eigenvalues ``ratio``, 1.

    ``K = R diag(ratio, 1) R^T``: the operator has the mixed term ``2 K_xy u_xy``.
    Solution ``u = sin(pi x) sin(pi y) e^(x - y)``.
    """
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"ratio must be a positive number, got {ratio!r}")
    c, s = math.cos(angle), math.sin(angle)
    kxx, kxy, kyy = ratio * c * c + s * s, (ratio - 1) * c * s, ratio * s * s + c * c

    def exact(x: Tensor) -> Tensor:
        return torch.sin(PI * x[:, 0]) * torch.sin(PI * x[:, 1]) * torch.exp(x[:, 0] - x[:, 1])

    def operator(second: Callable[[str], Tensor]) -> Tensor:
        return -(kxx * second("xx") + 2 * kxy * second("xy") + kyy * second("yy"))

    def source(x: Tensor) -> Tensor:
        found = _derivatives(exact, x, [(2, 0), (1, 1), (0, 2)])
        return operator(lambda spec: found[(spec.count("x"), spec.count("y"))])

    return Equation(
        Box([0.0, 0.0], [1.0, 1.0]),
        lambda x, d: (operator(lambda spec: d("u", spec)) - source(x)) / ratio,
        conditions=[Dirichlet(0.0, hard=True)],
        exact=exact,
        name="anisotropic",
    )


def wave_periodic(speed: float = 1.0) -> Equation:
    """``u_tt = speed^2 u_xx`` on [0, 2 pi] x [0, 1], periodic in x: ``u = sin(x) cos(c t) + cos(2x) cos(2 c t) / 2``.

    (c = speed.) Initial value and velocity (zero) given; the space is periodic (u and u_x matched across
    x = 0 and 2 pi).
    """
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive number, got {speed!r}")

    def exact(x: Tensor) -> Tensor:
        z, t = x[:, 0], speed * x[:, 1]
        return torch.sin(z) * torch.cos(t) + torch.cos(2 * z) * torch.cos(2 * t) / 2

    return Equation(
        SpaceTime(Interval(0.0, 2 * PI), 0.0, 1.0),
        lambda x, d: d("u", "tt") - speed**2 * d("u", "xx"),
        conditions=[Initial(exact), Initial(0.0, order=1), Periodic("x")],
        exact=exact,
        name="wave_periodic",
    )


def wave() -> Equation:
    """PINNacle's Wave 1d-C: ``u_tt = 4 u_xx`` on [0, 1] x [0, 1], two standing modes.

    ``u = sin(pi x) cos(2 pi t) + sin(4 pi x) cos(8 pi t) / 2``; initial value and zero initial
    velocity, u = 0 at both ends.
    """

    def exact(x: Tensor) -> Tensor:
        z, t = PI * x[:, 0], PI * x[:, 1]
        return torch.sin(z) * torch.cos(2 * t) + torch.sin(4 * z) * torch.cos(8 * t) / 2

    return Equation(
        SpaceTime(Interval(0.0, 1.0), 0.0, 1.0),
        lambda x, d: (d("u", "tt") - 4 * d("u", "xx")) / (16 * PI**2),
        conditions=[Initial(exact), Initial(0.0, order=1), Dirichlet(0.0)],
        exact=exact,
        name="wave",
    )


def poisson_nd(dim: int = 5) -> Equation:
    """PINNacle's PNd: ``Laplace u = -pi^2 / 4 sum_i sin(pi x_i / 2)`` on [0, 1]^dim, ``u = sum_i sin(pi x_i / 2)``.

    Dirichlet values on the whole boundary; the inputs are named a, b, c, ...
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or not 2 <= dim <= 8:
        raise ValueError(f"dim must be an int from 2 to 8, got {dim!r}")

    def exact(x: Tensor) -> Tensor:
        return torch.sin(PI / 2 * x).sum(1)

    return Equation(
        Box([0.0] * dim, [1.0] * dim),
        lambda x, d: d.laplacian("u") + PI**2 / 4 * exact(x),
        conditions=[Dirichlet(exact)],
        variables="abcdefgh"[:dim],
        exact=exact,
        # measured, KAN [5,10,1], G 5 -> 10, 30 LM steps each, 4,000 + 800 points: relative L2 4.3e-4 at
        # weight 1, 6.1e-5 at 1e-2
        alpha=1e-2,
        name="poisson_nd",
    )


class _FEMReference:
    """A finite-element solution as an exact-solution callable, built on its first call (once per process)."""

    def __init__(self, kind: str, cache: bool) -> None:
        self.kind, self.cache = kind, cache

    def __call__(self, x: Tensor) -> Tensor:
        values = _fem_solution(self.kind, self.cache)(x.detach().cpu().to(torch.float64).numpy())
        return torch.as_tensor(values, dtype=x.dtype, device=x.device)


@functools.lru_cache(maxsize=4)
def _fem_solution(kind: str, cache: bool):
    from kansci.pde import fem

    return fem.l_shape_poisson(cache=cache) if kind == "l_shape" else fem.holes_poisson(cache=cache)


def poisson_holes(*, cache: bool = False) -> Equation:
    """PINNacle's Poisson 2d-C: ``Laplace u = 0`` on [-0.5, 0.5]^2 minus four disks, u = 1 outside, 0 on the holes.

    The disks have radius 0.1 around ``(+-0.3, +-0.3)``. No closed form: ``exact``
    evaluates a P2 finite-element solution (:func:`kansci.pde.fem.holes_poisson`,
    relative accuracy about 5e-6; extra ``fem``), computed on first use (about 2 s, once per process), or
    with ``cache=True`` read from the dataset cache (:func:`kansci.datasets.cache_dir`; written there the first
    time), as NetCDF.
    """
    domain = Box([-0.5, -0.5], [0.5, 0.5])
    for centre in PINNACLE_HOLES:
        domain = domain - Ball(centre, 0.1)

    def outer(x: Tensor) -> Tensor:
        return x.abs().amax(1) >= 0.5 - 1e-9

    return Equation(
        domain,
        lambda x, d: d.laplacian("u"),
        conditions=[Dirichlet(1.0, where=outer), Dirichlet(0.0, where=lambda x: ~outer(x))],
        exact=_FEMReference("holes", cache),
        # the Laplacian near a hole is ~25 times u: with weight 1 the boundary misfit is cheaper than bending,
        # and LM stays at u ~ 0.45 (relative L2 0.5). Measured, KAN [2,10,1], G 5 -> 10, 30 LM steps each:
        # 8.4e-2 at 1e-2, 1.7e-2 at 1e-3, 7.9e-3 at 1e-4
        alpha=1e-4,
        name="poisson_holes",
    )


def poisson_lshape(*, cache: bool = False) -> Equation:
    """``-Laplace u = 1`` on the L-shape [-1, 1]^2 minus [0, 1] x [-1, 0], u = 0 on the boundary.

    Near the re-entrant corner u ~ r^(2/3) sin(2 theta / 3): the gradient is
    unbounded there. ``exact`` evaluates a P2 finite-element solution on a mesh
    graded toward the corner (:func:`kansci.pde.fem.l_shape_poisson`; extra ``fem``), computed on first use;
    ``cache`` as in :func:`poisson_holes`.
    """
    return Equation(
        l_shape(),
        lambda x, d: d.laplacian("u") + 1,
        conditions=[Dirichlet(0.0)],
        exact=_FEMReference("l_shape", cache),
        # measured, KAN [2,10,1], G 5 -> 10, 30 LM steps each: relative L2 9.4e-2 at weight 1, 2.7e-2 at 1e-2,
        # 1.5e-2 at 1e-3 (the boundary misfit dominates)
        alpha=1e-3,
        name="poisson_lshape",
    )


EQUATIONS: dict[str, Callable[[], Equation]] = {
    "anisotropic": anisotropic,
    "biharmonic": biharmonic,
    "kdv": kdv,
    "kovasznay": kovasznay,
    "poisson_holes": poisson_holes,
    "poisson_lshape": poisson_lshape,
    "poisson_nd": poisson_nd,
    "robin": robin,
    "wave": wave,
    "wave_periodic": wave_periodic,
}
"""The shipped equations by name (each builder with its default parameters)."""
