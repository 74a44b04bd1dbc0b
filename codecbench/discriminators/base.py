"""Discriminator contract: waveform [B, 1, T] -> one DiscriminatorOutput per sub-discriminator."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from codecbench.registry import Registry
from codecbench.types import DiscriminatorOutput


class Discriminator(nn.Module, ABC):
    """Judges real versus generated audio.

    ``sees_absolute_level`` is False for discriminators that normalise their input level
    (DAC's MRD peak-normalises): used alone, they cannot stop amplitude collapse.
    """

    sees_absolute_level: bool = True

    @abstractmethod
    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]: ...


DISCRIMINATORS: Registry[Discriminator] = Registry("discriminator", "codecbench.discriminators", Discriminator)
