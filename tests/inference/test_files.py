"""encode_file/decode_file: levels restored, mono at the model rate, size vs nominal, streamed == offline."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from inference_helpers import RATE, pcm_codec, tiny_causal_codec, write_tone

from codecbench.audio.io import read_audio
from codecbench.audio.loudness import rms_db
from codecbench.bitstream import BitstreamReader
from codecbench.inference import (
    FingerprintMismatch,
    InferenceError,
    StreamingNotSupported,
    decode_file,
    encode_file,
    model_fingerprint,
)


@pytest.mark.parametrize("stream", [False, True])
def test_round_trip_restores_level_mono_and_model_rate(tmp_path: Path, stream: bool) -> None:
    """A transparent 16-bit codec: the decoded file is the mono, 16 kHz, original-level input."""
    source = tmp_path / "in.wav"
    write_tone(source, 1.5, rate=44100, channels=2, level=0.02)  # -34 dBFS, stereo, 44.1 kHz
    codec = pcm_codec()
    encoded = encode_file(codec, source, tmp_path / "x.cbc", stream=stream, chunk_seconds=0.25)
    assert (encoded.input_sample_rate, encoded.input_channels, encoded.streamed) == (44100, 2, stream)
    expected, _ = read_audio(source, RATE)  # mono mix, resampled
    assert encoded.header.num_samples == len(expected) == round(1.5 * RATE)
    assert encoded.header.gain_db == pytest.approx(-16.0 - rms_db(expected), abs=1e-5)  # to the training target
    decoded = decode_file(codec, encoded.output, tmp_path / "out.wav", stream=stream, subtype="FLOAT")
    audio, rate = sf.read(str(decoded.output), dtype="float32", always_2d=True)
    assert rate == decoded.sample_rate == RATE and audio.shape == (len(expected), 1)
    np.testing.assert_allclose(audio[:, 0], expected, atol=2e-5)  # 16-bit steps at -16 dBFS, scaled back down
    assert rms_db(audio) == pytest.approx(rms_db(expected), abs=0.01)
    assert decoded.clipped_samples == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav", "x.cbc"]  # no temporary files left


def test_file_size_is_nominal_bitrate_times_duration_plus_a_small_header(tmp_path: Path) -> None:
    source = tmp_path / "ten_seconds.wav"
    write_tone(source, 10.0)
    codec = tiny_causal_codec(strides=(4, 8), n_q=4, codebook_size=1024)
    hint = "/runs/speech/checkpoints/step_00100000.pt"
    result = encode_file(codec, source, tmp_path / "x.cbc", checkpoint_hint=hint)
    header = result.header
    assert header.num_frames == math.ceil(10 * RATE / 32) == 5000
    assert result.nominal_bitrate == 4 * 10 * RATE / 32 == 20000.0
    nominal_bytes = result.nominal_bitrate * 10.0 / 8
    assert header.payload_bytes == nominal_bytes == 25000
    assert result.file_bytes == source.with_name("x.cbc").stat().st_size
    assert result.overhead_bytes < 100 + len(hint)  # magic, version, sizes, gain, fingerprint, hint, 2 CRCs
    assert abs(result.file_bytes - nominal_bytes) / nominal_bytes < 0.01
    assert result.file_bitrate == pytest.approx(8 * result.file_bytes / 10.0)
    fewer = encode_file(codec, source, tmp_path / "y.cbc", n_q=2)
    assert fewer.header.codebook_sizes == (1024, 1024) and fewer.header.payload_bytes == 12500


def test_streamed_files_equal_offline_files(tmp_path: Path) -> None:
    source = tmp_path / "in.flac"
    write_tone(source, 1.3, rate=22050, channels=2, level=0.3)
    codec = tiny_causal_codec()
    offline = encode_file(codec, source, tmp_path / "offline.cbc")
    streamed = encode_file(codec, source, tmp_path / "streamed.cbc", stream=True, chunk_seconds=0.1)
    assert streamed.header == offline.header
    assert np.array_equal(BitstreamReader(streamed.output).read_codes(), BitstreamReader(offline.output).read_codes())
    assert streamed.timings is not None and streamed.timings.chunks >= 13 and streamed.latency is not None
    assert streamed.latency.ms == pytest.approx(1000 * codec.hop_length / RATE)
    a = decode_file(codec, offline.output, tmp_path / "offline.wav", subtype="FLOAT")
    b = decode_file(codec, offline.output, tmp_path / "streamed.wav", subtype="FLOAT", stream=True, chunk_seconds=0.03)
    x, _ = sf.read(str(a.output), dtype="float32")
    y, _ = sf.read(str(b.output), dtype="float32")
    assert x.shape == y.shape == (round(1.3 * RATE),) and np.abs(x).max() > 1e-3
    np.testing.assert_allclose(y, x, atol=1e-5, rtol=0)


def test_non_causal_codec_refuses_stream_before_writing(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    write_tone(source, 0.3)
    codec = tiny_causal_codec(causal=False)
    with pytest.raises(StreamingNotSupported, match="not causal; streaming needs a causal recipe such as mimi_style"):
        encode_file(codec, source, tmp_path / "x.cbc", stream=True)
    assert not (tmp_path / "x.cbc").exists()
    encoded = encode_file(codec, source, tmp_path / "x.cbc")  # offline works
    with pytest.raises(StreamingNotSupported):
        decode_file(codec, encoded.output, tmp_path / "x.wav", stream=True)
    assert not (tmp_path / "x.wav").exists()


def test_decode_checks_the_model_and_never_clobbers_outputs(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    write_tone(source, 0.3)
    codec, other = tiny_causal_codec(seed=0), tiny_causal_codec(seed=1)
    encoded = encode_file(codec, source, tmp_path / "x.cbc", checkpoint_hint="/ckpt/a.pt")
    assert encoded.header.fingerprint.hex() == model_fingerprint(codec) != model_fingerprint(other)
    target = tmp_path / "out.wav"
    target.write_bytes(b"precious")
    with pytest.raises(FingerprintMismatch) as error:
        decode_file(other, encoded.output, target, model_name="checkpoint /ckpt/b.pt")
    message = str(error.value)
    assert model_fingerprint(codec)[:16] in message and model_fingerprint(other)[:16] in message
    assert "/ckpt/a.pt" in message and "/ckpt/b.pt" in message
    assert target.read_bytes() == b"precious"
    with pytest.raises(InferenceError, match="refusing to overwrite the input"):
        decode_file(codec, encoded.output, encoded.output)
    with pytest.raises(InferenceError, match="refusing to overwrite the input"):
        encode_file(codec, source, source)
    with pytest.raises(InferenceError, match=r"\.wav or \.flac"):
        decode_file(codec, encoded.output, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav", "x.cbc"]


def test_unreadable_or_empty_input_is_a_clear_error(tmp_path: Path) -> None:
    codec = tiny_causal_codec()
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(InferenceError, match=r"garbage\.wav"):
        encode_file(codec, garbage, tmp_path / "x.cbc")
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), RATE)
    with pytest.raises(InferenceError, match="no audio samples"):
        encode_file(codec, empty, tmp_path / "x.cbc", stream=True)
    assert not (tmp_path / "x.cbc").exists()
