"""Codec models composed from an encoder, a quantizer and a decoder."""

from codecbench.models.codec import Codec, check_compatible

__all__ = ["Codec", "check_compatible"]
