"""pykan 0.2.8 (MultKAN, KAN 2.0) on the KAN paper's 27 dimensionless Feynman equations: the reference row.

kansci's Feynman study (``python -m kansci.studies.feynman``) asks how many of the
paper's dimensionless Feynman equations a KAN turns into the exact formula. This
script asks the same of the KAN authors' reference implementation, pykan 0.2.8
with multiplication nodes (Liu et al. 2024, "KAN 2.0", arXiv 2408.10205), run
with pykan's own documented formula-discovery recipe.

Two steps, two environments (pykan lives in a scratch venv that has no kansci):

1. With the project's environment, write the equations (id, variables, ranges,
   true formula) that ``kansci.datasets.feynman`` registers as
   ``feynman_dimless/<id>``::

       PYTHONPATH=. python benchmarks/bench_feynman_pykan.py --export feynman_dimless.json

2. With pykan's environment, run them (all 27, or some)::

       /tmp/pykanvenv/bin/python benchmarks/bench_feynman_pykan.py --spec feynman_dimless.json \\
           [--equations I.16.6 II.38.3 ...] [--steps 50] [--json pykan_feynman.json]

The recipe, per equation (seed 0, float64, 1000 training and 1000 test points
drawn uniformly in each variable's range by ``numpy.random.default_rng(seed)``):

* model: ``KAN(width=[n, [5, 2], 1], grid=5, k=3, base_fun="identity", seed=0)``,
  i.e. 5 sum nodes and 2 multiplication nodes in the hidden layer. The width and
  ``base_fun="identity"`` are those of pykan's MultKAN tutorial
  (``tutorials/Interp/Interp_1_Hello, MultKAN``, [2,[5,2],1]), widened to n inputs;
* ``fit(opt="LBFGS", steps=S, lamb=0.01, lamb_coef=1.0)``: sparsity as in that
  tutorial;
* ``prune()``, ``fit(steps=S)``, ``refine(10)``, ``fit(steps=S)``: the pruning and
  grid refinement of pykan's ``hellokan.ipynb``;
* ``auto_symbolic()`` with pykan's default library (every function it knows),
  ``fit(steps=S)``, ``symbolic_formula()``.

S (``--steps``) is 50 by default, as in ``hellokan.ipynb`` (the MultKAN tutorial
uses 20). Budgets are steps, not seconds. pykan's fits are still not bit-identical
from run to run on CPU (the first loss differs in the 14th digit, one thread, same
seeds), and LBFGS amplifies that: a verdict can change between runs (II.2.42 was
exact in one run and hit pykan's lstsq failure in the next).

Judging (the criterion of kansci's study, restated without kansci): a constant
of pykan's formula within 1e-3 (relative) of a constant of the truth becomes that
constant; then every constant of both is snapped (below 1e-4 in magnitude: 0;
within relative 1e-4 of p/q times 1, pi, 1/pi, sqrt(2 pi) or 1/sqrt(2 pi) with q <= 12: that number;
otherwise rounded to 4 significant digits) and the formula counts as
*symbolically* exact when sympy simplifies the difference to 0. It counts as
*numerically* exact when its largest error on the 1000 test points, relative to
the largest |f|, is below 1e-6. "exact" is either. Each equation runs in a
subprocess with a time limit (``--timeout``); exceptions and time-outs are
recorded, not fatal. Output: a markdown table and "exact: k of N" on stdout,
and all details with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from fractions import Fraction
from pathlib import Path

import numpy as np
import sympy

PRECISION = 4  # significant digits of a snapped constant
MAX_DENOMINATOR = 12  # largest q of a snapped p/q times a unit
UNITS = (sympy.Integer(1), sympy.pi, 1 / sympy.pi, sympy.sqrt(2 * sympy.pi), 1 / sympy.sqrt(2 * sympy.pi))
CONSTANT_SLACK = 1e-3  # a constant this close (relative) to one of the truth's is taken to be it
NUMERIC_EXACT = 1e-6  # largest test error relative to max |f| for a numerically exact formula
DEFAULT_SPEC = "feynman_dimless.json"


# --- step 1: the equations, written from kansci's registry (project environment) -----------------------------------


def export(path: str) -> None:
    """Write the dimensionless equations of ``kansci.datasets.feynman`` to ``path`` (JSON)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kansci.datasets import feynman, spec

    equations = []
    for equation_id in feynman.DIMENSIONLESS:
        s = spec(f"feynman_dimless/{equation_id}")
        equations.append(
            {
                "id": equation_id,
                "variables": list(s.variables),
                "ranges": [[float(lo), float(hi)] for lo, hi in s.ranges],
                "formula": sympy.sstr(s.expr),
                "output": s.output,
                "description": s.description,
            }
        )
    Path(path).write_text(json.dumps({"source": "kansci.datasets.feynman", "equations": equations}, indent=1) + "\n")
    print(f"wrote {len(equations)} equations to {path}")


# --- judging (plain sympy) -----------------------------------------------------------------------------------------


def snap_number(value: float) -> sympy.Expr:
    """0, a simple rational (times pi), or ``value`` to PRECISION significant digits."""
    tol = 10.0**-PRECISION
    if not math.isfinite(value):
        return sympy.Float(value)
    if abs(value) < tol:
        return sympy.Integer(0)
    if abs(value) < 10.0**PRECISION:
        for factor in UNITS:
            unit = float(factor)
            q = Fraction(value / unit).limit_denominator(MAX_DENOMINATOR)
            if q != 0 and abs(float(q) * unit - value) <= tol * abs(value):
                return sympy.Rational(q.numerator, q.denominator) * factor
    return sympy.Float(float(f"{value:.{PRECISION}g}"), PRECISION)


def snapped(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every float constant snapped (:func:`snap_number`)."""
    return expr.xreplace({f: snap_number(float(f)) for f in expr.atoms(sympy.Float)})


def readable(expr: sympy.Expr) -> sympy.Expr:
    """The snapped formula to show: expanded first when that does not make it longer."""
    plain = snapped(expr)
    expanded = snapped(as_floats(expr))
    return expanded if sympy.count_ops(expanded) <= sympy.count_ops(plain) else plain


def as_floats(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` expanded, with pi, sqrt(2), 1/2, ... written as floats (integers kept)."""
    expr = sympy.N(sympy.sympify(expr))
    return sympy.expand(expr.xreplace({r: sympy.Float(r) for r in expr.atoms(sympy.Rational) if not r.is_Integer}))


def symbolically_exact(expr: sympy.Expr, truth: sympy.Expr) -> bool:
    """Whether ``expr`` is ``truth`` once constants are matched to the truth's and snapped."""
    a, b = as_floats(expr), as_floats(truth)
    targets = [float(g) for g in b.atoms(sympy.Float)]
    matched = {}
    for f in a.atoms(sympy.Float):
        close = [g for g in targets if abs(float(f) - g) <= CONSTANT_SLACK * max(abs(float(f)), abs(g))]
        if close:
            matched[f] = sympy.Float(min(close, key=lambda g: abs(float(f) - g)))
    difference = sympy.expand(snapped(a.xreplace(matched)) - snapped(b))
    return difference == 0 or sympy.simplify(difference) == 0


def max_relative_error(expr: sympy.Expr, symbols: list[sympy.Symbol], x: np.ndarray, y: np.ndarray) -> float:
    """max |expr(x) - y| / max |y| on the rows of ``x`` (inf where the formula is not finite or not real)."""
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    with np.errstate(all="ignore"):
        values = np.asarray(fn(*x.T), dtype=np.complex128)
    values = np.broadcast_to(values, y.shape)
    if not np.all(np.isfinite(values)) or np.max(np.abs(values.imag)) > 0:
        return math.inf
    return float(np.max(np.abs(values.real - y)) / max(np.max(np.abs(y)), 1e-300))


# --- step 2: one equation with pykan (run in a subprocess of pykan's environment) ------------------------------------


def sample(equation: dict, seed: int, n_train: int, n_test: int):
    """Symbols, truth and uniform train / test points of one equation."""
    names = equation["variables"]
    symbols = [sympy.Symbol(name, real=True) for name in names]
    truth = sympy.sympify(equation["formula"], locals=dict(zip(names, symbols)))
    lows, highs = np.array(equation["ranges"], dtype=np.float64).T
    rng = np.random.default_rng(seed)
    x_train = rng.uniform(lows, highs, size=(n_train, len(names)))
    x_test = rng.uniform(lows, highs, size=(n_test, len(names)))
    fn = sympy.lambdify(symbols, truth, modules="numpy")
    y_train, y_test = (np.broadcast_to(np.asarray(fn(*x.T), dtype=np.float64), (len(x),)) for x in (x_train, x_test))
    return symbols, truth, x_train, y_train.copy(), x_test, y_test.copy()


def pykan_formula(
    x_train, y_train, x_test, y_test, symbols, steps: int, seed: int, workdir: str, record: dict, save=None
):
    """pykan's recipe (module docstring) on one dataset; its formula, unrounded.

    Adds to ``record`` the seconds of each stage, the pruned width and pykan's test RMSE before and after
    ``auto_symbolic``, calling ``save(record)`` after each stage (so a failure or time-out later leaves them).
    """
    import torch
    from kan import KAN

    torch.set_default_dtype(torch.float64)
    dataset = {
        "train_input": torch.tensor(x_train),
        "train_label": torch.tensor(y_train)[:, None],
        "test_input": torch.tensor(x_test),
        "test_label": torch.tensor(y_test)[:, None],
    }
    # refine() always checkpoints into ckpt_path; keep that in the scratch folder
    model = KAN(
        width=[len(symbols), [5, 2], 1],
        grid=5,
        k=3,
        base_fun="identity",
        seed=seed,
        auto_save=False,
        ckpt_path=workdir,
    )
    stages = record.setdefault("stage_seconds", {})
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        stages[name] = round(now - clock[0], 2)
        clock[0] = now
        if save is not None:
            save(record)

    def test_rmse() -> float:
        with torch.no_grad():
            return float(torch.sqrt(torch.mean((model(dataset["test_input"]) - dataset["test_label"]) ** 2)))

    model.fit(dataset, opt="LBFGS", steps=steps, lamb=0.01, lamb_coef=1.0)
    lap("fit_sparse")
    model = model.prune()
    record["pruned_width"] = str(model.width)
    lap("prune")
    model.fit(dataset, opt="LBFGS", steps=steps)
    lap("fit_pruned")
    model = model.refine(10)
    model.fit(dataset, opt="LBFGS", steps=steps)
    lap("fit_grid10")
    record["spline_test_rmse"] = test_rmse()
    model.auto_symbolic()
    lap("auto_symbolic")
    model.fit(dataset, opt="LBFGS", steps=steps)
    record["symbolic_test_rmse"] = test_rmse()
    lap("fit_symbolic")
    out = model.symbolic_formula(var=symbols)
    if out is None:  # pykan prints why: an edge is not symbolic
        raise RuntimeError("symbolic_formula() returned None (an activation is not symbolic)")
    return sympy.sympify(out[0][0])


def worker(args: argparse.Namespace) -> None:
    """One equation; writes its record to ``args.result`` (first the formula, then the verdict)."""
    import torch

    torch.set_num_threads(args.threads)
    equation = next(e for e in load_spec(args.spec) if e["id"] == args.worker)
    symbols, truth, x_train, y_train, x_test, y_test = sample(equation, args.seed, args.n_train, args.n_test)
    record = {"id": equation["id"], "truth": sympy.sstr(truth)}
    started = time.perf_counter()
    try:
        expr = pykan_formula(
            x_train,
            y_train,
            x_test,
            y_test,
            symbols,
            args.steps,
            args.seed,
            args.workdir,
            record,
            lambda r: write_record(args.result, r),
        )
    except Exception as err:  # pykan can fail (an all-pruned network, NaNs, ...): record it
        where = traceback.extract_tb(err.__traceback__)[-1]
        place = f"{Path(where.filename).parent.name}/{Path(where.filename).name}:{where.lineno} in {where.name}"
        record.update(seconds=time.perf_counter() - started, error=f"{type(err).__name__}: {err} ({place})")
        write_record(args.result, record)
        return
    record.update(seconds=time.perf_counter() - started, formula_raw=sympy.sstr(expr))
    write_record(args.result, record)  # kept if judging runs out of time
    judged = time.perf_counter()
    record["max_rel_error"] = max_relative_error(expr, symbols, x_test, y_test)
    record["formula"] = sympy.sstr(readable(expr))
    try:
        record["symbolic"] = bool(symbolically_exact(expr, truth))
    except Exception as err:
        record.update(symbolic=False, judge_error=f"{type(err).__name__}: {err}")
    record["numeric"] = record["max_rel_error"] < NUMERIC_EXACT
    record["exact"] = record["symbolic"] or record["numeric"]
    record["judge_seconds"] = time.perf_counter() - judged
    write_record(args.result, record)


def write_record(path: str, record: dict) -> None:
    Path(path).write_text(json.dumps(record, indent=1) + "\n")


def load_spec(path: str) -> list[dict]:
    if not Path(path).exists():
        sys.exit(
            f"{path} not found: write it first with the project environment, "
            f"PYTHONPATH=. python {Path(__file__).name} --export {path}"
        )
    return json.loads(Path(path).read_text())["equations"]


# --- driver --------------------------------------------------------------------------------------------------------


def run_one(equation_id: str, args: argparse.Namespace, workdir: str) -> dict:
    """Run one equation in a subprocess with a time limit; its record (with ``wall_seconds``)."""
    result = os.path.join(workdir, "result.json")
    log = os.path.join(workdir, "log.txt")
    command = [sys.executable, os.path.abspath(__file__), "--worker", equation_id, "--result", result]
    command += ["--workdir", workdir, "--spec", os.path.abspath(args.spec), "--steps", str(args.steps)]
    command += ["--seed", str(args.seed), "--threads", str(args.threads)]
    command += ["--n-train", str(args.n_train), "--n-test", str(args.n_test)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    started = time.perf_counter()
    timed_out = False
    with open(log, "w") as out:
        try:  # pykan writes checkpoints and progress bars; keep them in the scratch folder
            code = subprocess.run(
                command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=args.timeout
            )
            rc = code.returncode
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
    wall = time.perf_counter() - started
    record = json.loads(Path(result).read_text()) if Path(result).exists() else {"id": equation_id}
    record["wall_seconds"] = wall
    if timed_out:
        stage = "judging" if "formula_raw" in record else "pykan"
        record.setdefault("error", f"time limit {args.timeout:.0f} s reached during {stage}")
    elif rc != 0 or "seconds" not in record:
        tail = Path(log).read_text(errors="replace").strip().splitlines()[-3:]
        record.setdefault("error", f"worker exit code {rc}: " + " / ".join(tail))
    record.setdefault("exact", False)
    return record


def cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def verdict(record: dict) -> str:
    if "error" in record and "formula_raw" not in record:
        return "error"
    if not record.get("exact"):
        return "no" if "symbolic" in record else "not judged"
    kinds = [k for k in ("symbolic", "numeric") if record.get(k)]
    return "yes (" + ", ".join(kinds) + ")"


def table(records: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"pykan {pykan_version()} MultKAN [n,[5,2],1], grid 5 -> 10, k 3, seed {args.seed}, "
        f"{args.steps} LBFGS steps per fit, {args.n_train} train / {args.n_test} test points",
        "",
        "| equation | truth | pykan formula | exact | max rel error | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        formula = r.get("formula") or r.get("formula_raw") or r.get("error", "")
        err = r.get("max_rel_error")
        err_text = "-" if err is None else f"{err:.1e}"
        seconds = r.get("seconds", r["wall_seconds"])
        lines.append(
            f"| {r['id']} | {cell(r.get('truth', ''))} | {cell(formula)} | {verdict(r)} | {err_text} | {seconds:.0f} |"
        )
    exact = sum(bool(r.get("exact")) for r in records)
    errors = [r for r in records if "error" in r]
    lines += ["", f"exact: {exact} of {len(records)}"]
    if errors:
        lines.append("errors: " + "; ".join(f"{r['id']}: {r['error']}" for r in errors))
    return "\n".join(lines)


def pykan_version() -> str:
    try:
        from importlib.metadata import version

        return version("pykan")
    except Exception:
        return "(not installed)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", metavar="PATH", help="write the equations from kansci (project env) and stop")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help=f"equations JSON from --export (default {DEFAULT_SPEC})")
    parser.add_argument("--equations", nargs="+", help="ids to run (default: all in the spec)")
    parser.add_argument("--steps", type=int, default=50, help="LBFGS steps of each of the four fits (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="model and data seed (default 0)")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per equation (default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per equation (default 3600)")
    parser.add_argument("--json", metavar="PATH", help="also write every record to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.export:
        export(args.export)
        return
    if args.worker:
        worker(args)
        return
    known = [e["id"] for e in load_spec(args.spec)]
    ids = args.equations or known
    unknown = sorted(set(ids) - set(known))
    if unknown:
        sys.exit(f"unknown equations {unknown}; the spec has {known}")
    records = []
    started = time.perf_counter()
    for equation_id in ids:
        with tempfile.TemporaryDirectory(prefix="pykan_feynman_") as workdir:
            record = run_one(equation_id, args, workdir)
        records.append(record)
        print(
            f"{equation_id}: {verdict(record)}, {record.get('seconds', record['wall_seconds']):.0f} s "
            f"(wall {record['wall_seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    total = time.perf_counter() - started
    print(table(records, args))
    print(f"total wall time: {total:.0f} s")
    if args.json:
        settings = {k: getattr(args, k) for k in ("steps", "seed", "n_train", "n_test", "threads", "timeout")}
        payload = {"pykan": pykan_version(), "settings": settings, "total_seconds": total, "records": records}
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
