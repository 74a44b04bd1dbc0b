"""Residual quantization core shared by ``vq``, ``rvq`` and ``factorized_rvq`` (not registered itself).

A *level* quantizes rows [N, d] of the running residual and returns a :class:`LevelOutput`; the core
runs levels over the residual, applies per-item quantizer dropout, weights and reduces the penalties,
and gathers codes and usage metrics. Latents are handled as rows (frames of all items) throughout,
so every level works on one contiguous [B*T, d] matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from codecbench.quantizers.base import Quantizer
from codecbench.quantizers.codebook import Codebook, straight_through, usage_metrics
from codecbench.types import QuantizedResult


@dataclass
class LevelOutput:
    """One level's result for N rows."""

    quantized: Tensor  # [N, d] contribution to the quantized sum (in residual space)
    indices: Tensor  # [N] int64
    commitment: Tensor  # [N] unweighted ||z_e - sg(z_q)||^2 per row (mean over channels)
    codebook_loss: Tensor | None  # [N] unweighted ||sg(z_e) - z_q||^2 per row, for gradient-trained codebooks
    counts: Tensor  # [K] float32 code counts of this step (summed over ranks in training)


class Level(nn.Module):
    """Contract of a residual level.

    ``differentiable`` says whether ``forward``'s ``quantized`` carries the gradient path itself (DAC:
    straight-through inside the level, through learned projections). When False (EMA codebooks) the
    output carries no gradient and the core applies one straight-through estimator to the sum.
    """

    differentiable: ClassVar[bool] = False
    codebook: Codebook

    def forward(self, residual: Tensor) -> LevelOutput:
        raise NotImplementedError

    def encode(self, residual: Tensor) -> Tensor:
        """Indices [N] for residual rows [N, d]; no side effects."""
        raise NotImplementedError

    def decode(self, indices: Tensor) -> Tensor:
        """Rows [N, d] in residual space for indices [N]."""
        raise NotImplementedError


def to_rows(latent: Tensor) -> Tensor:
    """[B, D, T] -> contiguous [B*T, D] in float32 (float64 kept)."""
    if latent.dtype != torch.float64:
        latent = latent.float()
    return latent.transpose(1, 2).reshape(-1, latent.shape[1])


def from_rows(rows: Tensor, batch: int) -> Tensor:
    """[B*T, D] -> [B, D, T] (a transposed view)."""
    return rows.view(batch, -1, rows.shape[-1]).transpose(1, 2)


def check_latent(latent: Tensor, dim: int, who: str) -> None:
    if latent.dim() != 3 or latent.shape[1] != dim:
        raise ValueError(f"{who}: expected a latent of shape [batch, {dim}, frames], got {tuple(latent.shape)}")
    if not latent.is_floating_point():
        raise ValueError(f"{who}: expected a floating-point latent, got {latent.dtype}")
    if latent.shape[0] == 0 or latent.shape[2] == 0:
        raise ValueError(
            f"{who}: the latent is empty ({tuple(latent.shape)}); the input audio may be shorter than one frame"
        )


def check_codes(codes: Tensor, sizes: Sequence[int], who: str) -> None:
    """Raise unless ``codes`` is integer [B, n_q, T] with n_q <= len(sizes) and level i in [0, sizes[i])."""
    if codes.dim() != 3 or not 1 <= codes.shape[1] <= len(sizes):
        raise ValueError(
            f"{who}: expected codes of shape [batch, n_q, frames] with 1 <= n_q <= {len(sizes)}, "
            f"got {tuple(codes.shape)}"
        )
    if codes.dtype.is_floating_point or codes.is_complex() or codes.dtype == torch.bool:
        raise ValueError(f"{who}: expected integer codes, got {codes.dtype}")
    if codes.numel() == 0:
        return
    limits = torch.tensor(sizes[: codes.shape[1]], device=codes.device)[None, :, None]
    if bool(((codes < 0) | (codes >= limits)).any()):
        bad = [(i, int(codes[:, i].min()), int(codes[:, i].max())) for i in range(codes.shape[1])]
        raise ValueError(
            f"{who}: codes out of range; level sizes {list(sizes[: codes.shape[1]])}, observed (level, min, max) {bad}"
        )


def resolve_n_q(n_q: int | None, num_levels: int, who: str) -> int:
    if n_q is None:
        return num_levels
    if not 1 <= int(n_q) <= num_levels:
        raise ValueError(f"{who}: n_q must be in [1, {num_levels}], got {n_q}")
    return int(n_q)


def zero_penalty(reference: Tensor) -> Tensor:
    """A scalar zero that ``backward()`` accepts whether or not ``reference`` tracks gradients."""
    return reference.new_zeros(()).requires_grad_(reference.requires_grad)


class ResidualQuantizer(Quantizer):
    """Levels run over the running residual, with optional shared in/out projections and quantizer dropout.

    Quantizer dropout (training only, probability ``quantizer_dropout``): an item uses a random number
    of levels in [1, n_q] instead of n_q; every level still runs on the full residual (its codebook keeps
    learning) but contributes to the item's output and penalty only when active. The penalty is
    ``commitment_weight * commitment + codebook_weight * codebook loss`` per level, each a mean over
    items and frames, summed over levels (DAC) or averaged (``penalty_reduction="mean"``, EnCodec).
    """

    def __init__(
        self,
        levels: Sequence[Level],
        dim: int,
        *,
        quantizer_dropout: float = 0.0,
        commitment_weight: float = 1.0,
        codebook_weight: float = 1.0,
        penalty_reduction: str = "sum",
        in_proj: nn.Module | None = None,
        out_proj: nn.Module | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not levels:
            raise ValueError(f"{name}: needs at least one level")
        if len({level.differentiable for level in levels}) != 1:
            raise ValueError(f"{name}: cannot mix levels with and without their own straight-through gradient")
        if not 0.0 <= quantizer_dropout <= 1.0:
            raise ValueError(f"{name}: quantizer_dropout must be in [0, 1], got {quantizer_dropout}")
        if penalty_reduction not in ("sum", "mean"):
            raise ValueError(f"{name}: penalty_reduction must be 'sum' or 'mean', got {penalty_reduction!r}")
        self.dim = dim
        self.levels = nn.ModuleList(levels)
        self.quantizer_dropout = quantizer_dropout
        self.commitment_weight, self.codebook_weight = commitment_weight, codebook_weight
        self.penalty_reduction = penalty_reduction
        self.in_proj = in_proj if in_proj is not None else nn.Identity()
        self.out_proj = out_proj if out_proj is not None else nn.Identity()
        self._sum_straight_through = not levels[0].differentiable

    @property
    def codebook_sizes(self) -> list[int]:
        return [level.codebook.size for level in self.levels]

    def sample_active_levels(self, batch: int, n_q: int, device: torch.device) -> Tensor | None:
        """Per-item number of levels [B] for quantizer dropout, or None when every item uses ``n_q``."""
        if not self.training or self.quantizer_dropout <= 0.0 or n_q == 1:
            return None
        drop = torch.rand(batch, device=device) < self.quantizer_dropout
        return torch.where(drop, torch.randint(1, n_q + 1, (batch,), device=device), n_q)

    def forward(self, latent: Tensor, frame_rate: float, n_q: int | None = None) -> QuantizedResult:
        name = type(self).__name__
        check_latent(latent, self.dim, name)
        n_q = resolve_n_q(n_q, self.num_levels, name)
        batch, frames = latent.shape[0], latent.shape[2]
        with torch.autocast(device_type=latent.device.type, enabled=False):
            z = self.in_proj(to_rows(latent))
            active = self.sample_active_levels(batch, n_q, latent.device)
            masks = None  # [n_q, B] 1.0 where the item uses the level
            if active is not None:
                masks = (torch.arange(n_q, device=z.device)[:, None] < active[None]).to(z.dtype)
            residual, out = z, None
            results = []
            for i, level in enumerate(self.levels[:n_q]):
                result = level(residual)
                results.append(result)
                quantized = result.quantized
                residual = residual - quantized
                if masks is None:
                    out = quantized if out is None else out + quantized
                else:  # items whose level count is <= i do not get this level's output
                    items, mask = quantized.view(batch, frames, -1), masks[i][:, None, None]
                    out = (items * mask if out is None else torch.addcmul(out.view_as(items), items, mask)).view_as(z)
            if self._sum_straight_through:
                out = straight_through(z, out)
            quantized_latent = from_rows(self.out_proj(out), batch)
            commitment = self._level_means([r.commitment for r in results], batch, masks)
            penalty = self.commitment_weight * commitment.sum()
            metrics = self.level_metrics([r.counts for r in results], n_q)
            metrics["commitment"] = commitment.detach().sum()
            if results[0].codebook_loss is not None:
                codebook = self._level_means([r.codebook_loss for r in results], batch, masks)
                penalty = penalty + self.codebook_weight * codebook.sum()
                metrics["codebook"] = codebook.detach().sum()
            if self.penalty_reduction == "mean":
                penalty = penalty / n_q
        if active is not None:
            metrics["active_levels"] = active.float().mean()
        return QuantizedResult(
            quantized=quantized_latent,
            codes=torch.stack([r.indices.view(batch, frames) for r in results], dim=1),
            bits_per_second=self.bits_per_frame(n_q) * float(frame_rate),
            penalty=penalty,
            metrics=metrics,
        )

    @staticmethod
    def _level_means(per_row: Sequence[Tensor], batch: int, masks: Tensor | None) -> Tensor:
        """Per level, the mean over items and frames of a per-row loss; dropped items count as zero. [n_q]"""
        rows = torch.stack(list(per_row))  # [n_q, N]
        if masks is None:
            return rows.mean(1)
        return (rows.view(rows.shape[0], batch, -1).mean(2) * masks).mean(1)

    def level_metrics(self, counts: Sequence[Tensor], n_q: int) -> dict[str, Tensor]:
        """``q{i}/perplexity``, ``q{i}/usage`` and ``q{i}/dead`` of the first ``n_q`` levels."""
        levels = self.levels[:n_q]
        if len({(level.codebook.size, level.codebook.threshold_dead) for level in levels}) == 1:  # stacked: few ops
            stats = usage_metrics(
                torch.stack(list(counts)),
                torch.stack([level.codebook.cluster_size for level in levels]),
                levels[0].codebook.threshold_dead,
            )
            per_level = [{key: value[i] for key, value in stats.items()} for i in range(n_q)]
        else:
            per_level = []
            for level, count in zip(levels, counts):
                stats = usage_metrics(count[None], level.codebook.cluster_size[None], level.codebook.threshold_dead)
                per_level.append({key: value[0] for key, value in stats.items()})
        return {f"q{i}/{key}": value for i, stats in enumerate(per_level) for key, value in stats.items()}

    @torch.no_grad()
    def encode(self, latent: Tensor, n_q: int | None = None) -> Tensor:
        name = type(self).__name__
        check_latent(latent, self.dim, name)
        n_q = resolve_n_q(n_q, self.num_levels, name)
        batch = latent.shape[0]
        with torch.autocast(device_type=latent.device.type, enabled=False):
            residual = self.in_proj(to_rows(latent))
            indices = []
            for level in self.levels[:n_q]:
                index = level.encode(residual)
                residual = residual - level.decode(index)
                indices.append(index.view(batch, -1))
        return torch.stack(indices, dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        check_codes(codes, self.codebook_sizes, type(self).__name__)
        batch = codes.shape[0]
        device = next(self.levels[0].codebook.buffers()).device
        with torch.autocast(device_type=device.type, enabled=False):
            out = None
            for i, level in enumerate(self.levels[: codes.shape[1]]):
                quantized = level.decode(codes[:, i].reshape(-1).to(device=device, dtype=torch.long))
                out = quantized if out is None else out + quantized
            return from_rows(self.out_proj(out), batch)


def linear_projections(dim: int, codebook_dim: int | None) -> tuple[nn.Module | None, nn.Module | None]:
    """Bias-free linear maps dim -> codebook_dim -> dim (Mimi), or (None, None) when the sizes agree."""
    if codebook_dim is None or codebook_dim == dim:
        return None, None
    if codebook_dim < 1:
        raise ValueError(f"codebook_dim must be positive, got {codebook_dim}")
    return nn.Linear(dim, codebook_dim, bias=False), nn.Linear(codebook_dim, dim, bias=False)
