"""EnCodec-style vector quantization: Euclidean search, EMA codebook, k-means init, dead-code restarts."""

from __future__ import annotations

from torch import Tensor

from codecbench.quantizers.base import QUANTIZERS
from codecbench.quantizers.codebook import Codebook
from codecbench.quantizers.residual import Level, LevelOutput, ResidualQuantizer, linear_projections


class EuclideanLevel(Level):
    """One EMA codebook level: nearest code, commitment ||r - sg(q)||^2, EMA update from its own input ``r``.

    The codebook is a buffer, so no loss can move it; in training it follows the EMA of the rows
    (the residual reaching this level) assigned to each code.
    """

    differentiable = False

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        *,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_iters: int = 50,
        threshold_dead: float = 2.0,
        restart_dead: bool = True,
    ) -> None:
        super().__init__()
        self.codebook = Codebook(
            dim,
            codebook_size,
            decay=decay,
            epsilon=epsilon,
            kmeans_iters=kmeans_iters,
            threshold_dead=threshold_dead,
            restart_dead=restart_dead,
        )

    def forward(self, residual: Tensor) -> LevelOutput:
        if self.training:
            self.codebook.initialize(residual)
        indices = self.codebook.assign(residual)
        quantized = self.codebook.lookup(indices)
        commitment = (residual - quantized.detach()).pow(2).mean(-1)
        counts = self.codebook.update(residual, indices) if self.training else self.codebook.counts(indices)
        return LevelOutput(quantized, indices, commitment, None, counts)

    def encode(self, residual: Tensor) -> Tensor:
        return self.codebook.assign(residual)

    def decode(self, indices: Tensor) -> Tensor:
        return self.codebook.lookup(indices)


def euclidean_levels(
    n_q: int,
    dim: int,
    codebook_size: int,
    decay: float,
    epsilon: float,
    kmeans_iters: int,
    threshold_dead: float,
    restart_dead: bool,
) -> list[EuclideanLevel]:
    if n_q < 1 or codebook_size < 2:
        raise ValueError(f"need n_q >= 1 and codebook_size >= 2, got n_q={n_q}, codebook_size={codebook_size}")
    return [
        EuclideanLevel(
            dim,
            codebook_size,
            decay=decay,
            epsilon=epsilon,
            kmeans_iters=kmeans_iters,
            threshold_dead=threshold_dead,
            restart_dead=restart_dead,
        )
        for _ in range(n_q)
    ]


@QUANTIZERS.register("vq")
class VectorQuantizer(ResidualQuantizer):
    """Single-codebook VQ with EMA updates, k-means init and dead-code restarts (EnCodec codebook).

    ``codebook_dim`` (optional) adds bias-free linear projections dim -> codebook_dim -> dim around the
    search. Penalty: ``commitment_weight * ||z - sg(q)||^2``; the codebook itself is trained only by EMA.
    """

    def __init__(
        self,
        dim: int = 128,
        codebook_size: int = 1024,
        codebook_dim: int | None = None,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_iters: int = 50,
        threshold_dead: float = 2.0,
        restart_dead: bool = True,
        commitment_weight: float = 1.0,
    ) -> None:
        in_proj, out_proj = linear_projections(dim, codebook_dim)
        levels = euclidean_levels(
            1, codebook_dim or dim, codebook_size, decay, epsilon, kmeans_iters, threshold_dead, restart_dead
        )
        super().__init__(
            levels,
            dim,
            commitment_weight=commitment_weight,
            penalty_reduction="mean",
            in_proj=in_proj,
            out_proj=out_proj,
        )
