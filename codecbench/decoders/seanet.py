"""SEANet decoder (SoundStream / EnCodec): mirror of the SEANet encoder."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from codecbench.decoders.base import DECODERS, Decoder
from codecbench.nn.seanet_blocks import build_seanet_decoder
from codecbench.nn.validation import check_latent
from codecbench.streaming import StreamingModule


@DECODERS.register("seanet")
class SEANetDecoder(Decoder, StreamingModule[None]):
    """SEANet decoder (EnCodec style): optional LSTM, transposed convs, ELU residual units.

    ``strides`` and ``channels`` are the encoder's (strides in encoder order); the decoder
    starts at ``channels * 2**len(strides)`` and halves per stride. ``zero_bias_init`` as the encoder's.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        strides: Sequence[int] = (2, 4, 5, 8),
        channels: int = 32,
        latent_dim: int = 128,
        causal: bool = False,
        residual_layers: int = 1,
        lstm_layers: int = 2,
        dilation_base: int = 2,
        compress: int = 2,
        zero_bias_init: bool = True,
    ) -> None:
        super().__init__()
        self.set_framing("seanet decoder", sample_rate, strides, latent_dim, causal)
        self.layers = build_seanet_decoder(
            channels,
            self.strides,
            latent_dim,
            causal,
            residual_layers=residual_layers,
            dilation_base=dilation_base,
            compress=compress,
            lstm_layers=lstm_layers,
            zero_bias_init=zero_bias_init,
        )

    def forward(self, latent: Tensor) -> Tensor:
        check_latent(latent, self.latent_dim, "seanet decoder")
        return self.layers(latent)
