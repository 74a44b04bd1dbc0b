"""Mimi encoder (Moshi, 2024): causal SEANet, bottleneck transformer, extra strided downsampling."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from codecbench.encoders.base import ENCODERS, Encoder
from codecbench.nn.conv import Conv1d
from codecbench.nn.seanet_blocks import build_seanet_encoder
from codecbench.nn.transformer import Transformer
from codecbench.nn.validation import check_audio
from codecbench.streaming import StreamingModule


@ENCODERS.register("mimi")
class MimiEncoder(Encoder, StreamingModule[None]):
    """Mimi encoder: causal SEANet + transformer + stride-2 conv (defaults: 16 kHz -> 12.5 Hz).

    ``zero_bias_init`` (default) starts the SEANet stack's biases at zero, as :class:`SEANetEncoder`'s.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        strides: Sequence[int] = (4, 4, 5, 8),
        channels: int = 64,
        latent_dim: int = 512,
        causal: bool = True,
        downsample_stride: int = 2,
        transformer_layers: int = 8,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        context: int | None = 250,
        layer_scale: float | None = 0.01,
        residual_layers: int = 1,
        zero_bias_init: bool = True,
    ) -> None:
        super().__init__()
        self.set_framing("mimi encoder", sample_rate, strides, latent_dim, causal, downsample_stride)
        self.seanet = build_seanet_encoder(
            channels, self.strides, latent_dim, causal,
            residual_layers=residual_layers, last_kernel_size=3, zero_bias_init=zero_bias_init,
        )  # fmt: skip
        self.transformer = (
            Transformer(latent_dim, transformer_layers, num_heads, dim_feedforward, context, causal, layer_scale)
            if transformer_layers > 0
            else nn.Identity()
        )
        self.downsample = (
            Conv1d(
                latent_dim,
                latent_dim,
                2 * downsample_stride,
                stride=downsample_stride,
                bias=False,
                causal=causal,
                weight_norm=False,
            )
            if downsample_stride > 1
            else nn.Identity()
        )

    def forward(self, audio: Tensor) -> Tensor:
        check_audio(audio, "mimi encoder")
        return self.downsample(self.transformer(self.seanet(audio)))
