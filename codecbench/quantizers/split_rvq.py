"""Mimi-style split RVQ: a semantic VQ and an acoustic RVQ side by side on the same latent, summed."""

from __future__ import annotations

import torch
from torch import Tensor

from codecbench.quantizers.base import QUANTIZERS, Quantizer
from codecbench.quantizers.residual import check_codes, check_latent, resolve_n_q
from codecbench.quantizers.rvq import ResidualVectorQuantizer
from codecbench.types import QuantizedResult


@QUANTIZERS.register("split_rvq")
class SplitResidualVectorQuantizer(Quantizer):
    """Semantic quantizer + acoustic RVQ in parallel on one latent; outputs summed, codes concatenated.

    Codes are ``cat(semantic codes, acoustic codes)`` along levels; ``n_q`` counts both (n_q = 1 is the
    semantic level alone). ``QuantizedResult.semantic`` is the semantic quantizer's output, the target
    of a distillation loss. By default both parts are EMA ``rvq`` instances built from the shared
    arguments (1 semantic level with ``semantic_codebook_size`` codes, n_q - 1 acoustic levels with
    quantizer dropout, each with its own projection to ``codebook_dim``: Mimi uses 8 x 2048, dim 256);
    ``semantic`` / ``acoustic`` inject other quantizers instead.
    """

    def __init__(
        self,
        dim: int = 512,
        n_q: int = 8,
        codebook_size: int = 2048,
        codebook_dim: int | None = 256,
        semantic_codebook_size: int | None = None,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_iters: int = 50,
        threshold_dead: float = 2.0,
        restart_dead: bool = True,
        quantizer_dropout: float = 0.0,
        commitment_weight: float = 1.0,
        semantic: Quantizer | None = None,
        acoustic: Quantizer | None = None,
    ) -> None:
        super().__init__()
        if (semantic is None or acoustic is None) and n_q < 2:
            raise ValueError(
                f"SplitResidualVectorQuantizer: n_q counts the semantic level too and must be >= 2, got {n_q}"
            )
        shared = {
            "dim": dim,
            "codebook_dim": codebook_dim,
            "decay": decay,
            "epsilon": epsilon,
            "kmeans_iters": kmeans_iters,
            "threshold_dead": threshold_dead,
            "restart_dead": restart_dead,
            "commitment_weight": commitment_weight,
        }
        if semantic is None:
            semantic = ResidualVectorQuantizer(n_q=1, codebook_size=semantic_codebook_size or codebook_size, **shared)
        if acoustic is None:
            acoustic = ResidualVectorQuantizer(
                n_q=n_q - 1, codebook_size=codebook_size, quantizer_dropout=quantizer_dropout, **shared
            )
        for part, name in ((semantic, "semantic"), (acoustic, "acoustic")):
            if part.dim != dim:
                raise ValueError(f"SplitResidualVectorQuantizer: {name} quantizer has dim {part.dim}, expected {dim}")
        self.dim = dim
        self.semantic = semantic
        self.acoustic = acoustic

    @property
    def codebook_sizes(self) -> list[int]:
        return self.semantic.codebook_sizes + self.acoustic.codebook_sizes

    def _split(self, n_q: int) -> tuple[int, int]:
        n_sem = min(n_q, self.semantic.num_levels)
        return n_sem, n_q - n_sem

    def forward(self, latent: Tensor, frame_rate: float, n_q: int | None = None) -> QuantizedResult:
        check_latent(latent, self.dim, type(self).__name__)
        n_sem, n_ac = self._split(resolve_n_q(n_q, self.num_levels, type(self).__name__))
        sem = self.semantic(latent, frame_rate, n_sem)
        if n_ac == 0:
            metrics = merge_metrics([("semantic", 0, sem.metrics)])
            return QuantizedResult(sem.quantized, sem.codes, sem.bits_per_second, sem.penalty, metrics, sem.quantized)
        ac = self.acoustic(latent, frame_rate, n_ac)
        metrics = merge_metrics([("semantic", 0, sem.metrics), ("acoustic", n_sem, ac.metrics)])
        return QuantizedResult(
            quantized=sem.quantized + ac.quantized,
            codes=torch.cat([sem.codes, ac.codes], dim=1),
            bits_per_second=sem.bits_per_second + ac.bits_per_second,
            penalty=sem.penalty + ac.penalty,
            metrics=metrics,
            semantic=sem.quantized,
        )

    @torch.no_grad()
    def encode(self, latent: Tensor, n_q: int | None = None) -> Tensor:
        check_latent(latent, self.dim, type(self).__name__)
        n_sem, n_ac = self._split(resolve_n_q(n_q, self.num_levels, type(self).__name__))
        codes = self.semantic.encode(latent, n_sem)
        if n_ac == 0:
            return codes
        return torch.cat([codes, self.acoustic.encode(latent, n_ac)], dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        check_codes(codes, self.codebook_sizes, type(self).__name__)
        n_sem = self.semantic.num_levels
        quantized = self.semantic.decode(codes[:, :n_sem])
        if codes.shape[1] > n_sem:
            quantized = quantized + self.acoustic.decode(codes[:, n_sem:])
        return quantized


SUMMED_METRICS = ("commitment", "codebook")


def merge_metrics(parts: list[tuple[str, int, dict[str, Tensor]]]) -> dict[str, Tensor]:
    """Metrics of quantizers whose levels are concatenated: ``q{i}/...`` renumbered by each part's level offset,
    other keys prefixed with the part's name; commitment and codebook losses are also summed over parts."""
    metrics: dict[str, Tensor] = {}
    for prefix, offset, part in parts:
        for key, value in part.items():
            level, sep, stat = key.partition("/")
            if sep and level[:1] == "q" and level[1:].isdigit():
                metrics[f"q{int(level[1:]) + offset}/{stat}"] = value
                continue
            metrics[f"{prefix}/{key}"] = value
            if key in SUMMED_METRICS:
                metrics[key] = metrics[key] + value if key in metrics else value
    return metrics
