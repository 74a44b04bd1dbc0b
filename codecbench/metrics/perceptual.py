"""Perceptual speech-quality estimates from optional packages: PESQ (``pesq``) and STOI (``pystoi``)."""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np

from codecbench.audio.resample import resample_numpy
from codecbench.metrics.alignment import align
from codecbench.metrics.base import METRICS, Metric
from codecbench.metrics.common import MetricUnavailable, check_pair

PESQ_RATE = 16000
STOI_MAX_DELAY_SECONDS = 0.1
STOI_ENVELOPE_SECONDS = 0.01


def package_available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


@METRICS.register("pesq")
class PESQ(Metric):
    """Wide-band PESQ (ITU-T P.862.2, MOS-LQO 1.04-4.64) at 16 kHz via ``pesq``; higher is better.

    Other rates are resampled to 16 kHz first. PESQ aligns the signals itself. Files it cannot
    score (e.g. no speech detected) give NaN and a warning.
    """

    unit = "MOS"
    higher_is_better = True

    def __init__(self) -> None:
        if not package_available("pesq"):
            raise MetricUnavailable("metric 'pesq' needs the 'pesq' package: pip install pesq")

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        from pesq import PesqError, pesq

        ref, est = check_pair(reference, estimate, "pesq")
        if not np.any(ref) or not np.any(est):
            warnings.warn("pesq cannot score a silent reference or estimate; recorded as NaN", stacklevel=2)
            return math.nan
        if sample_rate != PESQ_RATE:
            ref = resample_numpy(ref, sample_rate, PESQ_RATE).astype(np.float64)
            est = resample_numpy(est, sample_rate, PESQ_RATE).astype(np.float64)
        score = float(pesq(PESQ_RATE, ref, est, "wb", on_error=PesqError.RETURN_VALUES))
        if score < 0:  # RETURN_VALUES reports errors as negative codes
            warnings.warn(f"pesq could not score this file (error code {score:g}); recorded as NaN", stacklevel=2)
            return math.nan
        return score


@METRICS.register("stoi")
class STOI(Metric):
    """Short-time objective intelligibility (0-1) via ``pystoi``, after codec-delay compensation; higher is better.

    STOI does not align the signals itself: the estimate's delay (up to 100 ms) is estimated by
    cross-correlating 10 ms amplitude envelopes (robust for parametric codecs such as Codec2)
    and removed first.
    """

    unit = ""
    higher_is_better = True

    def __init__(self, extended: bool = False, max_delay_seconds: float = STOI_MAX_DELAY_SECONDS) -> None:
        if not package_available("pystoi"):
            raise MetricUnavailable("metric 'stoi' needs the 'pystoi' package: pip install pystoi")
        self.extended = extended
        self.max_delay_seconds = max_delay_seconds

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        from pystoi import stoi

        ref, est = check_pair(reference, estimate, "stoi")
        window = max(1, round(STOI_ENVELOPE_SECONDS * sample_rate))
        ref, est, _ = align(ref, est, round(self.max_delay_seconds * sample_rate), envelope_window=window)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # pystoi warns on (near-)silent frames
            return float(stoi(ref, est, sample_rate, extended=self.extended))
