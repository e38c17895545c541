"""Core speed and memory benchmark of kansci against a plain MLP and pykan.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_core.py            # full run (a few minutes)
    PYTHONPATH=. python benchmarks/bench_core.py --quick    # fewer repeats
    PYTHONPATH=. python benchmarks/bench_core.py --device cuda --json results.json

What it measures (all numbers come from this one run; nothing is asserted):

1. Time of one training step (zero_grad, forward, loss = mean(out**2),
   backward) on a fresh copy of the batch (so kansci's kept input design,
   which serves full-batch fits, is not used), median over repeats after
   warmup, in float32 and float64, for
   KAN [2,5,1] at batch 1000 and 10000, KAN [4,10,10,1] at batch 10000 with
   G = 5, 50, 200, and a single 100->100 KANLayer at batch 1024. kansci, the
   MLP and pykan take turns step by step, so their ratios survive changes in
   machine load better than their absolute times do.
2. The same step for a plain MLP (nn.Linear + SiLU) with the same input and
   output sizes, max(1, n_kan_layers - 1) hidden layers of one width h, h
   chosen so that its parameter count is closest to the KAN's.
3. Peak memory rise of one training step of the 100->100 layer at batch 4096
   against its MLP, each in a fresh subprocess (VmHWM after resetting it via
   /proc/self/clear_refs, with glibc malloc set to return freed blocks;
   torch.cuda.max_memory_allocated on CUDA).
4. Wall time of ``fit`` (50 LBFGS steps, [2,5,1], 1000 points of
   exp(sin(pi x) + y^2), float64) for kansci and, when importable,
   pykan 0.2.8 (alternating, best of 2; 1 with --quick), plus pykan's
   per-step time for the configurations of (1).

torch's thread count is left at its default and printed. The load average
is printed too: other busy processes distort every timing.

pykan is optional: install it in a scratch environment with
``pip install pykan==0.2.8`` and run this script from there with PYTHONPATH
pointing at this repository.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import torch
from torch import nn

from kansci import KAN, KANLayer, fit
from kansci.datasets import from_function

DTYPES = {"float32": torch.float32, "float64": torch.float64}
MEM_BATCH = 4096


# --------------------------------------------------------------------- configs
@dataclass(frozen=True)
class StepConfig:
    """One forward+backward timing configuration."""

    name: str
    width: tuple[int, ...]
    batch: int
    grid: int = 5
    single_layer: bool = False  # a bare KANLayer instead of a KAN

    @property
    def n_layers(self) -> int:
        return len(self.width) - 1


STEP_CONFIGS = [
    StepConfig("[2,5,1] b=1000", (2, 5, 1), 1000),
    StepConfig("[2,5,1] b=10000", (2, 5, 1), 10000),
    StepConfig("[4,10,10,1] b=10000 G=5", (4, 10, 10, 1), 10000, grid=5),
    StepConfig("[4,10,10,1] b=10000 G=50", (4, 10, 10, 1), 10000, grid=50),
    StepConfig("[4,10,10,1] b=10000 G=200", (4, 10, 10, 1), 10000, grid=200),
    StepConfig("layer 100->100 b=1024", (100, 100), 1024, single_layer=True),
]


@dataclass(frozen=True)
class Repeats:
    """How many timed steps one measurement takes."""

    warmup: int
    min_reps: int
    max_reps: int
    budget_s: float  # stop adding repeats past this much timed time (once min_reps are done)


def repeat_plan(quick: bool) -> dict[str, Repeats]:
    """Repeats for kansci and the MLP ("fast") and for pykan, whose steps can
    take tens of seconds (G=200), so it may get a single timed call."""
    if quick:
        return {
            "fast": Repeats(warmup=1, min_reps=3, max_reps=10, budget_s=0.3),
            "pykan": Repeats(warmup=1, min_reps=1, max_reps=3, budget_s=0.5),
        }
    return {
        "fast": Repeats(warmup=3, min_reps=5, max_reps=60, budget_s=2.0),
        "pykan": Repeats(warmup=1, min_reps=1, max_reps=15, budget_s=3.0),
    }


# ---------------------------------------------------------------------- models
def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mlp_param_count(n_in: int, n_out: int, hidden_layers: int, h: int) -> int:
    return (n_in + 1) * h + (hidden_layers - 1) * (h + 1) * h + (h + 1) * n_out


def matched_mlp(n_in: int, n_out: int, n_kan_layers: int, target: int, dtype, device) -> nn.Sequential:
    """nn.Linear + SiLU MLP whose parameter count is closest to ``target``."""
    hidden_layers = max(1, n_kan_layers - 1)
    best_h, h = 1, 1
    while True:
        if abs(mlp_param_count(n_in, n_out, hidden_layers, h) - target) < abs(
            mlp_param_count(n_in, n_out, hidden_layers, best_h) - target
        ):
            best_h = h
        if mlp_param_count(n_in, n_out, hidden_layers, h) > target:
            break
        h += 1
    sizes = [n_in] + [best_h] * hidden_layers
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.SiLU()]
    layers.append(nn.Linear(sizes[-1], n_out))
    torch.manual_seed(0)
    mlp = nn.Sequential(*layers).to(dtype=dtype, device=device)
    mlp.hidden_width = best_h  # type: ignore[attr-defined]
    return mlp


def build_kansci(cfg: StepConfig, dtype, device) -> nn.Module:
    if cfg.single_layer:
        return KANLayer(cfg.width[0], cfg.width[1], grid=cfg.grid, k=3, dtype=dtype, device=device)
    return KAN(list(cfg.width), grid=cfg.grid, k=3, seed=0, dtype=dtype, device=device)


def make_input(cfg_width0: int, batch: int, dtype, device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return (torch.rand(batch, cfg_width0, generator=gen, dtype=dtype) * 2 - 1).to(device)


# ---------------------------------------------------------------------- timing
def synchronizer(device: torch.device):
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def train_step(model: nn.Module, x: torch.Tensor):
    # A fresh copy of the batch each step, as minibatches come: kansci's input layer keeps the design
    # matrix of a tensor it has seen (what a full-batch fit feeds it), and a step should not time that.
    def step() -> None:
        model.zero_grad(set_to_none=True)
        out = model(x.clone())
        loss = out.square().mean()
        loss.backward()

    return step


def time_interleaved(steps: dict[str, tuple], sync) -> dict[str, tuple[float, int]]:
    """Median seconds per call of each ``{name: (step, Repeats)}`` and its repeat count.

    After the warmups the steps take turns, one call each per round, so that
    a change in machine load hits all of them alike and their ratios hold.
    """
    for step, reps in steps.values():  # warmup; slow steps stop early, past budget_s
        t0 = time.perf_counter()
        for _ in range(reps.warmup):
            step()
            sync()
            if time.perf_counter() - t0 > reps.budget_s:
                break
    times: dict[str, list[float]] = {name: [] for name in steps}

    def wants_more(name: str) -> bool:
        t, reps = times[name], steps[name][1]
        return len(t) < reps.max_reps and (len(t) < reps.min_reps or sum(t) < reps.budget_s)

    while any(wants_more(name) for name in steps):
        for name, (step, _) in steps.items():
            if wants_more(name):
                t0 = time.perf_counter()
                step()
                sync()
                times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(t), len(t)) for name, t in times.items()}


# ----------------------------------------------------------------------- pykan
def import_pykan():
    """pykan's KAN class and version, or (None, reason)."""
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            from kan import KAN as PyKAN  # noqa: N811
    except Exception as err:  # ImportError, or a broken install
        return None, f"{type(err).__name__}: {err}"
    try:
        from importlib.metadata import version

        ver = version("pykan")
    except Exception:
        ver = "unknown"
    return PyKAN, ver


@contextlib.contextmanager
def pykan_env(dtype):
    """pykan builds its tensors in the default dtype, writes ./model and prints:
    run it with that default dtype, in a temporary directory, silenced."""
    old_dtype, old_cwd = torch.get_default_dtype(), os.getcwd()
    with tempfile.TemporaryDirectory(prefix="bench_pykan_") as tmp, open(os.devnull, "w") as null:
        torch.set_default_dtype(dtype)
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
                yield
        finally:
            os.chdir(old_cwd)
            torch.set_default_dtype(old_dtype)


def pykan_step(model, x: torch.Tensor, dtype):
    """A training step of a pykan model, run in the dtype it was built in, silenced."""
    step = train_step(model, x)

    def run() -> None:
        old = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                step()
        finally:
            torch.set_default_dtype(old)

    return run


def build_pykan(PyKAN, cfg: StepConfig, device):
    model = PyKAN(width=list(cfg.width), grid=cfg.grid, k=3, seed=0, device=str(device))
    # The state pykan's own fit() trains in (lamb=0, no symbolic functions):
    # without this model(x) also stores every activation for plotting.
    model.save_act = False
    model.symbolic_enabled = False
    return model


# -------------------------------------------------------------- memory (child)
def read_status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_child(kind: str, dtype_name: str, device_name: str) -> None:
    """Runs in a fresh process: print one JSON line with the step's memory rise."""
    import resource

    dtype, device = DTYPES[dtype_name], torch.device(device_name)
    cfg = StepConfig("layer 100->100", (100, 100), MEM_BATCH, single_layer=True)
    kan = build_kansci(cfg, dtype, device)
    if kind == "kan":
        model = kan
    else:
        model = matched_mlp(100, 100, 1, n_params(kan), dtype, device)
        del kan
    x = make_input(100, MEM_BATCH, dtype, device)
    step = train_step(model, x)
    sync = synchronizer(device)
    for _ in range(2):
        step()
    sync()
    gc.collect()
    result: dict = {"kind": kind, "dtype": dtype_name, "params": n_params(model)}
    try:
        base_kib = read_status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        method = "VmHWM after clear_refs reset"
    except OSError as err:
        base_kib = read_status_kib("VmRSS") if os.path.exists("/proc/self/status") else 0
        method = f"ru_maxrss (clear_refs failed: {err}; peak since process start, an upper bound)"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        cuda_base = torch.cuda.memory_allocated(device)
    step()
    sync()
    if method.startswith("VmHWM"):
        peak_kib = read_status_kib("VmHWM")
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result.update(method=method, rss_base_mib=base_kib / 1024, rss_rise_mib=(peak_kib - base_kib) / 1024)
    if device.type == "cuda":
        result["cuda_rise_mib"] = (torch.cuda.max_memory_allocated(device) - cuda_base) / 2**20
    print(json.dumps(result))


# glibc malloc keeps freed blocks (its mmap threshold grows after the first large
# free), so after warmup a step reuses memory already counted in the baseline
# RSS and its rise reads as ~0. A fixed threshold makes every block >= 64 KiB its
# own mapping, returned to the kernel on free, so the rise is the step's own.
CHILD_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536"}


def run_memory_child(kind: str, dtype_name: str, device_name: str) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--_memory-child",
        kind,
        "--dtype",
        dtype_name,
        "--device",
        device_name,
    ]
    env = {**os.environ, **CHILD_MALLOC_ENV}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {kind} {dtype_name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------ fit
def fit_target(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)


class CallCounter:
    """Counts forward calls of a module (a rough measure of the work fit did).

    Wraps the instance's ``forward`` rather than using a hook: pykan's fit
    calls ``self.forward(...)`` directly, which bypasses hooks.
    """

    def __init__(self, module: nn.Module) -> None:
        self.n = 0
        inner = module.forward

        def counted(*args, **kwargs):
            self.n += 1
            return inner(*args, **kwargs)

        module.forward = counted


# Each library first fits a throwaway model for 2 steps, untimed: the first
# torch optimizer built in a process imports torch._dynamo (seconds), which
# would otherwise land on whichever library is timed first.
def time_kansci_fit(data, device, warmup: bool) -> dict:
    if warmup:
        fit(KAN([2, 5, 1], grid=5, k=3, seed=0, dtype=torch.float64, device=device), data, steps=2, progress=False)
    model = KAN([2, 5, 1], grid=5, k=3, seed=0, dtype=torch.float64, device=device)
    counter = CallCounter(model)
    sync = synchronizer(device)
    t0 = time.perf_counter()
    history = fit(model, data, steps=50, opt="lbfgs", progress=False, update_grid=True)
    sync()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "train_rmse": history.train_rmse[-1], "forward_calls": counter.n}


def time_pykan_fit(PyKAN, data, device, warmup: bool) -> dict:
    dataset = {
        "train_input": data.train_input.to(device),
        "train_label": data.train_label.to(device),
        "test_input": data.test_input.to(device),
        "test_label": data.test_label.to(device),
    }
    with pykan_env(torch.float64):
        if warmup:
            PyKAN(width=[2, 5, 1], grid=5, k=3, seed=0, device=str(device)).fit(dataset, opt="LBFGS", steps=2)
        model = PyKAN(width=[2, 5, 1], grid=5, k=3, seed=0, device=str(device))
        counter = CallCounter(model)
        sync = synchronizer(device)
        t0 = time.perf_counter()
        results = model.fit(dataset, opt="LBFGS", steps=50)
        sync()
        seconds = time.perf_counter() - t0
    # pykan's train_loss is an RMSE
    return {"seconds": seconds, "train_rmse": float(results["train_loss"][-1]), "forward_calls": counter.n}


# ---------------------------------------------------------------------- report
def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def target_line(label: str, value: float | None, limit: float, unavailable: str = "not measured") -> dict:
    if value is None:
        verdict, shown = "n/a", unavailable
    else:
        verdict, shown = ("PASS" if value <= limit else "MISS"), f"{value:.3f}"
    print(f"  {verdict:4s}  {label}: {shown} (target <= {limit:g})")
    return {"label": label, "value": value, "target": limit, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", metavar="PATH", help="write every number to this JSON file")
    parser.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_child:
        memory_child(args.memory_child, args.dtype, args.device)
        return

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda given but torch.cuda.is_available() is False")
    sync = synchronizer(device)
    plan = repeat_plan(args.quick)
    PyKAN, pykan_info = import_pykan()
    have_pykan = PyKAN is not None
    t_start = time.perf_counter()

    report: dict = {
        "meta": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(device),
            "num_threads": torch.get_num_threads(),
            "quick": args.quick,
            "pykan": pykan_info if have_pykan else None,
            "pykan_step_mode": "save_act=False, symbolic_enabled=False (as in pykan's own fit)",
        },
        "steps": [],
    }
    print("kansci core benchmark")
    print(
        f"  torch {torch.__version__}, python {platform.python_version()}, device {device}, "
        f"torch.get_num_threads() = {torch.get_num_threads()}, os.cpu_count() = {os.cpu_count()}"
        + (", quick" if args.quick else "")
    )
    if have_pykan:
        print(f"  pykan {pykan_info} (steps timed with save_act=False, symbolic_enabled=False, as in its fit)")
    else:
        print(f"  pykan not installed: pip install pykan==0.2.8 in a scratch venv ({pykan_info})")
    load = os.getloadavg()
    report["meta"]["loadavg_start"] = load
    print(
        f"  load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "(other busy processes on the machine distort every timing)"
    )
    print()

    # ---------------------------------------------------- 1, 2 (and 4): steps
    print("Training step (zero_grad + forward + mean(out^2) + backward), median ms")
    header = (
        f"{'config':26s} {'dtype':7s} {'KAN par':>8s} {'MLP par':>8s} {'MLP h':>5s} "
        f"{'kansci':>9s} {'MLP':>8s} {'k/MLP':>6s} {'pykan':>9s} {'k/pykan':>7s}  reps k/m/p"
    )
    print(header)
    print("-" * len(header))
    for dtype_name, dtype in DTYPES.items():
        for cfg in STEP_CONFIGS:
            x = make_input(cfg.width[0], cfg.batch, dtype, device)
            kan = build_kansci(cfg, dtype, device)
            kan_params = n_params(kan)
            mlp = matched_mlp(cfg.width[0], cfg.width[-1], cfg.n_layers, kan_params, dtype, device)
            steps = {"kansci": (train_step(kan, x), plan["fast"]), "mlp": (train_step(mlp, x), plan["fast"])}
            pyk = None
            if have_pykan:
                with pykan_env(dtype):
                    pyk = build_pykan(PyKAN, cfg, device)
                steps["pykan"] = (pykan_step(pyk, x, dtype), plan["pykan"])
            timed = time_interleaved(steps, sync)
            (t_kan, r_kan), (t_mlp, r_mlp) = timed["kansci"], timed["mlp"]
            t_py, r_py = timed.get("pykan", (None, 0))
            del steps, kan, pyk
            row = {
                "config": cfg.name,
                "width": list(cfg.width),
                "batch": cfg.batch,
                "grid": cfg.grid,
                "single_layer": cfg.single_layer,
                "dtype": dtype_name,
                "kan_params": kan_params,
                "mlp_params": n_params(mlp),
                "mlp_hidden_width": mlp.hidden_width,
                "mlp_hidden_layers": max(1, cfg.n_layers - 1),
                "kansci_s": t_kan,
                "mlp_s": t_mlp,
                "pykan_s": t_py,
                "kansci_over_mlp": ratio(t_kan, t_mlp),
                "kansci_over_pykan": ratio(t_kan, t_py),
                "repeats": {"kansci": r_kan, "mlp": r_mlp, "pykan": r_py},
            }
            report["steps"].append(row)
            print(
                f"{cfg.name:26s} {dtype_name:7s} {kan_params:8d} {row['mlp_params']:8d} "
                f"{mlp.hidden_width:5d} {fmt_ms(t_kan):>9s} {fmt_ms(t_mlp):>8s} "
                f"{fmt_ratio(row['kansci_over_mlp']):>6s} {fmt_ms(t_py):>9s} "
                f"{fmt_ratio(row['kansci_over_pykan']):>7s}  {r_kan}/{r_mlp}/{r_py}",
                flush=True,
            )
            del mlp, x
            gc.collect()
    print()

    # ------------------------------------------------------------- 3: memory
    print(f"Peak memory rise of one training step, layer 100->100, batch {MEM_BATCH} (fresh process each)")
    memory = {}
    for dtype_name in DTYPES:
        kan_m = run_memory_child("kan", dtype_name, str(device))
        mlp_m = run_memory_child("mlp", dtype_name, str(device))
        key = "cuda_rise_mib" if device.type == "cuda" else "rss_rise_mib"
        memory[dtype_name] = {"kan": kan_m, "mlp": mlp_m, "measure": key, "ratio": ratio(kan_m[key], mlp_m[key])}
        line = (
            f"  {dtype_name}: KAN {kan_m[key]:.2f} MiB, MLP {mlp_m[key]:.2f} MiB, "
            f"ratio {fmt_ratio(memory[dtype_name]['ratio'])}  ({key}; params KAN {kan_m['params']}, "
            f"MLP {mlp_m['params']})"
        )
        if device.type == "cuda":
            line += f"; host RSS rise KAN {kan_m['rss_rise_mib']:.2f} MiB, MLP {mlp_m['rss_rise_mib']:.2f} MiB"
        print(line)
    methods = {m[k]["method"] for m in memory.values() for k in ("kan", "mlp")}
    print(
        f"  method: {'; '.join(sorted(methods))}; child env "
        + " ".join(f"{k}={v}" for k, v in CHILD_MALLOC_ENV.items())
    )
    report["memory"] = memory
    report["meta"]["memory_child_env"] = CHILD_MALLOC_ENV
    print()

    # ---------------------------------------------------------------- 4: fit
    print("fit: 50 LBFGS steps, [2,5,1], 1000 points of exp(sin(pi x) + y^2), float64")
    data = from_function(fit_target, 2, n_train=1000, n_test=1000, seed=0, dtype=torch.float64).to(device=device)
    # The libraries take turns, so a change in machine load hits both; best of the rounds.
    rounds = 1 if args.quick else 2
    runs_k, runs_p = [], []
    for i in range(rounds):
        runs_k.append(time_kansci_fit(data, device, warmup=i == 0))
        if have_pykan:
            runs_p.append(time_pykan_fit(PyKAN, data, device, warmup=i == 0))
    fit_k = min(runs_k, key=lambda r: r["seconds"])
    fit_k["all_seconds"] = [r["seconds"] for r in runs_k]
    print(
        f"  kansci: {fit_k['seconds']:.2f} s (best of {rounds}), final train RMSE {fit_k['train_rmse']:.3g}, "
        f"{fit_k['forward_calls']} forward calls"
    )
    fit_p = None
    if have_pykan:
        fit_p = min(runs_p, key=lambda r: r["seconds"])
        fit_p["all_seconds"] = [r["seconds"] for r in runs_p]
        print(
            f"  pykan:  {fit_p['seconds']:.2f} s (best of {rounds}), final train RMSE "
            f"{fit_p['train_rmse']:.3g}, {fit_p['forward_calls']} forward calls"
        )
        print(f"  kansci / pykan: {fit_k['seconds'] / fit_p['seconds']:.3f}")
    else:
        print("  pykan not installed: pip install pykan==0.2.8 in a scratch venv")
    report["fit"] = {
        "kansci": fit_k,
        "pykan": fit_p,
        "kansci_over_pykan": ratio(fit_k["seconds"], fit_p["seconds"] if fit_p else None),
    }
    print()

    # ------------------------------------------------------------ targets
    def step_row(name: str, dtype_name: str) -> dict:
        return next(r for r in report["steps"] if r["config"] == name and r["dtype"] == dtype_name)

    layer32 = step_row("layer 100->100 b=1024", "float32")
    deep32 = step_row("[4,10,10,1] b=10000 G=5", "float32")
    deep32_g200 = step_row("[4,10,10,1] b=10000 G=200", "float32")
    print("Targets")
    report["targets"] = [
        target_line("100->100 batch 1024 float32: step time ratio vs MLP", layer32["kansci_over_mlp"], 1.5),
        target_line("[4,10,10,1] batch 10000 float32: step time ratio vs MLP", deep32["kansci_over_mlp"], 6),
        target_line(
            "[4,10,10,1] batch 10000 float32: time at G=200 / time at G=5",
            ratio(deep32_g200["kansci_s"], deep32["kansci_s"]),
            2,
        ),
        target_line(
            f"100->100 batch {MEM_BATCH} float32: peak memory rise ratio vs MLP", memory["float32"]["ratio"], 2.2
        ),
        target_line(
            "fit 50 LBFGS steps [2,5,1] float64: kansci / pykan time",
            report["fit"]["kansci_over_pykan"],
            0.25,
            unavailable="pykan not installed: pip install pykan==0.2.8 in a scratch venv",
        ),
    ]
    total = time.perf_counter() - t_start
    report["meta"]["total_seconds"] = total
    report["meta"]["loadavg_end"] = os.getloadavg()
    print(f"\n(total {total:.0f} s; load average at end {os.getloadavg()[0]:.2f})")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
