"""Shared helpers for metrics: input checks, capped decibel ratios, the 'metric unavailable' error."""

from __future__ import annotations

import math

import numpy as np

MAX_DB = 100.0
"""Ratios in dB are capped here: identical signals give ``MAX_DB`` instead of infinity."""


class MetricUnavailable(RuntimeError):
    """A metric cannot run here (an optional package is missing); the message says what to install."""


def check_pair(reference: np.ndarray, estimate: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return both signals as float64 1-D arrays; raise if shapes differ or values are not finite."""
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.ndim != 1 or est.ndim != 1:
        raise ValueError(f"{name}: expected mono 1-D signals, got shapes {ref.shape} and {est.shape}")
    if ref.shape != est.shape:
        raise ValueError(
            f"{name}: reference and estimate lengths differ ({ref.shape[0]} vs {est.shape[0]}); "
            "trim or pad the estimate to the reference length first"
        )
    if ref.size == 0:
        raise ValueError(f"{name}: empty signals")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
        raise ValueError(f"{name}: signals contain NaN or Inf")
    return ref, est


def ratio_db(signal_energy: float, noise_energy: float) -> float:
    """``10 log10(signal / noise)``, capped at ``MAX_DB``; NaN when the signal has no energy."""
    if signal_energy <= 0.0:
        return math.nan
    if noise_energy <= signal_energy * 10.0 ** (-MAX_DB / 10.0):
        return MAX_DB
    return 10.0 * math.log10(signal_energy / noise_energy)
