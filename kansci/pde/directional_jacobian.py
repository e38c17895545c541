"""Per-point Jacobians of residuals built on directional Taylor jets, by the network's parameters.

A residual at a point may need any partial derivative up to order 4
(``u_xxxx``, ``u_xxyy``); :mod:`kansci.pde.multiindex` recovers those from the
directional jets ``D^k u[v] = d^k/dt^k u(x + t v)`` at t = 0 along a few
directions v. Here a residual is a function ``head`` of those jets, and this
module gives its derivative by the fitted parameters at every point.

For a :class:`~kansci.KAN` the jets go through each layer by Faa di Bruno's
formula: with ``Bell_{k,r}`` the partial Bell polynomials of the layer's input
jets along direction m,

    D^k y_o = sum_i sum_r phi^(r)_io(x_i) Bell_{k,r}[m, i]

and ``phi^(r)_io = mask_io (w_s,io sum_j c_ijo B^(r)_j + w_b,io SiLU^(r))`` is
linear in the coefficients and base weights. With ``cot_k = dr / dD^k y`` the
cotangents of the layer's output jets, gathered into ``A_0 = cot_0`` and
``A_r[i, o] = sum_k sum_m cot_k[m, o] Bell_{k,r}[m, i]``,

    dr / dc_ijo = mask_io w_s,io sum_r B^(r)_j(x_i) A_r[i, o]
    dr / dw_b,io = mask_io sum_r SiLU^(r)(x_i) A_r[i, o]

The cotangents of every layer come, as in
:func:`~kansci.pde.jet_jacobian.jet_jacobian`, from one vector-Jacobian product
per layer and residual component (points are independent, so the gradient of
a summed component holds each point's own derivatives). Any other module goes
through ``torch.func`` as in :func:`~kansci.pde.module_jacobian.module_jacobian`,
with a point's jets from nested ``jvp`` along each direction, or from exact
Taylor jets for a plain MLP (:mod:`kansci.pde.mlp_jets`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from kansci.core.basis import local_bases, scatter_dense
from kansci.core.jacobian import add_bias_blocks, has_closed_form_jacobian
from kansci.core.layer import KANLayer
from kansci.core.least_squares import fitted_parameters
from kansci.core.model import KAN
from kansci.pde.jet_jacobian import _grads
from kansci.pde.mlp_jets import is_plain_mlp, mlp_jets_with
from kansci.pde.multiindex import MAX_ORDER, _bell, _layer_jets, _node_jets, _silu_derivatives, taylor_jets

__all__ = ["CHUNK_ELEMENTS", "DirectionalHead", "directional_jacobian"]

CHUNK_ELEMENTS = 1 << 21
"""Entries of the Jacobian computed per chunk of points by default (``chunk * c * n_params``)."""

_FALLBACK = (
    "use batched autograd instead (LevenbergMarquardt without ``jacobian``: batched backward passes "
    "over nested-autograd residuals)"
)

DirectionalHead = Callable[[list[Tensor]], Tensor]
"""``head([value (batch, F), D^1 (batch, n_dir, F), ..., D^order (batch, n_dir, F)]) -> (batch, c)``."""


def directional_jacobian(
    model: nn.Module, x: Tensor, directions: Tensor, order: int, head: DirectionalHead, chunk: int | None = None
) -> tuple[Tensor, dict[Tensor, Tensor]]:
    """Residuals ``head(jets)`` of ``model`` at x and their derivatives by its fitted parameters.

    Parameters
    ----------
    model : nn.Module
        A :class:`~kansci.KAN` without symbolic edges (closed form, see
        :func:`~kansci.core.jacobian.has_closed_form_jacobian`), or any module
        mapping (batch, n) to (batch, F) row by row that ``torch.func`` can trace.
    x : Tensor, shape (batch, n)
    directions : Tensor, shape (n_dir, n)
        The directions v of the jets (any real dtype; cast to x's).
    order : int
        Highest derivative order, 1 to :data:`~kansci.pde.multiindex.MAX_ORDER`.
    head : callable
        ``head(jets) -> (batch, c)`` with ``jets = [value (batch, F), D^1, ..., D^order]``,
        ``D^k[b, m, f] = d^k/dt^k model(x_b + t v_m)_f`` at t = 0, each of shape
        (batch, n_dir, F): what :func:`~kansci.pde.multiindex.directional_jets`
        returns; mixed partials are combinations of them (polarization, see
        :mod:`kansci.pde.multiindex`). Row ``b`` of its output depends on row
        ``b`` of the jets only.
        Called once, on the whole batch, with ordinary autograd.
    chunk : int, optional
        Points per ``vmap`` call on the ``torch.func`` path; by default
        ``CHUNK_ELEMENTS // (c * n_params)``. Unused for a KAN.

    Returns
    -------
    residuals : Tensor, shape (batch, c)
        Detached.
    blocks : dict of Tensor to Tensor
        For each fitted parameter (a KAN's ``coef``, ``scale_base`` and the
        multiplication nodes' biases; :func:`~kansci.core.least_squares.fitted_parameters`
        of another module), shape ``(batch, c, *param.shape)``, detached.

    Raises
    ------
    ValueError
        If ``order``, ``directions``, ``x`` or ``chunk`` is malformed, if ``head``
        does not return (batch, c), or if the model is a KAN with symbolic edges
        or a module ``torch.func`` cannot trace (batched autograd is the fallback then).

    Examples
    --------
    >>> import torch
    >>> from kansci import KAN
    >>> model = KAN([2, 3, 1], dtype=torch.float64)
    >>> x = torch.rand(5, 2, dtype=torch.float64)
    >>> head = lambda jets: jets[4].sum(1)  # u_xxxx + u_yyyy along the axes
    >>> r, blocks = directional_jacobian(model, x, torch.eye(2, dtype=torch.float64), 4, head)
    >>> r.shape, blocks[model.layers[0].coef].shape
    (torch.Size([5, 1]), torch.Size([5, 1, 2, 8, 3]))
    """
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}")
    if isinstance(model, KAN):
        model.check_input(x)
    elif not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must have shape (batch, n_inputs), got {tuple(getattr(x, 'shape', ()))}")
    if not isinstance(directions, Tensor) or directions.ndim != 2 or directions.shape[1] != x.shape[1]:
        shape = tuple(directions.shape) if isinstance(directions, Tensor) else type(directions).__name__
        raise ValueError(f"directions must have shape (n_dir, {x.shape[1]}), one row per direction; got {shape}")
    if directions.shape[0] == 0 or directions.is_complex():
        count = directions.shape[0]
        raise ValueError(f"directions must hold at least one real direction, got {count} of {directions.dtype}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be a positive number of points, got {chunk}")
    directions = directions.detach().to(x)
    if has_closed_form_jacobian(model):
        return _closed_form(model, x.detach(), directions, order, head)
    if isinstance(model, KAN):  # its fused layers are not for torch.func
        raise ValueError(f"a KAN with symbolic edges has no closed-form Jacobian here; {_FALLBACK}")
    return _by_torch_func(model, x.detach(), directions, order, head, chunk)


def _check_residuals(residuals: object, n: int) -> None:
    if not isinstance(residuals, Tensor) or residuals.ndim != 2 or residuals.shape[0] != n or not residuals.shape[1]:
        shape = tuple(residuals.shape) if isinstance(residuals, Tensor) else type(residuals).__name__
        raise ValueError(f"head must return shape (batch, c) with batch = {n} and c >= 1, got {shape}")


def _leaves(jets: list[Tensor]) -> list[Tensor]:
    return [t.detach().requires_grad_() for t in jets]


# --- KAN, in closed form ------------------------------------------------------------------


def _closed_form(
    model: KAN, x: Tensor, directions: Tensor, order: int, head: DirectionalHead
) -> tuple[Tensor, dict[Tensor, Tensor]]:
    if not x.shape[0]:  # no points (the basis kernels need one): the shapes from the head
        n_out, n_dir = model.width[-1], directions.shape[0]
        residuals = head(_leaves([x.new_zeros(0, n_out)] + [x.new_zeros(0, n_dir, n_out)] * order))
        _check_residuals(residuals, 0)
        return residuals.detach(), {p: p.new_zeros(0, residuals.shape[1], *p.shape) for p in fitted_parameters(model)}
    config = model.config
    along = directions.unsqueeze(0).expand(x.shape[0], -1, -1)
    state = [x, along] + [x.new_zeros(along.shape)] * (order - 1)
    inputs: list[list[Tensor]] = []
    outputs: list[list[Tensor]] = []
    products: list[tuple[list[Tensor], list[Tensor]] | None] = []  # (subnode leaves, node jets)
    with torch.enable_grad():
        for index, layer in enumerate(model.layers):
            if index:  # a leaf per layer: the cotangents are carried back layer by layer
                state = _leaves(state)
            inputs.append(state)
            outputs.append(_layer_jets(layer, state))
            state = outputs[-1]
            products.append(None)
            if config.n_mult(index + 1):  # multiplication nodes: a leaf at the subnodes too
                subnodes = _leaves(state)
                state = _node_jets(subnodes, config.n_sum(index + 1), config.mult_arity, model.bias(index))
                products[-1] = (subnodes, state)
        final = _leaves(state)
        residuals = head(final)
        _check_residuals(residuals, x.shape[0])
        designs = [_design(layer, [t.detach() for t in jets]) for layer, jets in zip(model.layers, inputs)]
        by_layer: list[tuple[list[Tensor], list[Tensor]]] = [([], []) for _ in model.layers]
        by_bias: list[list[Tensor]] = [[] for _ in model.layers]
        for c in range(residuals.shape[1]):
            cot = _cotangents(residuals[:, c], tuple(final))
            for index in range(len(model.layers) - 1, -1, -1):
                if products[index] is not None:  # a product's bias (on the value), then to the subnodes' cotangents
                    by_bias[index].append(cot[0][:, config.n_sum(index + 1) :])
                    subnodes, nodes = products[index]
                    cot = _grads(nodes, subnodes, retain=True, seeds=cot)
                coef_block, base_block = _layer_blocks(model.layers[index], *designs[index], cot)
                by_layer[index][0].append(coef_block)
                by_layer[index][1].append(base_block)
                if index:
                    cot = _grads(outputs[index], inputs[index], retain=True, seeds=cot)
    blocks: dict[Tensor, Tensor] = {}
    for layer, (by_coef, by_base) in zip(model.layers, by_layer):
        blocks[layer.coef] = torch.stack(by_coef, 1).detach()
        blocks[layer.scale_base] = torch.stack(by_base, 1).detach()
    add_bias_blocks(model, by_bias, blocks, residuals)
    return residuals.detach(), blocks


def _design(layer: KANLayer, jets: list[Tensor]) -> tuple[Tensor, Tensor, list[Tensor]]:
    """What a layer's blocks need from its input jets, whatever the cotangents.

    Returns the B-spline bases and their derivatives of orders 0..order
    (batch, in, order + 1, G + k), SiLU's (batch, in, order + 1), and per order
    r = 1..order the Bell polynomials ``Bell_{k,r}`` of k = r..order, stacked
    along the directions (batch, (order - r + 1) n_dir, in).
    """
    x, order = jets[0], len(jets) - 1
    table = layer.table()
    values, row = local_bases(x, table, tuple(range(order + 1)))
    bases = torch.stack([scatter_dense(v, row, table) for v in values], 2)
    silu = torch.stack(_silu_derivatives(x, order), 2)
    by_r: list[list[Tensor]] = [[] for _ in range(order + 1)]
    for k in range(1, order + 1):
        for r, bell in _bell(jets, k):
            by_r[r].append(bell)
    return bases, silu, [torch.cat(bells, 1) for bells in by_r[1:]]


def _layer_blocks(
    layer: KANLayer, bases: Tensor, silu: Tensor, bells: list[Tensor], cotangents: tuple[Tensor, ...]
) -> tuple[Tensor, Tensor]:
    """``d r / d coef`` (batch, in, G + k, out) and ``d r / d scale_base`` (batch, in, out) of one layer."""
    value, *derivatives = cotangents
    gathered = [value.unsqueeze(1).expand(-1, layer.in_features, -1)]  # A_0: the value's cotangent, on every edge
    for r, bell in enumerate(bells, start=1):  # A_r: the cotangents of orders k >= r times Bell_{k,r}
        gathered.append(torch.einsum("bmo,bmi->bio", torch.cat(derivatives[r - 1 :], 1), bell))
    a = torch.stack(gathered, 2)  # (batch, in, order + 1, out)
    by_coef = torch.einsum("birj,biro->bijo", bases, a)
    by_base = torch.einsum("bir,biro->bio", silu, a)
    mask = layer.mask
    return by_coef * (mask * layer.scale_spline.detach()).unsqueeze(1), by_base * mask


# --- any module, by torch.func ------------------------------------------------------------


def _by_torch_func(
    model: nn.Module, x: Tensor, directions: Tensor, order: int, head: DirectionalHead, chunk: int | None
) -> tuple[Tensor, dict[Tensor, Tensor]]:
    fitted = {id(p) for p in fitted_parameters(model)}
    names = [(name, p) for name, p in model.named_parameters() if id(p) in fitted]
    params = {name: p.detach() for name, p in names}
    n = x.shape[0]
    n_params = sum(p.numel() for p in params.values())
    plain = is_plain_mlp(model)

    def point_jets(theta: dict[str, Tensor], xp: Tensor) -> tuple[Tensor, ...]:
        """u (F,), then D^1..D^order (n_dir, F) at one point: nested forward passes along each direction."""
        if plain:  # exact Taylor jets, all directions in one pass
            return tuple(t.squeeze(0) for t in mlp_jets_with(model, theta, xp.unsqueeze(0), directions, order))

        def along(v: Tensor) -> tuple[Tensor, ...]:
            return taylor_jets(lambda z: functional_call(model, theta, (z.unsqueeze(0),)).squeeze(0), xp, v, order)

        jets = vmap(along)(directions)
        return (jets[0][0], *jets[1:])

    def contracted(theta: dict[str, Tensor], xp: Tensor, *cotangents: Tensor) -> Tensor:
        """The residuals' linearization at one point, (c,): cotangents (c, F), (c, n_dir, F)... times the jets."""
        jets = point_jets(theta, xp)
        return cotangents[0] @ jets[0] + sum((ck * dk).sum((1, 2)) for ck, dk in zip(cotangents[1:], jets[1:]))

    with torch.no_grad(), _quiet_jvp():
        size = chunk or max(1, CHUNK_ELEMENTS // max(n_params, 1))
        try:
            pieces = [vmap(point_jets, in_dims=(None, 0))(params, x[s : s + size]) for s in range(0, n, size)]
        except (RuntimeError, NotImplementedError) as exc:
            raise ValueError(f"torch.func cannot trace {type(model).__name__} ({exc}); {_FALLBACK}") from exc
    if pieces:
        jets = [torch.cat(parts) for parts in zip(*pieces)]
    else:  # no points: the jets' shapes from the model's (empty) output
        with torch.no_grad():
            value = model(x)
        jets = [value] + [value.new_zeros(0, directions.shape[0], value.shape[1])] * order
    jets = _leaves(jets)
    with torch.enable_grad():
        residuals = head(jets)
    _check_residuals(residuals, n)
    c = residuals.shape[1]
    by_component = [_cotangents(residuals[:, k], tuple(jets)) for k in range(c)]
    cotangents = [torch.stack(parts, 1) for parts in zip(*by_component)]  # (batch, c, F), (batch, c, n_dir, F)...
    jacobian = vmap(jacrev(contracted), in_dims=(None, 0, *[0] * (order + 1)))
    size = chunk or max(1, CHUNK_ELEMENTS // max(c * n_params, 1))
    blocks = {p: p.new_empty(n, c, *p.shape) for _, p in names}  # filled chunk by chunk: no copy of the whole
    with torch.no_grad(), _quiet_jvp():
        try:
            for s in range(0, n, size):
                rows = slice(s, s + size)
                found = jacobian(params, x[rows], *(t[rows] for t in cotangents))
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
