"""Exponential moving average of a model's weights (Mimi keeps one with decay 0.99).

Parameters are averaged; buffers (EMA codebooks, counters) are copied as they are, since they
already are running statistics. The average lives in a plain state dict, so it is saved and
loaded like any other and never shares parametrisation classes with the live model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class WeightEMA:
    """``shadow = decay * shadow + (1 - decay) * weights`` after every optimiser step."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self._parameter_names = {name for name, _ in module.named_parameters()}
        self.shadow: dict[str, Tensor] = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for key, value in module.state_dict().items():
            target = self.shadow[key]
            if key in self._parameter_names and value.dtype.is_floating_point:
                target.lerp_(value.detach(), 1.0 - self.decay)
            else:
                target.copy_(value)

    def state_dict(self) -> dict[str, Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:5]}")
        for key, value in state.items():
            if key in self.shadow:
                self.shadow[key].copy_(value)

    @contextmanager
    def applied(self, module: nn.Module) -> Iterator[None]:
        """Temporarily load the averaged weights into ``module`` (e.g. for validation)."""
        backup = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module.load_state_dict(self.shadow)
        try:
            yield
        finally:
            module.load_state_dict(backup)
