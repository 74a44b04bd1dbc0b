"""Mel and STFT distances against librosa (independent STFT and filterbank) and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecbench.metrics import METRICS
from codecbench.metrics.spectral import CLAMP_EPS, MEL_BANDS, MEL_WINDOWS, STFT_WINDOWS

SR = 16000


def signals(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    ref = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    ref[4000:6000] = 0.0  # a silent stretch exercises the clamp
    est = 0.9 * ref + 0.02 * rng.standard_normal(t.size)
    return ref.astype(np.float32), est.astype(np.float32)


def librosa_mel_distance(ref: np.ndarray, est: np.ndarray) -> float:
    librosa = pytest.importorskip("librosa")
    total = 0.0
    for window, n_mels in zip(MEL_WINDOWS, MEL_BANDS):
        kwargs = dict(
            sr=SR,
            n_fft=window,
            hop_length=window // 4,
            window="hann",
            center=True,
            pad_mode="reflect",
            power=1.0,
            n_mels=n_mels,
        )
        a = librosa.feature.melspectrogram(y=ref.astype(np.float64), **kwargs)
        b = librosa.feature.melspectrogram(y=est.astype(np.float64), **kwargs)
        total += np.mean(np.abs(np.log10(np.maximum(a, CLAMP_EPS)) - np.log10(np.maximum(b, CLAMP_EPS))))
    return float(total)


def librosa_stft_distance(ref: np.ndarray, est: np.ndarray) -> float:
    librosa = pytest.importorskip("librosa")
    total = 0.0
    for window in STFT_WINDOWS:
        kwargs = dict(n_fft=window, hop_length=window // 4, window="hann", center=True, pad_mode="reflect")
        a = np.abs(librosa.stft(ref.astype(np.float64), **kwargs))
        b = np.abs(librosa.stft(est.astype(np.float64), **kwargs))
        log_a = np.log10(np.maximum(a, CLAMP_EPS) ** 2)
        log_b = np.log10(np.maximum(b, CLAMP_EPS) ** 2)
        total += np.mean(np.abs(log_a - log_b)) + np.mean(np.abs(a - b))
    return float(total)


def test_mel_distance_matches_librosa() -> None:
    ref, est = signals()
    assert METRICS.create("mel")(ref, est, SR) == pytest.approx(librosa_mel_distance(ref, est), rel=2e-3)


def test_stft_distance_matches_librosa() -> None:
    ref, est = signals(1)
    assert METRICS.create("stft")(ref, est, SR) == pytest.approx(librosa_stft_distance(ref, est), rel=2e-3)


def test_identical_signals_have_zero_distance() -> None:
    ref, _ = signals()
    assert METRICS.create("mel")(ref, ref, SR) == 0.0
    assert METRICS.create("stft")(ref, ref, SR) == 0.0


def test_halving_the_gain_costs_log10_2_per_scale() -> None:
    """Every mel band above the clamp shifts by log10(2): the distance is 7 * log10(2)."""
    rng = np.random.default_rng(5)
    ref = (0.3 * rng.standard_normal(SR)).astype(np.float32)  # white noise: every band well above 1e-5
    assert METRICS.create("mel")(ref, 0.5 * ref, SR) == pytest.approx(len(MEL_WINDOWS) * math.log10(2), rel=1e-4)
