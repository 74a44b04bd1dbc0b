"""DAC's multi-band, multi-resolution complex-STFT discriminator.

One sub-discriminator per FFT size. Each computes one fp32 complex STFT (real and imaginary parts as two
channels), splits the frequency axis into bands, runs a separate conv stack per band, concatenates the
band outputs along frequency and applies a final conv to get the logits.

Level: DAC peak-normalises every discriminator input (``x / max|x| * 0.8`` after removing DC, in its
wrapper, so its MPD is affected too), which makes its discriminators blind to absolute level; alone they
cannot stop a generator from getting quieter. Here that is an option, ``normalize_level``, off by default,
so the default MRD sees level (``sees_absolute_level`` is True).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.discriminators.layers import (
    check_audio,
    complex_stft,
    leaky_stack,
    match_stride_padding,
    peak_normalize,
    stft_window,
    wn_conv2d,
)
from codecbench.types import DiscriminatorOutput

DAC_BANDS: tuple[tuple[float, float], ...] = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


def band_edges(bands: Sequence[Sequence[float]], n_bins: int) -> tuple[tuple[int, int], ...]:
    """Frequency-bin ranges ``[lo, hi)`` for bands given as fractions of ``n_bins`` (DAC rounding: ``int``)."""
    edges = []
    for band in bands:
        lo, hi = (float(b) for b in band)
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"mrd: each band must be (lo, hi) with 0 <= lo < hi <= 1, got {tuple(band)}")
        first, last = int(lo * n_bins), int(hi * n_bins)
        if last <= first:
            raise ValueError(f"mrd: band {tuple(band)} is empty for {n_bins} frequency bins; use wider bands")
        edges.append((first, last))
    if not edges:
        raise ValueError("mrd: bands must be a non-empty sequence of (lo, hi) fractions")
    return tuple(edges)


class BandedSTFTDiscriminator(nn.Module):
    """One resolution: complex STFT -> per-band conv stacks -> concatenated -> final conv.

    Spectrogram layout is [B, 2, frames, bins]; each band stack is a (3, 9) conv, three (3, 9) convs with
    stride 2 along frequency and a (3, 3) conv, all with ``channels`` channels and LeakyReLU. The STFT is
    DAC's: ``sqrt_hann`` window, hop ``n_fft * hop_factor``, ``ceil(T / hop)`` frames (``match_stride``).
    Feature maps: every band's activations (band-major), logits excluded.
    """

    def __init__(
        self,
        n_fft: int,
        bands: Sequence[Sequence[float]] = DAC_BANDS,
        channels: int = 32,
        hop_factor: float = 0.25,
        window: str = "sqrt_hann",
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"mrd: channels must be >= 1, got {channels}")
        self.n_fft = n_fft
        self.hop_length = int(n_fft * hop_factor)
        if not 0 < self.hop_length <= n_fft:
            raise ValueError(f"mrd: hop_factor {hop_factor} gives hop {self.hop_length} for n_fft {n_fft}")
        self.negative_slope = negative_slope
        self.bands = band_edges(bands, n_fft // 2 + 1)
        self.band_convs = nn.ModuleList(self._band_stack(channels) for _ in self.bands)
        self.conv_post = wn_conv2d(channels, 1, (3, 3), (1, 1), (1, 1))
        self.register_buffer("window", stft_window(window, n_fft), persistent=False)

    @staticmethod
    def _band_stack(ch: int) -> nn.ModuleList:
        return nn.ModuleList(
            [
                wn_conv2d(2, ch, (3, 9), (1, 1), (1, 4)),
                wn_conv2d(ch, ch, (3, 9), (1, 2), (1, 4)),
                wn_conv2d(ch, ch, (3, 9), (1, 2), (1, 4)),
                wn_conv2d(ch, ch, (3, 9), (1, 2), (1, 4)),
                wn_conv2d(ch, ch, (3, 3), (1, 1), (1, 1)),
            ]
        )

    def min_length(self) -> int:
        """Shortest input the reflect padding allows."""
        return (self.n_fft - self.hop_length) // 2 + self.hop_length

    def spectrogram(self, audio: Tensor) -> Tensor:
        """[B, 1, T] -> float32 [B, 2, ceil(T / hop), n_fft // 2 + 1], computed with autocast disabled."""
        pad = match_stride_padding(audio.shape[-1], self.n_fft, self.hop_length)
        return complex_stft(audio, self.n_fft, self.hop_length, self.window, pad)

    def forward(self, audio: Tensor) -> DiscriminatorOutput:
        spec = self.spectrogram(audio)
        maps: list[Tensor] = []
        outs: list[Tensor] = []
        for (lo, hi), stack in zip(self.bands, self.band_convs):
            x, band_maps = leaky_stack(stack, spec[..., lo:hi], self.negative_slope)
            maps.extend(band_maps)
            outs.append(x)
        logits = self.conv_post(torch.cat(outs, dim=-1))
        return DiscriminatorOutput(logits=logits, feature_maps=maps)


@DISCRIMINATORS.register("mrd")
class MultiResolutionDiscriminator(Discriminator):
    """DAC multi-band multi-resolution complex-STFT discriminator; one sub-discriminator per FFT size.

    Defaults are DAC's (FFT sizes 2048/1024/512, hop n_fft/4, five bands, 32 channels) except that
    ``normalize_level`` is False: set it True for DAC's peak normalisation, which makes the MRD blind to
    absolute level (``sees_absolute_level`` False).
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = (2048, 1024, 512),
        bands: Sequence[Sequence[float]] = DAC_BANDS,
        channels: int = 32,
        hop_factor: float = 0.25,
        window: str = "sqrt_hann",
        negative_slope: float = 0.1,
        normalize_level: bool = False,
    ) -> None:
        super().__init__()
        if not fft_sizes:
            raise ValueError("mrd: fft_sizes must be a non-empty sequence of ints, e.g. (2048, 1024, 512)")
        self.fft_sizes = tuple(int(n) for n in fft_sizes)
        self.normalize_level = normalize_level
        self.sees_absolute_level = not normalize_level
        self.discriminators = nn.ModuleList(
            BandedSTFTDiscriminator(n, bands, channels, hop_factor, window, negative_slope) for n in self.fft_sizes
        )

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        check_audio(audio, "mrd", min_length=max(d.min_length() for d in self.discriminators))
        if self.normalize_level:
            audio = peak_normalize(audio)
        return [d(audio) for d in self.discriminators]
