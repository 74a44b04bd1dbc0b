"""Training errors meant for the user (the CLI prints them without a traceback)."""

from __future__ import annotations

from codecbench.errors import CodecbenchError


class TrainingConfigError(CodecbenchError, ValueError):
    """The trainer's configuration or data cannot work; the message says what to change."""
