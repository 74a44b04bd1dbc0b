"""SIGINT/SIGTERM handling: the first signal asks training to stop after the current step
(which writes a checkpoint); a second one exits at once."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any


class StopSignal:
    """Context manager that turns the first of ``signals`` into :attr:`requested`."""

    def __init__(self, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM), message: str = "") -> None:
        self.signals = tuple(signals)
        self.message = message
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            print(f"\n{name} received again: exiting now without a checkpoint", file=sys.stderr, flush=True)
            raise SystemExit(128 + signum)
        self.requested = name
        print(f"\n{name} received: stopping after this step and writing a checkpoint "
              f"(send it again to exit at once). {self.message}", file=sys.stderr, flush=True)

    def request(self, reason: str) -> None:
        """Ask for a stop programmatically (tests, callbacks)."""
        self.requested = self.requested or reason

