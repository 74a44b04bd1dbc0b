"""Quantizer contract: latent [B, D, T] -> QuantizedResult with integer codes [B, n_q, T]."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from torch import Tensor, nn

from codecbench.registry import Registry
from codecbench.types import QuantizedResult


class Quantizer(nn.Module, ABC):
    """Discretises a latent sequence.

    ``forward`` is the training/analysis path (straight-through output, penalty, metrics);
    ``encode``/``decode`` are the inference path and satisfy
    ``decode(encode(x, n_q)) == forward(x, ..., n_q).quantized`` in eval mode.
    """

    dim: int

    @property
    @abstractmethod
    def codebook_sizes(self) -> list[int]:
        """Number of codes of each level, in level order."""

    @property
    def num_levels(self) -> int:
        return len(self.codebook_sizes)

    def bits_per_frame(self, n_q: int | None = None) -> float:
        sizes = self.codebook_sizes[: n_q or self.num_levels]
        return float(sum(math.log2(size) for size in sizes))

    @abstractmethod
    def forward(self, latent: Tensor, frame_rate: float, n_q: int | None = None) -> QuantizedResult: ...

    @abstractmethod
    def encode(self, latent: Tensor, n_q: int | None = None) -> Tensor:
        """Integer codes [B, n_q, T] (int64)."""

    @abstractmethod
    def decode(self, codes: Tensor) -> Tensor:
        """Quantized latent [B, D, T] from codes of any number of leading levels."""


QUANTIZERS: Registry[Quantizer] = Registry("quantizer", "codecbench.quantizers", Quantizer)
