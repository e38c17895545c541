"""Edge fits are reproducible: the same constants in every process, whatever the thread count."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kansci.symbolic.fit import _least_squares

ROOT = Path(__file__).resolve().parents[2]

# an x^2 fit is degenerate in (a, b, c, d), so its Levenberg-Marquardt steps are ill-conditioned: when they were
# solved by LAPACK these constants differed by 1e-9 relative between 1 and 2 threads (arctan 5e-11, tanh 3e-12)
CHILD = """
import torch
from kansci.symbolic import fit_affine
gen = torch.Generator().manual_seed(0)
x = torch.rand(512, generator=gen, dtype=torch.float64) * 4 - 2
noise = 0.01 * torch.randn(512, generator=gen, dtype=torch.float64)
y = 0.8 * torch.exp(-((1.3 * x - 0.6) ** 2)) + 0.05 * x + noise
print(torch.get_num_threads())
for name in ("x^2", "sin", "tanh", "arctan"):
    fit = fit_affine(x, y, name, grid_points=21, refine_steps=20)
    print(name, repr(fit.a), repr(fit.b), repr(fit.c), repr(fit.d))
"""


def _constants_in_a_fresh_process(threads: int) -> dict[str, list[float]]:
    env = {key: value for key, value in os.environ.items() if key not in {"MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"}}
    env["OMP_NUM_THREADS"] = str(threads)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", CHILD], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    first, *lines = done.stdout.splitlines()
    assert int(first) == threads  # torch really ran with that many threads
    return {name: [float(value) for value in values] for name, *values in (line.split() for line in lines)}


def test_fit_constants_agree_across_processes_and_thread_counts():
    one, two = _constants_in_a_fresh_process(1), _constants_in_a_fresh_process(2)
    assert list(one) == ["x^2", "sin", "tanh", "arctan"]
    for name, constants in one.items():
        for a, b in zip(constants, two[name], strict=True):
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0), (name, a, b)


@pytest.mark.parametrize("spread", [1.0, 1e-3, 1e-6])
def test_least_squares_matches_lapack(spread):
    """Householder QR against LAPACK's SVD solver on damped systems like a Levenberg-Marquardt step's."""
    gen = torch.Generator().manual_seed(0)
    matrix = torch.randn(516, 4, generator=gen, dtype=torch.float64)
    matrix[:, 1] = matrix[:, 0] + spread * matrix[:, 1]  # nearly collinear columns, as a and b of exp or x^2
    matrix = torch.cat([matrix, 1e-3 * torch.eye(4, dtype=torch.float64)])
    rhs = torch.randn(520, generator=gen, dtype=torch.float64)
    reference = torch.linalg.lstsq(matrix, rhs[:, None], driver="gelsd").solution[:, 0]
    # measured: 8e-16, 2e-13, 4e-12 relative; LAPACK's own error grows the same way (condition 1e3 at 1e-6)
    torch.testing.assert_close(_least_squares(matrix, rhs), reference, rtol=1e-10, atol=0.0)
    solution32 = _least_squares(matrix.float(), rhs.float())
    assert solution32.dtype == torch.float32


def test_least_squares_of_a_rank_deficient_matrix_is_not_finite():
    matrix = torch.zeros(10, 3, dtype=torch.float64)
    matrix[:, 0], matrix[:, 2] = 1.0, torch.arange(10.0, dtype=torch.float64)
    assert not bool(torch.isfinite(_least_squares(matrix, torch.ones(10, dtype=torch.float64))).all())
