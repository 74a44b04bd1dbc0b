"""SNR, SI-SDR and amplitude ratio against closed forms and an independent SI-SDR implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecbench.metrics import MAX_DB, METRICS

SR = 16000


def tone(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Harmonic tone (150 Hz and overtones) with a slow vibrato: a zero-mean, speech-like test signal."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * (150 * t + 3 * np.sin(2 * np.pi * 4 * t))
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    return (0.1 * x).astype(np.float64)


def test_builtin_metrics_registered_with_units() -> None:
    for name, unit in [("snr", "dB"), ("si_sdr", "dB"), ("amplitude", "%"), ("mel", "log10"), ("stft", "log10")]:
        assert name in METRICS
        assert METRICS.get(name).unit == unit
    assert METRICS.get("snr").higher_is_better and METRICS.get("si_sdr").higher_is_better
    assert not METRICS.get("mel").higher_is_better and not METRICS.get("stft").higher_is_better


@pytest.mark.parametrize("target_db", [-5.0, 0.0, 10.0, 30.0])
def test_snr_of_noise_at_a_set_level(target_db: float) -> None:
    x = tone(10.0)
    rng = np.random.default_rng(1)
    sigma = math.sqrt(np.mean(x**2) / 10 ** (target_db / 10))
    noisy = x + sigma * rng.standard_normal(x.size)
    assert METRICS.create("snr")(x, noisy, SR) == pytest.approx(target_db, abs=0.1)


def test_snr_exact_closed_form() -> None:
    x = tone()
    noise = np.random.default_rng(2).standard_normal(x.size)
    noise *= math.sqrt(np.sum(x**2) / np.sum(noise**2) / 100.0)  # exactly 20 dB
    assert METRICS.create("snr")(x, x + noise, SR) == pytest.approx(20.0, abs=1e-9)


def test_identical_signals_give_capped_value_and_silence_gives_nan() -> None:
    x = tone()
    snr, si_sdr = METRICS.create("snr"), METRICS.create("si_sdr")
    assert snr(x, x, SR) == MAX_DB
    assert si_sdr(x, x, SR) == MAX_DB
    assert math.isfinite(snr(x, x + 1e-9, SR)) and snr(x, x + 1e-9, SR) > 80
    silent = np.zeros(1000)
    assert math.isnan(snr(silent, silent, SR))
    assert math.isnan(si_sdr(silent, silent + 0.1, SR))
    assert math.isnan(METRICS.create("amplitude")(silent, silent, SR))


def test_worse_signal_scores_lower() -> None:
    x = tone()
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(x.size) * 0.01
    for name in ("snr", "si_sdr"):
        metric = METRICS.create(name)
        assert metric(x, x + noise, SR) > metric(x, x + 3 * noise, SR) > metric(x, x + 10 * noise, SR)
    for name in ("mel", "stft"):
        metric = METRICS.create(name)
        assert metric(x, x + noise, SR) < metric(x, x + 10 * noise, SR)


def reference_si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Independent form: least-squares projection of the estimate onto span{reference} (zero-mean signals)."""
    r = reference - reference.mean()
    e = estimate - estimate.mean()
    alpha, *_ = np.linalg.lstsq(r[:, None], e, rcond=None)
    target = alpha[0] * r
    return 10 * math.log10(np.sum(target**2) / np.sum((e - target) ** 2))


def test_si_sdr_matches_projection_and_is_scale_invariant() -> None:
    x = tone()
    est = 0.8 * x + 0.02 * np.random.default_rng(4).standard_normal(x.size) + 0.01
    metric = METRICS.create("si_sdr")
    value = metric(x, est, SR)
    assert value == pytest.approx(reference_si_sdr(x, est), abs=1e-9)
    for scale in (0.01, 0.5, 3.0, 100.0):
        assert metric(x, scale * est, SR) == pytest.approx(value, abs=1e-9)
    # SNR is not scale invariant: a gain change alone lowers it.
    assert METRICS.create("snr")(x, 0.5 * x, SR) == pytest.approx(10 * math.log10(4), abs=1e-9)
    assert metric(x, 0.5 * x, SR) == MAX_DB


def test_amplitude_ratio() -> None:
    x = tone()
    amplitude = METRICS.create("amplitude")
    assert amplitude(x, 0.5 * x, SR) == pytest.approx(50.0, abs=1e-9)
    assert amplitude(x, x, SR) == pytest.approx(100.0)
    assert amplitude(x, -2.0 * x, SR) == pytest.approx(200.0)
    assert METRICS.get("amplitude").ideal == 100.0


def test_bad_inputs_name_the_problem() -> None:
    snr = METRICS.create("snr")
    with pytest.raises(ValueError, match="lengths differ"):
        snr(np.zeros(10), np.zeros(11), SR)
    with pytest.raises(ValueError, match="mono 1-D"):
        snr(np.zeros((2, 10)), np.zeros((2, 10)), SR)
    with pytest.raises(ValueError, match="NaN"):
        snr(np.ones(10), np.full(10, np.nan), SR)
