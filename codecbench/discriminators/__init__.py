"""Discriminators: waveform [B, 1, T] -> one DiscriminatorOutput per sub-discriminator.

Importing this package registers the built-ins: ``mpd``, ``msd``, ``msstft``, ``mrd`` and ``combined``.
Every built-in sees absolute level by default; ``normalize_level=True`` gives DAC's per-item peak
normalisation, which makes that discriminator level-blind (``sees_absolute_level`` False).
"""

from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.discriminators.combined import CombinedDiscriminator
from codecbench.discriminators.mpd import MultiPeriodDiscriminator, PeriodDiscriminator
from codecbench.discriminators.mrd import BandedSTFTDiscriminator, MultiResolutionDiscriminator
from codecbench.discriminators.msd import MultiScaleDiscriminator, ScaleDiscriminator
from codecbench.discriminators.msstft import MultiScaleSTFTDiscriminator, STFTDiscriminator

__all__ = [
    "DISCRIMINATORS",
    "BandedSTFTDiscriminator",
    "CombinedDiscriminator",
    "Discriminator",
    "MultiPeriodDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiScaleDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "PeriodDiscriminator",
    "STFTDiscriminator",
    "ScaleDiscriminator",
]
