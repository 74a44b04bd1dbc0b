"""Learning-rate warm-up wrapped around any torch scheduler (or none)."""

from __future__ import annotations

from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def warmup_factor(steps_done: int, warmup_steps: int) -> float:
    """Linear warm-up multiplier for the optimiser step after ``steps_done`` steps: 1/W, 2/W, ..., 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (steps_done + 1) / warmup_steps)


class WarmupScheduler:
    """Multiplies the learning rate set by ``inner`` (or the optimiser's own) by a linear warm-up.

    The inner scheduler sees the un-warmed learning rate, so chainable schedulers such as
    ``ExponentialLR`` decay from the base rate exactly as they would without warm-up.
    Call :meth:`step` once after each optimiser step.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int = 0, inner: LRScheduler | None = None) -> None:
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.optimizer = optimizer
        self.warmup_steps = int(warmup_steps)
        self.inner = inner
        self.steps_done = 0
        self._inner_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self._apply()

    def _apply(self) -> None:
        factor = warmup_factor(self.steps_done, self.warmup_steps)
        for group, lr in zip(self.optimizer.param_groups, self._inner_lrs):
            group["lr"] = lr * factor

    def step(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self._inner_lrs):
            group["lr"] = lr
        if self.inner is not None:
            self.inner.step()
        self._inner_lrs = [float(group["lr"]) for group in self.optimizer.param_groups]
        self.steps_done += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {
            "warmup_steps": self.warmup_steps,
            "steps_done": self.steps_done,
            "inner_lrs": list(self._inner_lrs),
            "inner": self.inner.state_dict() if self.inner is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["steps_done"])
        self._inner_lrs = [float(lr) for lr in state["inner_lrs"]]
        if self.inner is not None and state.get("inner") is not None:
            self.inner.load_state_dict(state["inner"])
        self._apply()
