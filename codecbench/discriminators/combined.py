"""Several discriminators judged together: their sub-discriminator outputs, concatenated in order."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.types import DiscriminatorOutput


@DISCRIMINATORS.register("combined")
class CombinedDiscriminator(Discriminator):
    """Concatenates the outputs of several discriminators (e.g. DAC's MPD + MRD).

    ``sees_absolute_level`` is True when any member sees level: one level-aware member is enough to
    penalise a generator that gets quieter.
    """

    def __init__(self, discriminators: Sequence[Discriminator]) -> None:
        super().__init__()
        members = list(discriminators)
        if not members:
            raise ValueError("combined: give at least one discriminator, e.g. [mpd(), mrd()]")
        for i, member in enumerate(members):
            if not isinstance(member, Discriminator):
                raise TypeError(
                    f"combined: member {i} is {type(member).__name__}, not a Discriminator; "
                    "in a recipe write @codecbench.discriminators.mpd() (with the parentheses)"
                )
        self.discriminators = nn.ModuleList(members)
        self.sees_absolute_level = any(m.sees_absolute_level for m in members)

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        return [out for member in self.discriminators for out in member(audio)]
