"""Band-limited resampling in torch (Hann-windowed sinc, polyphase), to feed a teacher on any device.

Plain convolution, so it runs on the input's device without a host round trip; within
about 4e-5 of soxr on a 440 Hz sine for 24k/44.1k/16k/22.05k conversions.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor


@lru_cache(maxsize=32)
def _sinc_kernel(
    orig: int, new: int, width_zero_crossings: int, rolloff: float, device: torch.device
) -> tuple[Tensor, int]:
    base = min(orig, new) * rolloff  # cutoff, in units of the reduced rates
    half = math.ceil(width_zero_crossings * orig / base)
    with torch.inference_mode(False), torch.no_grad():
        taps = torch.arange(-half, half + orig, dtype=torch.float64, device=device) / orig
        phases = -torch.arange(new, dtype=torch.float64, device=device)[:, None] / new
        t = (phases + taps[None, :]) * base
        t = t.clamp(-width_zero_crossings, width_zero_crossings)
        window = torch.cos(t * math.pi / (2 * width_zero_crossings)).pow(2)  # Hann window
        t = t * math.pi
        sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, torch.ones_like(t), t))
        kernel = (sinc * window * base / orig).to(torch.float32)[:, None, :]  # [new, 1, taps]
    return kernel, half


def resample(audio: Tensor, orig_sr: int, new_sr: int, width_zero_crossings: int = 16, rolloff: float = 0.95) -> Tensor:
    """Resample ``audio`` [..., T] from ``orig_sr`` to ``new_sr`` -> [..., ceil(T * new / orig)], float32."""
    if orig_sr <= 0 or new_sr <= 0:
        raise ValueError(f"resample: sample rates must be positive, got {orig_sr} -> {new_sr}")
    if orig_sr == new_sr:
        return audio
    gcd = math.gcd(int(orig_sr), int(new_sr))
    orig, new = int(orig_sr) // gcd, int(new_sr) // gcd
    kernel, half = _sinc_kernel(orig, new, width_zero_crossings, rolloff, audio.device)
    lead, length = audio.shape[:-1], audio.shape[-1]
    with torch.autocast(device_type=audio.device.type, enabled=False):
        flat = audio.reshape(-1, 1, length).float()
        padded = F.pad(flat, (half, half + orig))
        out = F.conv1d(padded, kernel, stride=orig)  # [N, new, frames]: one row per output phase
        out = out.transpose(1, 2).reshape(flat.shape[0], -1)
    target = math.ceil(new * length / orig)
    return out[:, :target].reshape(*lead, target)
