"""Multi-scale sub-band CQT discriminator (MS-SB-CQTD, Gu et al., ICASSP 2024), registered as ``cqt``.

Each scale takes a complex constant-Q transform (real and imaginary parts as two channels, layout
[B, 2, frames, bins]), runs one small conv per octave (sub-band processing: octaves have different
time-frequency trade-offs, so they get their own filters), concatenates the octaves along the bin
axis and applies a weight-normed 2-D conv stack dilated along time and strided along frequency,
following the BigVGAN-v2 reference implementation. The input level is not normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.types import DiscriminatorOutput
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from codecbench_cqt.cqt import ConstantQTransform


def same_padding(kernel_size: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel_size[0] - 1) * dilation[0] // 2, (kernel_size[1] - 1) * dilation[1] // 2)


def wn_conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
) -> nn.Module:
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, same_padding(kernel_size, dilation), dilation)
    return weight_norm(conv)


class SubBandCQTDiscriminator(nn.Module):
    """One CQT resolution: per-octave convs, then a time-dilated, frequency-strided 2-D conv stack.

    Widths: ``channels * channel_growth ** i`` capped at ``max_channels`` for layer ``i``.
    Feature maps are the post-LeakyReLU activations of the stack; the logits are ``[B, 1, frames, bins']``.
    """

    def __init__(
        self,
        cqt: ConstantQTransform,
        channels: int = 16,
        max_channels: int = 1024,
        channel_growth: int = 1,
        dilations: Sequence[int] = (1, 2, 4),
        kernel_size: tuple[int, int] = (3, 9),
        sub_band_channels: int = 2,
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        if channels < 1 or max_channels < 1 or channel_growth < 1 or sub_band_channels < 1:
            raise ValueError(
                "SubBandCQTDiscriminator: channels, max_channels, channel_growth and sub_band_channels must be "
                f">= 1, got {channels}, {max_channels}, {channel_growth}, {sub_band_channels}"
            )
        kernel = (int(kernel_size[0]), int(kernel_size[1]))
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise ValueError(f"SubBandCQTDiscriminator: kernel_size must be odd in both axes, got {kernel}")
        self.cqt = cqt
        self.negative_slope = negative_slope

        def width(i: int) -> int:
            return min(channels * channel_growth**i, max_channels)

        self.sub_band_convs = nn.ModuleList(wn_conv2d(2, sub_band_channels, kernel) for _ in range(cqt.n_octaves))
        layers = [wn_conv2d(sub_band_channels, width(0), kernel)]
        for i, dilation in enumerate(dilations):
            layers.append(wn_conv2d(width(i), width(i + 1), kernel, stride=(1, 2), dilation=(int(dilation), 1)))
        last = width(len(dilations))
        square = (kernel[0], kernel[0])
        layers.append(wn_conv2d(last, width(len(dilations) + 1), square))
        self.convs = nn.ModuleList(layers)
        self.conv_post = wn_conv2d(width(len(dilations) + 1), 1, square)

    def forward(self, audio: Tensor) -> DiscriminatorOutput:
        spectrum = self.cqt(audio)  # float32 [B, 2, frames, bins]
        octaves = spectrum.split(self.cqt.bins_per_octave, dim=-1)
        x = torch.cat([conv(band) for conv, band in zip(self.sub_band_convs, octaves)], dim=-1)
        feature_maps: list[Tensor] = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.negative_slope)
            feature_maps.append(x)
        return DiscriminatorOutput(logits=self.conv_post(x), feature_maps=feature_maps)


@DISCRIMINATORS.register("cqt")
class MultiScaleSubBandCQTDiscriminator(Discriminator):
    """Multi-scale sub-band constant-Q discriminator (MS-SB-CQTD, Gu et al. 2024); plugin example.

    One sub-discriminator per ``(hop_lengths[i], bins_per_octave[i])``. Each sees ``n_octaves`` octaves
    of a float32 CQT computed in plain torch; ``fmin`` defaults to ``sample_rate / 2 ** (n_octaves + 1)``
    so the top octave ends at Nyquist (31.25 Hz .. 8 kHz at 16 kHz). The default hops and resolutions
    adapt BigVGAN-v2's (512, 24), (256, 36), (256, 48) at 48 kHz to 16 kHz (about 10 ms and 5 ms hops).
    ``channels=16`` keeps it cheap on CPU; BigVGAN-v2 uses 32. The input level is not normalised.
    The lowest bins have long windows (1.1 s at 31.25 Hz with 24 bins per octave, 2.2 s with 48),
    so with short training crops they see mostly zero padding.
    """

    sees_absolute_level = True

    def __init__(
        self,
        sample_rate: int = 16000,
        hop_lengths: Sequence[int] = (160, 80, 80),
        bins_per_octave: Sequence[int] = (24, 36, 48),
        n_octaves: int = 8,
        fmin: float | None = None,
        channels: int = 16,
        max_channels: int = 1024,
        channel_growth: int = 1,
        dilations: Sequence[int] = (1, 2, 4),
        kernel_size: Sequence[int] = (3, 9),
        sub_band_channels: int = 2,
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        hops = tuple(int(h) for h in hop_lengths)
        bins = tuple(int(b) for b in bins_per_octave)
        if not hops or len(hops) != len(bins):
            raise ValueError(
                f"cqt: hop_lengths {hops} and bins_per_octave {bins} must be non-empty and of equal length "
                "(one entry per scale)"
            )
        if len(tuple(kernel_size)) != 2:
            raise ValueError(f"cqt: kernel_size must be (time, frequency), got {tuple(kernel_size)}")
        self.sample_rate = sample_rate
        self.hop_lengths = hops
        self.bins_per_octave = bins
        self.discriminators = nn.ModuleList(
            SubBandCQTDiscriminator(
                ConstantQTransform(sample_rate, hop, n_octaves, bpo, fmin),
                channels=channels,
                max_channels=max_channels,
                channel_growth=channel_growth,
                dilations=tuple(int(d) for d in dilations),
                kernel_size=(int(kernel_size[0]), int(kernel_size[1])),
                sub_band_channels=sub_band_channels,
                negative_slope=negative_slope,
            )
            for hop, bpo in zip(hops, bins)
        )

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        if audio.dim() != 3 or audio.shape[1] != 1:
            raise ValueError(f"cqt: expected mono audio of shape [B, 1, T], got {tuple(audio.shape)}")
        if not audio.is_floating_point():
            raise TypeError(f"cqt: expected floating-point audio, got {audio.dtype}")
        return [d(audio) for d in self.discriminators]
