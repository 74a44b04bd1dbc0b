"""Metric contract: compare a reference and an estimate of the same length and rate."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from codecbench.registry import Registry


class Metric(ABC):
    """A per-file quality measure. ``unit`` and ``higher_is_better`` are shown in tables."""

    unit: str = ""
    higher_is_better: bool = True
    ideal: float | None = None  # a target value rather than a direction (amplitude ratio: 100 %)

    @abstractmethod
    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        """Both arrays are mono float, same length, at ``sample_rate``."""


METRICS: Registry[Metric] = Registry("metric", "codecbench.metrics", Metric)
