import importlib.util
import os

import pytest
import torch

ENGINES = {"pyoperon": "sr", "snappy": "knots", "distributed": "distributed", "skfem": "fem", "triangle": "fem"}
"""Optional engines the tests use, and the kansci extra that installs each."""

REQUIRE_ENGINES = os.environ.get("KANSCI_REQUIRE_ENGINES", "") == "1"
"""Set KANSCI_REQUIRE_ENGINES=1 (as CI does) to fail, not skip, a test whose engine is missing."""


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(module): the test needs an optional engine (see tests/conftest.py)")


def require(module: str) -> None:
    """Skip the calling test when ``module`` is missing (fail under KANSCI_REQUIRE_ENGINES=1)."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f'needs {module}: pip install "kansci[{ENGINES[module]}]"'
    if REQUIRE_ENGINES:
        pytest.fail(f"{message} (KANSCI_REQUIRE_ENGINES=1 makes a missing engine an error)", pytrace=False)
    pytest.skip(message)


def pytest_runtest_setup(item):
    for marker in item.iter_markers(name="needs"):
        for module in marker.args:
            require(module)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield


def float64(*shape, seed=0, lo=-1.0, hi=1.0):
    gen = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=torch.float64)


@pytest.fixture
def one_thread():
    """Edge fits run many small ops: on a shared 2-core machine one thread is faster and steadier."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
