"""Symbolic-regression bridge: engines (pyoperon by default, PySR with Julia) and KAN-vs-engine cross-checks."""

from kansci.sr.base import (
    BEST_LOSS_FLOOR,
    BEST_LOSS_RATIO,
    Budget,
    Candidate,
    Engine,
    EngineResult,
    EngineUnavailable,
    clean,
    complexity,
)
from kansci.sr.crosscheck import (
    CONSTANT_SLACK,
    NUMERIC_AGREEMENT,
    VERDICTS,
    Agreement,
    CrossCheck,
    compare,
    crosscheck,
    markdown_table,
    symbolically_equal,
)
from kansci.sr.engines import ENGINES, get_engine
from kansci.sr.operon_engine import DEFAULT_OPERON_OPTIONS, OperonEngine
from kansci.sr.pysr_engine import PySREngine, pysr_unavailable_reason

__all__ = [
    "BEST_LOSS_FLOOR",
    "BEST_LOSS_RATIO",
    "CONSTANT_SLACK",
    "DEFAULT_OPERON_OPTIONS",
    "ENGINES",
    "NUMERIC_AGREEMENT",
    "VERDICTS",
    "Agreement",
    "Budget",
    "Candidate",
    "CrossCheck",
    "Engine",
    "EngineResult",
    "EngineUnavailable",
    "OperonEngine",
    "PySREngine",
    "clean",
    "compare",
    "complexity",
    "crosscheck",
    "get_engine",
    "markdown_table",
    "pysr_unavailable_reason",
    "symbolically_equal",
]
