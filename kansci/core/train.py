"""``fit``: the one training loop (data fitting and PDE loss closures alike)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from kansci.core.checks import as_integer, as_real
from kansci.core.io import check_state, model_record, read_checkpoint, state_copy, write_atomic
from kansci.core.lbfgs import LBFGS
from kansci.core.least_squares import DataResiduals, LeastSquares, fitted_parameters
from kansci.core.lm import LevenbergMarquardt
from kansci.core.model import KAN
from kansci.core.regularize import sparsity_penalty
from kansci.datasets.base import Dataset

__all__ = ["History", "fit", "rmse"]

log = logging.getLogger(__name__)

LossClosure = Callable[[nn.Module], "Tensor | tuple[Tensor, Mapping[str, Any]]"]
Callback = Callable[[int, nn.Module, "History"], Any]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per step.

    Attributes
    ----------
    step : list of int
    loss : list of float
        The objective (prediction loss + lamb * regularization).
    train_rmse, test_rmse : list of float
        Root mean squared error on the train / test split (Dataset input only;
        test entries are NaN on steps without evaluation).
    reg : list of float
        The sparsity penalty (before multiplying by lamb).
    parts : dict of str to list of float
        Loss components returned by a loss closure, and user metrics.
    status : str
        ``"completed"``, ``"stopped"`` (a callback asked) or ``"nan_restored"``
        (a non-finite loss or parameter appeared; the last good parameters were
        restored and training ended).
    events : list of str
        Grid updates, restores, resumes.
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_rmse: list[float] = field(default_factory=list)
    test_rmse: list[float] = field(default_factory=list)
    reg: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    status: str = "completed"
    events: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        return cls(**{k: (dict(v) if k == "parts" else list(v) if isinstance(v, list) else v) for k, v in d.items()})


def rmse(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Root mean squared error of ``model(x)`` against ``y``."""
    with torch.no_grad():
        return float((model(x) - y).square().mean().sqrt())


def _make_optimizer(params, opt: str, lr: float, lbfgs_iters: int) -> torch.optim.Optimizer:
    if opt == "lbfgs":
        return LBFGS(params, lr=lr, max_iter=lbfgs_iters, history_size=10)
    return torch.optim.Adam(params, lr=lr)


def _least_squares_optimizer(
    model: nn.Module, data: Dataset | LeastSquares, loss_fn, lamb: float, batch: int
) -> LevenbergMarquardt:
    """Levenberg-Marquardt on the residual rows, or an error naming what "lm" cannot fit."""
    if not isinstance(data, (Dataset, LeastSquares)) or loss_fn is not None or lamb > 0:
        raise ValueError(
            "opt='lm' fits a sum of squares: pass a Dataset (mean squared error) or a kansci.core.LeastSquares "
            "loss (such as a PDE's residuals), without loss_fn and lamb, or use opt='lbfgs'"
        )
    if isinstance(data, Dataset):
        if batch != -1 and batch < data.train_input.shape[0]:
            raise ValueError("opt='lm' uses every training sample at each step: pass batch=-1 or use opt='adam'")
        data = DataResiduals(data.train_input, data.train_label)
    system = data

    def residuals(rows: slice) -> Tensor:
        return system.residuals(model, rows)

    def jacobian(rows: slice) -> tuple[Tensor, dict[Tensor, Tensor]]:
        return system.jacobian(model, rows)

    closed_form = jacobian if system.has_jacobian(model) else None
    return LevenbergMarquardt(fitted_parameters(model), residuals, system.n_rows, jacobian=closed_form)


class _NonFiniteStart(Exception):
    """The first loss of a fit is not finite (raised inside the closure, turned into a ValueError by fit)."""

    def __init__(self, loss: float, step: int) -> None:
        super().__init__(loss, step)
        self.loss, self.step = loss, step


def _finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _check_data(model: nn.Module, data: Dataset) -> None:
    if isinstance(model, KAN):
        model.check_input(data.train_input, "train_input")
        model.check_input(data.test_input, "test_input")
        n_out = model.width[-1]
        if data.n_outputs != n_out:
            raise ValueError(f"labels have {data.n_outputs} columns but the model has {n_out} outputs")


def fit(
    model: nn.Module,
    data: Dataset | LossClosure,
    *,
    steps: int = 100,
    opt: Literal["lbfgs", "adam", "lm"] = "lbfgs",
    lr: float | None = None,
    batch: int = -1,
    lamb: float = 0.0,
    lamb_l1: float = 1.0,
    lamb_entropy: float = 2.0,
    reg_samples: int = 1024,
    update_grid: bool = True,
    grid_update_every: int = 5,
    stop_grid_update_step: int = 50,
    grid_samples: Tensor | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    metrics: Mapping[str, Callable[[nn.Module], float]] | None = None,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    resume: bool = False,
    lbfgs_iters: int = 20,
    eval_every: int = 1,
) -> History:
    """Train a model in place; return its history.

    Parameters
    ----------
    model : KAN or torch.nn.Module
        Trained in place. Grid updates and sparsity need a :class:`KAN`.
    data : Dataset, LeastSquares or callable
        A :class:`kansci.datasets.Dataset` (mean-squared-error fit of the
        labels); a :class:`kansci.core.least_squares.LeastSquares` loss, a sum
        of squares of residual rows (a PDE's, from :func:`kansci.pde.solve`),
        which every optimizer takes; or a loss closure ``data(model) -> loss``
        (or ``-> (loss, {name: value})`` to log components).
    steps : int
        Optimizer steps. One LBFGS step runs up to ``lbfgs_iters`` iterations
        with a strong-Wolfe line search; one "lm" step is one
        Levenberg-Marquardt iteration (one Jacobian).
    opt : {"lbfgs", "adam", "lm"}
        "lm" (:class:`kansci.core.lm.LevenbergMarquardt`) is for precision
        fits of small models (up to a few thousand parameters): a
        :class:`Dataset` with the default mean squared error, or a
        ``LeastSquares`` loss; full batch and no sparsity. It converges where LBFGS stalls (after grid extension, say);
        from a random start, LBFGS first is safer (see :mod:`kansci.core.lm`). A KAN's
        ``scale_spline`` (redundant with its coefficients) stays fixed.
    lr : float, optional
        Default 1.0 for LBFGS, 1e-3 for Adam; "lm" sets its own steps.
    batch : int
        Minibatch size drawn each step; -1 uses all training samples.
    lamb, lamb_l1, lamb_entropy : float
        Sparsity: ``lamb * (lamb_l1 * L1 + lamb_entropy * entropy)`` of the
        per-edge mean |phi| (measured on at most ``reg_samples`` samples).
    update_grid : bool
        Adapt the grids to the inputs every ``grid_update_every`` steps until
        ``stop_grid_update_step``. With a loss closure the samples come from
        ``grid_samples``; without them no update happens.
    loss_fn : callable, optional
        ``loss_fn(prediction, label)``; default mean squared error.
    metrics : dict of str to callable, optional
        ``metric(model) -> float`` evaluated every ``eval_every`` steps into
        ``history.parts``.
    progress : bool, optional
        Show a progress bar; None shows one only on an interactive terminal.
    callbacks : sequence of callable
        ``callback(step, model, history)`` after every step; a truthy return
        stops training (status ``"stopped"``).
    seed : int
        Seeds the minibatch draws.
    checkpoint : path, optional
        Written atomically every ``checkpoint_every`` steps and at the end
        (model, optimizer, history, step).
    resume : bool
        Continue from ``checkpoint`` if that file exists: an interrupted run
        loses at most ``checkpoint_every`` steps.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        On mismatched data and model, unknown optimizer, or bad settings (each message names the fix);
        or when the loss is not finite at the starting parameters, so that there is nothing to train
        from (the parameters are then left as they were before the call).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module such as kansci.KAN, got {type(model).__name__}")
    if opt not in ("lbfgs", "adam", "lm"):
        raise ValueError(f"opt must be 'lbfgs', 'adam' or 'lm', got {opt!r}")
    steps = as_integer("steps", steps, minimum=0)
    batch = as_integer("batch", batch, minimum=-1)
    if batch == 0:
        raise ValueError("batch must be -1 (all training samples) or >= 1, got 0")
    for name, value in (
        ("checkpoint_every", checkpoint_every), ("eval_every", eval_every), ("grid_update_every", grid_update_every),
        ("reg_samples", reg_samples), ("lbfgs_iters", lbfgs_iters),
    ):  # fmt: skip
        as_integer(name, value, minimum=1)
    stop_grid_update_step = as_integer("stop_grid_update_step", stop_grid_update_step)
    seed = as_integer("seed", seed)
    lamb = as_real("lamb", lamb, minimum=0.0)
    lamb_l1 = as_real("lamb_l1", lamb_l1, minimum=0.0)
    lamb_entropy = as_real("lamb_entropy", lamb_entropy, minimum=0.0)
    if lr is not None and as_real("lr", lr, minimum=0.0) == 0.0:
        raise ValueError("lr must be a positive learning rate, got 0")
    for name, value in (("loss_fn", loss_fn), *((f"metrics[{k!r}]", v) for k, v in (metrics or {}).items())):
        if value is not None and not callable(value):
            raise ValueError(f"{name} must be a callable, got {type(value).__name__}")
    if any(not callable(cb) for cb in callbacks):
        raise ValueError("callbacks must be a sequence of callables cb(step, model, history)")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH to resume from")
    is_kan = isinstance(model, KAN)
    if lamb > 0 and not is_kan:
        raise ValueError("sparsity regularization (lamb > 0) needs a kansci.KAN")
    dataset = data if isinstance(data, Dataset) else None
    if dataset is None and not callable(data):
        raise TypeError(f"data must be a kansci.datasets.Dataset or a loss closure, got {type(data).__name__}")
    if dataset is not None:
        _check_data(model, dataset)
        grid_samples = dataset.train_input
    elif grid_samples is not None and is_kan:
        model.check_input(grid_samples, "grid_samples")
    if checkpoint is not None and Path(checkpoint).is_dir():
        raise ValueError(f"checkpoint {str(checkpoint)!r} is a directory; pass a file path inside it")
    mse = loss_fn is None  # then the backward pass starts at the prediction (no graph for the loss)
    lr = lr if lr is not None else (1.0 if opt == "lbfgs" else 1e-3)
    gen = torch.Generator().manual_seed(seed)
    history = History()
    start = 0
    params = list(model.parameters())
    if opt == "lm":
        optimizer = _least_squares_optimizer(model, data, loss_fn, lamb, batch)
    else:
        optimizer = _make_optimizer(params, opt, lr, lbfgs_iters)

    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        state = read_checkpoint(ckpt_path)
        if not isinstance(state, dict) or state.get("kind") != "kansci.fit":
            raise ValueError(f"{ckpt_path} is not a training checkpoint written by kansci.fit")
        saved = state["model"]["state"] if "format" in state["model"] else state["model"]
        check_state(saved, str(ckpt_path))  # a damaged checkpoint would resume from NaN or disordered knots
        try:
            model.load_state_dict(saved)
        except RuntimeError as err:
            raise ValueError(f"{ckpt_path} does not match this model: {err}") from err
        optimizer.load_state_dict(state["optimizer"])
        history = History.from_dict(state["history"])
        gen.set_state(state["generator"])
        start = int(state["step"])
        history.events.append(f"resumed at step {start}")

    def save_checkpoint(step: int) -> None:
        record = model_record(model) if is_kan else state_copy(model, "cpu")
        write_atomic(
            {
                "kind": "kansci.fit",
                "model": record,
                "optimizer": optimizer.state_dict(),
                "history": history.to_dict(),
                "generator": gen.get_state(),
                "step": step,
            },
            ckpt_path,
        )

    n_train = dataset.train_input.shape[0] if dataset is not None else 0
    full_batch = batch == -1 or batch >= n_train

    def draw_batch() -> tuple[Tensor, Tensor] | None:
        if dataset is None:
            return None
        if full_batch:
            return dataset.train_input, dataset.train_label
        ids = torch.randperm(n_train, generator=gen)[:batch].to(dataset.train_input.device)
        return dataset.train_input[ids], dataset.train_label[ids]

    def objective(xy) -> tuple[Tensor, Tensor, dict, list[tuple[Tensor, Tensor | None]]]:
        """The loss (without lamb * reg), reg, logged parts, and the (tensor, gradient) pairs to backpropagate."""
        if xy is None:
            out = data(model)
            loss, parts = out if isinstance(out, tuple) else (out, {})
            roots = [(loss, None)]
        elif mse:  # d loss / d prediction = 2 (prediction - label) / n
            pred = model(xy[0])
            with torch.no_grad():
                diff = pred - xy[1]
                loss = diff.square().mean()
            roots = [(pred, diff.mul_(2.0 / max(diff.numel(), 1)))]
            parts = {}
        else:
            loss, parts = loss_fn(model(xy[0]), xy[1]), {}
            roots = [(loss, None)]
        reg = loss.new_zeros(())
        if lamb > 0:
            x_reg = grid_samples if xy is None else xy[0]
            if x_reg is None:
                raise ValueError("sparsity with a loss closure needs grid_samples=TENSOR to measure edges on")
            if x_reg.shape[0] > reg_samples:
                x_reg = x_reg[torch.randperm(x_reg.shape[0], generator=gen)[:reg_samples].to(x_reg.device)]
            reg = sparsity_penalty(model.edge_activations(x_reg), lamb_l1, lamb_entropy)
            roots.append((lamb * reg, None))
        return loss.detach(), reg.detach(), parts, roots

    verified: dict[str, Tensor] | None = None
    initial = state_copy(model)  # restored if the very first loss is not finite
    bar = tqdm(range(start, steps), disable=(None if progress is None else not progress), desc="fit", leave=False)
    try:
        for step in bar:
            if (
                update_grid
                and is_kan
                and grid_samples is not None
                and step % grid_update_every == 0
                and step < stop_grid_update_step
            ):
                xy = draw_batch()
                model.update_grid_(xy[0] if xy is not None else grid_samples)
                history.events.append(f"grid updated at step {step}")
            start_state = state_copy(model)
            xy = draw_batch()
            evaluations: list[dict[str, Any]] = []  # one record per closure call, in order

            def closure(
                optimizer=optimizer, xy=xy, evaluations=evaluations, first=verified is None and opt != "lm", step=step
            ) -> Tensor:
                for p in params:  # Optimizer.zero_grad passes through torch.compile's guard: slow per call
                    p.grad = None
                loss, reg, parts, roots = objective(xy)
                tensors, grads = zip(*roots)
                torch.autograd.backward(tensors, grads)
                total = loss + lamb * reg
                if first and not evaluations and not bool(torch.isfinite(total)):
                    raise _NonFiniteStart(float(total), step)  # nothing to train from: stop before any update
                evaluations.append({"total": total, "loss": loss, "reg": reg, "parts": parts})
                return total

            try:
                optimizer.step(closure)
            except _NonFiniteStart as start_loss:
                model.load_state_dict(initial)
                raise ValueError(
                    f"the loss is {start_loss.loss} at the starting parameters (step {start_loss.step}), so training "
                    "cannot start; the model's parameters are as they were before fit. Check the data, the loss "
                    "and the model for NaN or inf"
                ) from None
            if evaluations and bool(torch.isfinite(evaluations[0]["total"])):
                verified = start_state  # the loss at the step's starting point was finite
            accepted_loss = getattr(optimizer, "accepted_loss", None)
            record = _accepted(evaluations, accepted_loss)
            # the training MSE at the parameters the step left is the accepted evaluation's (full batch, LBFGS)
            at_params = record.get("total") is not None and float(record["total"]) == accepted_loss
            train_mse = record["loss"] if mse and full_batch and at_params else None
            total = record.get("total")
            if total is None or not bool(torch.isfinite(total)) or not _finite(model):
                model.load_state_dict(verified if verified is not None else initial)
                history.status = "nan_restored"
                restored = "the last parameters with a finite loss" if verified is not None else "those before fit"
                history.events.append(f"non-finite loss or parameters at step {step}: restored {restored}")
                log.warning("non-finite loss at step %d; restored the last good parameters and stopped", step)
                break
            _log_step(history, step, model, dataset, record, metrics, eval_every, train_mse)
            if history.test_rmse and bar.disable is False:
                bar.set_postfix(loss=f"{history.loss[-1]:.3e}", test=f"{history.test_rmse[-1]:.3e}")
            if ckpt_path is not None and (step + 1) % checkpoint_every == 0:
                save_checkpoint(step + 1)
            if any(cb(step, model, history) for cb in callbacks):
                history.status = "stopped"
                break
    finally:
        bar.close()
    if ckpt_path is not None:
        save_checkpoint(history.step[-1] + 1 if history.step else start)
    return history


def _accepted(evaluations: list[dict], accepted_loss: float | None) -> dict:
    """The closure's record at the parameters the optimizer step left.

    That is the last evaluation for Adam, but for LBFGS the evaluation whose loss the optimizer
    accepted: its last one may be a rejected line-search trial (even a non-finite one).
    """
    if accepted_loss is not None:
        for evaluation in reversed(evaluations):
            if float(evaluation["total"]) == accepted_loss:
                return evaluation
    return evaluations[-1] if evaluations else {}


def _log_step(
    history: History,
    step: int,
    model: nn.Module,
    dataset: Dataset | None,
    record: dict,
    metrics,
    eval_every: int,
    train_mse: Tensor | None = None,
) -> None:
    history.step.append(step)
    history.loss.append(float(record["total"]))
    history.reg.append(float(record["reg"]))
    for name, value in record["parts"].items():
        history.parts.setdefault(name, []).append(float(value))
    evaluate = step % eval_every == 0
    if dataset is not None:
        nan = math.nan
        if not evaluate:
            history.train_rmse.append(nan)
        elif train_mse is not None:
            history.train_rmse.append(math.sqrt(float(train_mse)))
        else:
            history.train_rmse.append(rmse(model, dataset.train_input, dataset.train_label))
        history.test_rmse.append(rmse(model, dataset.test_input, dataset.test_label) if evaluate else nan)
    with torch.no_grad():
        for name, metric in (metrics or {}).items():
            history.parts.setdefault(name, []).append(float(metric(model)) if evaluate else math.nan)
