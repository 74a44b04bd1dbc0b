"""Test-local quantizer double (not registered): per-channel rounding to a 1/4 grid, one level per channel."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from codecbench.quantizers.base import Quantizer
from codecbench.types import QuantizedResult


class RoundingQuantizer(Quantizer):
    """Level ``d`` codes channel ``d`` as ``round(4 x) + 128`` clamped to [0, 256); missing levels decode to 0."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    @property
    def codebook_sizes(self) -> list[int]:
        return [256] * self.dim

    def encode(self, latent: Tensor, n_q: int | None = None) -> Tensor:
        levels = n_q or self.dim
        return (torch.round(latent[:, :levels] * 4) + 128).clamp(0, 255).long()

    def decode(self, codes: Tensor) -> Tensor:
        values = (codes.float() - 128) / 4
        missing = self.dim - codes.shape[1]
        return torch.nn.functional.pad(values, (0, 0, 0, missing))

    def forward(self, latent: Tensor, frame_rate: float, n_q: int | None = None) -> QuantizedResult:
        codes = self.encode(latent, n_q)
        hard = self.decode(codes)
        quantized = latent + (hard - latent).detach()
        penalty = (latent - hard).square().mean()
        return QuantizedResult(
            quantized=quantized,
            codes=codes,
            bits_per_second=codes.shape[1] * math.log2(256) * frame_rate,
            penalty=penalty,
            metrics={"q/levels": torch.tensor(float(codes.shape[1]))},
        )
