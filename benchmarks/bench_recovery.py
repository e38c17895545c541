"""Formula recovery on the held-out fixture set (issue 22's generic-recovery target).

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_recovery.py             # all 12
    PYTHONPATH=. python benchmarks/bench_recovery.py --only 0 5  # some of them
    PYTHONPATH=. python benchmarks/bench_recovery.py --manual    # the paper's manual workflow instead

For each formula of ``tests/fixtures/recovery_formulas.py`` it runs
``kansci.discover(data, names)`` with its defaults on 1000 training points
(``--manual``: the paper's workflow, KAN [n,5,1], seed 1: 50 LBFGS steps with
sparsity 1e-2, prune, 50 steps, ``auto_symbolic``, 50 steps without grid
updates, ``formula``), in a subprocess with a time limit, and prints the
formula, its largest error on 2000 held-out points relative to the largest
|f|, and whether it is exact (below 1e-5 and sympy-equivalent to the truth
after snapping constants). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from tests.fixtures.recovery_formulas import FORMULAS

LIMIT_S = 900

ONE = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, sympy, torch
import kansci
from kansci.datasets.base import Dataset
from kansci.symbolic import auto_symbolic, formula
from tests.fixtures.recovery_formulas import FORMULAS

torch.set_num_threads(1)
f = FORMULAS[int(sys.argv[1])]
syms = sympy.symbols(f.variables)
truth = sympy.sympify(f.expression, locals=dict(zip(f.variables, syms)))
fn = sympy.lambdify(syms, truth, "numpy")


def sample(n, seed):
    rng = np.random.default_rng(seed)
    lo, hi = np.array(f.ranges).T
    x = lo + (hi - lo) * rng.random((n, len(syms)))
    return torch.tensor(x), torch.tensor(fn(*x.T)).reshape(-1, 1)


(xtr, ytr), (xte, yte), (xho, yho) = sample(1000, 0), sample(1000, 1), sample(2000, 2)
data = Dataset(xtr, ytr, xte, yte)
started = time.perf_counter()
out = {"name": f.name, "truth": f.expression}
try:
    if sys.argv[2] == "manual":
        model = kansci.KAN([len(syms), 5, 1], grid=5, seed=1, dtype=torch.float64)
        kansci.fit(model, data, steps=50, lamb=1e-2, progress=False)
        model = kansci.prune(model, data.train_input)
        kansci.fit(model, data, steps=50, progress=False)
        auto_symbolic(model, data)
        kansci.fit(model, data, steps=50, update_grid=False, progress=False)
        expr = formula(model, list(f.variables))[0]
    else:
        found = kansci.discover(data, list(f.variables))
        expr = found.expression if found.expression is not None else sympy.nan
        out["shape"] = str(found.trials[-1].shape)
    by_name = {s.name: s for s in syms}
    expr = expr.subs({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})
    got = sympy.lambdify(syms, expr, "numpy")(*xho.numpy().T)
    err = float(np.max(np.abs(got - yho.numpy()[:, 0])) / np.max(np.abs(yho.numpy())))
    snapped = sympy.nsimplify(expr, tolerance=1e-6, rational=False)
    exact = err < 1e-5 and sympy.simplify(snapped - truth) == 0
    out |= {"formula": str(expr), "max_rel_error": err, "exact": bool(exact)}
except Exception as error:
    out |= {"error": f"{type(error).__name__}: {error}"[:200]}
out["seconds"] = round(time.perf_counter() - started, 1)
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, nargs="*", help="indices into the fixture set")
    parser.add_argument("--manual", action="store_true", help="the paper's manual workflow instead of discover")
    args = parser.parse_args()
    indices = args.only if args.only else range(len(FORMULAS))
    print("| formula | recovered | exact | max rel. error | s |")
    print("|---|---|---|---|---|")
    exact = 0
    for i in indices:
        try:
            mode = "manual" if args.manual else "discover"
            command = [sys.executable, "-c", ONE, str(i), mode]
            run = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT_S)
            lines = run.stdout.strip().splitlines()
            row = json.loads(lines[-1]) if lines else {"error": run.stderr[-200:]}
        except subprocess.TimeoutExpired:
            row = {"error": f"no result within {LIMIT_S} s"}
        exact += bool(row.get("exact"))
        shown = row.get("formula", row.get("error", ""))[:80]
        err = f"{row['max_rel_error']:.1e}" if "max_rel_error" in row else "—"
        print(f"| {FORMULAS[i].expression} | {shown} | {row.get('exact', False)} | {err} | {row.get('seconds', '—')} |")
    print(f"\nexact: {exact} of {len(list(indices))}")


if __name__ == "__main__":
    main()
