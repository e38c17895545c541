"""Save and load KANs: configuration + state, written atomically."""

from __future__ import annotations

import copy
import os
import pickle
import secrets
import zipfile
from pathlib import Path
from typing import Any

import torch

from kansci.core.model import KAN, KANConfig, _check_device

__all__ = [
    "check_state",
    "load",
    "open_temp_beside",
    "read_checkpoint",
    "save",
    "state_copy",
    "write_atomic",
    "writable_path",
]

FORMAT = "kansci.kan"
VERSION = 1


def write_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename over it.

    An interrupted write never leaves a truncated file at ``path``.
    """
    path = writable_path(path)
    fd, tmp = open_temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def writable_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path whose folder exists (created if needed), or a ValueError when it names a folder."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory; pass a file path inside it, e.g. {str(path / 'model.pt')!r}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a folder")
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def open_temp_beside(path: Path) -> tuple[int, str]:
    """Create a new hidden temporary file beside ``path``; return its descriptor and name.

    Unlike ``tempfile.mkstemp`` (always 0600), the file gets the permissions
    the process umask gives any new file (usually 0644), so the file renamed
    into place reads like the figures written beside it.
    """
    for _ in range(100):
        name = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), str(name)
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


def state_copy(model: torch.nn.Module, device: torch.device | str | None = None) -> dict:
    """A detached copy of ``model.state_dict()`` (tensors cloned, on ``device`` if given; extra state copied)."""
    return {
        k: (v.detach().to(device, copy=True) if torch.is_tensor(v) else copy.deepcopy(v))
        for k, v in model.state_dict().items()
    }


def model_record(model: KAN) -> dict:
    """The picklable record of a model: format tag, config and state."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "state": state_copy(model, "cpu"),
    }


def model_from_record(record: dict, source: str, device: torch.device | str | None = None) -> KAN:
    """Rebuild a KAN from :func:`model_record` output."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(
            f"{source} is not a kansci KAN checkpoint (no '{FORMAT}' format tag); save models with kansci.save"
        )
    if record.get("version", 0) > VERSION:
        raise ValueError(
            f"{source} was written by a newer kansci (format {record['version']}); upgrade kansci to load it"
        )
    try:
        config = KANConfig(**record["config"])
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{source} has an invalid model configuration: {err}") from err
    check_state(record.get("state"), source)
    device = _check_device(device)
    model = KAN.from_config(config)
    try:
        model.load_state_dict(record["state"])
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"{source} holds a state that does not match its configuration: {err}") from err
    return model.to(device) if device is not None else model


def check_state(state: object, source: str) -> None:
    """Refuse a KAN state with non-finite values or knots out of order: it would load and compute garbage.

    One pass over the (small) parameter tensors; a checkpoint damaged on disk or
    written from a diverged run is named with the first bad entry.
    """
    if not isinstance(state, dict):
        raise ValueError(f"{source} holds no model state (got {type(state).__name__}); save models with kansci.save")
    for name, value in state.items():
        if not torch.is_tensor(value) or not value.is_floating_point():
            continue
        if not bool(torch.isfinite(value).all()):
            count = int((~torch.isfinite(value)).sum())
            raise ValueError(
                f"{source} is damaged: {name} holds {count} NaN/inf value(s); "
                "save the model again from a healthy run (fit restores the last finite parameters)"
            )
        if name.endswith("knots") and value.ndim == 2 and value.shape[1] > 1:
            steps = value[:, 1:] - value[:, :-1]
            if bool((steps < 0).any()) or bool((value[:, -1] <= value[:, 0]).any()):
                feature = int(torch.nonzero((steps < 0).any(1) | (value[:, -1] <= value[:, 0]))[0, 0])
                raise ValueError(
                    f"{source} is damaged: {name} of input {feature} are not increasing; "
                    "save the model again from a healthy run"
                )


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a file written by kansci, with errors that say what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as err:
        raise ValueError(f"{path} is corrupt or not a kansci checkpoint ({type(err).__name__}: {err})") from err


def save(model: KAN, path: str | os.PathLike) -> Path:
    """Write a model (configuration + parameters) to ``path`` atomically.

    Parameters
    ----------
    model : KAN
    path : str or PathLike

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(model, KAN):
        raise TypeError(f"save expects a kansci.KAN, got {type(model).__name__}")
    return write_atomic(model_record(model), path)


def load(path: str | os.PathLike, device: torch.device | str | None = None) -> KAN:
    """Rebuild a model saved with :func:`save`; its outputs are identical.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is corrupt, foreign, or from a newer format.
    """
    record = read_checkpoint(path)
    if isinstance(record, dict) and "model" in record and "format" not in record:
        record = record["model"]  # a training checkpoint written by fit
    return model_from_record(record, str(path), device)
