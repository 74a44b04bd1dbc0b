"""DAC-style factorised residual VQ: low-dimensional, L2-normalised, gradient-trained codebooks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codecbench.nn.init import zero_biases
from codecbench.nn.weight_norm import apply_weight_norm
from codecbench.quantizers.base import QUANTIZERS
from codecbench.quantizers.codebook import Codebook, straight_through
from codecbench.quantizers.residual import Level, LevelOutput, ResidualQuantizer


class ColumnLinear(nn.Module):
    """``x @ weight + bias`` with ``weight`` stored [in, out] (``nn.Linear`` stores [out, in]).

    For a projection up from a few channels this layout makes the weight gradient ``x.T @ grad`` a
    [in, N] x [N, out] product, several times faster on CPU than ``grad.T @ x`` for large ``out``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        reference = nn.Linear(in_features, out_features)  # same initialisation as nn.Linear / nn.Conv1d
        self.weight = nn.Parameter(reference.weight.detach().t().contiguous())
        self.bias = nn.Parameter(reference.bias.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return torch.addmm(self.bias, x, self.weight)


class FactorizedLevel(Level):
    """DAC level: weight-normed projection dim -> codebook_dim, cosine search, lookup, projection back.

    Losses live in the low-dimensional space: commitment ||z_e - sg(z_q)||^2 (moves the encoder and the
    in-projection only) and codebook ||sg(z_e) - z_q||^2 (moves the codebook only). The straight-through
    estimator sits between the projections, so both projections learn from the reconstruction.
    """

    differentiable = True

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        codebook_dim: int,
        *,
        decay: float = 0.99,
        kmeans_iters: int = 0,
        threshold_dead: float = 2.0,
        restart_dead: bool = False,
    ) -> None:
        super().__init__()
        self.in_proj = apply_weight_norm(nn.Linear(dim, codebook_dim))
        self.out_proj = apply_weight_norm(ColumnLinear(codebook_dim, dim), dim=1)  # norm per output channel
        zero_biases(self)  # DAC's initialisation: a random in-projection bias sends every frame to one code
        self.codebook = Codebook(
            codebook_dim,
            codebook_size,
            learnable=True,
            normalize=True,
            decay=decay,
            kmeans_iters=kmeans_iters,
            threshold_dead=threshold_dead,
            restart_dead=restart_dead,
        )

    def forward(self, residual: Tensor) -> LevelOutput:
        z_e = self.in_proj(residual)
        if self.training:
            self.codebook.initialize(z_e)
        indices = self.codebook.assign(z_e)
        z_q = self.codebook.lookup(indices)
        commitment = (z_e - z_q.detach()).pow(2).mean(-1)
        codebook_loss = (z_q - z_e.detach()).pow(2).mean(-1)
        counts = self.codebook.update(z_e, indices) if self.training else self.codebook.counts(indices)
        return LevelOutput(self.out_proj(straight_through(z_e, z_q)), indices, commitment, codebook_loss, counts)

    def encode(self, residual: Tensor) -> Tensor:
        return self.codebook.assign(self.in_proj(residual))

    def decode(self, indices: Tensor) -> Tensor:
        return self.out_proj(self.codebook.lookup(indices))


@QUANTIZERS.register("factorized_rvq")
class FactorizedResidualVectorQuantizer(ResidualQuantizer):
    """DAC residual VQ: factorised (codebook_dim), L2-normalised, gradient-trained codebooks with dropout.

    Defaults are DAC's recipe: 12 x 1024 codes, codebook_dim 8, quantizer_dropout 0.5, penalty
    0.25 * commitment + 1.0 * codebook loss, each summed over levels. ``decay`` and ``threshold_dead``
    drive the usage statistics (``q{i}/dead``); ``restart_dead`` (off in DAC) re-seeds dead codes from
    current projected inputs; ``kmeans_iters`` > 0 initialises codebooks by k-means (off in DAC).
    """

    def __init__(
        self,
        dim: int = 128,
        n_q: int = 12,
        codebook_size: int = 1024,
        codebook_dim: int = 8,
        quantizer_dropout: float = 0.5,
        commitment_weight: float = 0.25,
        codebook_weight: float = 1.0,
        decay: float = 0.99,
        kmeans_iters: int = 0,
        threshold_dead: float = 2.0,
        restart_dead: bool = False,
    ) -> None:
        if n_q < 1 or codebook_size < 2 or codebook_dim < 1:
            raise ValueError(
                f"FactorizedResidualVectorQuantizer: need n_q >= 1, codebook_size >= 2, codebook_dim "
                f">= 1, got n_q={n_q}, codebook_size={codebook_size}, codebook_dim={codebook_dim}"
            )
        levels = [
            FactorizedLevel(
                dim,
                codebook_size,
                codebook_dim,
                decay=decay,
                kmeans_iters=kmeans_iters,
                threshold_dead=threshold_dead,
                restart_dead=restart_dead,
            )
            for _ in range(n_q)
        ]
        super().__init__(
            levels,
            dim,
            quantizer_dropout=quantizer_dropout,
            commitment_weight=commitment_weight,
            codebook_weight=codebook_weight,
            penalty_reduction="sum",
        )
