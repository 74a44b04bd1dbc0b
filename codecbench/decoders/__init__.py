"""Decoders: latent frames -> waveform [B, 1, T]. Importing this package registers the built-ins."""

from codecbench.decoders.base import DECODERS, Decoder
from codecbench.decoders.dac import DACDecoder
from codecbench.decoders.mimi import MimiDecoder
from codecbench.decoders.seanet import SEANetDecoder

__all__ = ["DECODERS", "DACDecoder", "Decoder", "MimiDecoder", "SEANetDecoder"]
