"""Classic codecs as baselines, run through their command-line tools.

* Opus: ``opusenc``/``opusdec`` (Debian/Ubuntu package ``opus-tools``), else ``ffmpeg`` with libopus.
  Input at 8/12/16/24/48 kHz is passed as is (other rates are resampled to 48 kHz first);
  decoding is at the system rate. Default VBR at the requested target bitrate.
* Codec2: ``c2enc``/``c2dec`` (package ``codec2``). Codec2 is an 8 kHz codec on raw signed
  16-bit samples: input is resampled to 8 kHz (and clipped to [-1, 1]), decoded audio is
  resampled back to the system rate, so the 4-8 kHz band of a 16 kHz comparison is lost.

Measured bitrate = size of the encoded file * 8 / duration (Opus: Ogg file written with
``--padding 0 --discard-comments``, so headers and Ogg pages count; Codec2: headerless frames).
Timings are wall-clock times of the encoder and decoder processes (process start included).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from codecbench.bench.audio import resample, write_wav
from codecbench.bench.systems import ProcessInfo, System, SystemUnavailable

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
CODEC2_RATE = 8000
CODEC2_MODES: dict[str, int] = {
    "3200": 3200,
    "2400": 2400,
    "1600": 1600,
    "1400": 1400,
    "1300": 1300,
    "1200": 1200,
    "700C": 700,
    "450": 450,
}
INSTALL_HINT = "install it with 'apt-get install opus-tools codec2' (Debian/Ubuntu) or your OS's package manager"


def _run(command: list[str], what: str) -> float:
    """Run a codec process; returns its wall time, raises with its stderr on failure."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{result.stderr.strip()}")
    return elapsed


class OpusSystem(System):
    """Opus at a target bitrate (VBR) through opus-tools or ffmpeg/libopus."""

    kind = "opus"

    def __init__(self, bitrate: int, sample_rate: int, backend: str | None = None) -> None:
        if not 6000 <= bitrate <= 256000:
            raise ValueError(f"opus:{bitrate}: bitrate must be 6000..256000 bit/s (mono)")
        self.bitrate = int(bitrate)
        self.sample_rate = int(sample_rate)
        self.name = f"opus@{bitrate / 1000:g}k"
        self.backend = backend or self._detect_backend()
        if self.backend not in ("opus-tools", "ffmpeg"):
            raise ValueError(f"opus backend must be 'opus-tools' or 'ffmpeg', got {self.backend!r}")
        self.codec_rate = self.sample_rate if self.sample_rate in OPUS_RATES else 48000

    @staticmethod
    def _detect_backend() -> str:
        if shutil.which("opusenc") and shutil.which("opusdec"):
            return "opus-tools"
        if shutil.which("ffmpeg"):
            return "ffmpeg"
        raise SystemUnavailable(f"opus baseline skipped: neither opusenc/opusdec nor ffmpeg found; {INSTALL_HINT}")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "bitrate": self.bitrate, "backend": self.backend, "codec_rate": self.codec_rate}

    def process(self, audio: np.ndarray) -> tuple[np.ndarray, ProcessInfo]:
        with tempfile.TemporaryDirectory(prefix="codecbench-opus-") as tmp:
            source, packed, decoded = Path(tmp, "in.wav"), Path(tmp, "out.opus"), Path(tmp, "out.wav")
            write_wav(source, resample(audio, self.sample_rate, self.codec_rate), self.codec_rate)
            if self.backend == "opus-tools":
                kbps = f"{self.bitrate / 1000:g}"
                enc = ["opusenc", "--quiet", "--bitrate", kbps, "--padding", "0", "--discard-comments"]
                enc_time = _run([*enc, str(source), str(packed)], "opusenc")
                dec = ["opusdec", "--quiet", "--float", "--rate", str(self.codec_rate), str(packed), str(decoded)]
                dec_time = _run(dec, "opusdec")
            else:
                ff = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
                enc = [*ff, "-i", str(source), "-c:a", "libopus", "-b:a", str(self.bitrate), "-map_metadata", "-1"]
                enc_time = _run([*enc, str(packed)], "ffmpeg (libopus encode)")
                dec = [*ff, "-i", str(packed), "-ar", str(self.codec_rate), "-ac", "1", "-c:a", "pcm_f32le"]
                dec_time = _run([*dec, str(decoded)], "ffmpeg (opus decode)")
            payload_bits = 8 * packed.stat().st_size
            out, rate = sf.read(str(decoded), dtype="float32", always_2d=True)
        out = resample(out.mean(axis=1), int(rate), self.sample_rate)
        return out, ProcessInfo(enc_time, dec_time, nominal_bps=float(self.bitrate), payload_bits=payload_bits)


class Codec2System(System):
    """Codec2 in one of its modes (3200 ... 450 bit/s) at 8 kHz through c2enc/c2dec."""

    kind = "codec2"

    def __init__(self, mode: str, sample_rate: int) -> None:
        mode = "700C" if mode.lower() == "700c" else mode
        if mode not in CODEC2_MODES:
            raise ValueError(f"codec2:{mode}: unknown mode; choose one of {', '.join(CODEC2_MODES)}")
        missing = [tool for tool in ("c2enc", "c2dec") if shutil.which(tool) is None]
        if missing:
            raise SystemUnavailable(f"codec2 baseline skipped: {' and '.join(missing)} not found; {INSTALL_HINT}")
        self.mode = mode
        self.sample_rate = int(sample_rate)
        self.name = f"codec2@{mode}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": self.mode, "codec_rate": CODEC2_RATE}

    def process(self, audio: np.ndarray) -> tuple[np.ndarray, ProcessInfo]:
        narrow = resample(audio, self.sample_rate, CODEC2_RATE)
        clipped = int(np.count_nonzero(np.abs(narrow) > 1.0))
        pcm = np.round(np.clip(narrow, -1.0, 1.0) * 32767.0).astype("<i2")
        with tempfile.TemporaryDirectory(prefix="codecbench-codec2-") as tmp:
            source, packed, decoded = Path(tmp, "in.raw"), Path(tmp, "out.bit"), Path(tmp, "out.raw")
            pcm.tofile(source)
            enc_time = _run(["c2enc", self.mode, str(source), str(packed)], "c2enc")
            dec_time = _run(["c2dec", self.mode, str(packed), str(decoded)], "c2dec")
            payload_bits = 8 * packed.stat().st_size
            out = np.fromfile(decoded, dtype="<i2").astype(np.float32) / 32768.0
        out = resample(out, CODEC2_RATE, self.sample_rate)
        info = ProcessInfo(enc_time, dec_time, nominal_bps=float(CODEC2_MODES[self.mode]), payload_bits=payload_bits)
        info.extra["clipped_samples"] = clipped
        return out, info


BASELINES = ("opus", "codec2")


def make_baseline(spec: str, sample_rate: int) -> System:
    """Build a baseline from ``NAME:SETTING`` (``opus:6000``, ``codec2:3200``, ``codec2:700C``).

    Raises ``ValueError`` for a malformed spec and ``SystemUnavailable`` when the tools are missing.
    """
    name, _, setting = spec.partition(":")
    name = name.strip().lower()
    if name not in BASELINES or not setting:
        raise ValueError(
            f"--baseline {spec!r}: expected opus:BITRATE (e.g. opus:6000 or opus:6k) or codec2:MODE (e.g. codec2:3200)"
        )
    if name == "opus":
        text = setting.strip().lower()
        scale = 1000.0 if text.endswith("k") else 1.0
        try:
            bitrate = round(float(text.removesuffix("k")) * scale)
        except ValueError:
            raise ValueError(f"--baseline {spec!r}: opus bitrate must be a number of bit/s, e.g. opus:6000") from None
        return OpusSystem(bitrate, sample_rate)
    return Codec2System(setting.strip(), sample_rate)
