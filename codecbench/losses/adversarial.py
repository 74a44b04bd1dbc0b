"""GAN losses: generator adversarial term, discriminator term and feature matching.

Each reads one ``DiscriminatorOutput`` per sub-discriminator and combines them with
``reduction="mean"`` (EnCodec averages over sub-discriminators) or ``"sum"`` (DAC sums).
These losses see the absolute level only if the discriminator does: with a level-blind
discriminator (``Discriminator.sees_absolute_level`` False, e.g. DAC's peak-normalising
MRD) they cannot stop amplitude collapse on their own.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from codecbench.losses.base import LOSSES, LossInputs, LossTerm
from codecbench.losses.common import check_reduction, discriminator_outputs, reduce_over_discriminators

GAN_KINDS = ("least_squares", "hinge")


def _check_kind(kind: str, loss_name: str) -> str:
    if kind not in GAN_KINDS:
        raise ValueError(f"{loss_name} loss: kind must be one of {GAN_KINDS}, got {kind!r}")
    return kind


@LOSSES.register("adversarial")
class AdversarialLoss(LossTerm):
    """Generator adversarial loss: least squares ``mean((1 - D(G))^2)`` or hinge ``mean(relu(1 - D(G)))``."""

    needs_discriminator = True

    def __init__(self, kind: str = "least_squares", reduction: str = "mean") -> None:
        super().__init__()
        self.kind = _check_kind(kind, "adversarial")
        self.reduction = check_reduction(reduction, "adversarial")

    def forward(self, inputs: LossInputs) -> Tensor:
        fake = discriminator_outputs(inputs.fake, "fake", "adversarial")
        terms = []
        for output in fake:
            logits = output.logits.float()
            if self.kind == "least_squares":
                terms.append((1.0 - logits).pow(2).mean())
            else:
                terms.append(F.relu(1.0 - logits).mean())
        return reduce_over_discriminators(terms, self.reduction)


@LOSSES.register("discriminator")
class DiscriminatorLoss(LossTerm):
    """Discriminator loss: least squares or hinge, on real and (detached) fake outputs.

    Least squares: ``mean((1 - D(x))^2) + mean(D(G)^2)``; hinge:
    ``mean(relu(1 - D(x))) + mean(relu(1 + D(G)))``; per sub-discriminator.
    Trains the discriminator, not the generator: ``inputs.fake`` must come from the
    detached reconstruction. ``trains_discriminator`` marks it for the trainer.
    """

    needs_discriminator = True
    depends_on_output = False
    trains_discriminator = True

    def __init__(self, kind: str = "least_squares", reduction: str = "mean") -> None:
        super().__init__()
        self.kind = _check_kind(kind, "discriminator")
        self.reduction = check_reduction(reduction, "discriminator")

    def forward(self, inputs: LossInputs) -> Tensor:
        real = discriminator_outputs(inputs.real, "real", "discriminator")
        fake = discriminator_outputs(inputs.fake, "fake", "discriminator")
        if len(real) != len(fake):
            raise ValueError(f"discriminator loss: {len(real)} real but {len(fake)} fake sub-discriminator outputs")
        terms = []
        for r, f in zip(real, fake):
            real_logits, fake_logits = r.logits.float(), f.logits.float()
            if self.kind == "least_squares":
                terms.append((1.0 - real_logits).pow(2).mean() + fake_logits.pow(2).mean())
            else:
                terms.append(F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())
        return reduce_over_discriminators(terms, self.reduction)


@LOSSES.register("feature_matching")
class FeatureMatchingLoss(LossTerm):
    """L1 between discriminator feature maps on fake and (detached) real audio.

    ``relative=False``: plain L1 per layer (DAC). ``relative=True``: each layer's L1 divided
    by ``mean(|real feature|)`` (EnCodec paper's normalisation). ``reduction="mean"``
    averages over the layers of each sub-discriminator, then over sub-discriminators;
    ``"sum"`` sums both (DAC's code).
    """

    needs_discriminator = True

    def __init__(self, relative: bool = False, reduction: str = "mean", eps: float = 1e-8) -> None:
        super().__init__()
        self.relative = relative
        self.reduction = check_reduction(reduction, "feature_matching")
        self.eps = eps

    def forward(self, inputs: LossInputs) -> Tensor:
        real = discriminator_outputs(inputs.real, "real", "feature_matching")
        fake = discriminator_outputs(inputs.fake, "fake", "feature_matching")
        if len(real) != len(fake):
            raise ValueError(f"feature_matching loss: {len(real)} real but {len(fake)} fake sub-discriminator outputs")
        per_discriminator = []
        for index, (r, f) in enumerate(zip(real, fake)):
            if len(r.feature_maps) != len(f.feature_maps) or not r.feature_maps:
                raise ValueError(
                    f"feature_matching loss: sub-discriminator {index} gave {len(r.feature_maps)} real and "
                    f"{len(f.feature_maps)} fake feature maps (need the same, non-zero number)"
                )
            layers = []
            for real_map, fake_map in zip(r.feature_maps, f.feature_maps):
                target = real_map.detach().float()
                term = F.l1_loss(fake_map.float(), target)
                if self.relative:
                    term = term / target.abs().mean().clamp_min(self.eps)
                layers.append(term)
            per_discriminator.append(reduce_over_discriminators(layers, self.reduction))
        return reduce_over_discriminators(per_discriminator, self.reduction)
