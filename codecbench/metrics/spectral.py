"""Spectral distances in the style of DAC's evaluation (lower is better, 0 for identical signals).

``mel``: multi-scale log-mel L1 distance, DAC's 16/24/44 kHz recipe settings: 7 scales with
window lengths 32..2048 (hop = window / 4, centred Hann frames, reflect padding), 5..320
Slaney mel bands on magnitude spectra, each scale contributing
``mean |log10(max(mel_ref, 1e-5)) - log10(max(mel_est, 1e-5))|``; the distance is the
*sum* over scales (in log10 units, i.e. a mean of "bels" per scale).

``stft``: DAC's ``MultiScaleSTFTLoss`` defaults: windows 2048 and 512, and per scale
``mean |log10(max(|X|,1e-5)^2) - log10(max(|Y|,1e-5)^2)| + mean ||X| - |Y||``, summed.

Both depend on the sample rate; compare systems at the same rate only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from codecbench.audio.spectral import mel_filterbank, stft_magnitude
from codecbench.metrics.base import METRICS, Metric
from codecbench.metrics.common import check_pair

MEL_WINDOWS: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
MEL_BANDS: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320)
STFT_WINDOWS: tuple[int, ...] = (2048, 512)
CLAMP_EPS = 1e-5


def _magnitudes(ref: np.ndarray, est: np.ndarray, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    both = torch.from_numpy(np.stack([ref, est]).astype(np.float32))
    mag = stft_magnitude(both, window, window // 4, center=True, pad_mode="reflect", eps=0.0)
    return mag[0], mag[1]


def log_mel_scales(
    reference: np.ndarray,
    estimate: np.ndarray,
    sample_rate: int,
    windows: tuple[int, ...] = MEL_WINDOWS,
    bands: tuple[int, ...] = MEL_BANDS,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Per scale, the clamped log10 mels [bands, frames] of reference and estimate (what ``mel`` compares)."""
    if len(windows) != len(bands):
        raise ValueError(f"mel distance: {len(windows)} windows but {len(bands)} band counts")
    ref, est = check_pair(reference, estimate, "mel")
    for window, n_mels in zip(windows, bands):
        mag_ref, mag_est = _magnitudes(ref, est, window)
        fb = mel_filterbank(sample_rate, window, n_mels)
        yield (fb @ mag_ref).clamp_min(CLAMP_EPS).log10(), (fb @ mag_est).clamp_min(CLAMP_EPS).log10()


def mel_distance(
    reference: np.ndarray,
    estimate: np.ndarray,
    sample_rate: int,
    windows: tuple[int, ...] = MEL_WINDOWS,
    bands: tuple[int, ...] = MEL_BANDS,
) -> float:
    """Sum over scales of the mean absolute log10-mel difference (see the module docstring)."""
    scales = log_mel_scales(reference, estimate, sample_rate, windows, bands)
    return sum((float((log_ref - log_est).abs().mean()) for log_ref, log_est in scales), 0.0)


def stft_distance(
    reference: np.ndarray, estimate: np.ndarray, sample_rate: int, windows: tuple[int, ...] = STFT_WINDOWS
) -> float:
    """Sum over scales of log-power L1 plus magnitude L1 (see the module docstring)."""
    ref, est = check_pair(reference, estimate, "stft")
    total = 0.0
    for window in windows:
        mag_ref, mag_est = _magnitudes(ref, est, window)
        log_ref = mag_ref.clamp_min(CLAMP_EPS).pow(2).log10()
        log_est = mag_est.clamp_min(CLAMP_EPS).pow(2).log10()
        total += float((log_ref - log_est).abs().mean()) + float((mag_ref - mag_est).abs().mean())
    return total


@METRICS.register("mel")
class MelDistance(Metric):
    """Multi-scale log-mel L1 distance (DAC-style, 7 scales, summed); lower is better."""

    unit = "log10"
    higher_is_better = False

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        return mel_distance(reference, estimate, sample_rate)


@METRICS.register("stft")
class STFTDistance(Metric):
    """Multi-scale STFT distance (DAC-style log-power + magnitude L1, windows 2048/512); lower is better."""

    unit = "log10"
    higher_is_better = False

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        return stft_distance(reference, estimate, sample_rate)
