"""Output level relative to input level: the amplitude-collapse detector."""

from __future__ import annotations

import math

import numpy as np

from codecbench.metrics.base import METRICS, Metric
from codecbench.metrics.common import check_pair


@METRICS.register("amplitude")
class AmplitudeRatio(Metric):
    """Amplitude ratio in %, 100 * rms(estimate) / rms(reference); 100 is ideal, below means a quieter output."""

    unit = "%"
    higher_is_better = True  # only up to ``ideal``; tables show the ideal value instead of an arrow
    ideal = 100.0

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        ref, est = check_pair(reference, estimate, "amplitude")
        ref_rms = math.sqrt(float(np.mean(ref**2)))
        if ref_rms == 0.0:
            return math.nan
        return 100.0 * math.sqrt(float(np.mean(est**2))) / ref_rms
