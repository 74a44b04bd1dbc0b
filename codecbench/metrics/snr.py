"""Signal-to-noise ratio of the decoded waveform against the reference."""

from __future__ import annotations

import numpy as np

from codecbench.metrics.base import METRICS, Metric
from codecbench.metrics.common import check_pair, ratio_db


@METRICS.register("snr")
class SNR(Metric):
    """SNR in dB, 10 log10(sum ref^2 / sum (ref - est)^2); higher is better, capped at 100 dB."""

    unit = "dB"
    higher_is_better = True

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        ref, est = check_pair(reference, estimate, "snr")
        return ratio_db(float(np.dot(ref, ref)), float(np.sum((ref - est) ** 2)))
