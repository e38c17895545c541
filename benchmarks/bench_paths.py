"""Which evaluation path of a KAN layer is faster, by layer shape: the measurement behind ``POLYNOMIAL_UP_TO_OUTPUTS``.

Times forward + backward (sum of the outputs) of one ``KANLayer`` whose input
needs a gradient (a hidden layer in training), on the polynomial path and on
the path it would replace (dense below ``SPARSE_FROM_BASES`` bases, sparse
above), alternating, and prints the ratio polynomial / other for a range of
output widths. Nothing is asserted.

Run: ``PYTHONPATH=. python benchmarks/bench_paths.py [--quick]``
"""

from __future__ import annotations

import argparse
import time

import torch

from kansci.core.layer import POLYNOMIAL_UP_TO_OUTPUTS, SPARSE_FROM_BASES, KANLayer

# (batch, inputs, grid, output widths)
CASES = [
    (1000, 5, 5, (1, 2, 3, 4, 6, 10)),
    (10000, 10, 5, (1, 2, 3, 4, 6, 10)),
    (1000, 5, 50, (1, 2, 4, 10)),
    (10000, 10, 50, (1, 4, 10, 20, 50)),
    (10000, 10, 200, (1, 10, 50)),
    (1024, 100, 200, (1, 10, 100)),
]


def step_seconds(layer: KANLayer, x: torch.Tensor, repeats: int) -> float:
    """Best of three means over ``repeats`` forward + backward passes."""

    def step() -> None:
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).sum().backward()

    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the two smallest cases, float32 only")
    args = parser.parse_args()
    cases = CASES[:2] if args.quick else CASES
    dtypes = (torch.float32,) if args.quick else (torch.float32, torch.float64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; auto takes the polynomial path up to")
    print(
        f"{POLYNOMIAL_UP_TO_OUTPUTS[0]} output(s) on the dense range, {POLYNOMIAL_UP_TO_OUTPUTS[1]} on the sparse range"
    )
    print("forward + backward time, polynomial path / the other path (below 1: polynomial faster)")
    for dtype in dtypes:
        for batch, n_in, grid, widths in cases:
            other = "sparse" if grid + 3 > SPARSE_FROM_BASES else "dense"
            ratios = []
            for n_out in widths:
                gen = torch.Generator().manual_seed(0)
                x = (torch.rand(batch, n_in, generator=gen, dtype=dtype) * 2 - 1).requires_grad_()
                repeats = max(3, int(2e6 // (batch * n_in * max(n_out, 4))))
                times = {}
                for mode in ("polynomial", other):
                    layer = KANLayer(n_in, n_out, grid, 3, basis_mode=mode, generator=gen, dtype=dtype)
                    times[mode] = step_seconds(layer, x, repeats)
                ratios.append(f"out {n_out}: {times['polynomial'] / times[other]:.2f}")
            name = str(dtype).removeprefix("torch.")
            print(f"{name} batch {batch} in {n_in} G={grid} vs {other}: " + ", ".join(ratios), flush=True)


if __name__ == "__main__":
    main()
