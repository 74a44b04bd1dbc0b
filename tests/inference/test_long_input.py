"""Streaming a 10-minute file keeps memory bounded: chunk-sized reads, model calls and writes."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf
from inference_helpers import RATE, pcm_codec

from codecbench.inference import decode_file, encode_file

MINUTES = 10
NATIVE_RATE = 22050  # resampled chunk-wise to the model's 16 kHz


def _write_long_file(path: Path) -> int:
    """Ten minutes of noise, written block by block (never whole in memory)."""
    rng = np.random.default_rng(0)
    frames = MINUTES * 60 * NATIVE_RATE
    with sf.SoundFile(str(path), "w", samplerate=NATIVE_RATE, channels=1, subtype="PCM_16") as handle:
        for start in range(0, frames, NATIVE_RATE * 10):
            block = rng.standard_normal(min(NATIVE_RATE * 10, frames - start)) * 0.05
            handle.write(block.astype(np.float32))
    return frames


def _peak_traced_bytes(run: object) -> int:
    tracemalloc.start()
    try:
        run()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_a_ten_minute_file_uses_bounded_memory(tmp_path: Path) -> None:
    source = tmp_path / "long.wav"
    native_frames = _write_long_file(source)
    codec = pcm_codec()
    largest = {"encode": 0, "decode": 0}
    encode, decode = codec.encode, codec.decode

    def spy_encode(audio, n_q=None):  # the model never sees more than one chunk
        largest["encode"] = max(largest["encode"], audio.shape[-1])
        return encode(audio, n_q=n_q)

    def spy_decode(codes, length=None):
        largest["decode"] = max(largest["decode"], codes.shape[-1])
        return decode(codes, length=length)

    codec.encode, codec.decode = spy_encode, spy_decode
    encoded = {}
    encode_peak = _peak_traced_bytes(lambda: encoded.update(
        result=encode_file(codec, source, tmp_path / "long.cbc", stream=True, chunk_seconds=0.5)))
    samples = encoded["result"].header.num_samples
    assert samples == round(native_frames * RATE / NATIVE_RATE) == MINUTES * 60 * RATE
    decode_peak = _peak_traced_bytes(lambda: decode_file(codec, tmp_path / "long.cbc", tmp_path / "long_out.wav",
                                                         stream=True, chunk_seconds=0.5))
    decoded_bytes = samples * 4  # float32 mono at the model rate: 38.4 MB
    assert encode_peak < decoded_bytes / 10, f"encode traced peak {encode_peak / 1e6:.1f} MB"
    assert decode_peak < decoded_bytes / 10, f"decode traced peak {decode_peak / 1e6:.1f} MB"
    # one 0.5 s chunk (the last one also carries the resampler's flushed delay, a few hundred samples)
    assert largest["encode"] <= RATE // 2 + 1024 and largest["decode"] <= RATE // 2
    assert sf.info(str(tmp_path / "long_out.wav")).frames == samples
