"""Audio I/O (soundfile), resampling (soxr) and loudness normalisation."""

from codecbench.audio.io import (
    AUDIO_EXTENSIONS,
    AudioInfo,
    AudioReadError,
    audio_info,
    is_audio_file,
    load_audio,
    read_audio,
    read_frames,
    read_span,
    write_audio,
)
from codecbench.audio.loudness import (
    DEFAULT_NORMALIZER,
    LoudnessNormalizer,
    NormalizedAudio,
    NormalizedBatch,
    integrated_loudness,
    k_weighting,
    restore,
    rms_db,
)
from codecbench.audio.resample import resample, resampled_length

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_NORMALIZER",
    "AudioInfo",
    "AudioReadError",
    "LoudnessNormalizer",
    "NormalizedAudio",
    "NormalizedBatch",
    "audio_info",
    "integrated_loudness",
    "is_audio_file",
    "k_weighting",
    "load_audio",
    "read_audio",
    "read_frames",
    "read_span",
    "resample",
    "resampled_length",
    "restore",
    "rms_db",
    "write_audio",
]
