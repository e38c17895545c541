"""Edges of a KAN layer fixed to a symbolic function ``c * f(a*x + b) + d``.

A :class:`SymbolicEdges` module lives inside every :class:`~kansci.core.layer.KANLayer`
and holds only the edges that were snapped: their (input, output) indices, the
trainable affine parameters ``(a, b, c, d)`` and the function names. A layer
without symbolic edges carries empty tensors, so parameter counts and speed are
unchanged. The spline of a snapped edge is kept (masked off) so the edge can be
un-fixed again.

Functions are looked up by name in :mod:`kansci.symbolic.library` (built-ins
plus user-registered ones); the forward pass evaluates their singularity-safe
variant, so training never meets a pole or a NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from kansci.symbolic.library import SymbolicFunction

__all__ = ["SymbolicEdges"]


def _lookup(name: str) -> SymbolicFunction:
    from kansci.symbolic.library import get  # the library imports nothing from core; imported lazily

    return get(name)[name]


def _is_registered(name: str, function: SymbolicFunction) -> bool:
    from kansci.symbolic.library import get

    return get().get(name) is function


class SymbolicEdges(nn.Module):
    """The symbolic edges of one layer.

    Attributes
    ----------
    edges : Tensor of int64, shape (n, 2)
        ``(input, output)`` index of every symbolic edge.
    affine : Parameter, shape (n, 4)
        ``(a, b, c, d)`` of every symbolic edge; trainable.
    names : list of str
        Function name of every symbolic edge.
    """

    def __init__(self, in_features: int, out_features: int, *, dtype=None, device=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("edges", torch.zeros(0, 2, dtype=torch.long, device=device))
        self.affine = nn.Parameter(torch.zeros(0, 4, dtype=dtype or torch.get_default_dtype(), device=device))
        self.names: list[str] = []
        self._functions: list[SymbolicFunction] = []

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self) -> dict:
        # a function found in the registry under its name travels by that name (the built-ins are closures,
        # users register lambdas), so pickling, torch.save and deepcopy of a snapped model work; a function
        # object that was never registered travels as itself (deepcopy keeps it; pickling needs it picklable)
        state = self.__dict__.copy()
        state["_functions"] = [n if _is_registered(n, f) else f for n, f in zip(self.names, self._functions)]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        # an unknown name raises ValueError naming kansci.symbolic.register
        self._functions = [_lookup(f) if isinstance(f, str) else f for f in self._functions]

    # ----------------------------------------------------------------- edits
    def index(self, i: int, o: int) -> int | None:
        """Row of edge (i, o), or None if the edge is numeric."""
        for row, (ei, eo) in enumerate(self.edges.tolist()):
            if ei == i and eo == o:
                return row
        return None

    @torch.no_grad()
    def set(self, i: int, o: int, function: SymbolicFunction | str, params: Sequence[float]) -> None:
        """Fix edge (i, o) to ``c * f(a*x + b) + d`` with ``params = (a, b, c, d)``."""
        if not (0 <= i < self.in_features and 0 <= o < self.out_features):
            raise IndexError(
                f"edge ({i}, {o}) is outside this layer of {self.in_features} inputs and {self.out_features} outputs"
            )
        fn = _lookup(function) if isinstance(function, str) else function
        values = torch.as_tensor([float(p) for p in params], dtype=self.affine.dtype, device=self.affine.device)
        if values.shape != (4,) or not bool(torch.isfinite(values).all()):
            raise ValueError(f"params must be four finite numbers (a, b, c, d), got {list(params)}")
        row = self.index(i, o)
        if row is None:
            edge = torch.tensor([[i, o]], dtype=torch.long, device=self.edges.device)
            self._rebuild(torch.cat([self.edges, edge]), torch.cat([self.affine.detach(), values[None]]))
            self.names.append(fn.name)
            self._functions.append(fn)
        else:
            self.affine[row] = values
            self.names[row], self._functions[row] = fn.name, fn

    @torch.no_grad()
    def remove(self, i: int, o: int) -> bool:
        """Return edge (i, o) to its spline; False if it was not symbolic."""
        row = self.index(i, o)
        if row is None:
            return False
        keep = [r for r in range(len(self)) if r != row]
        self._rebuild(self.edges[keep], self.affine.detach()[keep])
        del self.names[row], self._functions[row]
        return True

    def _rebuild(self, edges: Tensor, affine: Tensor) -> None:
        self.edges = edges
        self.affine = nn.Parameter(affine.clone(), requires_grad=self.affine.requires_grad)

    @torch.no_grad()
    def subset(self, in_ids: Tensor, out_ids: Tensor) -> SymbolicEdges:
        """The symbolic edges between the kept nodes, re-indexed (for pruning)."""
        out = SymbolicEdges(len(in_ids), len(out_ids), dtype=self.affine.dtype, device=self.affine.device)
        new_in = {int(v): n for n, v in enumerate(in_ids.tolist())}
        new_out = {int(v): n for n, v in enumerate(out_ids.tolist())}
        for row, (i, o) in enumerate(self.edges.tolist()):
            if i in new_in and o in new_out:
                out.set(new_in[i], new_out[o], self._functions[row], self.affine[row].tolist())
        return out

    def numeric_mask(self, mask: Tensor) -> Tensor:
        """``mask`` with the symbolic edges switched off (the spline part's mask)."""
        if not len(self):
            return mask
        off = torch.zeros_like(mask)
        off[self.edges[:, 0], self.edges[:, 1]] = 1.0
        return mask * (1.0 - off)

    def functions(self) -> list[SymbolicFunction]:
        return list(self._functions)

    # -------------------------------------------------------------- evaluate
    def terms(self, x: Tensor, mask: Tensor, derivatives: int = 0) -> list[Tensor]:
        """``c * f(a*x_i + b) + d`` of every symbolic edge and its x-derivatives.

        Parameters
        ----------
        x : Tensor, shape (batch, in_features)
        mask : Tensor, shape (in_features, out_features)
            The layer's edge mask; a masked symbolic edge contributes zero.
        derivatives : int
            Also return the derivatives of orders 1 to ``derivatives``.

        Returns
        -------
        list of Tensor, each of shape (batch, n_symbolic)
            Value, then the requested derivatives with respect to x_i.
        """
        a, b, c, d = (self.affine[:, j] for j in range(4))
        on = mask[self.edges[:, 0], self.edges[:, 1]]
        u = x[:, self.edges[:, 0]] * a + b
        if derivatives == 0:
            z = torch.stack([self._functions[r].safe(u[:, r]) for r in range(len(self))], dim=1)
            return [(c * z + d) * on]
        parts = _derivatives(self._functions, u, derivatives)
        out = [parts[0] * c * on + d * on]
        return out + [parts[n] * c * a**n * on for n in range(1, derivatives + 1)]

    def summed(self, terms: Tensor) -> Tensor:
        """Per-edge terms summed into the outputs, shape (batch, out_features)."""
        out = terms.new_zeros(terms.shape[0], self.out_features)
        return out.index_add(1, self.edges[:, 1], terms)

    def scattered(self, terms: Tensor) -> Tensor:
        """Per-edge terms placed on a (batch, in_features, out_features) grid, zero elsewhere."""
        flat = self.edges[:, 0] * self.out_features + self.edges[:, 1]
        out = terms.new_zeros(terms.shape[0], self.in_features * self.out_features)
        return out.index_add(1, flat, terms).view(-1, self.in_features, self.out_features)

    # ------------------------------------------------------------- save/load
    def get_extra_state(self) -> dict:
        return {"names": list(self.names)}

    def set_extra_state(self, state: dict) -> None:
        names = list(state.get("names", []))
        if len(names) != self.edges.shape[0]:
            raise ValueError(f"{len(names)} symbolic names for {self.edges.shape[0]} symbolic edges")
        try:
            self._functions = [_lookup(n) for n in names]
        except ValueError as err:
            raise ValueError(
                f"this model has symbolic edges using a function unknown here ({err}); "
                "register it with kansci.symbolic.register before loading"
            ) from err
        self.names = names

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # resize to the incoming number of edges; checkpoints from before symbolic edges have none
        edges = state_dict.setdefault(prefix + "edges", torch.zeros(0, 2, dtype=torch.long))
        state_dict.setdefault(prefix + "affine", torch.zeros(0, 4, dtype=self.affine.dtype))
        state_dict.setdefault(prefix + "_extra_state", {"names": []})
        n = edges.shape[0]
        if n != len(self):  # keep the Parameter object when the shape fits: optimizers hold it
            self._rebuild(self.edges.new_zeros(n, 2), self.affine.detach().new_zeros(n, 4))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"({i},{o}):{n}" for (i, o), n in zip(self.edges.tolist(), self.names))


def _derivatives(functions: Sequence[SymbolicFunction], u: Tensor, order: int) -> list[Tensor]:
    """f(u), f'(u)[, f''(u)] per column of u by autograd through the elementwise safe functions.

    The result stays differentiable with respect to whatever u depends on (the
    affine parameters, earlier layers), so PDE residuals built on it train.
    """
    with torch.enable_grad():
        v = u if u.requires_grad else u.detach().requires_grad_(True)
        z = torch.stack([functions[r].safe(v[:, r]) for r in range(len(functions))], dim=1)
        out = [z]
        for _ in range(order):
            last = out[-1]
            dz = None
            if last.requires_grad:  # constant pieces (the function "0", the slope of "x") have no graph
                (dz,) = torch.autograd.grad(last.sum(), v, create_graph=True, allow_unused=True)
            out.append(torch.zeros_like(v) if dz is None else dz)
    return out
