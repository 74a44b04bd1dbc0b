"""PESQ and STOI wrappers: ranges, resampling, delay compensation, clear messages when missing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from codecbench.audio.io import read_audio
from codecbench.audio.resample import resample_numpy
from codecbench.metrics import METRICS, MetricUnavailable, perceptual
from codecbench.metrics.alignment import align, compensate_delay, envelope, estimate_delay

DEMO = Path(__file__).resolve().parents[2] / "codecbench" / "data" / "demo" / "en_00.flac"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    if not DEMO.exists():
        pytest.skip("demo speech not present")
    audio, rate = read_audio(DEMO)
    assert rate == 16000
    return audio.astype(np.float64)


def noisy(x: np.ndarray, level: float, seed: int = 0) -> np.ndarray:
    return x + level * np.std(x) * np.random.default_rng(seed).standard_normal(x.size)


@pytest.mark.parametrize("lag", [0, 37, -52, 600])
def test_estimate_delay_recovers_a_known_lag(lag: int) -> None:
    rng = np.random.default_rng(lag & 0xFF)
    x = rng.standard_normal(8000)
    delayed = np.roll(x, lag) + 0.1 * rng.standard_normal(x.size)
    assert estimate_delay(x, delayed, max_lag=800) == lag
    ref, est = compensate_delay(x, delayed, lag)
    assert ref.size == est.size == x.size - abs(lag)
    assert np.corrcoef(ref, est)[0, 1] > 0.99


def test_envelope_alignment_survives_lost_phase(speech: np.ndarray) -> None:
    """Random polarity per 20 ms block keeps the envelope but defeats waveform cross-correlation."""
    delay = 333
    signs = np.repeat(np.random.default_rng(7).choice([-1.0, 1.0], size=speech.size // 320 + 1), 320)
    estimate = np.concatenate([np.zeros(delay), speech[:-delay]]) * signs[: speech.size]
    assert abs(align(speech, estimate, 1600, envelope_window=160)[2] - delay) <= 3
    assert abs(align(speech, estimate, 1600)[2] - delay) > 3


def test_estimate_delay_of_silence_is_zero() -> None:
    assert estimate_delay(np.zeros(100), np.ones(100), 10) == 0
    with pytest.raises(ValueError, match="window"):
        envelope(np.ones(10), 0)


def test_pesq_orders_quality_and_resamples(speech: np.ndarray) -> None:
    pytest.importorskip("pesq")
    pesq = METRICS.create("pesq")
    clean = pesq(speech, speech, 16000)
    slightly, badly = pesq(speech, noisy(speech, 0.03), 16000), pesq(speech, noisy(speech, 0.3), 16000)
    assert 4.4 < clean <= 4.65
    assert clean > slightly > badly >= 1.0
    # At 24 kHz the signals are resampled to 16 kHz first: same score up to resampling error.
    up_ref, up_est = (resample_numpy(s, 16000, 24000).astype(np.float64) for s in (speech, noisy(speech, 0.03)))
    assert pesq(up_ref, up_est, 24000) == pytest.approx(slightly, abs=0.1)


def test_pesq_unscorable_input_is_nan(speech: np.ndarray) -> None:
    pytest.importorskip("pesq")
    pesq = METRICS.create("pesq")
    with pytest.warns(UserWarning, match="silent"):
        assert math.isnan(pesq(speech, np.zeros_like(speech), 16000))
    tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(1600) / 16000)  # 0.1 s: too short for an utterance
    with pytest.warns(UserWarning, match="could not score"):
        assert math.isnan(pesq(tone, tone, 16000))


def test_stoi_compensates_codec_delay(speech: np.ndarray) -> None:
    pystoi = pytest.importorskip("pystoi")
    delay = 400  # 25 ms, within Codec2's range
    estimate = np.concatenate([np.zeros(delay), speech[:-delay]])
    raw = float(pystoi.stoi(speech, estimate, 16000))
    aligned = METRICS.create("stoi")(speech, estimate, 16000)
    assert aligned > 0.99 > raw + 0.05
    assert align(speech, estimate, 1600)[2] == delay
    assert abs(align(speech, estimate, 1600, envelope_window=160)[2] - delay) <= 3
    assert METRICS.create("stoi")(speech, noisy(speech, 1.0), 16000) < aligned


def test_missing_packages_give_install_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perceptual, "package_available", lambda module: False)
    with pytest.raises(MetricUnavailable, match="pip install pesq"):
        METRICS.create("pesq")
    with pytest.raises(MetricUnavailable, match="pip install pystoi"):
        METRICS.create("stoi")
