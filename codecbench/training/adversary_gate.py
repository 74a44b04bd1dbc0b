"""Open the generator's adversarial terms only as far as the discriminator tells real from reconstructed audio.

A discriminator at chance gives the generator gradients that carry no information about what is real.
In the tiny EnCodec-style runs even a small weight on them cost mel distance (docs/recipes.md), likely
because Adam moves every parameter that the reconstruction terms hardly reach by about the learning
rate, however small its gradient; a gradient balancer, which keeps each term's share whatever its size,
adds to it. The gate scales the adversarial terms' balancer weights by ``clamp(m / full_margin, 0, 1)``,
where ``m`` is a running average of the discriminator's real-minus-fake logit margin: closed while the
discriminator is at chance, fully open once it separates by ``full_margin``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from codecbench.utils.running_average import BiasCorrectedEMA


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
        self._margin = BiasCorrectedEMA(decay)

    def update(self, margin: Tensor) -> None:
        """Fold in one discriminator update's margin (a non-finite margin is skipped)."""
        self._margin.update(margin.float())

    @property
    def margin(self) -> Tensor:
        """The running (bias-corrected) margin; 0 before the first update."""
        return self._margin.average

    @property
    def value(self) -> Tensor:
        return (self.margin / self.full_margin).clamp(0.0, 1.0)

    def state_dict(self) -> dict[str, float]:
        return {"sum": float(self._margin.total), "count": float(self._margin.count)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._margin.load(state["sum"], state["count"])
