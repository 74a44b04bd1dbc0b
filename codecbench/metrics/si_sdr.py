"""Scale-invariant signal-to-distortion ratio (Le Roux et al., 2019)."""

from __future__ import annotations

import math

import numpy as np

from codecbench.metrics.base import METRICS, Metric
from codecbench.metrics.common import check_pair, ratio_db


@METRICS.register("si_sdr")
class SISDR(Metric):
    """SI-SDR in dB on zero-mean signals; invariant to the estimate's gain; higher is better, capped at 100 dB."""

    unit = "dB"
    higher_is_better = True

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        ref, est = check_pair(reference, estimate, "si_sdr")
        ref = ref - ref.mean()
        est = est - est.mean()
        ref_energy = float(np.dot(ref, ref))
        if ref_energy <= 0.0:
            return math.nan
        target = (float(np.dot(est, ref)) / ref_energy) * ref
        residual = est - target
        return ratio_db(float(np.dot(target, target)), float(np.dot(residual, residual)))
