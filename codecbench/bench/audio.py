"""Audio helpers the benchmark needs: file discovery, mono loading, resampling, training loudness gain, WAV output.

Thin adapter over ``codecbench.audio`` so the benchmark has one place to change when the
audio package grows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codecbench.audio.io import audio_info, is_audio_file, read_audio, write_audio
from codecbench.audio.loudness import DEFAULT_NORMALIZER
from codecbench.audio.resample import resample_numpy


def find_audio_files(data_dir: str | Path, max_files: int | None = None) -> list[Path]:
    """Audio files under ``data_dir`` (recursive), sorted by path, the first ``max_files`` of them."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"--data {root}: not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_audio_file(p))
    if not files:
        raise FileNotFoundError(f"--data {root}: no audio files (wav, flac, ogg, ...) found")
    return files if max_files is None else files[:max_files]


def load_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Whole file mixed to mono float32 [T] at its own sample rate."""
    audio, rate = read_audio(path)
    return np.ascontiguousarray(audio, dtype=np.float32), int(rate)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling of mono float audio (soxr HQ)."""
    return resample_numpy(audio, orig_sr, target_sr)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad ``audio`` at the end to exactly ``length`` samples."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return np.pad(audio, (0, length - audio.shape[-1]))


def training_gain_db(audio: np.ndarray) -> float:
    """Gain (dB) the training normaliser applies: -16 dBFS RMS, lowered to keep peaks <= 1, 0 for silence."""
    return DEFAULT_NORMALIZER.gain_for(audio).gain_db


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono float audio as 32-bit float WAV (no clipping)."""
    return write_audio(path, np.asarray(audio, dtype=np.float32), sample_rate, subtype="FLOAT")


__all__ = ["audio_info", "find_audio_files", "fit_length", "load_mono", "resample", "training_gain_db", "write_wav"]
