"""Audio file I/O through soundfile: metadata without decoding, partial reads, mono mixing, writing.

Everything here works on numpy float32 arrays; ``load_audio`` is the one torch-facing helper
(mono [1, T] tensor at a requested sample rate) used by inference commands.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codecbench.audio.resample import resample, resample_numpy

PathLike = str | Path


def _supported_extensions() -> tuple[str, ...]:
    formats = sf.available_formats()
    extensions = [".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff"]
    if "MP3" in formats:  # libsndfile >= 1.1 built with mpg123/lame
        extensions.append(".mp3")
    return tuple(extensions)


AUDIO_EXTENSIONS: tuple[str, ...] = _supported_extensions()
"""File name endings (lower case) treated as audio when scanning folders."""

_WRITE_FORMATS: dict[str, str] = {
    ".wav": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".opus": "OGG",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    **({".mp3": "MP3"} if ".mp3" in AUDIO_EXTENSIONS else {}),
}


class AudioReadError(OSError):
    """An audio file is missing, unreadable or corrupt; the message names the file."""


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of one audio file, read without decoding its samples."""

    path: Path
    sample_rate: int
    frames: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def is_audio_file(path: PathLike) -> bool:
    """Whether the file name ends in one of ``AUDIO_EXTENSIONS`` (case-insensitive)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def audio_info(path: PathLike) -> AudioInfo:
    """Sample rate, length and channel count from the file header (no full decode)."""
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"audio file not found: {path}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioReadError(f"cannot read audio header of {path}: {error}") from error
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioReadError(f"{path}: invalid header (sample rate {info.samplerate}, channels {info.channels})")
    return AudioInfo(
        path=path,
        sample_rate=int(info.samplerate),
        frames=int(info.frames),
        channels=int(info.channels),
        format=str(info.format),
        subtype=str(info.subtype),
    )


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of a soundfile-shaped [frames, channels] (or [frames]) array to [frames]."""
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"expected [frames] or [frames, channels] audio, got shape {tuple(audio.shape)}")
    if audio.shape[1] == 1:
        return audio[:, 0]
    return audio.mean(axis=1, dtype=np.float32)


def read_frames(path: PathLike, start: int = 0, frames: int = -1, *, mono: bool = True) -> np.ndarray:
    """Read ``frames`` samples from ``start`` at the file's own rate, seeking instead of decoding the whole file.

    Returns float32 [frames] when ``mono`` (channels averaged), else [channels, frames]. ``frames=-1``
    reads to the end. Reading past the end returns fewer samples; a negative start is an error.
    """
    path = Path(path)
    if start < 0:
        raise ValueError(f"{path}: start frame must be >= 0, got {start}")
    try:
        with sf.SoundFile(str(path)) as handle:
            if start:
                if start >= handle.frames:
                    data = np.zeros((0, handle.channels), dtype=np.float32)
                else:
                    handle.seek(start)
                    data = handle.read(frames, dtype="float32", always_2d=True)
            else:
                data = handle.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioReadError(f"cannot decode {path} (frames {start}..{start + frames}): {error}") from error
    if mono:
        return np.ascontiguousarray(to_mono(data), dtype=np.float32)
    return np.ascontiguousarray(data.T, dtype=np.float32)


def read_audio(
    path: PathLike,
    sample_rate: int | None = None,
    *,
    offset_seconds: float = 0.0,
    duration_seconds: float | None = None,
    mono: bool = True,
) -> tuple[np.ndarray, int]:
    """Read (part of) a file, mixed to mono and resampled to ``sample_rate`` if given.

    Returns ``(audio, rate)``: float32 [T] (or [channels, T] when ``mono=False``) and its sample rate.
    Only the requested span is decoded.
    """
    info = audio_info(path)
    start = round(offset_seconds * info.sample_rate)
    frames = -1 if duration_seconds is None else round(duration_seconds * info.sample_rate)
    audio = read_frames(info.path, start, frames, mono=mono)
    if sample_rate is None or sample_rate == info.sample_rate:
        return audio, info.sample_rate
    return resample(audio, info.sample_rate, sample_rate), sample_rate


RESAMPLE_MARGIN_FRAMES = 512
"""Native-rate context read on each side of a resampled span so the filter has no edge transient."""


def read_span(
    path: PathLike,
    start: int,
    frames: int,
    sample_rate: int,
    *,
    info: AudioInfo | None = None,
) -> np.ndarray:
    """Mono float32 samples ``start .. start + frames`` counted at ``sample_rate``, without decoding the file.

    When the file's rate differs, only the matching native span (plus ``RESAMPLE_MARGIN_FRAMES`` of context,
    aligned so that target and native sample grids coincide exactly) is read and resampled. Fewer than
    ``frames`` samples come back near the end of the file.
    """
    info = info or audio_info(path)
    if start < 0 or frames < 0:
        raise ValueError(f"{info.path}: start and frames must be >= 0, got start={start} frames={frames}")
    native = info.sample_rate
    if native == sample_rate:
        return read_frames(info.path, start, frames)
    common = math.gcd(native, sample_rate)
    unit_native, unit_target = native // common, sample_rate // common
    margin_units = -(-RESAMPLE_MARGIN_FRAMES // unit_native)
    block, offset = divmod(start, unit_target)
    first_block = max(0, block - margin_units)
    last_block = -(-(start + frames) // unit_target) + margin_units
    native_start = first_block * unit_native
    native_frames = (last_block - first_block) * unit_native
    segment = read_frames(info.path, native_start, native_frames)
    resampled = resample_numpy(segment, native, sample_rate)
    skip = (block - first_block) * unit_target + offset
    return np.ascontiguousarray(resampled[skip : skip + frames])


def load_audio(path: PathLike, sample_rate: int) -> torch.Tensor:
    """Whole file as a mono float32 tensor [1, T] at ``sample_rate`` (for bench, encode and friends)."""
    audio, _ = read_audio(path, sample_rate)
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).unsqueeze(0)


def _as_frames_by_channels(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().to("cpu", torch.float32).numpy()
    array = np.asarray(audio, dtype=np.float32)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 1:
        return array[:, None]
    if array.ndim != 2:
        raise ValueError(f"write_audio expects [T], [C, T] or [1, C, T] audio, got shape {tuple(array.shape)}")
    return array.T


def write_audio(
    path: PathLike,
    audio: np.ndarray | torch.Tensor,
    sample_rate: int,
    *,
    subtype: str | None = None,
) -> Path:
    """Write [T], [C, T] or [1, C, T] float audio; the format follows the file extension.

    Integer subtypes (the default for wav/flac is PCM_16) cannot hold |x| > 1: such samples are clipped,
    with a warning, instead of wrapping around.
    """
    path = Path(path)
    data = _as_frames_by_channels(audio)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"refusing to write non-finite samples (NaN/Inf) to {path}")
    extension = path.suffix.lower()
    audio_format = _WRITE_FORMATS.get(extension)
    if audio_format is None:
        raise ValueError(f"cannot write {path}: unknown extension {extension!r}; use one of {sorted(_WRITE_FORMATS)}")
    if subtype is None and extension == ".opus":
        subtype = "OPUS"
    chosen = subtype or sf.default_subtype(audio_format)
    if chosen is not None and (chosen.startswith("PCM") or chosen in ("ULAW", "ALAW")):
        peak = float(np.abs(data).max(initial=0.0))
        if peak > 1.0:
            warnings.warn(f"{path}: peak {peak:.3f} > 1.0 clipped for {chosen}", RuntimeWarning, stacklevel=2)
            data = np.clip(data, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, int(sample_rate), format=audio_format, subtype=subtype)
    return path
