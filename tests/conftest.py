import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield


def float64(*shape, seed=0, lo=-1.0, hi=1.0):
    gen = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=torch.float64)
