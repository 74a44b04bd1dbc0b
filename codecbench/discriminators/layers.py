"""Small helpers shared by the discriminators: weight-normed convs, level normalisation, fp32 STFT, checks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

DAC_PEAK = 0.8
"""DAC's discriminators see every input rescaled to this peak (after removing the DC offset)."""


def wn_conv1d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> nn.Conv1d:
    """A weight-normed ``nn.Conv1d`` (parameters ``original0`` = gain, ``original1`` = direction)."""
    return weight_norm(nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups))


def wn_conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> nn.Conv2d:
    """A weight-normed ``nn.Conv2d``."""
    return weight_norm(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups))


def scale_width(channels: int, multiplier: float, multiple: int = 1) -> int:
    """``channels * multiplier`` rounded to a positive multiple of ``multiple`` (grouped convs need it)."""
    if multiplier <= 0:
        raise ValueError(f"width_multiplier must be > 0, got {multiplier}")
    units = max(1, round(channels * multiplier / multiple))
    return units * multiple


def check_channels(channels: Sequence[int], what: str) -> tuple[int, ...]:
    """Validate a channel-width tuple: non-empty, positive integers."""
    widths = tuple(int(c) for c in channels)
    if not widths or any(c < 1 for c in widths):
        raise ValueError(f"{what}: channels must be a non-empty sequence of positive ints, got {tuple(channels)}")
    return widths


def check_audio(audio: Tensor, who: str, min_length: int = 1) -> None:
    """Raise a specific error unless ``audio`` is a floating [B, 1, T] tensor with T >= ``min_length``."""
    if audio.dim() != 3 or audio.shape[1] != 1:
        raise ValueError(f"{who}: expected mono audio of shape [B, 1, T], got {tuple(audio.shape)}")
    if not audio.is_floating_point():
        raise TypeError(f"{who}: expected floating-point audio, got {audio.dtype}")
    if audio.shape[-1] < min_length:
        raise ValueError(
            f"{who}: audio has {audio.shape[-1]} samples but needs at least {min_length}; "
            "use longer training crops or smaller FFT sizes"
        )


def peak_normalize(audio: Tensor, peak: float = DAC_PEAK, eps: float = 1e-9) -> Tensor:
    """DAC's discriminator preprocessing: remove the DC offset, then scale each item to ``peak``.

    The output does not depend on the input's absolute level, so a discriminator fed with it
    cannot penalise a too quiet (or too loud) generator.
    """
    audio = audio.float()
    audio = audio - audio.mean(dim=-1, keepdim=True)
    return peak * audio / (audio.abs().amax(dim=-1, keepdim=True) + eps)


def leaky_stack(layers: Sequence[nn.Module], x: Tensor, negative_slope: float) -> tuple[Tensor, list[Tensor]]:
    """Run conv layers each followed by LeakyReLU; return the last activation and all activations."""
    maps: list[Tensor] = []
    for layer in layers:
        x = F.leaky_relu(layer(x), negative_slope)
        maps.append(x)
    return x, maps


def stft_window(kind: str, length: int) -> Tensor:
    """Periodic ``hann`` or ``sqrt_hann`` window (float32)."""
    window = torch.hann_window(length, periodic=True, dtype=torch.float32)
    if kind == "hann":
        return window
    if kind == "sqrt_hann":
        return window.sqrt()
    raise ValueError(f"unknown STFT window '{kind}'; use 'hann' or 'sqrt_hann'")


def complex_stft(
    audio: Tensor,
    n_fft: int,
    hop_length: int,
    window: Tensor,
    pad: tuple[int, int] = (0, 0),
) -> Tensor:
    """STFT of [B, 1, T] audio as [B, 2, frames, n_fft // 2 + 1] (real, imag), always in float32.

    ``pad`` is reflect padding (left, right) applied first; the STFT itself does not centre.
    Autocast is disabled inside, so the transform stays fp32 whatever the caller's autocast dtype.
    """
    with torch.autocast(device_type=audio.device.type, enabled=False):
        x = audio.float().squeeze(1)
        if pad != (0, 0):
            x = F.pad(x.unsqueeze(1), pad, mode="reflect").squeeze(1)
        spec = torch.stft(
            x,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=window.shape[-1],
            window=window.to(device=x.device, dtype=torch.float32),
            center=False,
            return_complex=True,
        )  # [B, F, frames]
        # contiguous NCHW: a channels-last view here would make every conv after it run channels-last (slower)
        return torch.view_as_real(spec).permute(0, 3, 2, 1).contiguous()  # [B, 2, frames, F]


def match_stride_padding(length: int, n_fft: int, hop_length: int) -> tuple[int, int]:
    """Reflect padding that gives exactly ``ceil(length / hop)`` frames aligned like DAC's ``match_stride`` STFT.

    DAC pads ``(n_fft - hop) // 2`` on both sides plus a right pad up to a multiple of the hop, then runs a
    centred STFT and drops two frames at each end; the frames kept are exactly those of a non-centred STFT of
    the signal padded here, so we skip the extra padding and the four discarded frames.
    """
    side = (n_fft - hop_length) // 2
    right = math.ceil(length / hop_length) * hop_length - length
    return side, side + right
