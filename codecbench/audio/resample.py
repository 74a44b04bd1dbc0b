"""Band-limited resampling with soxr (numpy or torch, channels first, any leading dims)."""

from __future__ import annotations

import math

import numpy as np
import soxr
import torch

QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")


def resampled_length(frames: int, orig_sr: int, target_sr: int) -> int:
    """Number of output samples soxr produces for ``frames`` input samples (round(frames * target / orig))."""
    return math.floor(frames * target_sr / orig_sr + 0.5)


def _check_rates(orig_sr: int, target_sr: int) -> None:
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")


def resample_numpy(audio: np.ndarray, orig_sr: int, target_sr: int, *, quality: str = "HQ") -> np.ndarray:
    """Resample float audio shaped [..., T] (time last); returns float32 of the same leading shape."""
    _check_rates(orig_sr, target_sr)
    if quality not in QUALITIES:
        raise ValueError(f"unknown soxr quality {quality!r}; choose one of {QUALITIES}")
    array = np.asarray(audio, dtype=np.float32)
    if orig_sr == target_sr:
        return array.copy()
    if array.ndim == 0:
        raise ValueError("cannot resample a scalar; expected audio shaped [..., T]")
    leading = array.shape[:-1]
    frames = array.shape[-1]
    if frames == 0:
        return np.zeros((*leading, 0), dtype=np.float32)
    channels_last = array.reshape(-1, frames).T  # soxr wants [frames, channels]
    out = soxr.resample(np.ascontiguousarray(channels_last), orig_sr, target_sr, quality=quality)
    out = np.asarray(out, dtype=np.float32)
    if out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out.T).reshape(*leading, out.shape[0])


def resample(
    audio: np.ndarray | torch.Tensor, orig_sr: int, target_sr: int, *, quality: str = "HQ"
) -> np.ndarray | torch.Tensor:
    """Resample [..., T] audio from ``orig_sr`` to ``target_sr``; a tensor comes back on its device and dtype.

    Tensors make a round trip through CPU numpy (soxr); not differentiable.
    """
    if isinstance(audio, torch.Tensor):
        out = resample_numpy(audio.detach().to("cpu", torch.float32).numpy(), orig_sr, target_sr, quality=quality)
        return torch.from_numpy(out).to(device=audio.device, dtype=audio.dtype)
    return resample_numpy(audio, orig_sr, target_sr, quality=quality)
