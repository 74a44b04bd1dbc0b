"""Loss contract: every loss term reads one LossInputs and returns a scalar."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from torch import Tensor, nn

from codecbench.registry import Registry
from codecbench.types import CodecOutput, DiscriminatorOutput


@dataclass
class LossInputs:
    """Everything a loss term may read for one batch.

    ``real``/``fake`` are the discriminator's outputs on the reference and on the
    reconstruction (for the discriminator's own loss, ``fake`` is computed on the detached
    reconstruction). ``codec`` is absent for discriminator losses.
    """

    reference: Tensor  # [B, 1, T]
    reconstruction: Tensor  # [B, 1, T]
    codec: CodecOutput | None = None
    real: list[DiscriminatorOutput] | None = None
    fake: list[DiscriminatorOutput] | None = None


class LossTerm(nn.Module, ABC):
    """One named training objective.

    ``depends_on_output`` is True when the loss reaches the generator only through the
    decoder output (``reconstruction``); such losses can be balanced at that output. Losses
    that reach the model elsewhere (semantic distillation) set it False and are
    back-propagated directly. ``needs_discriminator`` tells the trainer to run the
    discriminator before computing the loss.
    """

    depends_on_output: bool = True
    needs_discriminator: bool = False

    @abstractmethod
    def forward(self, inputs: LossInputs) -> Tensor: ...


LOSSES: Registry[LossTerm] = Registry("loss", "codecbench.losses", LossTerm)
