"""Fixtures for the trainer tests: a folder of short synthetic WAVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 1-second 16 kHz files: harmonic tones plus a little noise (seeded)."""
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for i in range(4):
        tone = 0.2 * np.sin(2 * np.pi * (180 + 60 * i) * t) + 0.05 * np.sin(2 * np.pi * (540 + 90 * i) * t)
        audio = tone + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"file{i}.wav", audio.astype(np.float32), 16000)
    return folder
