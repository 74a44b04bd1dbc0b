"""Sample-domain losses: L1, MSE and negative SI-SDR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from codecbench.losses.base import LOSSES, LossInputs, LossTerm
from codecbench.losses.common import paired_audio


@LOSSES.register("l1")
class WaveformL1Loss(LossTerm):
    """Mean absolute error between reconstruction and reference samples (level-sensitive)."""

    def forward(self, inputs: LossInputs) -> Tensor:
        reference, reconstruction = paired_audio(inputs, "l1")
        return F.l1_loss(reconstruction.float(), reference.float())


@LOSSES.register("mse")
class WaveformMSELoss(LossTerm):
    """Mean squared error between reconstruction and reference samples (level-sensitive)."""

    def forward(self, inputs: LossInputs) -> Tensor:
        reference, reconstruction = paired_audio(inputs, "mse")
        return F.mse_loss(reconstruction.float(), reference.float())


def si_sdr_db(estimate: Tensor, reference: Tensor, *, zero_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """Scale-invariant SDR in dB per item (higher is better): [B, ..., T] -> [B]."""
    estimate = estimate.float().reshape(estimate.shape[0], -1)
    reference = reference.float().reshape(reference.shape[0], -1)
    if zero_mean:
        estimate = estimate - estimate.mean(dim=-1, keepdim=True)
        reference = reference - reference.mean(dim=-1, keepdim=True)
    scale = ((estimate * reference).sum(-1, keepdim=True) + eps) / (reference.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * reference
    noise = estimate - target
    return 10.0 * torch.log10((target.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


@LOSSES.register("si_sdr")
class NegativeSISDRLoss(LossTerm):
    """Negative SI-SDR in dB, averaged over the batch (lower is better).

    Blind to absolute level: any rescaling of the reconstruction gives the same loss, so
    used alone it cannot prevent amplitude collapse; pair it with a level-sensitive loss.
    ``clip_min`` (dB of loss) stops pushing items that are already good enough.
    """

    def __init__(self, zero_mean: bool = True, clip_min: float | None = None, eps: float = 1e-8) -> None:
        super().__init__()
        self.zero_mean = zero_mean
        self.clip_min = clip_min
        self.eps = eps

    def forward(self, inputs: LossInputs) -> Tensor:
        reference, reconstruction = paired_audio(inputs, "si_sdr")
        loss = -si_sdr_db(reconstruction, reference, zero_mean=self.zero_mean, eps=self.eps)
        if self.clip_min is not None:
            loss = loss.clamp_min(self.clip_min)
        return loss.mean()
