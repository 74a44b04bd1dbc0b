"""A frozen, seeded log-mel + random convolution feature extractor: the offline built-in teacher."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecbench.audio.spectral import MelSpectrogram
from codecbench.teachers.base import TEACHERS, Teacher
from codecbench.utils.files import atomic_write

RANDOM_CONV_FORMAT = "codecbench.teachers.random_conv"
RANDOM_CONV_VERSION = 1


def check_teacher_audio(audio: Tensor, name: str) -> Tensor:
    """Accept [B, T] or [B, 1, T]; return [B, 1, T]."""
    if audio.dim() == 2:
        audio = audio[:, None]
    if audio.dim() != 3 or audio.shape[1] != 1:
        raise ValueError(f"teacher {name}: expected mono audio [B, 1, T] or [B, T], got {tuple(audio.shape)}")
    return audio


@TEACHERS.register("random_conv")
class RandomConvTeacher(Teacher):
    """Frozen seeded log-mel + random conv features; a structural stand-in, NOT a semantic teacher.

    Log10 mel spectrogram (Hann, centred frames, hop ``sample_rate / frame_rate``), minus its
    per-item mean (so a gain change does not move the features), then ``n_layers`` random
    convolutions with GELU and a random 1x1 projection to ``feature_dim``. Weights are
    drawn from a private generator seeded with ``seed``: identical across processes and
    machines, and building one does not touch the global RNG.

    What it is good for: exercising the distillation path (shapes, frame alignment, a
    semantic level that must track a fixed, smooth, spectrum-derived target) offline.
    What it is not: Mimi distils the semantic level into WavLM features, which encode
    phonetic content learned from data; random projections of a log-mel spectrogram
    carry no such knowledge, so a codec distilled into this teacher gains no semantic
    structure. Use ``checkpoint`` with a real self-supervised model for that.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        feature_dim: int = 256,
        frame_rate: float = 50.0,
        n_mels: int = 80,
        hidden_dim: int = 256,
        n_layers: int = 3,
        kernel_size: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        hop = sample_rate / frame_rate
        if abs(hop - round(hop)) > 1e-9 or hop < 1:
            raise ValueError(
                f"random_conv teacher: sample_rate / frame_rate must be a whole number of samples, "
                f"got {sample_rate} / {frame_rate} = {hop}"
            )
        if kernel_size % 2 == 0 or n_layers < 0:
            raise ValueError(
                f"random_conv teacher: need an odd kernel_size and n_layers >= 0, got {kernel_size}, {n_layers}"
            )
        self.sample_rate = int(sample_rate)
        self.feature_dim = int(feature_dim)
        self.frame_rate = float(frame_rate)
        self.hop_length = round(hop)
        self.config: dict[str, Any] = {
            "sample_rate": self.sample_rate,
            "feature_dim": self.feature_dim,
            "frame_rate": self.frame_rate,
            "n_mels": int(n_mels),
            "hidden_dim": int(hidden_dim),
            "n_layers": int(n_layers),
            "kernel_size": int(kernel_size),
            "seed": int(seed),
        }
        n_fft = 1 << math.ceil(math.log2(2 * self.hop_length))
        self.mel = MelSpectrogram(self.sample_rate, n_fft, self.hop_length, n_mels, log=True)
        widths = [n_mels] + [hidden_dim] * n_layers
        with torch.random.fork_rng(devices=[]):  # default init draws from the global RNG: restore it afterwards
            self.convs = nn.ModuleList(
                nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2)
                for c_in, c_out in itertools.pairwise(widths)
            )
            self.output = nn.Conv1d(widths[-1], feature_dim, 1)
        generator = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for conv in [*self.convs, self.output]:
                fan_in = conv.weight.shape[1] * conv.weight.shape[2]
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in))
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.1)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> RandomConvTeacher:
        """A teacher is always in eval mode."""
        return super().train(False)

    def forward(self, audio: Tensor) -> Tensor:
        audio = check_teacher_audio(audio, "random_conv")
        features = self.mel(audio)[:, 0]  # [B, n_mels, frames]
        features = features - features.mean(dim=(1, 2), keepdim=True)
        for conv in self.convs:
            features = F.gelu(conv(features))
        return self.output(features)

    def save(self, path: str | Path) -> Path:
        """Write config + weights, loadable by the ``checkpoint`` teacher (``torch.load(weights_only=True)``-safe)."""
        payload = {
            "format": RANDOM_CONV_FORMAT,
            "version": RANDOM_CONV_VERSION,
            "config": dict(self.config),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        return atomic_write(path, lambda file: torch.save(payload, file))
