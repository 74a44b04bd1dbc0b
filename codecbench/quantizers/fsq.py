"""Finite scalar quantization (Mentzer et al. 2023): bounded per-channel rounding on a small grid."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from codecbench.quantizers.base import QUANTIZERS, Quantizer
from codecbench.quantizers.codebook import all_reduce_sum_, code_counts, ema_, straight_through, usage_metrics
from codecbench.quantizers.residual import check_codes, check_latent, from_rows, resolve_n_q, to_rows, zero_penalty
from codecbench.types import QuantizedResult


@QUANTIZERS.register("fsq")
class FiniteScalarQuantizer(Quantizer):
    """FSQ: project to len(levels) channels, bound with tanh, round (straight-through), project back.

    Channel i takes ``levels[i]`` values; a frame's code is one integer in [0, prod(levels)), so there is
    a single level (n_q = 1) with ``prod(levels)`` codes. No penalty (zero). ``decay`` and
    ``threshold_dead`` only drive the usage statistics reported as ``q0/dead``.
    """

    def __init__(
        self,
        dim: int = 128,
        levels: tuple[int, ...] = (8, 5, 5, 5),
        decay: float = 0.99,
        threshold_dead: float = 2.0,
    ) -> None:
        super().__init__()
        levels = tuple(int(level) for level in levels)
        if not levels or any(level < 2 for level in levels):
            raise ValueError(f"FiniteScalarQuantizer: levels must be integers >= 2, got {levels!r}")
        self.dim, self.levels = dim, levels
        self.decay, self.threshold_dead = decay, threshold_dead
        self.size = math.prod(levels)
        self.in_proj = nn.Linear(dim, len(levels))
        self.out_proj = nn.Linear(len(levels), dim)
        eps = 1e-3
        level_t = torch.tensor(levels, dtype=torch.float32)
        half_level = (level_t - 1) * (1 + eps) / 2
        offset = torch.where(level_t % 2 == 0, 0.5, 0.0)
        self.register_buffer("half_level", half_level, persistent=False)
        self.register_buffer("offset", offset, persistent=False)
        self.register_buffer("shift", torch.atanh(offset / half_level), persistent=False)
        self.register_buffer("half_width", torch.div(level_t, 2, rounding_mode="floor"), persistent=False)
        basis = torch.cumprod(torch.tensor((1, *levels[:-1]), dtype=torch.long), 0)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("level_sizes", torch.tensor(levels, dtype=torch.long), persistent=False)
        self.register_buffer("cluster_size", torch.zeros(self.size))

    @property
    def codebook_sizes(self) -> list[int]:
        return [self.size]

    def _round(self, z: Tensor) -> Tensor:
        """Integer grid values in [-half_width, levels - 1 - half_width], straight-through, unnormalised."""
        bounded = torch.tanh(z + self.shift) * self.half_level - self.offset
        return straight_through(bounded, torch.round(bounded))

    def _indices(self, rounded: Tensor) -> Tensor:
        return ((rounded.detach() + self.half_width).long() * self.basis).sum(-1)

    def forward(self, latent: Tensor, frame_rate: float, n_q: int | None = None) -> QuantizedResult:
        check_latent(latent, self.dim, "FiniteScalarQuantizer")
        resolve_n_q(n_q, 1, "FiniteScalarQuantizer")
        batch = latent.shape[0]
        with torch.autocast(device_type=latent.device.type, enabled=False):
            rounded = self._round(self.in_proj(to_rows(latent)))
            indices = self._indices(rounded)
            quantized = from_rows(self.out_proj(rounded / self.half_width), batch)
            counts = code_counts(indices, self.size)
            if self.training:
                with torch.no_grad():
                    ema_(self.cluster_size, all_reduce_sum_(counts), self.decay)
        stats = usage_metrics(counts[None], self.cluster_size[None], self.threshold_dead)
        return QuantizedResult(
            quantized=quantized,
            codes=indices.view(batch, 1, -1),
            bits_per_second=self.bits_per_frame(1) * float(frame_rate),
            penalty=zero_penalty(latent),
            metrics={f"q0/{key}": value[0] for key, value in stats.items()},
        )

    @torch.no_grad()
    def encode(self, latent: Tensor, n_q: int | None = None) -> Tensor:
        check_latent(latent, self.dim, "FiniteScalarQuantizer")
        resolve_n_q(n_q, 1, "FiniteScalarQuantizer")
        with torch.autocast(device_type=latent.device.type, enabled=False):
            indices = self._indices(self._round(self.in_proj(to_rows(latent))))
        return indices.view(latent.shape[0], 1, -1)

    def decode(self, codes: Tensor) -> Tensor:
        check_codes(codes, self.codebook_sizes, "FiniteScalarQuantizer")
        codes = codes.to(device=self.basis.device, dtype=torch.long)
        with torch.autocast(device_type=codes.device.type, enabled=False):
            digits = (codes.reshape(-1, 1) // self.basis) % self.level_sizes
            rounded = digits.to(self.half_width.dtype) - self.half_width
            return from_rows(self.out_proj(rounded / self.half_width), codes.shape[0])
