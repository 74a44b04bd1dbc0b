"""Encoder contract: waveform [B, 1, T] -> latent frames [B, D, ceil(T / hop_length)]."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from codecbench.registry import Registry


class Framed(nn.Module, ABC):
    """Shared by encoders and decoders: the sample rate, the hop between latent frames, the latent size."""

    sample_rate: int
    hop_length: int
    latent_dim: int
    causal: bool = False

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


class Encoder(Framed):
    """Maps audio to a latent sequence at ``frame_rate`` frames per second.

    Implementations set ``sample_rate``, ``hop_length`` (product of strides) and ``latent_dim``.
    """

    @abstractmethod
    def forward(self, audio: Tensor) -> Tensor: ...


ENCODERS: Registry[Encoder] = Registry("encoder", "codecbench.encoders", Encoder)
