"""Multi-period discriminator (HiFi-GAN / DAC): 2-D convs over the waveform folded by each period.

Sees absolute level by default. With ``normalize_level=True`` every input is DC-removed and peak-normalised
as in DAC, which makes it blind to level (``sees_absolute_level`` is then False).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.discriminators.layers import (
    check_audio,
    check_channels,
    leaky_stack,
    peak_normalize,
    scale_width,
    wn_conv2d,
)
from codecbench.discriminators.time_conv import time_conv
from codecbench.types import DiscriminatorOutput

BACKENDS = ("auto", "conv", "matmul")
DAC_MPD_CHANNELS = (32, 128, 512, 1024, 1024)


class PeriodDiscriminator(nn.Module):
    """One period: fold [B, 1, T] into [B, 1, T/p, p] and apply (k, 1) convs along time.

    All convs but the last stride by ``stride``; a (3, 1) conv with one output channel gives the logits.
    Feature maps are the post-LeakyReLU activations [B, C, L, p], logits excluded. ``backend`` picks the
    kernel: ``"conv"`` (conv2d), ``"matmul"`` (one im2col GEMM per layer, see ``time_conv``) or ``"auto"``
    (matmul on CPU under reduced-precision autocast, where it is faster; conv otherwise). Same maths.
    """

    def __init__(
        self,
        period: int,
        channels: Sequence[int] = DAC_MPD_CHANNELS,
        kernel_size: int = 5,
        stride: int = 3,
        negative_slope: float = 0.1,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"PeriodDiscriminator: period must be >= 1, got {period}")
        if backend not in BACKENDS:
            raise ValueError(f"mpd: backend must be one of {BACKENDS}, got '{backend}'")
        self.period = period
        self.negative_slope = negative_slope
        self.backend = backend
        widths = check_channels(channels, "mpd")
        convs = []
        in_ch = 1
        for i, out_ch in enumerate(widths):
            step = stride if i < len(widths) - 1 else 1
            convs.append(wn_conv2d(in_ch, out_ch, (kernel_size, 1), (step, 1), ((kernel_size - 1) // 2, 0)))
            in_ch = out_ch
        self.convs = nn.ModuleList(convs)
        self.conv_post = wn_conv2d(in_ch, 1, (3, 1), (1, 1), (1, 0))

    def fold(self, audio: Tensor) -> Tensor:
        """[B, 1, T] -> [B, 1, ceil(T/p), p], reflect-padding the tail to a whole number of periods."""
        length = audio.shape[-1]
        if length % self.period:
            audio = F.pad(audio, (0, self.period - length % self.period), mode="reflect")
        return audio.view(audio.shape[0], 1, -1, self.period)

    def uses_matmul(self, audio: Tensor) -> bool:
        if self.backend != "auto":
            return self.backend == "matmul"
        device = audio.device.type
        if device != "cpu":
            return False
        return torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) in (torch.bfloat16, torch.float16)

    def forward(self, audio: Tensor) -> DiscriminatorOutput:
        x = self.fold(audio)
        if not self.uses_matmul(audio):
            x, maps = leaky_stack(self.convs, x, self.negative_slope)
            return DiscriminatorOutput(logits=self.conv_post(x), feature_maps=maps)
        x = x.permute(0, 2, 3, 1)  # channels-last [B, L, p, C]
        maps = []
        for conv in self.convs:
            x = F.leaky_relu(time_conv(x, conv.weight, conv.bias, conv.stride[0], conv.padding[0]), self.negative_slope)
            maps.append(x.permute(0, 3, 1, 2))
        post = self.conv_post
        logits = time_conv(x, post.weight, post.bias, post.stride[0], post.padding[0]).permute(0, 3, 1, 2)
        return DiscriminatorOutput(logits=logits, feature_maps=maps)


@DISCRIMINATORS.register("mpd")
class MultiPeriodDiscriminator(Discriminator):
    """Multi-period waveform discriminator (HiFi-GAN / DAC); one sub-discriminator per period.

    Defaults are DAC's: periods (2, 3, 5, 7, 11), channels (32, 128, 512, 1024, 1024), about 41 M
    parameters. ``channels`` sets the widths; ``width_multiplier`` scales them (CPU recipes want small ones).
    ``normalize_level=True`` reproduces DAC's per-item DC removal + peak normalisation (level-blind).
    ``backend`` only chooses the kernel (see ``PeriodDiscriminator``); results are the same.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: Sequence[int] = DAC_MPD_CHANNELS,
        width_multiplier: float = 1.0,
        kernel_size: int = 5,
        stride: int = 3,
        negative_slope: float = 0.1,
        normalize_level: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if not periods:
            raise ValueError("mpd: periods must be a non-empty sequence of ints, e.g. (2, 3, 5, 7, 11)")
        widths = tuple(scale_width(c, width_multiplier) for c in check_channels(channels, "mpd"))
        self.periods = tuple(int(p) for p in periods)
        self.channels = widths
        self.normalize_level = normalize_level
        self.sees_absolute_level = not normalize_level
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, widths, kernel_size, stride, negative_slope, backend) for p in self.periods
        )

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        check_audio(audio, "mpd", min_length=max(self.periods) + 1)
        if self.normalize_level:
            audio = peak_normalize(audio)
        return [d(audio) for d in self.discriminators]
