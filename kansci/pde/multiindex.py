"""Any partial derivative of a network's outputs, by multi-index, up to order 4.

A residual asks for what it needs, ``u_xy`` or ``u_xxxx``, as a multi-index
(:func:`multi_index`: ``"xy"`` over named variables, or a tuple of counts per
input). :func:`partials` computes exactly those:

* for a :class:`~kansci.KAN`, from exact forward-mode Taylor jets along a few
  directions (:func:`directional_jets`): along ``v`` the k-th derivative of
  ``t -> u(x + t v)`` goes through each layer by Faa di Bruno's formula (a
  layer is a sum of univariate edges, whose derivatives are the B-spline's,
  SiLU's and the symbolic functions') and through multiplication nodes by
  Leibniz's rule. A mixed derivative is a symmetric k-linear form, recovered
  from k-th directional derivatives along sums of its coordinate directions
  (polarization): ``u_xy = (D^2 u[e_x + e_y] - D^2 u[e_x] - D^2 u[e_y]) / 2``.
  No autograd graph is nested; the result stays differentiable in the
  parameters, so residuals built on it train.
* for any other module, by nested autograd (one backward per order, shared
  between multi-indices with a common lower part).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction

import torch
from torch import Tensor, nn

from kansci.core.basis import local_bases
from kansci.core.layer import KANLayer
from kansci.core.model import KAN

__all__ = ["MAX_ORDER", "DerivativePlan", "directional_jets", "module_directional_jets", "multi_index", "partials"]

MAX_ORDER = 4
"""Highest derivative order :func:`partials` computes."""


def multi_index(spec: str | Sequence[int], variables: Sequence[str] | None, n_inputs: int) -> tuple[int, ...]:
    """Counts per input of a derivative: ``"xxy"`` over ``variables`` ("x", "y") is (2, 1).

    ``spec`` is a string of variable names, one character each, or a sequence of
    ``n_inputs`` non-negative counts. The order (the sum) must be 1 to :data:`MAX_ORDER`.
    """
    if isinstance(spec, str):
        if variables is None:
            raise ValueError(f"derivative {spec!r} names variables: pass variables=, e.g. ('x', 'y')")
        names = list(variables)
        if len(names) != n_inputs or any(len(v) != 1 for v in names) or len(set(names)) != len(names):
            raise ValueError(f"variables must be {n_inputs} distinct one-character names, got {names}")
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"derivative {spec!r} names {unknown}, not among the variables {names}")
        counts = tuple(spec.count(v) for v in names)
    else:
        counts = tuple(int(c) for c in spec)
        if len(counts) != n_inputs or any(c < 0 for c in counts):
            raise ValueError(f"a multi-index needs {n_inputs} non-negative counts, got {tuple(spec)}")
    if not 1 <= sum(counts) <= MAX_ORDER:
        raise ValueError(f"derivative order must be 1 to {MAX_ORDER}, got {sum(counts)} for {spec!r}")
    return counts


def partials(
    model: nn.Module,
    x: Tensor,
    wanted: Sequence[str | Sequence[int]],
    variables: Sequence[str] | None = None,
) -> dict[str | tuple[int, ...], Tensor]:
    """The partial derivatives ``wanted`` of every output at ``x``.

    Parameters
    ----------
    model : nn.Module
        A :class:`~kansci.KAN` (exact jets) or any module mapping (batch, n) to (batch, n_out) (autograd).
    x : Tensor, shape (batch, n)
    wanted : sequence of multi-indices
        Strings over ``variables`` (``"xy"``, ``"xxxx"``) or tuples of counts per input ((1, 1)).
    variables : sequence of str, optional
        One-character names of the inputs, in column order; needed for string multi-indices.

    Returns
    -------
    dict
        Each entry of ``wanted`` (a tuple for a list) to a Tensor of shape (batch, n_out).

    Examples
    --------
    >>> model = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    >>> d = partials(model, torch.rand(5, 2, dtype=torch.float64), ["xy", "xxxx"], variables="xy")
    >>> d["xy"].shape
    torch.Size([5, 1])
    """
    if x.ndim != 2:
        raise ValueError(f"x must have shape (batch, n_inputs), got {tuple(x.shape)}")
    keys = [w if isinstance(w, str) else tuple(w) for w in wanted]
    counts = {key: multi_index(key, variables, x.shape[1]) for key in keys}
    compute = _kan_partials if isinstance(model, KAN) else _autograd_partials
    values = compute(model, x, sorted(set(counts.values())))
    return {key: values[c] for key, c in counts.items()}


def directional_jets(model: KAN, x: Tensor, directions: Tensor, order: int) -> list[Tensor]:
    """``d^k/dt^k model(x + t v)`` at t = 0 for k = 0..order and every direction v, exactly.

    Parameters
    ----------
    model : KAN
    x : Tensor, shape (batch, n)
    directions : Tensor, shape (n_dir, n)
    order : int, 1 to :data:`MAX_ORDER`

    Returns
    -------
    list of Tensor
        ``order + 1`` tensors: the value (batch, n_out), then each derivative (batch, n_dir, n_out).
    """
    if not isinstance(model, KAN):
        raise TypeError(f"directional_jets needs a kansci.KAN, got {type(model).__name__}")
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be 1 to {MAX_ORDER}, got {order}")
    model.check_input(x)
    if directions.ndim != 2 or directions.shape[1] != x.shape[1]:
        raise ValueError(f"directions must have shape (n_dir, {x.shape[1]}), got {tuple(directions.shape)}")
    v = directions.to(x)
    jets = [x] + [v.unsqueeze(0).expand(x.shape[0], -1, -1)] + [x.new_zeros(x.shape[0], *v.shape)] * (order - 1)
    for index, layer in enumerate(model.layers):
        jets = _layer_jets(layer, jets)
        config = model.config
        jets = _node_jets(jets, config.n_sum(index + 1), config.mult_arity, model.bias(index))
    return jets


# --- KAN ---------------------------------------------------------------------------------


def _edge_derivatives(layer: KANLayer, x: Tensor, order: int) -> list[Tensor]:
    """Value (batch, out) and derivatives phi^(m)_io(x_i) (batch, in, out) of every edge, m = 1..order."""
    spline_w, base_w = layer.weights()
    bases, row = local_bases(x, layer.table(), tuple(range(order + 1)))
    silu = _silu_derivatives(x, order)
    out = [layer.combine(bases[0], row, silu[0], spline_w, base_w)]
    out += [layer.combine_edges(bases[m], row, silu[m], spline_w, base_w) for m in range(1, order + 1)]
    edges = layer.symbolic
    if len(edges):  # fixed symbolic edges c*f(a*x+b)+d
        terms = edges.terms(x, layer.mask, derivatives=order)
        out[0] = out[0] + edges.summed(terms[0])
        out[1:] = [e + edges.scattered(t) for e, t in zip(out[1:], terms[1:])]
    return out


def _sigmoid_derivatives(x: Tensor, order: int) -> list[Tensor]:
    """The sigmoid s and its derivatives s^(n), n = 1..order, from s' = s (1 - s)."""
    s = [torch.sigmoid(x)]
    one_minus_2s = 1 - 2 * s[0]
    if order >= 1:
        s.append(s[0] * (1 - s[0]))
    if order >= 2:
        s.append(s[1] * one_minus_2s)
    if order >= 3:
        s.append(s[2] * one_minus_2s - 2 * s[1] ** 2)
    if order >= 4:
        s.append(s[3] * one_minus_2s - 6 * s[1] * s[2])
    return s


def _silu_derivatives(x: Tensor, order: int) -> list[Tensor]:
    """SiLU(x) = x s(x) and its derivatives x s^(n) + n s^(n-1), with s the sigmoid, n = 1..order."""
    s = _sigmoid_derivatives(x, order)
    return [x * s[0]] + [x * s[n] + n * s[n - 1] for n in range(1, order + 1)]


def _bell(jets: list[Tensor], k: int) -> list[tuple[int, Tensor]]:
    """Faa di Bruno's terms of the k-th derivative of f(g): (m, B_{k,m}(g', g'', ...)) for m = 1..k."""
    g1 = jets[1]
    if k == 1:
        return [(1, g1)]
    g2 = jets[2]
    if k == 2:
        return [(1, g2), (2, g1 * g1)]
    g3 = jets[3]
    if k == 3:
        return [(1, g3), (2, 3 * g1 * g2), (3, g1**3)]
    g4 = jets[4]
    return [(1, g4), (2, 4 * g1 * g3 + 3 * g2 * g2), (3, 6 * g1 * g1 * g2), (4, g1**4)]


def _layer_jets(layer: KANLayer, jets: list[Tensor]) -> list[Tensor]:
    """Output jets of ``layer`` from its input jets [x (batch, in), d^k x (batch, dir, in), ...]."""
    order = len(jets) - 1
    phi = _edge_derivatives(layer, jets[0], order)
    out = [phi[0]]
    for k in range(1, order + 1):
        # sum over edges i of phi^(m)_io(x_i) * B_{k,m}[b, dir, i]
        out.append(sum(torch.einsum("bio,bdi->bdo", phi[m], bell) for m, bell in _bell(jets, k)))
    return out


def _node_jets(jets: list[Tensor], n_sum: int, arity: int, bias: Tensor | None) -> list[Tensor]:
    """Node jets from subnode jets: Leibniz's rule at multiplication nodes."""
    if jets[0].shape[-1] == n_sum:
        return jets

    def factors(t: Tensor) -> list[Tensor]:
        grouped = t[..., n_sum:].unflatten(-1, (-1, arity))
        return [grouped[..., j] for j in range(arity)]

    per_factor = [factors(t) for t in jets]  # [order][factor]
    product = [per_factor[k][0] for k in range(len(jets))]
    for j in range(1, arity):
        other = [per_factor[k][j] for k in range(len(jets))]
        product = [_leibniz(product, other, k) for k in range(len(jets))]
    value = product[0] if bias is None else product[0] + bias
    out = [torch.cat([jets[0][..., :n_sum], value], dim=-1)]
    return out + [torch.cat([jets[k][..., :n_sum], product[k]], dim=-1) for k in range(1, len(jets))]


def _leibniz(u: list[Tensor], v: list[Tensor], k: int) -> Tensor:
    """k-th derivative of u v; order-0 terms (batch, n) broadcast against derivatives (batch, dir, n)."""

    def at(t: list[Tensor], j: int) -> Tensor:
        return t[j].unsqueeze(1) if j == 0 and k > 0 else t[j]

    return sum(math.comb(k, j) * at(u, j) * at(v, k - j) for j in range(k + 1))


def _polarization(counts: tuple[int, ...]) -> list[tuple[tuple[int, ...], float]]:
    """Directions (integer vectors) and weights with sum_w w D^k u[v] = d^|counts| u / dx^counts.

    D^k u[e_i1, ..., e_ik] = 1/k! sum over nonempty subsets S of (-1)^(k-|S|) D^k u[sum_{j in S} e_ij].
    A vector ``c v`` (v with coprime entries) is ``v`` with weight times ``c^k`` (D^k u is k-homogeneous),
    so pure derivatives take one direction and u_xxyy five; weights are summed exactly (fractions).
    """
    slots = [i for i, c in enumerate(counts) for _ in range(c)]
    k = len(slots)
    merged: dict[tuple[int, ...], Fraction] = {}
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            vector = [0] * len(counts)
            for j in subset:
                vector[slots[j]] += 1
            common = math.gcd(*vector)
            key = tuple(c // common for c in vector)
            merged[key] = merged.get(key, Fraction(0)) + Fraction((-1) ** (k - size) * common**k, math.factorial(k))
    return [(v, float(w)) for v, w in merged.items() if w != 0]


class DerivativePlan:
    """Which directional jets give a set of partial derivatives, and how to combine them.

    Parameters
    ----------
    wanted : iterable of tuple of int
        Multi-indices (counts per input), order 0 (the value) to :data:`MAX_ORDER`.
    n_inputs : int

    Attributes
    ----------
    order : int
        The highest order wanted (0 when only values are).
    directions : list of tuple of int
        Integer direction vectors whose jets up to ``order`` are needed (none for order 0).
    """

    def __init__(self, wanted: Iterable[tuple[int, ...]], n_inputs: int) -> None:
        self.wanted = sorted({tuple(int(c) for c in w) for w in wanted})
        if any(len(w) != n_inputs or min(w, default=0) < 0 or sum(w) > MAX_ORDER for w in self.wanted):
            raise ValueError(
                f"multi-indices need {n_inputs} non-negative counts of order <= {MAX_ORDER}, got {self.wanted}"
            )
        self.n_inputs = n_inputs
        self.order = max((sum(w) for w in self.wanted), default=0)
        self._plans = {w: _polarization(w) for w in self.wanted if sum(w)}
        self.directions = sorted({v for plan in self._plans.values() for v, _ in plan})
        self._column = {v: j for j, v in enumerate(self.directions)}

    def direction_tensor(self, like: Tensor) -> Tensor:
        """The directions as a tensor (n_dir, n_inputs) of ``like``'s dtype and device."""
        return torch.tensor(self.directions, dtype=like.dtype, device=like.device).reshape(-1, self.n_inputs)

    def combine(self, jets: Sequence[Tensor]) -> dict[tuple[int, ...], Tensor]:
        """Each wanted multi-index to (batch, n_out), from the jets along :attr:`directions`.

        ``jets[0]`` is the value (batch, n_out), ``jets[k]`` the k-th derivatives (batch, n_dir, n_out).
        """
        out = {}
        for w in self.wanted:
            if not sum(w):
                out[w] = jets[0]
                continue
            k = sum(w)
            out[w] = sum(weight * jets[k][:, self._column[v]] for v, weight in self._plans[w])
        return out


def _kan_partials(model: KAN, x: Tensor, wanted: list[tuple[int, ...]]) -> dict[tuple[int, ...], Tensor]:
    plan = DerivativePlan(wanted, x.shape[1])
    return plan.combine(directional_jets(model, x, plan.direction_tensor(x), plan.order))


# --- any module -------------------------------------------------------------------------


def _autograd_partials(model: Callable, x: Tensor, wanted: list[tuple[int, ...]]) -> dict[tuple[int, ...], Tensor]:
    """Nested autograd, one output column at a time; lower derivatives shared through a cache."""
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    with torch.enable_grad():
        u = model(x)
        if u.ndim != 2:
            raise ValueError(f"the model must return (batch, n_out), got shape {tuple(u.shape)}")
        cache: dict[tuple[int, tuple[int, ...]], Tensor] = {}

        def derivative(o: int, counts: tuple[int, ...]) -> Tensor:
            if sum(counts) == 0:
                return u[:, o]
            key = (o, counts)
            if key not in cache:
                i = max(j for j, c in enumerate(counts) if c)  # peel the last variable
                lower = tuple(c - (j == i) for j, c in enumerate(counts))
                base = derivative(o, lower)
                (grad,) = torch.autograd.grad(base.sum(), x, create_graph=True, allow_unused=True)
                cache[key] = torch.zeros_like(base) if grad is None else grad[:, i]
            return cache[key]

        return {c: torch.stack([derivative(o, c) for o in range(u.shape[1])], dim=1) for c in wanted}


def module_directional_jets(model: nn.Module, x: Tensor, directions: Tensor, order: int) -> list[Tensor]:
    """:func:`directional_jets` of any module: nested forward-mode ``torch.func.jvp``, or nested autograd.

    A plain MLP (:func:`~kansci.pde.mlp_jets.is_plain_mlp`) takes exact Taylor
    jets instead. The jets stay differentiable in the module's parameters. A
    module ``torch.func`` cannot trace falls back to reverse mode, one backward
    per order, direction and output.
    """
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be 1 to {MAX_ORDER}, got {order}")
    from kansci.pde.mlp_jets import is_plain_mlp, mlp_jets

    v = directions.to(x)
    if is_plain_mlp(model):
        return mlp_jets(model, x, v, order)
    try:
        return _forward_jets(model, x, v, order)
    except (RuntimeError, NotImplementedError):
        return _reverse_jets(model, x, v, order)


def taylor_jets(f: Callable[[Tensor], Tensor], z: Tensor, tangent: Tensor, order: int) -> tuple[Tensor, ...]:
    """``(f(z), D f(z)[v], ..., D^order f(z)[v])`` for the tangent v (shaped as z), by nested ``torch.func.jvp``."""
    from torch.func import jvp

    if order == 0:
        return (f(z),)
    lower, tangents = jvp(lambda w: taylor_jets(f, w, tangent, order - 1), (z,), (tangent,))
    return (*lower, tangents[-1])


def _forward_jets(model: nn.Module, x: Tensor, directions: Tensor, order: int) -> list[Tensor]:
    from torch.func import vmap

    from kansci.pde.directional_jacobian import _quiet_jvp

    with _quiet_jvp():
        jets = vmap(lambda v: taylor_jets(model, x, v.expand_as(x), order))(directions)  # each (n_dir, batch, n_out)
    return [jets[0][0]] + [t.transpose(0, 1) for t in jets[1:]]


def _reverse_jets(model: nn.Module, x: Tensor, directions: Tensor, order: int) -> list[Tensor]:
    xr = x.detach().requires_grad_()
    with torch.enable_grad():
        u = model(xr)
        per_direction = []
        for v in directions:
            jets, current = [], u
            for _ in range(order):
                columns = []
                for o in range(u.shape[1]):
                    (g,) = torch.autograd.grad(current[:, o].sum(), xr, create_graph=True, allow_unused=True)
                    columns.append(torch.zeros_like(current[:, o]) if g is None else g @ v)
                current = torch.stack(columns, 1)
                jets.append(current)
            per_direction.append(jets)
    return [u] + [torch.stack([d[k] for d in per_direction], 1) for k in range(order)]
