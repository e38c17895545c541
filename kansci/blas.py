"""BLAS threading for many small dense solves (reference PDE solvers, exact diagonalization)."""

from __future__ import annotations

import contextlib

__all__ = ["single_threaded_blas"]


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread for the duration (threadpoolctl when installed).

    Small dense eigenproblems and matrix-vector products gain nothing from threads, and a
    threaded ``eig``/``eigh`` can be 20-50x slower on a loaded machine. The limit is restored on exit.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
