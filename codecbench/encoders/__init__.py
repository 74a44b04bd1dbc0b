"""Encoders: waveform [B, 1, T] -> latent frames. Importing this package registers the built-ins."""

from codecbench.encoders.base import ENCODERS, Encoder
from codecbench.encoders.dac import DACEncoder
from codecbench.encoders.mimi import MimiEncoder
from codecbench.encoders.seanet import SEANetEncoder

__all__ = ["ENCODERS", "DACEncoder", "Encoder", "MimiEncoder", "SEANetEncoder"]
