"""Delay estimation by cross-correlation, to compensate codec delay before metrics that do not align.

Waveform cross-correlation finds the delay of waveform-matching codecs to the sample, but fails
for parametric ones (Codec2 synthesises its own phase). Cross-correlating smoothed amplitude
envelopes works for both, at the resolution STOI needs (its frames are 25.6 ms).
"""

from __future__ import annotations

import numpy as np


def estimate_delay(reference: np.ndarray, estimate: np.ndarray, max_lag: int) -> int:
    """Lag (samples) by which ``estimate`` trails ``reference``, searched in [-max_lag, max_lag].

    The lag maximises the FFT cross-correlation ``sum_t ref[t] * est[t + lag]``; a positive
    value means the estimate is late. Returns 0 for silent inputs.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.ndim != 1 or est.ndim != 1:
        raise ValueError(f"estimate_delay: expected 1-D signals, got shapes {ref.shape} and {est.shape}")
    if max_lag < 0:
        raise ValueError(f"estimate_delay: max_lag must be >= 0, got {max_lag}")
    if not np.any(ref) or not np.any(est):
        return 0
    size = 1 << int(np.ceil(np.log2(ref.size + est.size)))
    corr = np.fft.irfft(np.conj(np.fft.rfft(ref, size)) * np.fft.rfft(est, size), size)
    max_lag = min(max_lag, size // 2 - 1)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[: max_lag + 1], corr[size - max_lag :]])
    return int(lags[int(np.argmax(values))])


def envelope(audio: np.ndarray, window: int) -> np.ndarray:
    """Zero-mean amplitude envelope: ``|audio|`` smoothed by a moving average of ``window`` samples."""
    if window < 1:
        raise ValueError(f"envelope: window must be >= 1 sample, got {window}")
    smooth = np.convolve(np.abs(np.asarray(audio, dtype=np.float64)), np.full(window, 1.0 / window), mode="same")
    return smooth - smooth.mean()


def compensate_delay(reference: np.ndarray, estimate: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift ``estimate`` earlier by ``delay`` samples and trim both signals to their overlap."""
    n = min(reference.size, estimate.size)
    reference, estimate = reference[:n], estimate[:n]
    if delay > 0:
        return reference[: n - delay], estimate[delay:]
    if delay < 0:
        return reference[-delay:], estimate[: n + delay]
    return reference, estimate


def align(
    reference: np.ndarray, estimate: np.ndarray, max_lag: int, envelope_window: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Estimate the delay (from envelopes when ``envelope_window`` is set) and compensate it.

    Returns ``(reference, estimate, delay)``, both signals trimmed to their overlap.
    """
    if envelope_window:
        delay = estimate_delay(envelope(reference, envelope_window), envelope(estimate, envelope_window), max_lag)
    else:
        delay = estimate_delay(reference, estimate, max_lag)
    ref, est = compensate_delay(reference, estimate, delay)
    return ref, est, delay
