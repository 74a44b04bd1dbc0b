"""Encoder contract: waveform [B, 1, T] -> latent frames [B, D, ceil(T / hop_length)]."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from torch import Tensor, nn

from codecbench.nn.validation import check_strides, hop_of
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

    def set_framing(
        self, who: str, sample_rate: int, strides: Sequence[int], latent_dim: int, causal: bool, extra_stride: int = 1
    ) -> None:
        """Check ``strides`` (errors name ``who``) and set the rate, strides, hop, latent size and causality."""
        self.strides = check_strides(strides, who)
        if extra_stride < 1:
            raise ValueError(f"{who}: downsample_stride must be >= 1, got {extra_stride}")
        self.sample_rate = sample_rate
        self.hop_length = hop_of(self.strides, extra_stride)
        self.latent_dim = latent_dim
        self.causal = causal


class Encoder(Framed):
    """Maps audio to a latent sequence at ``frame_rate`` frames per second.

    Implementations set ``sample_rate``, ``hop_length`` (product of strides) and ``latent_dim``.
    """

    @abstractmethod
    def forward(self, audio: Tensor) -> Tensor: ...


ENCODERS: Registry[Encoder] = Registry("encoder", "codecbench.encoders", Encoder)
