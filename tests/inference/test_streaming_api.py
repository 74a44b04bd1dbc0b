"""StreamingEncoder/StreamingDecoder equal the offline codec; latency is measured from the model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from inference_helpers import RATE, tiny_causal_codec

from codecbench.audio.loudness import LoudnessNormalizer
from codecbench.inference import (
    NOT_CAUSAL,
    InferenceError,
    StreamingDecoder,
    StreamingEncoder,
    StreamingNotSupported,
    algorithmic_latency,
    gain_from_statistics,
    measure_streaming_latency,
)


def _random_sizes(total: int, largest: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(int(rng.integers(0, largest + 1)), total - sum(sizes)))
    return sizes


@pytest.mark.parametrize("name", ["dac", "seanet"])
def test_streamed_codes_and_audio_equal_offline(name: str) -> None:
    codec = tiny_causal_codec(name)
    hop = codec.hop_length
    audio = 0.2 * torch.randn(1, 1, 101 * hop + 5)  # not a whole number of frames
    with torch.no_grad():
        offline_codes = codec.encode(audio)
        offline_audio = codec.decode(offline_codes)
    pieces, start = [], 0
    with StreamingEncoder(codec) as encoder:
        for size in _random_sizes(audio.shape[-1], 3 * hop + 1, seed=1):  # sizes unrelated to the hop, zeros too
            pieces.append(encoder.feed(audio[0, 0, start : start + size]))
            start += size
        pieces.append(encoder.flush())
    streamed = torch.cat(pieces, -1)
    assert streamed.shape == offline_codes[0].shape == (3, 102) and streamed.dtype == torch.int64
    assert torch.equal(streamed, offline_codes[0])
    assert encoder.samples_fed == audio.shape[-1] and encoder.closed
    decoded, start = [], 0
    with StreamingDecoder(codec) as decoder:
        for size in _random_sizes(streamed.shape[-1], 7, seed=2):
            piece = decoder.feed(streamed[:, start : start + size])
            assert piece.shape == (size * hop,)  # every code frame's audio comes out at once
            decoded.append(piece)
            start += size
    torch.testing.assert_close(torch.cat(decoded), offline_audio[0, 0], atol=1e-5, rtol=1e-5)
    assert not codec.is_streaming  # the streams were closed: offline use works again


def test_n_q_limits_the_levels_and_is_checked() -> None:
    codec = tiny_causal_codec()
    audio = 0.2 * torch.randn(4 * codec.hop_length)
    with StreamingEncoder(codec, n_q=2) as encoder:
        codes = encoder.feed(audio)
    assert codes.shape == (2, 4)
    with torch.no_grad():
        assert torch.equal(codes, codec.encode(audio[None, None], n_q=2)[0])
    with pytest.raises(InferenceError, match=r"choose 1\.\.3"):
        StreamingEncoder(codec, n_q=4)


def test_non_causal_codec_refuses_to_stream() -> None:
    codec = tiny_causal_codec(causal=False)
    with pytest.raises(StreamingNotSupported) as error:
        StreamingEncoder(codec)
    assert str(error.value) == NOT_CAUSAL
    with pytest.raises(StreamingNotSupported):
        StreamingDecoder(codec)
    with pytest.raises(StreamingNotSupported):
        measure_streaming_latency(codec, 4)
    assert not codec.is_streaming


def test_latency_is_one_hop_for_a_causal_codec_and_chunks_are_timed() -> None:
    codec = tiny_causal_codec(strides=(2, 4, 5))
    latency = algorithmic_latency(codec)
    assert latency.frame_samples == 40 and latency.encoder_lookahead_samples == 0
    assert latency.decoder_delay_samples == 0 and latency.ms == pytest.approx(1000 * 40 / RATE)
    measured = measure_streaming_latency(codec, chunk_frames=8, seconds=0.2)
    assert measured.algorithmic_ms == pytest.approx(2.5)
    assert measured.chunk_ms == pytest.approx(1000 * 8 * 40 / RATE)
    expected_chunks = math.ceil(0.2 * RATE / (8 * 40)) - 1  # the warm-up chunk is not counted
    for timings in (measured.encode, measured.decode):
        assert timings.chunks == expected_chunks
        assert 0 < timings.mean_ms <= timings.max_ms and timings.cpu_mean_ms > 0
        assert timings.real_time_factor == pytest.approx(timings.mean_ms / measured.chunk_ms)
    assert measured.device == "cpu" and measured.threads >= 1


@pytest.mark.parametrize(
    ("signal", "normalizer"),
    [
        (0.01 * np.sin(np.arange(30000) / 7.0), LoudnessNormalizer()),  # quiet: gain up
        (0.9 * np.sign(np.sin(np.arange(30000) / 9.0)), LoudnessNormalizer()),  # loud square wave: gain down
        (np.r_[np.zeros(30000), [0.9], np.full(200, 0.05)], LoudnessNormalizer()),  # peaky: clipping guard limits
        (np.full(1000, 1e-5), LoudnessNormalizer()),  # below the silence threshold: unchanged
        (np.zeros(100), LoudnessNormalizer()),  # digital silence
        (0.01 * np.sin(np.arange(30000) / 7.0), LoudnessNormalizer(target_db=-20.0, peak_limit=None)),
    ],
)
def test_streamed_loudness_gain_equals_the_normalizer(signal: np.ndarray, normalizer: LoudnessNormalizer) -> None:
    """The gain from chunked statistics equals ``LoudnessNormalizer.gain_for`` on the whole signal."""
    audio = signal.astype(np.float32)
    chunks = np.array_split(audio.astype(np.float64), 7)
    mean_square = sum(float(c @ c) for c in chunks) / audio.size
    peak = max(float(np.abs(c).max(initial=0.0)) for c in chunks)
    assert gain_from_statistics(normalizer, mean_square, peak) == pytest.approx(
        normalizer.gain_for(audio).gain_db, abs=1e-9)
