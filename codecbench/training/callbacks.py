"""Step records and the callback hook through which the doctor (or any observer) watches a run.

Every record the trainer logs (kinds ``train``, ``validation``, ``monitor``) is handed to each
callback's ``on_step`` on rank 0; a callback may answer with a :class:`StopRequest`, which ends
the run cleanly (with a checkpoint) on every rank. Callbacks can log records of their own, e.g.
kind ``diagnosis``, through :attr:`RunContext.emit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD_KINDS = ("train", "validation", "monitor", "diagnosis")


@dataclass
class StepRecord:
    """One logged set of scalar values at a training step."""

    step: int
    kind: str
    values: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in RECORD_KINDS:
            raise ValueError(f"record kind must be one of {RECORD_KINDS}, got {self.kind!r}")

    def as_json(self) -> dict[str, Any]:
        """JSON-safe dict: ``step``, ``kind`` and the values, non-finite numbers as ``null``."""
        row: dict[str, Any] = {"step": self.step, "kind": self.kind}
        for key, value in self.values.items():
            number = float(value)
            row[key] = number if math.isfinite(number) else None
        return row


@dataclass(frozen=True)
class StopRequest:
    """Returned by a callback to end training cleanly; ``reason`` is printed and logged."""

    reason: str


@dataclass
class RunContext:
    """What a callback learns about the run when it starts."""

    run_dir: Path
    max_steps: int
    start_step: int
    sample_rate: int
    codebook_sizes: list[int]
    emit: Callable[[StepRecord], None]


class TrainerCallback:
    """Base class with no-op hooks; override the ones you need."""

    def on_start(self, context: RunContext) -> None:
        """Called once before the first step (also after a resume)."""

    def on_step(self, record: StepRecord) -> StopRequest | None:
        """Called with every logged record; return a StopRequest to end the run."""
        return None

    def on_end(self, context: RunContext) -> None:
        """Called once when training ends, however it ends."""
