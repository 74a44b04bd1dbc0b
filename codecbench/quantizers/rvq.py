"""Residual VQ with EMA codebooks (EnCodec / AudioCraft), optional per-item quantizer dropout."""

from __future__ import annotations

from codecbench.quantizers.base import QUANTIZERS
from codecbench.quantizers.residual import ResidualQuantizer, linear_projections
from codecbench.quantizers.vq import euclidean_levels


@QUANTIZERS.register("rvq")
class ResidualVectorQuantizer(ResidualQuantizer):
    """Residual VQ: n_q EMA codebooks over the running residual, k-means init, dead-code restarts.

    Each level's codebook follows the EMA of the residual reaching that level. The output carries one
    straight-through gradient (identity to the latent); the penalty is ``commitment_weight`` times the
    mean over levels of ||r_i - sg(q_i)||^2 (EnCodec). ``quantizer_dropout`` p: in training an item uses
    a random number of levels in [1, n_q] with probability p (DAC-style bitrate scalability).
    ``codebook_dim`` adds shared bias-free projections dim -> codebook_dim -> dim (Mimi).
    """

    def __init__(
        self,
        dim: int = 128,
        n_q: int = 8,
        codebook_size: int = 1024,
        codebook_dim: int | None = None,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_iters: int = 50,
        threshold_dead: float = 2.0,
        restart_dead: bool = True,
        quantizer_dropout: float = 0.0,
        commitment_weight: float = 1.0,
    ) -> None:
        in_proj, out_proj = linear_projections(dim, codebook_dim)
        levels = euclidean_levels(
            n_q, codebook_dim or dim, codebook_size, decay, epsilon, kmeans_iters, threshold_dead, restart_dead
        )
        super().__init__(
            levels,
            dim,
            quantizer_dropout=quantizer_dropout,
            commitment_weight=commitment_weight,
            penalty_reduction="mean",
            in_proj=in_proj,
            out_proj=out_proj,
        )
