"""Symbolic-regression engines by name.

- ``"operon"`` (default): :class:`~kansci.sr.operon_engine.OperonEngine`, genetic
  programming in C++ (pyoperon; ``pip install "kansci[sr]"``), works offline.
- ``"pysr"``: :class:`~kansci.sr.pysr_engine.PySREngine`, where PySR and a Julia
  runtime are installed (``pip install "kansci[pysr]"`` plus Julia).

Both follow the :class:`~kansci.sr.base.Engine` protocol and clean their output
the same way (:mod:`kansci.sr.base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kansci.sr.base import Engine
from kansci.sr.operon_engine import OperonEngine
from kansci.sr.pysr_engine import PySREngine

__all__ = ["ENGINES", "get_engine"]

ENGINES: Mapping[str, type] = MappingProxyType({"operon": OperonEngine, "pysr": PySREngine})
"""Engine classes by name; ``"operon"`` is the default."""


def get_engine(name: str = "operon", **options: Any) -> Engine:
    """The engine called ``name``, built with ``options`` (see :data:`ENGINES`).

    Raises
    ------
    ValueError
        For an unknown name.
    EngineUnavailable
        If the engine's package or runtime is missing.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose from {sorted(ENGINES)} ('operon' is the default)")
    return ENGINES[name](**options)
