"""Batched, sign-correct waveform measures in torch, shared by monitors and validation.

All take audio [B, 1, T] (or [B, T]) and return one value per item, in float32.
SNR and SI-SDR are in dB, higher is better, capped at +/-100 dB like the bench metrics.
"""

from __future__ import annotations

import torch
from torch import Tensor

from codecbench.audio.spectral import mel_filterbank, stft_magnitude

MAX_DB = 100.0
MEL_WINDOWS: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320)
_TINY = 1e-20


def _flat(audio: Tensor) -> Tensor:
    return audio.detach().float().reshape(audio.shape[0], -1)


def _ratio_db(signal: Tensor, noise: Tensor) -> Tensor:
    return (10.0 * torch.log10(signal.clamp_min(_TINY) / noise.clamp_min(_TINY))).clamp(-MAX_DB, MAX_DB)


def snr_db(reference: Tensor, estimate: Tensor) -> Tensor:
    """10 log10(sum ref^2 / sum (ref - est)^2) per item."""
    ref, est = _flat(reference), _flat(estimate)
    return _ratio_db(ref.pow(2).sum(-1), (ref - est).pow(2).sum(-1))


def si_sdr_db(reference: Tensor, estimate: Tensor) -> Tensor:
    """Scale-invariant SDR on zero-mean signals per item (Le Roux et al., 2019)."""
    ref, est = _flat(reference), _flat(estimate)
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / ref.pow(2).sum(-1, keepdim=True).clamp_min(_TINY)
    target = scale * ref
    return _ratio_db(target.pow(2).sum(-1), (est - target).pow(2).sum(-1))


def rms(audio: Tensor) -> Tensor:
    """Root mean square per item."""
    return _flat(audio).pow(2).mean(-1).sqrt()


def rms_dbfs(audio: Tensor) -> Tensor:
    """RMS level in dBFS per item (a full-scale sine is -3 dBFS)."""
    return 20.0 * torch.log10(rms(audio).clamp_min(1e-10))


def amplitude_ratio_pct(reference: Tensor, estimate: Tensor) -> Tensor:
    """Output RMS / input RMS in percent per item (100 = level preserved)."""
    return 100.0 * rms(estimate) / rms(reference).clamp_min(1e-10)


def mel_distance(
    reference: Tensor,
    estimate: Tensor,
    sample_rate: int,
    windows: tuple[int, ...] = MEL_WINDOWS,
    bands: tuple[int, ...] = MEL_BANDS,
) -> Tensor:
    """Multi-scale log10-mel L1 distance per item, summed over scales (same definition as the ``mel`` metric)."""
    ref, est = _flat(reference), _flat(estimate)
    total = torch.zeros(ref.shape[0], device=ref.device)
    for window, n_mels in zip(windows, bands):
        mags = stft_magnitude(torch.stack([ref, est]), window, window // 4, center=True, eps=0.0)
        fb = mel_filterbank(sample_rate, window, n_mels, device=ref.device)
        logs = (fb @ mags).clamp_min(1e-5).log10()
        total += (logs[0] - logs[1]).abs().mean(dim=(-2, -1))
    return total
