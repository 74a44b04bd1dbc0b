"""Decoder contract: latent frames [B, D, T] -> waveform [B, 1, T * hop_length]."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from codecbench.registry import Registry


class Decoder(nn.Module, ABC):
    """Maps a latent sequence back to audio; mirrors an encoder's strides."""

    sample_rate: int
    hop_length: int
    latent_dim: int
    causal: bool = False

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @abstractmethod
    def forward(self, latent: Tensor) -> Tensor: ...


DECODERS: Registry[Decoder] = Registry("decoder", "codecbench.decoders", Decoder)
