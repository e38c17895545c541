"""Per-point Jacobians of PDE residuals with respect to any module's parameters, by ``torch.func``.

The counterpart of :func:`~kansci.pde.jet_jacobian.jet_jacobian` for modules
without a closed form (the MLPs of :mod:`kansci.baselines`, say). A residual at
a point is a function ``head`` of the network's jet there: its value ``u``, input
gradient and pure second input derivatives. The jet at one point comes from
forward-over-forward derivatives along each input axis (``jvp`` of ``jvp``), so
no mixed second derivatives are formed. Its derivative by the parameters is
the per-sample pattern of ``torch.func``: ``vmap`` over points of ``jacrev`` by
the parameter dict of a ``functional_call``. It is the axis-direction, order-2
case of :func:`~kansci.pde.directional_jacobian.directional_jacobian`, whose
``torch.func`` path computes it.

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

import torch
from torch import Tensor, nn

from kansci.pde.directional_jacobian import CHUNK_ELEMENTS, _by_torch_func
from kansci.pde.jet_jacobian import JetHead

__all__ = ["CHUNK_ELEMENTS", "module_jacobian"]


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
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must have shape (batch, dim), got {tuple(getattr(x, 'shape', ()))}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be a positive number of points, got {chunk}")
    axes = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)  # jets along the axes: u, du, pure d2u
    return _by_torch_func(model, x.detach(), axes, 2, lambda jets: head(*jets), chunk)
