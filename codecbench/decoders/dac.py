"""DAC decoder (Kumar et al. 2023): transposed-conv upsampling with Snake residual units, tanh output."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from codecbench.decoders.base import DECODERS, Decoder
from codecbench.nn.conv import to_time_major
from codecbench.nn.dac_blocks import build_dac_decoder
from codecbench.nn.validation import check_latent
from codecbench.streaming import StreamingModule


@DECODERS.register("dac")
class DACDecoder(Decoder, StreamingModule[None]):
    """DAC decoder: channels halve per stride from ``channels`` (defaults: DAC 16 kHz, 1536 wide).

    ``strides`` are given in encoder order, so one recipe macro can feed both.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        strides: Sequence[int] = (2, 4, 5, 8),
        channels: int = 1536,
        latent_dim: int = 64,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.set_framing("dac decoder", sample_rate, strides, latent_dim, causal)
        self.layers = build_dac_decoder(channels, self.strides, latent_dim, causal)

    def forward(self, latent: Tensor) -> Tensor:
        check_latent(latent, self.latent_dim, "dac decoder")
        if torch.is_grad_enabled() or self.is_streaming:
            return self.layers(latent)
        return self.layers(to_time_major(latent))  # inference: time-major activations (see nn.conv)
