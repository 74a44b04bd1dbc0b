"""Mimi decoder (Moshi, 2024): upsampling transposed conv, bottleneck transformer, causal SEANet decoder."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from codecbench.decoders.base import DECODERS, Decoder
from codecbench.nn.conv import ConvTranspose1d
from codecbench.nn.seanet_blocks import build_seanet_decoder
from codecbench.nn.transformer import Transformer
from codecbench.nn.validation import check_latent
from codecbench.streaming import StreamingModule


@DECODERS.register("mimi")
class MimiDecoder(Decoder, StreamingModule[None]):
    """Mimi decoder: depthwise stride-2 upsampling + transformer + causal SEANet (mirrors ``mimi`` encoder).

    ``zero_bias_init`` (default) starts the SEANet stack's biases at zero, as the encoder's.
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
        self.set_framing("mimi decoder", sample_rate, strides, latent_dim, causal, downsample_stride)
        self.upsample = (
            ConvTranspose1d(
                latent_dim,
                latent_dim,
                2 * downsample_stride,
                stride=downsample_stride,
                groups=latent_dim,
                bias=False,
                causal=causal,
                weight_norm=False,
            )
            if downsample_stride > 1
            else nn.Identity()
        )
        self.transformer = (
            Transformer(latent_dim, transformer_layers, num_heads, dim_feedforward, context, causal, layer_scale)
            if transformer_layers > 0
            else nn.Identity()
        )
        self.seanet = build_seanet_decoder(
            channels, self.strides, latent_dim, causal,
            residual_layers=residual_layers, last_kernel_size=3, zero_bias_init=zero_bias_init,
        )  # fmt: skip

    def forward(self, latent: Tensor) -> Tensor:
        check_latent(latent, self.latent_dim, "mimi decoder")
        return self.seanet(self.transformer(self.upsample(latent)))
