"""Compiling a formula into a KAN whose structure is the formula's expression tree.

The idea of KAN 2.0's *kanpiler* (Liu et al. 2024, arXiv 2408.10205, Section
3.2): a known formula becomes a network that computes it exactly, with every
edge fixed to a library function ``c * f(a*x + b) + d``; the network can then
be made numeric (:func:`~kansci.symbolic.to_numeric`) and trained further, e.g. to learn a
correction to the formula.

How the expression tree maps to the network:

* a sum becomes a sum node, one edge per addend; numeric addends and factors
  become the ``d`` and ``c`` of those edges;
* a product becomes a multiplication node of two factors (quotients are
  products with a ``1/x`` edge); a product of more factors becomes a tree of
  binary products, pairing the shallowest factors first so the tree is as
  shallow as possible;
* ``f(a*g + b)`` becomes an edge with function ``f`` and those ``a``, ``b``
  from the node holding ``g``; ``exp(-k*g**2)`` becomes one ``gaussian`` edge;
* ``g**n`` becomes an edge ``x^n``, ``1/x^n`` (n = 1..5), ``sqrt``, ``1/sqrt``
  or ``x^1.5``; other integer powers a product of such powers; other
  half-integer powers an integer power of a ``sqrt`` node; any other exponent,
  and a symbolic one, ``exp(p * log(g))``, which holds for ``g > 0`` only;
* a path shorter than its neighbours reaches the next layer through identity
  edges (``x`` with a = c = 1, b = d = 0); equal subexpressions share a node;
* two addends of one sum that are functions of the same node (``x + x**2``)
  cannot share that node's edge: one reaches the sum through a node of its own.

Every edge the formula does not use is masked (mask 0), so
:func:`~kansci.symbolic.formula` reads the formula back. Functions are those of
:mod:`kansci.symbolic.library` plus registered ones whose ``sym(u)`` is a sympy
function applied to ``u`` directly (``besselj(0, u)``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import NamedTuple

import sympy
import torch
from torch import Tensor

from kansci.core.model import KAN
from kansci.symbolic.library import get
from kansci.symbolic.splines import fit_splines_

__all__ = ["compile_formula"]

MAX_CORNER_VARIABLES = 10
"""Samples drawn from ``ranges`` include the box's 2**n corners up to this many variables."""


def compile_formula(
    expr: sympy.Expr | str,
    variables: Sequence[sympy.Symbol | str],
    *,
    x: Tensor | None = None,
    ranges: Sequence[tuple[float, float]] | None = None,
    n_samples: int = 1000,
    grid: int = 5,
    k: int = 3,
    margin: float = 0.05,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> KAN:
    """A KAN computing ``expr`` exactly, its edges fixed to library functions.

    Parameters
    ----------
    expr : sympy.Expr or str
        The formula; a string is parsed with ``variables`` as its symbols.
    variables : sequence of sympy.Symbol or str
        The model's inputs in column order, matched to the formula's symbols by
        name. Variables the formula does not use get no edges.
    x : Tensor, shape (batch, len(variables)), optional
        Sample inputs. Every layer's grid then spans the values its inputs take
        for x, and the spline under each edge is fit (least squares) to the
        edge's function there, so :func:`kansci.symbolic.unfix` alone turns the
        model into a trainable numeric KAN computing nearly the same function.
    ranges : sequence of (float, float), optional
        Instead of ``x``: the interval of every variable, from which
        ``n_samples`` uniform samples are drawn (seeded by ``seed``).
    n_samples : int
        Samples drawn from ``ranges``.
    grid, k : int
        Grid intervals and spline order of the splines under the edges.
    margin : float
        Each grid extends this fraction of its span beyond the sampled values
        on both sides (see :func:`~kansci.symbolic.splines.fit_splines_`), so
        points just outside the samples, and training that moves hidden values
        a little, stay on the grid.
    seed : int
        Seed of the (masked) initialization and of the samples.
    dtype : torch.dtype
        ``torch.float64`` (default) or ``torch.float32``.

    Returns
    -------
    KAN
        Width ``[len(variables), ..., 1]`` with multiplication nodes where the
        formula multiplies; every unused edge masked. Without ``x`` or
        ``ranges`` the grids keep their default span [-1, 1].

    Raises
    ------
    ValueError
        The formula uses a symbol that is not among ``variables``, a function
        outside the symbolic library (register it with
        :func:`kansci.symbolic.register`), or a non-real constant; or ``x`` /
        ``ranges`` do not fit the variables.

    Examples
    --------
    >>> model = compile_formula("x * sin(y) + 1", ["x", "y"], ranges=[(-1, 1), (0, 3)])
    >>> model.config.display_width()
    [2, [0, 1], 1]
    >>> formula(model, ["x", "y"])
    [x*sin(y) + 1]
    """
    symbols = _symbols(variables)
    expr = _parse(expr, symbols)
    if x is not None and ranges is not None:
        raise ValueError("pass sample inputs x or variable ranges, not both")
    graph = _Graph(len(symbols))
    root = _Compiler(graph, {str(s): j for j, s in enumerate(symbols)}).root(expr)
    model = graph.build(root, grid=grid, k=k, seed=seed, dtype=dtype)
    if ranges is not None:
        x = _samples(ranges, len(symbols), n_samples, seed, dtype)
    if x is not None:
        fit_splines_(model, x, margin=margin)
    return model


# --- the graph of nodes ---------------------------------------------------------------


class _Edge(NamedTuple):
    """``c * f(a * child + b) + d`` with f the library function ``name``."""

    child: int
    name: str
    a: float = 1.0
    b: float = 0.0
    c: float = 1.0
    d: float = 0.0

    def scaled(self, factor: float) -> _Edge:
        return self._replace(c=self.c * factor, d=self.d * factor)


_Subnode = tuple[_Edge, ...]


class _Graph:
    """Nodes of the network by depth: inputs (depth 0), sum nodes (one subnode), product nodes (two).

    Nodes are interned: the same subnodes give the same node, so equal
    subexpressions and the identity carriers of one node are shared. Every
    edge of a node starts one depth below it.
    """

    def __init__(self, n_inputs: int) -> None:
        self.n_inputs = n_inputs
        self.subnodes: list[tuple[_Subnode, ...] | None] = [None] * n_inputs
        self.depth: list[int] = [0] * n_inputs
        self._ids: dict[tuple[_Subnode, ...], int] = {}

    def node(self, subnodes: Sequence[Sequence[_Edge]]) -> int:
        """The node with these subnodes (one: a sum node, two: a product), edges padded to one depth."""
        settled = self._settle([list(s) for s in subnodes])
        key = tuple(tuple(s) for s in settled)
        if key not in self._ids:
            self._ids[key] = len(self.subnodes)
            self.subnodes.append(key)
            self.depth.append(1 + max(self.depth[e.child] for s in key for e in s))
        return self._ids[key]

    def carrier(self, node: int, depth: int) -> int:
        """``node`` carried to ``depth`` by identity edges."""
        while self.depth[node] < depth:
            node = self.node([[_Edge(node, "x")]])
        return node

    def _settle(self, subnodes: list[list[_Edge]]) -> list[list[_Edge]]:
        """The subnodes with all edges from one depth, equal edges merged, no two edges of a subnode from one node.

        An edge that shares its source with another of its subnode moves to a
        node of its own (its subnode then reads that node through an identity
        edge) and every other edge is carried one layer further; the identity
        edge of a shared source is kept direct, so the new node never equals a
        carrier.
        """
        for _ in range(8):
            target = max(self.depth[e.child] for s in subnodes for e in s)
            padded = [_merged([e._replace(child=self.carrier(e.child, target)) for e in s]) for s in subnodes]
            clash = False
            for s in padded:
                s.sort(key=lambda e: not (e.name == "x" and e.a == 1.0 and e.b == 0.0))
                seen: set[int] = set()
                for n, e in enumerate(s):
                    if e.child in seen:
                        s[n], clash = _Edge(self.node([[e]]), "x"), True
                    seen.add(e.child)
            if not clash:
                return padded
            subnodes = padded
        raise RuntimeError("compile_formula could not separate the edges of a node; please report this formula")

    def build(self, root: int, *, grid: int, k: int, seed: int, dtype: torch.dtype) -> KAN:
        """The KAN of the nodes under ``root``, its unused edges masked."""
        layers: list[list[int]] = [list(range(self.n_inputs))] + [[] for _ in range(self.depth[root])]
        seen, stack = set(), [root]
        while stack:  # depth-first from the root, children in edge order: a deterministic layout
            node = stack.pop()
            if node in seen or self.subnodes[node] is None:
                continue
            seen.add(node)
            layers[self.depth[node]].append(node)
            stack.extend(e.child for s in reversed(self.subnodes[node]) for e in reversed(s))
        width: list = [len(layers[0])]
        position = {n: n for n in layers[0]}
        outputs: list[dict[int, int]] = []  # per node layer: node -> its first subnode
        for nodes in layers[1:]:
            sums = [n for n in nodes if len(self.subnodes[n]) == 1]
            products = [n for n in nodes if len(self.subnodes[n]) == 2]
            position.update({n: p for p, n in enumerate(sums + products)})
            outputs.append({n: p for p, n in enumerate(sums)} | {n: len(sums) + 2 * m for m, n in enumerate(products)})
            width.append([len(sums), len(products)] if products else len(sums))
        model = KAN(width, grid=grid, k=k, seed=seed, dtype=dtype)
        with torch.no_grad():
            for layer, first in zip(model.layers, outputs):
                layer.mask.zero_()
                for node, o in first.items():
                    for t, subnode in enumerate(self.subnodes[node]):
                        for e in subnode:
                            layer.mask[position[e.child], o + t] = 1.0
                            layer.symbolic.set(position[e.child], o + t, e.name, (e.a, e.b, e.c, e.d))
        return model


def _merged(edges: list[_Edge]) -> list[_Edge]:
    """Edges with the same source, function, a and b summed into one."""
    out: dict[tuple, _Edge] = {}
    for e in edges:
        key = (e.child, e.name, e.a, e.b)
        out[key] = out[key]._replace(c=out[key].c + e.c, d=out[key].d + e.d) if key in out else e
    return list(out.values())


# --- from sympy to the graph --------------------------------------------------------


class _Compiler:
    """Walks a sympy expression and adds its nodes to a :class:`_Graph`."""

    def __init__(self, graph: _Graph, columns: dict[str, int]) -> None:
        self.graph, self.columns = graph, columns
        self.templates = _templates()
        self.powers = {args[1]: name for name, func, args, _ in self.templates if func is sympy.Pow}

    def root(self, expr: sympy.Expr) -> int:
        """A node whose value is exactly ``expr`` (never an input: a KAN has at least one layer)."""
        if expr.is_number:  # a constant: a "0" edge with d = the constant
            return self.graph.node([[_Edge(0, "0", 1.0, 0.0, 0.0, _real(expr))]])
        node = self.exact(expr)
        return self.graph.node([[_Edge(node, "x")]]) if self.graph.subnodes[node] is None else node

    def exact(self, expr: sympy.Expr) -> int:
        """A node whose value is ``expr`` (an input for a symbol, a product node for a product)."""
        if expr.is_Symbol:
            return self.columns[str(expr)]
        coefficient, factors = _split_mul(expr)
        if len(factors) > 1:
            subnodes = [self.subnode(f) for f in factors]
            subnodes[0] = [e.scaled(coefficient) for e in subnodes[0]]
            return self.product(subnodes)
        return self.graph.node([self.subnode(expr)])

    def linear(self, expr: sympy.Expr) -> tuple[int, float, float]:
        """``(node, a, b)`` with ``expr == a * node + b``."""
        const, rest = _split_add(expr)
        if rest.is_Add:
            content, core = rest.primitive()
            scale = _real(content)
        else:
            scale, factors = _split_mul(rest)
            core = sympy.Mul(*factors)
        return self.exact(core), scale, const

    def subnode(self, expr: sympy.Expr) -> list[_Edge]:
        """Edges summing to ``expr`` (its constant in the first edge's d)."""
        edges, const = self.terms(expr)
        if const:
            edges[0] = edges[0]._replace(d=edges[0].d + const)
        return edges

    def terms(self, expr: sympy.Expr) -> tuple[list[_Edge], float]:
        """Edges and a constant summing to ``expr``."""
        if expr.is_number:
            return [], _real(expr)
        if expr.is_Add:
            edges, const = [], 0.0
            for term in expr.args:
                more, c = self.terms(term)
                edges, const = edges + more, const + c
            return edges, const
        coefficient, factors = _split_mul(expr)
        if len(factors) > 1:
            return [_Edge(self.exact(sympy.Mul(*factors)), "x", c=coefficient)], 0.0
        (factor,) = factors
        if factor.is_Add:
            edges, const = self.terms(factor)
            return [e.scaled(coefficient) for e in edges], const * coefficient
        return [e.scaled(coefficient) for e in self.atom(factor)], 0.0

    def atom(self, expr: sympy.Expr) -> list[_Edge]:
        """Edges for a symbol, a power or a function application."""
        if expr.is_Symbol:
            return [_Edge(self.columns[str(expr)], "x")]
        if isinstance(expr, sympy.exp):
            gaussian = self.gaussian(expr.args[0])
            if gaussian is not None:
                return [gaussian]
        if expr.is_Pow:
            base, exponent = expr.args
            return self.power(base, _rational(exponent))
        match = self.match(expr)
        if match is None:
            name = expr.func.__name__
            raise ValueError(
                f"the formula uses {expr}, but no function of the symbolic library is {name}; register one with "
                f"kansci.symbolic.register({name!r}, fn, sym=lambda u: sympy.{name}(u), complexity=3) and compile "
                "again, or rewrite the formula in library functions (e.g. expr.rewrite(sympy.exp))"
            )
        name, argument = match
        node, a, b = self.linear(argument)
        return [_Edge(node, name, a, b)]

    def match(self, expr: sympy.Expr) -> tuple[str, sympy.Expr] | None:
        """The library function giving ``expr`` and its argument, or None."""
        for name, func, args, position in self.templates:
            if expr.func == func and len(expr.args) == len(args):
                if all(expr.args[i] == args[i] for i in range(len(args)) if i != position):
                    return name, expr.args[position]
        return None

    def gaussian(self, argument: sympy.Expr) -> _Edge | None:
        """``exp(b0 - k * g**2)`` (k > 0) as one gaussian edge, or None for another exponent."""
        const, rest = _split_add(argument)
        scale, factors = _split_mul(rest)
        if scale >= 0 or len(factors) != 1 or not factors[0].is_Pow or factors[0].args[1] != 2:
            return None
        node, a, b = self.linear(factors[0].args[0])
        root = math.sqrt(-scale)
        return _Edge(node, "gaussian", root * a, root * b, math.exp(const))

    def power(self, base: sympy.Expr, exponent: sympy.Expr) -> list[_Edge]:
        """Edges for ``base ** exponent`` (see the module docstring for exponents without a library power)."""
        if not exponent.is_number:  # base ** e = exp(e * log(base))
            if base.is_number:
                if _real(base) <= 0:
                    raise ValueError(f"the formula has {base}**({exponent}); a power of a base <= 0 is not real")
                log = math.log(_real(base))
                node, a, b = self.linear(exponent)
                return [_Edge(node, "exp", a * log, b * log)]
            node, a, b = self.linear(base)
            logarithm = [_Edge(node, "log", a, b)]
            return [_Edge(self.product([self.subnode(exponent), logarithm]), "exp")]
        return self.node_power(*self.linear(base), exponent)

    def node_power(self, node: int, a: float, b: float, exponent: sympy.Expr) -> list[_Edge]:
        """Edges for ``(a * node + b) ** exponent``: a library power, else as the module docstring says."""
        if exponent in self.powers:
            return [_Edge(node, self.powers[exponent], a, b)]
        if exponent.is_Integer:  # a product of two lower powers
            low = int(exponent) // 2 if exponent > 0 else -(-int(exponent) // 2)
            halves = [self.node_power(node, a, b, sympy.Integer(n)) for n in (low, int(exponent) - low)]
            return [_Edge(self.product(halves), "x")]
        if exponent.is_Rational and exponent.q == 2:  # an integer power of a square root
            root = self.graph.node([[_Edge(node, "sqrt", a, b)]])
            return self.node_power(root, 1.0, 0.0, sympy.Integer(exponent.p))
        logarithm = self.graph.node([[_Edge(node, "log", a, b)]])
        return [_Edge(logarithm, "exp", _real(exponent))]

    def product(self, factors: list[list[_Edge]]) -> int:
        """Binary product nodes multiplying the factors, the shallowest paired first (a Huffman tree on depth)."""
        depth = lambda edges: max(self.graph.depth[e.child] for e in edges)  # noqa: E731
        heap = [(depth(f), n, f) for n, f in enumerate(factors)]
        heapq.heapify(heap)
        count = len(heap)
        while len(heap) > 2:
            (_, _, first), (_, _, second) = heapq.heappop(heap), heapq.heappop(heap)
            node = self.graph.node([first, second])
            heapq.heappush(heap, (self.graph.depth[node], count, [_Edge(node, "x")]))
            count += 1
        (_, _, first), (_, _, second) = sorted(heap)
        return self.graph.node([first, second])


def _templates() -> list[tuple[str, type, tuple, int]]:
    """``(name, sympy function, args, position of the argument)`` of every library function applied directly."""
    u = sympy.Dummy("u")
    out = []
    for name, function in get().items():  # built-ins first: they win over a registered function of the same form
        if name == "gaussian":  # exp(-u**2) is not a function of u itself; see _Compiler.gaussian
            continue
        template = function.sym(u)
        if not isinstance(template, sympy.Basic) or not template.args:
            continue
        positions = [i for i, arg in enumerate(template.args) if arg == u]
        others = [arg for i, arg in enumerate(template.args) if arg != u]
        if len(positions) == 1 and not any(arg.has(u) for arg in others):
            out.append((name, template.func, template.args, positions[0]))
    return out


def _split_add(expr: sympy.Expr) -> tuple[float, sympy.Expr]:
    """``(constant, rest)`` with ``expr == constant + rest``."""
    if not expr.is_Add:
        return 0.0, expr
    numbers = [t for t in expr.args if t.is_number]
    return _real(sympy.Add(*numbers)), sympy.Add(*(t for t in expr.args if not t.is_number))


def _split_mul(expr: sympy.Expr) -> tuple[float, list[sympy.Expr]]:
    """``(coefficient, factors)`` with ``expr == coefficient * prod(factors)``, factors not numbers."""
    args = expr.args if expr.is_Mul else (expr,)
    numbers = [f for f in args if f.is_number]
    return _real(sympy.Mul(*numbers)), [f for f in args if not f.is_number]


def _real(number: sympy.Expr) -> float:
    try:
        value = complex(sympy.N(number, 17))
    except TypeError:  # zoo, nan and other non-numbers
        value = complex(math.nan)
    if value.imag != 0.0 or not math.isfinite(value.real):
        raise ValueError(f"the formula has the constant {number}, which is not a finite real number")
    return value.real


def _rational(exponent: sympy.Expr) -> sympy.Expr:
    """A float exponent that is a simple fraction as that fraction (so 0.5 finds ``sqrt``)."""
    if isinstance(exponent, sympy.Float):
        fraction = sympy.Rational(float(exponent)).limit_denominator(100)
        if float(fraction) == float(exponent):
            return fraction
    return exponent


def _symbols(variables: Sequence[sympy.Symbol | str]) -> list[sympy.Symbol]:
    if isinstance(variables, (str, sympy.Basic)) or not hasattr(variables, "__iter__"):
        raise ValueError(f"variables must be a sequence of symbols or names such as ['x', 'y'], got {variables!r}")
    symbols = [v if isinstance(v, sympy.Symbol) else sympy.Symbol(str(v), real=True) for v in variables]
    names = [str(s) for s in symbols]
    if not names:
        raise ValueError("variables is empty; give the inputs of the formula, e.g. ['x', 'y']")
    if len(set(names)) != len(names):
        raise ValueError(f"variables has repeated names {names}; give each input once")
    return symbols


def _parse(expr: sympy.Expr | str, symbols: list[sympy.Symbol]) -> sympy.Expr:
    if isinstance(expr, str):
        try:
            expr = sympy.sympify(expr, locals={str(s): s for s in symbols})
        except (sympy.SympifyError, SyntaxError, TypeError) as err:
            raise ValueError(f"cannot parse the formula {expr!r}: {err}") from err
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"expr must be a sympy expression or a string, got {type(expr).__name__}")
    unknown = sorted({str(s) for s in expr.free_symbols} - {str(s) for s in symbols})
    if unknown:
        raise ValueError(f"the formula uses {unknown}, which are not among variables {[str(s) for s in symbols]}")
    return expr


# --- grids and splines from samples ------------------------------------------------------


def _samples(
    ranges: Sequence[tuple[float, float]], n_vars: int, n_samples: int, seed: int, dtype: torch.dtype
) -> Tensor:
    spans = [tuple(float(v) for v in r) for r in ranges]
    if len(spans) != n_vars or any(len(r) != 2 or not r[0] < r[1] for r in spans):
        raise ValueError(f"ranges must give one (lo, hi) with lo < hi per variable ({n_vars}), got {list(ranges)}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    lo, hi = torch.tensor(spans, dtype=dtype).T
    gen = torch.Generator().manual_seed(seed)
    unit = torch.rand(n_samples, n_vars, generator=gen, dtype=dtype)
    if n_vars <= MAX_CORNER_VARIABLES:  # hidden values often peak at a corner of the box, which random points miss
        corners = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=dtype)] * n_vars).reshape(-1, n_vars)
        unit = torch.cat([unit, corners])
    return lo + (hi - lo) * unit
