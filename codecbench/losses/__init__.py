"""Loss terms (importing this registers the built-ins: l1, mse, si_sdr, mel, stft, adversarial,
discriminator, feature_matching, distillation)."""

from codecbench.losses import adversarial, distillation, spectral, waveform
from codecbench.losses.adversarial import AdversarialLoss, DiscriminatorLoss, FeatureMatchingLoss
from codecbench.losses.base import LOSSES, LossInputs, LossTerm
from codecbench.losses.distillation import SemanticDistillationLoss
from codecbench.losses.spectral import MultiResolutionSTFTLoss, MultiScaleMelLoss
from codecbench.losses.waveform import NegativeSISDRLoss, WaveformL1Loss, WaveformMSELoss

__all__ = [
    "LOSSES",
    "AdversarialLoss",
    "DiscriminatorLoss",
    "FeatureMatchingLoss",
    "LossInputs",
    "LossTerm",
    "MultiResolutionSTFTLoss",
    "MultiScaleMelLoss",
    "NegativeSISDRLoss",
    "SemanticDistillationLoss",
    "WaveformL1Loss",
    "WaveformMSELoss",
    "adversarial",
    "distillation",
    "spectral",
    "waveform",
]
