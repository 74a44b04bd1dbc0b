"""Opus and Codec2 through their command-line tools (skipped where the tools are not installed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from bench_doubles import speechlike

from codecbench.bench import baselines
from codecbench.bench.baselines import Codec2System, OpusSystem, make_baseline
from codecbench.bench.systems import SystemUnavailable
from codecbench.metrics import METRICS

HAVE_OPUS = shutil.which("opusenc") is not None and shutil.which("opusdec") is not None
HAVE_CODEC2 = shutil.which("c2enc") is not None and shutil.which("c2dec") is not None


@pytest.mark.skipif(not HAVE_OPUS, reason="opus-tools (opusenc/opusdec) not installed")
@pytest.mark.parametrize("rate", [16000, 22050])
def test_opus_round_trip(rate: int) -> None:
    x = speechlike(rate, 2.0)
    system = make_baseline("opus:12k", rate)
    assert isinstance(system, OpusSystem) and system.name == "opus@12k"
    assert system.codec_rate == (16000 if rate == 16000 else 48000)
    decoded, info = system.process(x)
    assert abs(decoded.size - x.size) <= 2  # opusdec removes the pre-skip: no added delay or padding
    assert METRICS.create("snr")(x, decoded[: x.size], rate) > 5.0
    assert info.nominal_bps == 12000.0
    assert 6.0 < info.payload_bits / 2.0 / 1000 < 20.0  # VBR around 12 kbps, plus Ogg overhead


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_opus_through_ffmpeg() -> None:
    x = speechlike(16000, 2.0)
    system = OpusSystem(12000, 16000, backend="ffmpeg")
    decoded, info = system.process(x)
    assert abs(decoded.size - x.size) <= 400
    assert 6.0 < info.payload_bits / 2.0 / 1000 < 20.0


@pytest.mark.skipif(not HAVE_CODEC2, reason="codec2 (c2enc/c2dec) not installed")
def test_codec2_round_trip_and_exact_bitrate() -> None:
    x = speechlike(16000, 2.0)
    system = make_baseline("codec2:3200", 16000)
    assert isinstance(system, Codec2System) and system.name == "codec2@3200"
    decoded, info = system.process(x)
    assert abs(decoded.size - x.size) <= 160 and np.all(np.isfinite(decoded))
    assert info.payload_bits == 3200 * 2  # 8 bytes per 20 ms frame, no header
    assert info.extra["clipped_samples"] == 0
    assert METRICS.create("amplitude")(x, decoded[: x.size], 16000) > 30.0
    assert make_baseline("codec2:700c", 16000).name == "codec2@700C"


def test_missing_tools_make_the_baseline_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baselines.shutil, "which", lambda name: None)
    with pytest.raises(SystemUnavailable, match="apt-get install opus-tools codec2"):
        make_baseline("opus:6000", 16000)
    with pytest.raises(SystemUnavailable, match="c2enc and c2dec not found"):
        make_baseline("codec2:3200", 16000)


def test_bad_specs_are_explained() -> None:
    for spec in ("opus", "mp3:128000", "opus:fast"):
        with pytest.raises(ValueError, match="--baseline"):
            make_baseline(spec, 16000)
    with pytest.raises(ValueError, match=r"6000\.\.256000"):
        make_baseline("opus:1000", 16000)
    with pytest.raises(ValueError, match="unknown mode"):
        make_baseline("codec2:999", 16000)
