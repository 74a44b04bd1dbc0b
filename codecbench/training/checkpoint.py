"""Checkpoint files: atomic writes, keep-last-K, safe loading, RNG capture, and ``load_codec``.

A checkpoint is a plain dict of tensors, numbers, strings and lists, read back with
``torch.load(weights_only=True)``: loading never executes code from the file. It holds the
Gin config text, so it alone rebuilds the codec (``load_codec``) for encode, decode and bench.
Files live in ``RUN_DIR/checkpoints/step_<8 digits>.pt``; writes go to a temporary file in
the same folder, are fsync'ed and renamed over the target, so a crash or kill mid-save leaves
every earlier checkpoint intact.
"""

from __future__ import annotations

import copy
import hashlib
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from codecbench import __version__
from codecbench.errors import CodecbenchError
from codecbench.utils.files import atomic_write

FORMAT = "codecbench-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
MODEL_BINDING = "codecbench.train.model"  # the trainer root's model parameter
_NAME = re.compile(r"^step_(\d{8,})\.pt$")


class CheckpointError(CodecbenchError):
    """A checkpoint is missing, corrupt, truncated or not a codecbench checkpoint."""


# ------------------------------------------------------------------------------------ paths
def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step_{step:08d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Finished checkpoints of a run, oldest first (temporary files are ignored)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file as given, or the latest checkpoint of a run directory."""
    target = Path(path).expanduser()
    if target.is_dir():
        latest = latest_checkpoint(target)
        if latest is None:
            raise CheckpointError(f"no checkpoint found in {target} (expected {checkpoint_dir(target)}/step_*.pt)")
        return latest
    if not target.exists():
        raise CheckpointError(f"checkpoint {target} does not exist")
    return target


# ------------------------------------------------------------------------------------ writing
def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(payload: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    target = atomic_write(path, lambda file: torch.save(dict(payload), file))
    _fsync_dir(target.parent)
    return target


def save_checkpoint(run_dir: str | Path, step: int, payload: Mapping[str, Any], keep_last: int | None = None) -> Path:
    """Write ``payload`` as the checkpoint of ``step``; then delete all but the newest ``keep_last``."""
    path = atomic_torch_save(payload, checkpoint_path(run_dir, step))
    if keep_last is not None and keep_last > 0:
        for old in list_checkpoints(run_dir)[:-keep_last]:
            old.unlink(missing_ok=True)
    return path


# ------------------------------------------------------------------------------------ reading
def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU with ``weights_only=True``; clear errors for every failure."""
    target = resolve_checkpoint(path)
    try:
        payload = torch.load(target, map_location="cpu", weights_only=True)
    except Exception as error:  # zip errors, EOF, unpickling refusals: all mean "unusable file"
        raise CheckpointError(
            f"checkpoint {target} is corrupt, truncated or holds objects other than tensors and plain data "
            f"({type(error).__name__}: {_error_summary(error)}); delete it to resume from an earlier checkpoint"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{target} is not a codecbench checkpoint (no '{FORMAT}' marker)")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{target} has checkpoint format {payload['format_version']}, newer than this codecbench "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade codecbench"
        )
    payload["path"] = str(target)
    return payload


def _error_summary(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = [line for line in lines if "Unpickler error" in line]
    return (detail or lines or [""])[0][:300]


# ------------------------------------------------------------------------------------ RNG
def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA generator states as tensors and plain lists."""
    version, state, gauss = random.getstate()
    key, np_state, pos, has_gauss, cached = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return {
        "python": {"version": version, "state": list(state), "gauss": gauss},
        "numpy": {
            "key": str(key),
            "state": torch.from_numpy(np.asarray(np_state, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": list(cuda),
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state((
        numpy["key"],
        numpy["state"].numpy().astype(np.uint32),
        numpy["pos"],
        numpy["has_gauss"],
        numpy["cached_gaussian"],
    ))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


# ------------------------------------------------------------------------------------ codec
def fingerprint(config_text: str, state_dict: Mapping[str, Tensor]) -> str:
    """sha256 over the config text and every weight (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256(config_text.encode("utf-8"))
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass
class LoadedCodec:
    """A codec rebuilt from a checkpoint, in eval mode."""

    codec: nn.Module
    sample_rate: int
    config_text: str
    fingerprint: str
    step: int


def resolve_gin_binding(key: str) -> Any:
    """Evaluate what ``key`` is bound to in the current Gin config (``@X()`` builds X)."""
    import gin

    try:
        value = gin.query_parameter(key)
    except ValueError as error:
        raise CheckpointError(f"the saved config does not bind '{key}': {error}") from error
    return copy.deepcopy(value)


def build_codec_from_config(config_text: str) -> nn.Module:
    """Parse ``config_text`` (clearing the current Gin config) and build the trainer's model from it."""
    from codecbench.config import parse_config_text

    parse_config_text(config_text)
    model = resolve_gin_binding(MODEL_BINDING)
    if not isinstance(model, nn.Module) and callable(model):
        model = model()
    if not isinstance(model, nn.Module):
        raise CheckpointError(f"'{MODEL_BINDING}' built {type(model).__name__}, not a torch module")
    return model


def load_codec(path: str | Path, device: str | torch.device = "cpu", *, use_ema: bool = True) -> LoadedCodec:
    """Rebuild a codec from a checkpoint (file, or run directory for its latest checkpoint).

    Uses the EMA weights when the run kept them (and ``use_ema``). Clears and replaces the
    current Gin config with the checkpoint's.
    """
    payload = load_checkpoint(path)
    config_text = str(payload["config"])
    codec = build_codec_from_config(config_text)
    state = payload.get("codec_ema") if use_ema and payload.get("codec_ema") else payload["codec"]
    try:
        codec.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(
            f"weights in {payload['path']} do not fit the model its config builds: {str(error).splitlines()[0]}"
        ) from error
    codec.to(device).eval()
    return LoadedCodec(
        codec=codec,
        sample_rate=int(getattr(codec, "sample_rate", payload.get("sample_rate", 0))),
        config_text=config_text,
        fingerprint=fingerprint(config_text, state),
        step=int(payload["step"]),
    )
