"""Tiny encoder/decoder configurations per registered pair, for fast tests."""

from __future__ import annotations

from typing import Any

import codecbench.decoders  # registers the built-ins
import codecbench.encoders  # noqa: F401
from codecbench.decoders.base import DECODERS, Decoder
from codecbench.encoders.base import ENCODERS, Encoder

PAIRS = ("dac", "seanet", "mimi")
LATENT = 8


def tiny_kwargs(name: str, strides: tuple[int, ...] = (2, 3, 4), causal: bool = False) -> tuple[dict, dict]:
    common: dict[str, Any] = {"strides": strides, "latent_dim": LATENT, "causal": causal}
    if name == "dac":
        return {**common, "channels": 4}, {**common, "channels": 4 * 2 ** len(strides)}
    if name == "seanet":
        extra = {"channels": 4, "lstm_layers": 1}
        return {**common, **extra}, {**common, **extra}
    extra = {"channels": 4, "transformer_layers": 1, "num_heads": 2, "dim_feedforward": 16, "context": 4}
    return {**common, **extra}, {**common, **extra}


def tiny_pair(name: str, strides: tuple[int, ...] = (2, 3, 4), causal: bool = False) -> tuple[Encoder, Decoder]:
    enc_kwargs, dec_kwargs = tiny_kwargs(name, strides, causal)
    return ENCODERS.create(name, **enc_kwargs), DECODERS.create(name, **dec_kwargs)
