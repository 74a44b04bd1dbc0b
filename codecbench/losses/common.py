"""Input checks shared by the loss terms."""

from __future__ import annotations

from torch import Tensor

from codecbench.losses.base import LossInputs
from codecbench.types import DiscriminatorOutput


def paired_audio(inputs: LossInputs, loss_name: str) -> tuple[Tensor, Tensor]:
    """Return ``(reference, reconstruction)``, checking that both are [B, C, T] of equal shape."""
    reference, reconstruction = inputs.reference, inputs.reconstruction
    if reference.shape != reconstruction.shape or reference.dim() != 3:
        raise ValueError(
            f"{loss_name} loss: reference {tuple(reference.shape)} and reconstruction "
            f"{tuple(reconstruction.shape)} must both be [B, 1, T] with the same shape "
            "(trim the decoder output to the input length)"
        )
    return reference, reconstruction


def discriminator_outputs(
    outputs: list[DiscriminatorOutput] | None, which: str, loss_name: str
) -> list[DiscriminatorOutput]:
    """Return ``inputs.real``/``inputs.fake``, with a clear error when the trainer did not provide them."""
    if not outputs:
        raise ValueError(
            f"{loss_name} loss needs the discriminator outputs on the {which} audio (LossInputs.{which}); "
            "the trainer must run the discriminator for losses with needs_discriminator=True"
        )
    return outputs


def reduce_over_discriminators(values: list[Tensor], reduction: str) -> Tensor:
    """Combine one value per sub-discriminator: ``mean`` (EnCodec) or ``sum`` (DAC)."""
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total / len(values) if reduction == "mean" else total


def check_reduction(reduction: str, loss_name: str) -> str:
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{loss_name} loss: reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction
