"""DAC encoder (Kumar et al. 2023): Snake residual units, width doubling at every stride."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from codecbench.encoders.base import ENCODERS, Encoder
from codecbench.nn.conv import to_time_major
from codecbench.nn.dac_blocks import build_dac_encoder
from codecbench.nn.validation import check_audio
from codecbench.streaming import StreamingModule


@ENCODERS.register("dac")
class DACEncoder(Encoder, StreamingModule[None]):
    """DAC encoder: Snake residual units, channels double per stride (defaults: DAC 16 kHz, 50 Hz)."""

    def __init__(
        self,
        sample_rate: int = 16000,
        strides: Sequence[int] = (2, 4, 5, 8),
        channels: int = 64,
        latent_dim: int = 64,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.set_framing("dac encoder", sample_rate, strides, latent_dim, causal)
        self.layers = build_dac_encoder(channels, self.strides, latent_dim, causal)

    def forward(self, audio: Tensor) -> Tensor:
        check_audio(audio, "dac encoder")
        if torch.is_grad_enabled() or self.is_streaming:
            return self.layers(audio)
        x = to_time_major(self.layers[0](audio))  # inference: time-major activations (see nn.conv)
        for layer in self.layers[1:]:
            x = layer(x)
        return x.contiguous()
