"""Test doubles for the benchmark: a scripted System, a tiny codec module, and signal files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor, nn

from codecbench.bench.systems import ProcessInfo, System


def speechlike(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic tone with vibrato and two noise bursts, RMS about -24 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 120 + 40 * seed
    phase = 2 * np.pi * (f0 * t + 2 * np.sin(2 * np.pi * 3 * t))
    x = sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))
    for start in (0.2, 0.6):
        a, b = int(start * seconds * sample_rate), int((start + 0.1) * seconds * sample_rate)
        x[a:b] += 0.5 * rng.standard_normal(b - a)
    return (0.05 * x).astype(np.float32)


def write_signals(folder: Path, rates: tuple[int, ...] = (16000, 22050, 16000), seconds: float = 1.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, rate in enumerate(rates):
        path = folder / f"sig_{index:02d}.wav"
        sf.write(path, speechlike(rate, seconds, index), rate, subtype="FLOAT")
        paths.append(path)
    return paths


class ScaledSystem(System):
    """Returns ``gain * audio`` (optionally delayed) and fixed facts: 4 codes used uniformly on one level."""

    kind = "fake"

    def __init__(self, name: str, sample_rate: int, gain: float = 1.0, bps: float = 1000.0) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.gain = gain
        self.bps = bps
        self.calls: list[int] = []

    def process(self, audio: np.ndarray) -> tuple[np.ndarray, ProcessInfo]:
        self.calls.append(audio.size)
        seconds = audio.size / self.sample_rate
        codes = (np.arange(100) % 4)[None, :].astype(np.int64)
        info = ProcessInfo(
            0.1 * seconds,
            0.05 * seconds,
            nominal_bps=self.bps,
            payload_bits=round(2 * self.bps * seconds),
            codes=codes,
            codebook_sizes=(16,),
        )
        return (self.gain * audio).astype(np.float32), info


class FrameMeanCodec(nn.Module):
    """Codec double: level 0 codes each 4-sample frame's mean on a 0.1 grid, level 1 the residual on a finer one.

    Records the RMS of what it is asked to encode; ``output_gain`` scales the decoded audio.
    """

    sample_rate = 8000
    hop_length = 4
    frame_rate = 2000.0
    codebook_sizes = (16, 16)

    def __init__(self, output_gain: float = 1.0) -> None:
        super().__init__()
        self.output_gain = output_gain
        self.seen_rms: list[float] = []

    def encode(self, audio: Tensor, n_q: int | None = None) -> Tensor:
        self.seen_rms.append(float(audio.square().mean().sqrt()))
        frames = nn.functional.pad(audio, (0, -audio.shape[-1] % self.hop_length)).reshape(audio.shape[0], 1, -1, 4)
        mean = frames.mean(-1)
        c0 = (torch.round(mean / 0.1) + 8).clamp(0, 15)
        c1 = (torch.round((mean - (c0 - 8) * 0.1) / 0.0125) + 8).clamp(0, 15)
        return torch.cat([c0, c1], dim=1).long()[:, : n_q or 2]

    def decode(self, codes: Tensor, length: int | None = None) -> Tensor:
        values = (codes[:, :1].float() - 8) * 0.1
        if codes.shape[1] > 1:
            values = values + (codes[:, 1:2].float() - 8) * 0.0125
        audio = values.repeat_interleave(self.hop_length, dim=-1) * self.output_gain
        return audio if length is None else audio[..., :length]
