"""Argument checks shared by the encoder/decoder constructors."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor


def check_strides(strides: Sequence[int], who: str) -> tuple[int, ...]:
    """``strides`` as a tuple of positive ints, or a ValueError naming ``who``."""
    values = tuple(int(s) for s in strides)
    if not values or any(s < 1 for s in values) or any(int(s) != s for s in strides):
        raise ValueError(f"{who}: strides must be a non-empty sequence of positive integers, got {tuple(strides)!r}")
    return values


def hop_of(strides: Sequence[int], extra: int = 1) -> int:
    return math.prod(strides) * extra


def check_audio(audio: Tensor, who: str) -> None:
    """Raise unless ``audio`` is [B, 1, T]."""
    if audio.dim() != 3 or audio.shape[1] != 1:
        raise ValueError(f"{who}: expected mono audio of shape [batch, 1, samples], got {tuple(audio.shape)}")


def check_latent(latent: Tensor, latent_dim: int, who: str) -> None:
    """Raise unless ``latent`` is [B, latent_dim, frames]."""
    if latent.dim() != 3 or latent.shape[1] != latent_dim:
        raise ValueError(f"{who}: expected latent of shape [batch, {latent_dim}, frames], got {tuple(latent.shape)}")
