"""Open the generator's adversarial terms only as far as the discriminator tells real from reconstructed audio.

A discriminator at chance gives the generator gradients that carry no information about what is real.
Under Adam even a small weight on them moves every parameter that the reconstruction terms hardly reach
at full step size, in directions that change from step to step; a gradient balancer, which keeps each
term's share whatever its size, makes it worse. The gate scales the adversarial terms' balancer weights
by ``clamp(m / full_margin, 0, 1)``, where ``m`` is a running average of the discriminator's real-minus-fake
logit margin: closed while the discriminator is at chance, fully open once it separates by ``full_margin``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


class MarginGate:
    """``value = clamp(EMA(margin) / full_margin, 0, 1)``; the EMA is over discriminator updates, bias-corrected.

    The value stays a tensor on the margin's device, so using it costs no host synchronisation.
    Before the first update the gate is closed (0).
    """

    def __init__(self, full_margin: float, decay: float = 0.9) -> None:
        if not full_margin > 0.0:
            raise ValueError(f"adversary gate: full_margin must be > 0, got {full_margin}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"adversary gate: decay must be in [0, 1), got {decay}")
        self.full_margin = float(full_margin)
        self.decay = float(decay)
        self._sum = torch.zeros(())
        self._count = torch.zeros(())

    def update(self, margin: Tensor) -> None:
        """Fold in one discriminator update's margin (a non-finite margin is skipped)."""
        margin = margin.detach().float()
        self._sum, self._count = self._sum.to(margin.device), self._count.to(margin.device)
        finite = torch.isfinite(margin)
        self._sum = torch.where(finite, self._sum * self.decay + torch.nan_to_num(margin), self._sum)
        self._count = torch.where(finite, self._count * self.decay + 1.0, self._count)

    @property
    def margin(self) -> Tensor:
        """The running (bias-corrected) margin; 0 before the first update."""
        return self._sum / self._count.clamp_min(1e-12)

    @property
    def value(self) -> Tensor:
        return (self.margin / self.full_margin).clamp(0.0, 1.0)

    def state_dict(self) -> dict[str, float]:
        return {"sum": float(self._sum), "count": float(self._count)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._sum = torch.tensor(float(state["sum"]))
        self._count = torch.tensor(float(state["count"]))
