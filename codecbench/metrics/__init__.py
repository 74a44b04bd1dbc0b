"""Registered per-file quality metrics: ``import codecbench.metrics`` registers all of them in ``METRICS``.

Units and directions: ``snr`` and ``si_sdr`` in dB (higher is better, capped at 100 dB);
``amplitude`` in % (100 * rms(estimate) / rms(reference), ideal 100); ``mel`` and ``stft``
DAC-style spectral distances (lower is better); ``pesq`` wide-band MOS-LQO and ``stoi`` (0-1),
higher is better, available when their packages are installed.
"""

from codecbench.metrics import amplitude, perceptual, si_sdr, snr, spectral
from codecbench.metrics.base import METRICS, Metric
from codecbench.metrics.common import MAX_DB, MetricUnavailable

__all__ = [
    "MAX_DB",
    "METRICS",
    "Metric",
    "MetricUnavailable",
    "amplitude",
    "perceptual",
    "si_sdr",
    "snr",
    "spectral",
]
