"""Small generated audio files for dataset tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

MakeAudio = Callable[..., Path]


@pytest.fixture
def make_audio(tmp_path: Path) -> MakeAudio:
    """``make_audio(relative_name, seconds, rate=16000, channels=1, level=0.1, silent_until=0.0, seed=0)``.

    Writes seeded white noise at RMS ``level`` (zeros before ``silent_until`` seconds) and returns the path.
    """

    def make(
        name: str,
        seconds: float,
        rate: int = 16000,
        channels: int = 1,
        level: float = 0.1,
        silent_until: float = 0.0,
        seed: int = 0,
        subtype: str | None = None,
    ) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = round(seconds * rate)
        audio = level * np.random.default_rng(seed).standard_normal((frames, channels))
        audio[: round(silent_until * rate)] = 0.0
        sf.write(str(path), audio.astype(np.float32), rate, subtype=subtype)
        return path

    return make
