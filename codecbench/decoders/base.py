"""Decoder contract: latent frames [B, D, T] -> waveform [B, 1, T * hop_length]."""

from __future__ import annotations

from abc import abstractmethod

from torch import Tensor

from codecbench.encoders.base import Framed
from codecbench.registry import Registry


class Decoder(Framed):
    """Maps a latent sequence back to audio; mirrors an encoder's strides."""

    @abstractmethod
    def forward(self, latent: Tensor) -> Tensor: ...


DECODERS: Registry[Decoder] = Registry("decoder", "codecbench.decoders", Decoder)
