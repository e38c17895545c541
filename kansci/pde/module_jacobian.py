"""Per-point Jacobians of PDE residuals with respect to any module's parameters, by ``torch.func``.

The counterpart of :func:`~kansci.pde.jet_jacobian.jet_jacobian` for modules
without a closed form (the MLPs of :mod:`kansci.baselines`, say). A residual at
a point is a function ``head`` of the network's jet there: its value ``u``, input
gradient and pure second input derivatives. The jet at one point comes from
forward-over-forward derivatives along each input axis (``jvp`` of ``jvp``), so
no mixed second derivatives are formed. Its derivative by the parameters is
the per-sample pattern of ``torch.func``: ``vmap`` over points of ``jacrev`` by
the parameter dict of a ``functional_call``.

``head`` is called once, on the whole batch, and linearized there: the
cotangents ``dr/du``, ``dr/dgrad`` and ``dr/dsecond`` of each residual
component at each point come from one backward pass per component through
``head`` alone (rows are independent, so the gradient of the summed component
holds each point's own derivatives). The per-point Jacobian is then that of
the cotangents' contraction with the jet, with one reverse pass per residual
component. A head may therefore capture whole-batch data (the points
themselves, targets, normals) as :class:`~kansci.pde.residuals.PDEResiduals`
does, and need not support ``vmap``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, jvp, vmap

from kansci.core.least_squares import fitted_parameters
from kansci.pde.jet_jacobian import JetHead

__all__ = ["CHUNK_ELEMENTS", "module_jacobian"]

CHUNK_ELEMENTS = 1 << 21
"""Entries of the Jacobian computed per chunk of points by default (``chunk * c * n_params``)."""

_FALLBACK = (
    "use batched autograd instead (LevenbergMarquardt without ``jacobian``: batched backward passes "
    "over nested-autograd residuals)"
)


def module_jacobian(
    model: nn.Module, x: Tensor, head: JetHead, chunk: int | None = None
) -> tuple[Tensor, dict[Tensor, Tensor]]:
    """Residuals ``head(u, du, d2u)`` of ``model`` at x and their derivatives by its fitted parameters.

    Parameters
    ----------
    model : nn.Module
        Maps (batch, dim) to (batch, F), row by row; traceable by ``torch.func``
        (``vmap``, ``jvp`` and ``jacrev``).
    x : Tensor, shape (batch, dim)
    head : callable
        ``head(value (batch, F), grad (batch, dim, F), second (batch, dim, F)) -> (batch, c)``,
        with ``second[b, a, f] = d^2 u_f / dx_a^2`` (no mixed terms). Row ``b``
        of its output depends on row ``b`` of its inputs only. Called once,
        on the whole batch, with ordinary autograd.
    chunk : int, optional
        Points per ``vmap`` call; by default ``CHUNK_ELEMENTS // (c * n_params)``,
        so that a chunk's Jacobian holds about ``CHUNK_ELEMENTS`` entries.

    Returns
    -------
    residuals : Tensor, shape (batch, c)
        Detached.
    blocks : dict of Tensor to Tensor
        For each parameter of :func:`~kansci.core.least_squares.fitted_parameters`,
        shape ``(batch, c, *param.shape)``, detached.

    Raises
    ------
    ValueError
        If ``head`` does not return (batch, c), if ``chunk`` is not positive, or if
        ``torch.func`` cannot trace the model (custom autograd Functions without
        ``vmap``/``jvp`` support, say); batched autograd is the fallback then.

    Examples
    --------
    >>> from kansci.baselines import mlp
    >>> net = mlp([2, 6, 1], dtype=torch.float64)
    >>> x = torch.rand(5, 2, dtype=torch.float64)
    >>> r, blocks = module_jacobian(net, x, lambda u, du, d2u: d2u.sum(1))  # the Laplacian
    >>> r.shape, blocks[net[0].weight].shape
    (torch.Size([5, 1]), torch.Size([5, 1, 6, 2]))
    """
    if x.ndim != 2:
        raise ValueError(f"x must have shape (batch, dim), got {tuple(x.shape)}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be a positive number of points, got {chunk}")
    fitted = {id(p) for p in fitted_parameters(model)}
    names = [(name, p) for name, p in model.named_parameters() if id(p) in fitted]
    params = {name: p.detach() for name, p in names}
    x = x.detach()
    n = x.shape[0]
    n_params = sum(p.numel() for p in params.values())

    def point(theta: dict[str, Tensor], xp: Tensor) -> Tensor:
        return functional_call(model, theta, (xp.unsqueeze(0),)).squeeze(0)

    def point_jet(theta: dict[str, Tensor], xp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """u (F,), du and d2u (dim, F) at one point: forward over forward along each axis."""

        def along(axis: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            def first(z: Tensor) -> tuple[Tensor, Tensor]:
                return jvp(lambda w: point(theta, w), (z,), (axis,))

            (u, du), (_, d2u) = jvp(first, (xp,), (axis,))
            return u, du, d2u

        u, du, d2u = vmap(along)(torch.eye(xp.shape[0], dtype=xp.dtype, device=xp.device))
        return u[0], du, d2u

    def contracted(theta: dict[str, Tensor], xp: Tensor, cu: Tensor, cg: Tensor, ch: Tensor) -> Tensor:
        """The residuals' linearization at one point, (c,): cotangents (c, F), (c, dim, F) times the jet."""
        u, du, d2u = point_jet(theta, xp)
        return cu @ u + (cg * du).sum((1, 2)) + (ch * d2u).sum((1, 2))

    jets = vmap(point_jet, in_dims=(None, 0))
    jacobian = vmap(jacrev(contracted), in_dims=(None, 0, 0, 0, 0))
    with torch.no_grad(), _quiet_jvp():
        size = chunk or max(1, CHUNK_ELEMENTS // max(n_params, 1))
        try:
            pieces = [jets(params, x[s : s + size]) for s in range(0, n, size)]
        except (RuntimeError, NotImplementedError) as exc:
            raise ValueError(f"torch.func cannot trace {type(model).__name__} ({exc}); {_FALLBACK}") from exc
    if pieces:
        value, grad, second = (torch.cat(parts) for parts in zip(*pieces))
    else:  # no points: the jet's shapes from the model's (empty) output
        with torch.no_grad():
            value = model(x)
        grad = second = value.new_zeros(0, x.shape[1], value.shape[1])
    value, grad, second = (t.detach().requires_grad_() for t in (value, grad, second))
    with torch.enable_grad():
        residuals = head(value, grad, second)
    if not isinstance(residuals, Tensor) or residuals.ndim != 2 or residuals.shape[0] != n:
        shape = tuple(residuals.shape) if isinstance(residuals, Tensor) else type(residuals).__name__
        raise ValueError(f"head must return shape (batch, c) with batch = {n}, got {shape}")
    c = residuals.shape[1]
    cotangents = [_cotangents(residuals[:, k], (value, grad, second)) for k in range(c)]
    cu, cg, ch = (torch.stack(parts, 1) for parts in zip(*cotangents))  # (batch, c, F), (batch, c, dim, F) twice
    size = chunk or max(1, CHUNK_ELEMENTS // max(c * n_params, 1))
    blocks = {p: p.new_empty(n, c, *p.shape) for _, p in names}  # filled chunk by chunk: no copy of the whole
    with torch.no_grad(), _quiet_jvp():
        try:
            for s in range(0, n, size):
                rows = slice(s, s + size)
                found = jacobian(params, x[rows], cu[rows], cg[rows], ch[rows])
                for name, p in names:
                    blocks[p][rows] = found[name]
        except (RuntimeError, NotImplementedError) as exc:
            raise ValueError(f"torch.func cannot differentiate {type(model).__name__} ({exc}); {_FALLBACK}") from exc
    return residuals.detach(), blocks


def _cotangents(root: Tensor, leaves: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, ...]:
    """Gradients of ``root.sum()`` by ``leaves``: zeros where it does not depend on one."""
    if not root.requires_grad:
        return tuple(torch.zeros_like(leaf) for leaf in leaves)
    found = torch.autograd.grad(root.sum(), leaves, retain_graph=True, allow_unused=True)
    return tuple(torch.zeros_like(leaf) if g is None else g for g, leaf in zip(found, leaves))


@contextmanager
def _quiet_jvp() -> Iterator[None]:
    """Silence the deprecation of ``torch.jit.script`` that torch's first forward-mode pass triggers internally.

    (Loading its decompositions for ``jvp`` scripts them once; nothing a caller can act on.)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
        yield
