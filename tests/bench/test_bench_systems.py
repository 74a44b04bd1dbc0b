"""CheckpointSystem around a codec double: loudness handling, n_q, bitrates, real bitstream size."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bench_doubles import FrameMeanCodec, speechlike

from codecbench.bench.systems import CheckpointSystem, bitstream_bits, nominal_bits_per_second
from codecbench.bitstream import BitstreamReader
from codecbench.metrics import METRICS

SR = FrameMeanCodec.sample_rate


def quiet_tone(seconds: float = 1.0, level: float = 0.02) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (level * np.sin(2 * np.pi * 50 * t)).astype(np.float32)  # 50 Hz: survives 4-sample frame means


def test_input_is_normalised_to_minus_16_dbfs_and_level_restored() -> None:
    codec = FrameMeanCodec(output_gain=0.5)
    system = CheckpointSystem(codec, "fake", SR)
    x = quiet_tone(level=0.02)  # RMS -37 dBFS
    decoded, info = system.process(x)
    assert 20 * math.log10(codec.seen_rms[-1]) == pytest.approx(-16.0, abs=0.01)
    # The codec halves the level; the normaliser's gain is undone, so the ratio shows the codec's 50 %.
    assert METRICS.create("amplitude")(x, decoded, SR) == pytest.approx(50.0, abs=1.0)
    assert decoded.shape == x.shape and decoded.dtype == np.float32
    assert info.encode_seconds >= 0 and info.decode_seconds >= 0


def test_peaky_input_gain_is_limited_like_training() -> None:
    codec = FrameMeanCodec()
    system = CheckpointSystem(codec, "fake", SR)
    x = np.zeros(SR, dtype=np.float32)
    x[100] = 0.5  # a click: reaching -16 dBFS RMS would push the peak far past full scale
    system.process(x)
    assert codec.seen_rms[-1] < 10 ** (-16 / 20) * 0.5


def test_codes_bitrates_and_levels() -> None:
    system = CheckpointSystem(FrameMeanCodec(), "fake", SR)
    x = speechlike(SR, 1.0)
    _, info = system.process(x)
    assert info.codes.shape == (2, SR // 4) and info.codes.dtype == np.int64
    assert info.codebook_sizes == (16, 16)
    assert info.nominal_bps == nominal_bits_per_second((16, 16), 2000.0) == 16000.0
    payload = 2 * 4 * (SR // 4) / 8  # bytes of packed codes
    assert payload * 8 < info.payload_bits < (payload + 200) * 8  # plus header and checksums
    one = CheckpointSystem(FrameMeanCodec(), "fake@q1", SR, n_q=1)
    _, info1 = one.process(x)
    assert info1.codes.shape[0] == 1 and info1.nominal_bps == 8000.0
    assert info1.payload_bits < info.payload_bits
    with pytest.raises(ValueError, match="out of range"):
        CheckpointSystem(FrameMeanCodec(), "bad", SR, n_q=3)


def test_bitstream_bits_is_the_size_of_a_readable_file(tmp_path, monkeypatch) -> None:
    codes = np.random.default_rng(0).integers(0, 1024, size=(3, 50))
    written: list = []
    import codecbench.bitstream as bitstream

    original = bitstream.write_bitstream

    def spy(path, header, codes, num_samples):
        result = original(path, header, codes, num_samples)
        written.append((np.asarray(BitstreamReader(path).read_codes()), path.stat().st_size))
        return result

    monkeypatch.setattr(bitstream, "write_bitstream", spy)
    bits = bitstream_bits(
        codes, (1024,) * 3, sample_rate=16000, hop_length=320, num_samples=16000, gain_db=3.0, fingerprint="ab" * 32
    )
    assert np.array_equal(written[0][0], codes)
    assert bits == 8 * written[0][1]
