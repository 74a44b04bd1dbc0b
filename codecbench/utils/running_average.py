"""A bias-corrected exponential moving average of a scalar tensor that never leaves its device."""

from __future__ import annotations

import torch
from torch import Tensor


class BiasCorrectedEMA:
    """``average = sum_k decay^(n-k) x_k / sum_k decay^(n-k)``: no ramp up from zero, non-finite values skipped.

    Kept as a running weighted sum and weight count on the values' device (no host sync);
    the average is 0 before the first value.
    """

    def __init__(self, decay: float) -> None:
        self.decay = float(decay)
        self.total = torch.zeros(())
        self.count = torch.zeros(())

    def update(self, value: Tensor) -> Tensor:
        """Fold in ``value`` (a scalar tensor) and return the new average."""
        value = value.detach()
        total, count = self.total.to(value.device, value.dtype), self.count.to(value.device, value.dtype)
        finite = torch.isfinite(value)
        self.total = torch.where(finite, total * self.decay + torch.nan_to_num(value), total)
        self.count = torch.where(finite, count * self.decay + 1.0, count)
        return self.average

    @property
    def average(self) -> Tensor:
        return self.total / self.count.clamp_min(1e-12)

    def load(self, total: float, count: float) -> None:
        """Restore a saved ``total`` and ``count`` (floats, as checkpoints hold them)."""
        self.total, self.count = torch.tensor(float(total)), torch.tensor(float(count))
