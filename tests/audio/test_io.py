"""Audio I/O: formats, header-only metadata, partial reads, mono mixing and soxr resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codecbench.audio.io import (
    AUDIO_EXTENSIONS,
    AudioReadError,
    audio_info,
    load_audio,
    read_audio,
    read_frames,
    read_span,
    write_audio,
)
from codecbench.audio.resample import resample, resampled_length


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    window = np.hanning(audio.shape[-1])
    spectrum = np.abs(np.fft.rfft(audio * window))
    return float(np.fft.rfftfreq(audio.shape[-1], 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("extension", [".wav", ".flac", ".ogg", ".mp3"])
def test_formats_round_trip_and_info(tmp_path: Path, extension: str) -> None:
    if extension not in AUDIO_EXTENSIONS:
        pytest.skip(f"this libsndfile cannot handle {extension}")
    audio = sine(440.0, 1.0, 16000)
    path = write_audio(tmp_path / f"tone{extension}", audio, 16000)
    info = audio_info(path)
    assert info.sample_rate == 16000
    assert info.channels == 1
    decoded, rate = read_audio(path)
    assert rate == 16000
    assert decoded.dtype == np.float32
    # Lossy codecs may add priming samples; lossless ones must be exact in length.
    if extension in (".wav", ".flac"):
        assert info.frames == 16000 and decoded.shape == (16000,)
        np.testing.assert_allclose(decoded, audio, atol=1 / 32768 + 1e-6)
    assert abs(dominant_frequency(decoded, rate) - 440.0) < 2.0


def test_info_reads_header_only(tmp_path: Path) -> None:
    """Metadata of a long file comes from the header: far faster than decoding, and exact."""
    path = tmp_path / "long.wav"
    with sf.SoundFile(str(path), "w", 16000, 1, subtype="PCM_16") as handle:
        for _ in range(10):
            handle.write(np.zeros(16000 * 60, dtype=np.float32))
    info = audio_info(path)
    assert info.frames == 16000 * 600
    assert info.duration == pytest.approx(600.0)


def test_stereo_44k_to_mono_16k_keeps_frequency_and_length(tmp_path: Path) -> None:
    rate = 44100
    left, right = sine(1000.0, 2.0, rate, 0.4), sine(1000.0, 2.0, rate, 0.2)
    path = tmp_path / "stereo.flac"
    sf.write(str(path), np.stack([left, right], axis=1), rate, subtype="PCM_24")
    assert audio_info(path).channels == 2
    audio, out_rate = read_audio(path, 16000)
    assert out_rate == 16000
    assert audio.ndim == 1 and audio.shape[0] == 32000 == resampled_length(2 * rate, rate, 16000)
    assert abs(dominant_frequency(audio, 16000) - 1000.0) < 1.0
    middle = audio[1000:-1000]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.3 / np.sqrt(2), rel=1e-3)  # mean of the channels
    tensor = load_audio(path, 16000)
    assert tensor.shape == (1, 32000) and tensor.dtype == torch.float32


def test_read_frames_is_a_partial_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((20000, 2))).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(str(path), audio, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(read_frames(path, 1234, 500, mono=False), audio[1234:1734].T)
    np.testing.assert_allclose(read_frames(path, 1234, 500), audio[1234:1734].mean(axis=1), atol=1e-7)
    assert read_frames(path, 19900, 500).shape == (100,)  # stops at the end
    assert read_frames(path, 30000, 10).shape == (0,)
    with pytest.raises(ValueError, match="start frame"):
        read_frames(path, -1, 10)


@pytest.mark.parametrize("native", [44100, 22050, 48000, 8000])
@pytest.mark.parametrize("start", [0, 1, 777, 20000])
def test_read_span_matches_resampling_the_whole_file(tmp_path: Path, native: int, start: int) -> None:
    rng = np.random.default_rng(native + start)
    audio = (0.2 * rng.standard_normal(native * 3)).astype(np.float32)
    path = tmp_path / f"n{native}.wav"
    sf.write(str(path), audio, native, subtype="FLOAT")
    whole, _ = read_audio(path, 16000)
    span = read_span(path, start, 4000, 16000)
    expected = whole[start : start + 4000]
    assert span.shape == expected.shape
    np.testing.assert_allclose(span, expected, atol=1e-5)


def test_resample_shapes_and_types() -> None:
    audio = np.random.default_rng(0).standard_normal((2, 3, 4410)).astype(np.float32)
    out = resample(audio, 44100, 16000)
    assert out.shape == (2, 3, 1600)
    tensor = torch.from_numpy(audio).double()
    out_t = resample(tensor, 44100, 16000)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float64 and out_t.shape == (2, 3, 1600)
    np.testing.assert_allclose(out_t.numpy(), out, atol=1e-6)
    np.testing.assert_array_equal(resample(audio, 16000, 16000), audio)
    with pytest.raises(ValueError, match="quality"):
        resample(audio, 44100, 16000, quality="best")


def test_missing_and_corrupt_files_raise_named_errors(tmp_path: Path) -> None:
    with pytest.raises(AudioReadError, match="not found"):
        audio_info(tmp_path / "absent.wav")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(range(256)) * 4)
    with pytest.raises(AudioReadError, match=r"corrupt\.flac"):
        audio_info(corrupt)


def test_write_audio_guards_clipping_and_shapes(tmp_path: Path) -> None:
    loud = torch.tensor([[[0.5, 1.5, -2.0, 0.25]]])
    with pytest.warns(RuntimeWarning, match="clipped"):
        path = write_audio(tmp_path / "loud.wav", loud, 16000)
    data, _ = sf.read(str(path))
    assert data.max() <= 1.0 and data.min() >= -1.0
    assert data[2] == pytest.approx(-1.0)  # clipped, not wrapped around to a positive value
    stereo = np.zeros((2, 100), dtype=np.float32)
    assert audio_info(write_audio(tmp_path / "stereo.flac", stereo, 16000)).channels == 2
    with pytest.raises(ValueError, match="non-finite"):
        write_audio(tmp_path / "nan.wav", np.array([0.0, np.nan]), 16000)
    with pytest.raises(ValueError, match="extension"):
        write_audio(tmp_path / "x.xyz", stereo, 16000)
