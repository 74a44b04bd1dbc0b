"""SEANet encoder (SoundStream / EnCodec): ELU residual units, strided convs, optional LSTM."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from codecbench.encoders.base import ENCODERS, Encoder
from codecbench.nn.seanet_blocks import build_seanet_encoder
from codecbench.nn.validation import check_audio
from codecbench.streaming import StreamingModule


@ENCODERS.register("seanet")
class SEANetEncoder(Encoder, StreamingModule[None]):
    """SEANet encoder (EnCodec style): ELU residual units, strided convs, optional LSTM.

    ``zero_bias_init`` (default) starts every bias at zero, as DAC does; EnCodec keeps PyTorch's random
    biases, with which a small encoder's latent is mostly a constant (``benchmarks/latent_spread.py``).
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
        self.set_framing("seanet encoder", sample_rate, strides, latent_dim, causal)
        self.layers = build_seanet_encoder(
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

    def forward(self, audio: Tensor) -> Tensor:
        check_audio(audio, "seanet encoder")
        return self.layers(audio)
