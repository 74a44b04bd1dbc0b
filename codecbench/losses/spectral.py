"""Spectral reconstruction losses: DAC's multi-scale mel loss and a multi-resolution STFT loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from codecbench.audio.spectral import mel_filterbank, mel_from_magnitude, stft_magnitude
from codecbench.losses.base import LOSSES, LossInputs, LossTerm
from codecbench.losses.common import paired_audio

DAC_WINDOW_LENGTHS = (32, 64, 128, 256, 512, 1024, 2048)
DAC_N_MELS = (5, 10, 20, 40, 80, 160, 320)


def spectral_convergence(estimate: Tensor, reference: Tensor, eps: float) -> Tensor:
    """``||reference - estimate||_F / ||reference||_F`` over the whole batch (Parallel WaveGAN)."""
    return torch.linalg.vector_norm(reference - estimate) / torch.linalg.vector_norm(reference).clamp_min(eps)


def _reference_features(reference: Tensor) -> torch.set_grad_enabled:
    """Grad mode for the reference branch: no graph unless the reference itself needs gradients."""
    return torch.set_grad_enabled(torch.is_grad_enabled() and reference.requires_grad)


# level_pooling -> the dimensions of [B, n_mels, frames] that the level RMS runs over
LEVEL_POOLING_DIMS = {"item": (-1,), "batch": (0, -1), "broadband": (0, 1, 2)}


@LOSSES.register("mel")
class MultiScaleMelLoss(LossTerm):
    """Multi-scale mel loss as in DAC: per scale, L1 on log10 mels plus L1 on mels.

    Per scale ``(window, n_mels)`` with hop ``window // 4`` (Hann window, centred frames):
    ``log_weight * L1(log10(clamp(M_x, clamp_eps)**pow), ...) + mag_weight * L1(M_x, M_y)``,
    where ``M`` is the Slaney mel filterbank applied to the STFT magnitude; scales are summed.
    Defaults are DAC's class defaults (7 scales, mag_weight 1, log_weight 1, pow 1, clamp
    1e-5); DAC's released configs (conf/final/*.yml) set ``mag_weight=0``. ``f_max`` defaults
    to ``sample_rate / 2``. DAC's scales have no empty mel bands at 16 kHz; a configuration
    with more mels than a window resolves (e.g. 40 mels on a 64-sample window) has all-zero
    bands, which read as zero for both signals and add nothing, never NaN.

    Two optional terms (off by default, not in DAC) target the level directly:
    ``sc_weight * ||M_y - M_x||_F / ||M_y||_F`` (mel spectral convergence, over the batch) and
    ``level_weight * L1(log10 rms(M_x), log10 rms(M_y))``, a level that ignores timing and
    phase. Early in training, when the reconstruction's fine structure is still wrong, the
    per-bin log term is minimised by an output several dB too quiet (it matches medians of
    noisy bins, not energy); the level term is minimised only when the energies match.
    ``level_pooling`` sets what the RMS runs over: ``"item"``, time, per item and band (a
    long-term average spectrum of each item); ``"batch"``, time and items, per band, so loud
    items weigh by their energy (per item, a young codec's too-loud quiet crops cancel its
    too-quiet loud ones); ``"broadband"``, time, items and bands: the batch's overall level,
    where loud bands weigh by their energy too (per band, the noisy weak bands, too loud,
    cancel the too-quiet loud ones).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        window_lengths: Sequence[int] = DAC_WINDOW_LENGTHS,
        n_mels: Sequence[int] = DAC_N_MELS,
        hop_lengths: Sequence[int] | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        clamp_eps: float = 1e-5,
        mag_weight: float = 1.0,
        log_weight: float = 1.0,
        pow: float = 1.0,
        sc_weight: float = 0.0,
        level_weight: float = 0.0,
        level_pooling: str = "item",
    ) -> None:
        super().__init__()
        if level_pooling not in LEVEL_POOLING_DIMS:
            raise ValueError(
                f"mel loss: level_pooling must be one of {tuple(LEVEL_POOLING_DIMS)}, got {level_pooling!r}"
            )
        window_lengths, n_mels = tuple(int(w) for w in window_lengths), tuple(int(m) for m in n_mels)
        hops = tuple(w // 4 for w in window_lengths) if hop_lengths is None else tuple(int(h) for h in hop_lengths)
        if not (len(window_lengths) == len(n_mels) == len(hops)) or not window_lengths:
            raise ValueError(
                f"mel loss: window_lengths {window_lengths}, n_mels {n_mels} and hop_lengths {hops} "
                "must be non-empty and of equal length"
            )
        if min(hops) < 1:
            raise ValueError(f"mel loss: hop lengths must be >= 1, got {hops} (window_lengths too short?)")
        self.sample_rate = sample_rate
        self.scales = tuple(zip(window_lengths, hops, n_mels))
        self.f_min = f_min
        self.f_max = f_max
        self.clamp_eps = clamp_eps
        self.mag_weight = mag_weight
        self.log_weight = log_weight
        self.pow = pow
        self.sc_weight = sc_weight
        self.level_weight = level_weight
        self.level_pooling = level_pooling
        for window, _, mels in self.scales:  # validate every filterbank now, not on the first batch
            mel_filterbank(sample_rate, window, mels, f_min, f_max)

    def _mels(self, audio: Tensor, window: int, hop: int, n_mels: int) -> Tensor:
        mag = stft_magnitude(audio, window, hop)
        fb = mel_filterbank(self.sample_rate, window, n_mels, self.f_min, self.f_max, device=mag.device)
        return mel_from_magnitude(mag, fb)

    def _log(self, mel: Tensor) -> Tensor:
        mel = mel.clamp_min(self.clamp_eps)
        return (mel.pow(self.pow) if self.pow != 1.0 else mel).log10()

    def forward(self, inputs: LossInputs) -> Tensor:
        reference, reconstruction = paired_audio(inputs, "mel")
        loss = reconstruction.new_zeros((), dtype=torch.float32)
        with torch.autocast(device_type=reference.device.type, enabled=False):
            for window, hop, n_mels in self.scales:
                x = self._mels(reconstruction, window, hop, n_mels)
                with _reference_features(reference):
                    y = self._mels(reference, window, hop, n_mels)
                if self.log_weight:
                    loss = loss + self.log_weight * F.l1_loss(self._log(x), self._log(y))
                if self.mag_weight:
                    loss = loss + self.mag_weight * F.l1_loss(x, y)
                if self.sc_weight:
                    loss = loss + self.sc_weight * spectral_convergence(x, y, self.clamp_eps)
                if self.level_weight:
                    loss = loss + self.level_weight * F.l1_loss(self._band_level(x), self._band_level(y))
        return loss

    def _band_level(self, mel: Tensor) -> Tensor:
        """log10 RMS of [B, n_mels, frames] over time: per item and band, per band, or over everything."""
        return mel.square().mean(dim=LEVEL_POOLING_DIMS[self.level_pooling]).clamp_min(self.clamp_eps**2).log10() / 2


@LOSSES.register("stft")
class MultiResolutionSTFTLoss(LossTerm):
    """Multi-resolution STFT loss: spectral convergence plus L1 log magnitude, averaged over resolutions.

    Per resolution ``(n_fft, hop, win)``: ``sc_weight * ||Y - X||_F / ||Y||_F`` (Frobenius
    norms over the whole batch, as in Parallel WaveGAN) ``+ log_weight * mean|ln Y - ln X|``
    with magnitudes clamped at ``eps``. Level-sensitive (both terms see a gain error).
    """

    def __init__(
        self,
        resolutions: Sequence[Sequence[int]] = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)),
        sc_weight: float = 1.0,
        log_weight: float = 1.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        parsed = tuple(tuple(int(v) for v in resolution) for resolution in resolutions)
        if not parsed or any(len(r) != 3 or r[2] > r[0] or min(r) < 1 for r in parsed):
            raise ValueError(f"stft loss: resolutions must be (n_fft, hop, win) with win <= n_fft, got {parsed}")
        self.resolutions = parsed
        self.sc_weight = sc_weight
        self.log_weight = log_weight
        self.eps = eps

    def forward(self, inputs: LossInputs) -> Tensor:
        reference, reconstruction = paired_audio(inputs, "stft")
        loss = reconstruction.new_zeros((), dtype=torch.float32)
        with torch.autocast(device_type=reference.device.type, enabled=False):
            for n_fft, hop, win in self.resolutions:
                x = stft_magnitude(reconstruction, n_fft, hop, win, eps=self.eps)
                with _reference_features(reference):
                    y = stft_magnitude(reference, n_fft, hop, win, eps=self.eps)
                if self.sc_weight:
                    loss = loss + self.sc_weight * spectral_convergence(x, y, self.eps)
                if self.log_weight:
                    loss = loss + self.log_weight * F.l1_loss(x.log(), y.log())
        return loss / len(self.resolutions)
