"""Loudness: BS.1770 K-weighting and gating vs closed forms and references; the fixed-target normaliser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codecbench.audio.loudness import (
    DEFAULT_NORMALIZER,
    LoudnessNormalizer,
    apply_biquads,
    block_mean_squares,
    integrated_loudness,
    k_weighting,
    random_gain_db,
    restore,
    rms_db,
)


def sine(freq: float, seconds: float, rate: int, amplitude: float = 1.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)


def lfilter_reference(b: tuple[float, ...], a: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """Direct-form I difference equation, one sample at a time (independent of the FFT implementation)."""
    y = np.zeros_like(x)
    x1 = x2 = y1 = y2 = 0.0
    for n, xn in enumerate(x):
        yn = b[0] * xn + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
        x2, x1, y2, y1 = x1, xn, y1, yn
        y[n] = yn
    return y


def test_k_weighting_reproduces_the_standard_48k_coefficients() -> None:
    shelf, highpass = k_weighting(48000)
    # ITU-R BS.1770-4, tables 1 and 2.
    np.testing.assert_allclose(shelf.b, (1.53512485958697, -2.69169618940638, 1.19839281085285), atol=1e-10)
    np.testing.assert_allclose(shelf.a, (1.0, -1.69065929318241, 0.73248077421585), atol=1e-10)
    np.testing.assert_allclose(highpass.b, (1.0, -2.0, 1.0))
    np.testing.assert_allclose(highpass.a, (1.0, -1.99004745483398, 0.99007225036621), atol=1e-10)


@pytest.mark.parametrize("rate", [16000, 48000])
def test_fft_biquads_equal_time_domain_filtering(rate: int) -> None:
    x = np.random.default_rng(rate).standard_normal(3000)
    shelf, highpass = k_weighting(rate)
    expected = lfilter_reference(highpass.b, highpass.a, lfilter_reference(shelf.b, shelf.a, x))
    np.testing.assert_allclose(apply_biquads(x, (shelf, highpass)), expected, atol=1e-9)


@pytest.mark.parametrize(("rate", "tolerance"), [(48000, 0.01), (44100, 0.01), (16000, 0.05)])
def test_full_scale_997hz_sine_is_minus_3_01_lufs(rate: int, tolerance: float) -> None:
    assert integrated_loudness(sine(997.0, 5.0, rate), rate) == pytest.approx(-3.01, abs=tolerance)


def test_lufs_scales_with_gain_and_sums_stereo_power() -> None:
    tone = sine(997.0, 3.0, 48000)
    assert integrated_loudness(0.1 * tone, 48000) == pytest.approx(-23.01, abs=0.01)
    # Two identical channels carry twice the power of one: +3.01 LU.
    assert integrated_loudness(np.stack([tone, tone]) * 0.1, 48000) == pytest.approx(-20.0, abs=0.01)


def test_gating_ignores_silence_and_quiet_passages() -> None:
    rate = 48000
    tone = 0.1 * sine(997.0, 4.0, rate)
    silence = np.zeros(rate * 4)
    # Absolute gate: silent blocks are dropped, so padding with silence barely changes the loudness
    # (only the blocks straddling the edge count, at a partial level).
    padded = integrated_loudness(np.concatenate([silence, tone, silence]), rate)
    assert padded == pytest.approx(-23.01, abs=0.4)
    # Relative gate: a passage 30 dB quieter is more than 10 LU below and is dropped entirely.
    quiet = 0.1 * 10 ** (-30 / 20) * sine(997.0, 4.0, rate)
    assert integrated_loudness(np.concatenate([tone, quiet]), rate) == pytest.approx(-23.01, abs=0.4)
    # Ungated, the quiet half would halve the mean power (-3 dB); all-silent input is gated away entirely.
    assert integrated_loudness(np.zeros(rate), rate) == -math.inf


def test_gating_matches_pyloudnorm_given_the_same_filtered_signal() -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    rate = 16000
    rng = np.random.default_rng(1)
    envelope = np.repeat(rng.uniform(0.0, 1.0, 80) ** 3, rate // 10)  # 8 s of bursts and near-silence
    x = 0.3 * rng.standard_normal(envelope.shape[0]) * envelope
    filtered = apply_biquads(x, k_weighting(rate))
    meter = pyloudnorm.Meter(rate)
    meter._filters = {}  # compare the block/gating stage only, on identically K-weighted input
    expected = meter.integrated_loudness(filtered)
    assert integrated_loudness(x, rate) == pytest.approx(expected, abs=0.01)


def test_lufs_close_to_pyloudnorm_end_to_end() -> None:
    """pyloudnorm designs its filters differently below 48 kHz; agreement within 0.2 LU is expected."""
    pyloudnorm = pytest.importorskip("pyloudnorm")
    rate = 48000
    x = 0.05 * np.random.default_rng(2).standard_normal(rate * 3)
    assert integrated_loudness(x, rate) == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(x), abs=0.2)


def test_block_mean_squares_short_signal_is_one_block() -> None:
    x = np.ones((1, 100))
    np.testing.assert_allclose(block_mean_squares(x, 16000), [[1.0]])
    assert block_mean_squares(np.ones((1, 16000)), 16000).shape == (1, 7)  # 1 s: 400 ms blocks every 100 ms


def test_rms_db_values() -> None:
    assert rms_db(sine(1000.0, 1.0, 16000)) == pytest.approx(-3.0103, abs=1e-3)
    assert rms_db(torch.full((1, 100), 0.1)) == pytest.approx(-20.0, abs=1e-4)
    assert rms_db(np.zeros(10)) == -math.inf
    with pytest.raises(ValueError, match="NaN"):
        rms_db(np.array([0.0, np.nan]))


@pytest.mark.parametrize("method", ["rms", "lufs"])
def test_normalize_reaches_the_target_and_restore_inverts(method: str) -> None:
    rate = 16000
    rng = np.random.default_rng(3)
    x = (0.01 * rng.standard_normal(rate * 2)).astype(np.float32)
    normalizer = LoudnessNormalizer(target_db=-16.0, method=method, peak_limit=None)
    result = normalizer.normalize(x, rate)
    assert normalizer.measure(result.audio, rate) == pytest.approx(-16.0, abs=1e-3)
    assert result.audio.dtype == np.float32
    assert result.gain_db == pytest.approx(-16.0 - result.loudness_db)
    np.testing.assert_allclose(normalizer.restore(result.audio, result.gain_db), x, rtol=1e-5, atol=1e-8)


def test_default_is_minus_16_dbfs_rms_for_every_item_not_peak() -> None:
    rng = np.random.default_rng(4)
    quiet = torch.from_numpy((0.001 * rng.standard_normal(8000)).astype(np.float32))
    loud = torch.from_numpy((0.3 * rng.standard_normal(8000)).astype(np.float32))
    for item in (quiet, loud):
        out = DEFAULT_NORMALIZER.normalize(item)
        assert isinstance(out.audio, torch.Tensor)
        assert rms_db(out.audio) == pytest.approx(-16.0, abs=1e-3)
        assert out.audio.abs().max() < 0.99  # a peak-normaliser would put the peak at 1.0


def test_silence_is_left_alone() -> None:
    for silent in (np.zeros(16000, dtype=np.float32), np.full(16000, 1e-6, dtype=np.float32), np.zeros(0)):
        result = DEFAULT_NORMALIZER.normalize(silent)
        assert result.silent and result.gain_db == 0.0
        assert np.all(np.isfinite(result.audio))
        np.testing.assert_array_equal(result.audio, silent)
    assert LoudnessNormalizer(method="lufs").normalize(np.zeros(16000), 16000).gain_db == 0.0


def test_clipping_guard_lowers_gain_and_stays_invertible() -> None:
    spiky = np.full(16000, 0.001, dtype=np.float32)
    spiky[100] = 0.5  # crest factor ~ 54 dB: reaching -16 dB RMS would need a peak of ~250
    result = DEFAULT_NORMALIZER.normalize(spiky)
    assert result.limited
    assert np.abs(result.audio).max() == pytest.approx(1.0, rel=1e-6)
    assert rms_db(result.audio) < -16.0
    np.testing.assert_allclose(restore(result.audio, result.gain_db), spiky, rtol=1e-5)
    unguarded = LoudnessNormalizer(peak_limit=None).normalize(spiky)
    assert not unguarded.limited and rms_db(unguarded.audio) == pytest.approx(-16.0, abs=1e-3)


def test_random_gain_augmentation_offsets_the_target() -> None:
    rng = np.random.default_rng(5)
    gains = [random_gain_db(rng, 6.0) for _ in range(200)]
    assert min(gains) >= -6.0 and max(gains) <= 6.0 and np.std(gains) > 2.0
    assert random_gain_db(rng, 0.0) == 0.0
    x = 0.01 * np.random.default_rng(6).standard_normal(16000)
    out = DEFAULT_NORMALIZER.normalize(x, offset_db=-4.0)
    assert rms_db(out.audio) == pytest.approx(-20.0, abs=1e-3)


def test_batch_normalize_and_restore_per_item() -> None:
    rng = np.random.default_rng(7)
    scales = torch.tensor([0.001, 0.05, 0.0]).reshape(3, 1, 1)
    batch = torch.from_numpy(rng.standard_normal((3, 1, 4000)).astype(np.float32)) * scales
    result = DEFAULT_NORMALIZER.normalize_batch(batch)
    assert result.audio.shape == batch.shape
    assert rms_db(result.audio[0]) == pytest.approx(-16.0, abs=1e-3)
    assert rms_db(result.audio[1]) == pytest.approx(-16.0, abs=1e-3)
    assert result.silent.tolist() == [False, False, True]
    restored = restore(result.audio, torch.from_numpy(result.gain_db))
    np.testing.assert_allclose(restored.numpy(), batch.numpy(), rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="gains"):
        restore(batch, [1.0, 2.0])


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="method"):
        LoudnessNormalizer(method="peak")
    with pytest.raises(ValueError, match="sample rate"):
        LoudnessNormalizer(method="lufs").normalize(np.ones(100))
    with pytest.raises(ValueError, match="normalize_batch"):
        DEFAULT_NORMALIZER.normalize(np.ones((2, 1, 10)))


@settings(max_examples=40, deadline=None)
@given(
    level=st.floats(min_value=-60.0, max_value=0.0),
    target=st.floats(min_value=-40.0, max_value=-6.0),
    seed=st.integers(0, 2**16),
)
def test_restore_inverts_normalize_property(level: float, target: float, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(2000)
    x = (x / np.sqrt(np.mean(x**2)) * 10 ** (level / 20)).astype(np.float32)
    result = LoudnessNormalizer(target_db=target).normalize(x)
    assert np.abs(result.audio).max() <= 1.0 + 1e-6
    np.testing.assert_allclose(restore(result.audio, result.gain_db), x, rtol=1e-4, atol=1e-9)
