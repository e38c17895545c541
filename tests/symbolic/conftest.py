"""Shared fixtures of the symbolic tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Edge fits run many small ops: on a shared 2-core machine one thread is faster and steadier."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
