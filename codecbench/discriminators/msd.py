"""Multi-scale waveform discriminator (MelGAN / HiFi-GAN): grouped 1-D convs on average-pooled audio.

Scale 0 sees the raw waveform; scale i sees it average-pooled i times (kernel 4, stride 2, padding 2).
Sees absolute level unless ``normalize_level=True``. HiFi-GAN uses spectral norm on scale 0; every
conv here is weight-normed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.discriminators.layers import (
    check_audio,
    check_channels,
    leaky_stack,
    peak_normalize,
    scale_width,
    wn_conv1d,
)
from codecbench.types import DiscriminatorOutput

HIFIGAN_MSD_CHANNELS = (128, 128, 256, 512, 1024, 1024, 1024)
HIFIGAN_MSD_KERNELS = (15, 41, 41, 41, 41, 41, 5)
HIFIGAN_MSD_STRIDES = (1, 2, 2, 4, 4, 1, 1)
HIFIGAN_MSD_GROUPS = (1, 4, 16, 16, 16, 16, 1)


class ScaleDiscriminator(nn.Module):
    """One scale: grouped strided 1-D convs with LeakyReLU, then a kernel-3 conv to one logit channel."""

    def __init__(
        self,
        channels: Sequence[int],
        kernel_sizes: Sequence[int],
        strides: Sequence[int],
        groups: Sequence[int],
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        convs = []
        in_ch = 1
        for out_ch, k, s, g in zip(channels, kernel_sizes, strides, groups):
            convs.append(wn_conv1d(in_ch, out_ch, k, s, (k - 1) // 2, groups=g))
            in_ch = out_ch
        self.convs = nn.ModuleList(convs)
        self.conv_post = wn_conv1d(in_ch, 1, 3, 1, 1)

    def forward(self, audio: Tensor) -> DiscriminatorOutput:
        x, maps = leaky_stack(self.convs, audio, self.negative_slope)
        return DiscriminatorOutput(logits=self.conv_post(x), feature_maps=maps)


@DISCRIMINATORS.register("msd")
class MultiScaleDiscriminator(Discriminator):
    """Multi-scale waveform discriminator (MelGAN / HiFi-GAN) with grouped convs and average pooling.

    Defaults are HiFi-GAN's three scales and widths (about 30 M parameters). ``channels``, ``kernel_sizes``,
    ``strides`` and ``groups`` are per-layer tuples of equal length; ``width_multiplier`` scales the widths,
    keeping each a multiple of the groups of the convs that touch it.
    """

    def __init__(
        self,
        scales: int = 3,
        channels: Sequence[int] = HIFIGAN_MSD_CHANNELS,
        kernel_sizes: Sequence[int] = HIFIGAN_MSD_KERNELS,
        strides: Sequence[int] = HIFIGAN_MSD_STRIDES,
        groups: Sequence[int] = HIFIGAN_MSD_GROUPS,
        width_multiplier: float = 1.0,
        pool_kernel: int = 4,
        pool_stride: int = 2,
        negative_slope: float = 0.1,
        normalize_level: bool = False,
    ) -> None:
        super().__init__()
        widths = check_channels(channels, "msd")
        groups = tuple(int(g) for g in groups)
        if scales < 1:
            raise ValueError(f"msd: scales must be >= 1, got {scales}")
        if not len(widths) == len(kernel_sizes) == len(strides) == len(groups):
            raise ValueError(
                f"msd: channels, kernel_sizes, strides and groups need one entry per layer; got lengths "
                f"{len(widths)}, {len(kernel_sizes)}, {len(strides)}, {len(groups)}"
            )
        if groups[0] != 1:
            raise ValueError(f"msd: the first conv sees one input channel, so groups[0] must be 1, got {groups[0]}")
        scaled = list(widths)
        if width_multiplier != 1.0:
            for i, width in enumerate(widths):
                nxt = groups[i + 1] if i + 1 < len(groups) else 1
                scaled[i] = scale_width(width, width_multiplier, math.lcm(groups[i], nxt))
        for i, (width, g) in enumerate(zip(scaled, groups)):
            prev = scaled[i - 1] if i else 1
            if width % g or prev % g:
                raise ValueError(f"msd: layer {i} has groups={g} but widths {prev} -> {width}; make them divisible")
        self.channels = tuple(scaled)
        self.pool_kernel = pool_kernel
        self.pool_stride = pool_stride
        self.normalize_level = normalize_level
        self.sees_absolute_level = not normalize_level
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(self.channels, kernel_sizes, strides, groups, negative_slope) for _ in range(scales)
        )

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        check_audio(audio, "msd", min_length=self.pool_kernel)
        if self.normalize_level:
            audio = peak_normalize(audio)
        outputs = []
        for i, disc in enumerate(self.discriminators):
            if i:
                audio = F.avg_pool1d(audio, self.pool_kernel, self.pool_stride, padding=self.pool_kernel // 2)
            outputs.append(disc(audio))
        return outputs
