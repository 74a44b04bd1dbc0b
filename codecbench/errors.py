"""Errors whose message is meant for the user: the CLI prints them without a traceback."""

from __future__ import annotations

from codecbench.audio.io import AudioReadError
from codecbench.config import RecipeError
from codecbench.registry import RegistryError


class CodecbenchError(Exception):
    """Base for codecbench's own user-facing errors (bad file, bad checkpoint, bad arguments)."""


UserFacingError = (CodecbenchError, RecipeError, RegistryError, FileNotFoundError, AudioReadError)
