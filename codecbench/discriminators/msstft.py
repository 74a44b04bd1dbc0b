"""EnCodec's multi-scale complex STFT discriminator (MS-STFTD).

Per scale: a non-centred fp32 complex STFT (Hann window, normalised by the window's L2 norm), real and
imaginary parts as two channels laid out [B, 2, frames, bins], then 2-D convs with kernel (3, 9): one
plain, one per dilation (dilated along time, stride 2 along frequency), one (3, 3), each with LeakyReLU(0.2),
and a (3, 3) conv to one logit channel. Sees absolute level unless ``normalize_level=True``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.discriminators.layers import (
    check_audio,
    complex_stft,
    leaky_stack,
    peak_normalize,
    stft_window,
    wn_conv2d,
)
from codecbench.types import DiscriminatorOutput


def _same_padding(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0] // 2, (kernel[1] - 1) * dilation[1] // 2)


class STFTDiscriminator(nn.Module):
    """One scale of the MS-STFT discriminator; feature maps are all activations, logits excluded."""

    def __init__(
        self,
        filters: int = 32,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        dilations: Sequence[int] = (1, 2, 4),
        kernel_size: tuple[int, int] = (3, 9),
        stride: tuple[int, int] = (1, 2),
        filters_scale: int = 1,
        max_filters: int = 1024,
        normalized: bool = True,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        if filters < 1 or win_length > n_fft or hop_length < 1:
            raise ValueError(
                f"msstft: need filters >= 1, hop >= 1 and win_length <= n_fft; "
                f"got filters={filters}, n_fft={n_fft}, hop={hop_length}, win={win_length}"
            )
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.normalized = normalized
        self.negative_slope = negative_slope
        kernel = (int(kernel_size[0]), int(kernel_size[1]))
        square = (kernel[0], kernel[0])
        convs = [wn_conv2d(2, filters, kernel, (1, 1), _same_padding(kernel))]
        in_ch = min(filters_scale * filters, max_filters)
        for i, dilation in enumerate(dilations):
            out_ch = min(filters_scale ** (i + 1) * filters, max_filters)
            convs.append(
                wn_conv2d(
                    in_ch,
                    out_ch,
                    kernel,
                    tuple(stride),
                    _same_padding(kernel, (dilation, 1)),
                    (dilation, 1),
                )
            )
            in_ch = out_ch
        out_ch = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        convs.append(wn_conv2d(in_ch, out_ch, square, (1, 1), _same_padding(square)))
        self.convs = nn.ModuleList(convs)
        self.conv_post = wn_conv2d(out_ch, 1, square, (1, 1), _same_padding(square))
        self.register_buffer("window", stft_window("hann", win_length), persistent=False)

    def spectrogram(self, audio: Tensor) -> Tensor:
        """[B, 1, T] -> float32 [B, 2, 1 + (T - n_fft) // hop, n_fft // 2 + 1], autocast disabled."""
        spec = complex_stft(audio, self.n_fft, self.hop_length, self.window)
        if self.normalized:
            spec = spec / self.window.pow(2).sum().sqrt()
        return spec

    def forward(self, audio: Tensor) -> DiscriminatorOutput:
        x, maps = leaky_stack(self.convs, self.spectrogram(audio), self.negative_slope)
        return DiscriminatorOutput(logits=self.conv_post(x), feature_maps=maps)


@DISCRIMINATORS.register("msstft")
class MultiScaleSTFTDiscriminator(Discriminator):
    """EnCodec multi-scale complex STFT discriminator; one sub-discriminator per FFT size.

    Defaults follow EnCodec/AudioCraft: ``filters`` 32, FFT sizes (1024, 2048, 512), hop n_fft/4,
    window n_fft, time dilations (1, 2, 4). ``hop_lengths`` / ``win_lengths`` override per scale.
    """

    def __init__(
        self,
        filters: int = 32,
        n_ffts: Sequence[int] = (1024, 2048, 512),
        hop_lengths: Sequence[int] | None = None,
        win_lengths: Sequence[int] | None = None,
        dilations: Sequence[int] = (1, 2, 4),
        kernel_size: Sequence[int] = (3, 9),
        stride: Sequence[int] = (1, 2),
        filters_scale: int = 1,
        max_filters: int = 1024,
        normalized: bool = True,
        negative_slope: float = 0.2,
        normalize_level: bool = False,
    ) -> None:
        super().__init__()
        ffts = tuple(int(n) for n in n_ffts)
        hops = tuple(int(h) for h in hop_lengths) if hop_lengths is not None else tuple(n // 4 for n in ffts)
        wins = tuple(int(w) for w in win_lengths) if win_lengths is not None else ffts
        if not ffts or not len(ffts) == len(hops) == len(wins):
            raise ValueError(
                f"msstft: n_ffts, hop_lengths and win_lengths must be non-empty and equally long; "
                f"got {ffts}, {hops}, {wins}"
            )
        self.n_ffts = ffts
        self.normalize_level = normalize_level
        self.sees_absolute_level = not normalize_level
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(
                filters,
                n,
                h,
                w,
                tuple(dilations),
                (int(kernel_size[0]), int(kernel_size[1])),
                (int(stride[0]), int(stride[1])),
                filters_scale,
                max_filters,
                normalized,
                negative_slope,
            )
            for n, h, w in zip(ffts, hops, wins)
        )

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        check_audio(audio, "msstft", min_length=max(self.n_ffts))
        if self.normalize_level:
            audio = peak_normalize(audio)
        return [d(audio) for d in self.discriminators]
