"""Padded, weight-normed convolutions: lengths, reference equivalence, causality, streaming == offline."""

from __future__ import annotations

import math

import pytest
import torch
from stream_helpers import random_chunks, run_streaming

from codecbench.nn.conv import Conv1d, ConvTranspose1d, extra_padding, pad1d


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(7, 1, 1), (3, 1, 9), (4, 2, 1), (10, 5, 1), (16, 8, 1)])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_conv_output_length_is_ceil(causal: bool, kernel: int, stride: int, dilation: int, pad_mode: str) -> None:
    conv = Conv1d(2, 3, kernel, stride, dilation, causal=causal, pad_mode=pad_mode)
    for length in (1, 2, 5, 17, 40, 41, 63):
        assert conv(torch.randn(1, 2, length)).shape == (1, 3, math.ceil(length / stride))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("kernel", "stride"), [(2, 1), (4, 2), (8, 4), (10, 5), (16, 8), (3, 3)])
def test_conv_transpose_output_length(causal: bool, kernel: int, stride: int) -> None:
    convtr = ConvTranspose1d(3, 2, kernel, stride, causal=causal)
    for frames in (1, 2, 7):
        assert convtr(torch.randn(2, 3, frames)).shape == (2, 2, frames * stride)


@pytest.mark.parametrize("stride", [2, 3, 4, 5, 8])
def test_non_causal_matches_dac_reference_padding(stride: int) -> None:
    """DAC pads its strided conv by ceil(s/2) and its transposed conv by ceil(s/2) + output_padding s%2."""
    kernel = 2 * stride
    conv = Conv1d(3, 4, kernel, stride, weight_norm=False)
    ref = torch.nn.Conv1d(3, 4, kernel, stride, padding=math.ceil(stride / 2))
    ref.load_state_dict(conv.conv.state_dict())
    x = torch.randn(2, 3, 12 * stride)
    torch.testing.assert_close(conv(x), ref(x))

    convtr = ConvTranspose1d(4, 3, kernel, stride, weight_norm=False)
    reftr = torch.nn.ConvTranspose1d(4, 3, kernel, stride, padding=math.ceil(stride / 2), output_padding=stride % 2)
    reftr.load_state_dict(convtr.convtr.state_dict())
    z = torch.randn(2, 4, 9)
    torch.testing.assert_close(convtr(z), reftr(z))


def test_same_padding_matches_dac_dilated_conv() -> None:
    conv = Conv1d(3, 3, 7, dilation=9, weight_norm=False)
    ref = torch.nn.Conv1d(3, 3, 7, dilation=9, padding=27)
    ref.load_state_dict(conv.conv.state_dict())
    x = torch.randn(1, 3, 100)
    torch.testing.assert_close(conv(x), ref(x))


def test_reflect_pad_handles_short_inputs() -> None:
    x = torch.arange(3.0).view(1, 1, 3)
    assert pad1d(x, 5, 6, "reflect").shape[-1] == 14
    assert extra_padding(41, 4, 2, 2) == 1 and extra_padding(40, 4, 2, 2) == 0


@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(7, 1, 3), (4, 2, 1), (10, 5, 1)])
def test_causal_conv_ignores_the_future(kernel: int, stride: int, dilation: int) -> None:
    conv = Conv1d(2, 2, kernel, stride, dilation, causal=True)
    x = torch.randn(1, 2, 10 * stride)
    y = conv(x)
    x2 = x.clone()
    x2[..., 6 * stride :] = torch.randn(1, 2, 4 * stride)
    torch.testing.assert_close(conv(x2)[..., :6], y[..., :6])


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"), [(7, 1, 1), (3, 1, 9), (1, 1, 1), (4, 2, 1), (10, 5, 1), (16, 8, 1)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_conv_streaming_equals_offline(kernel: int, stride: int, dilation: int, seed: int) -> None:
    conv = Conv1d(3, 4, kernel, stride, dilation, causal=True)
    x = torch.randn(2, 3, 24 * stride)
    offline = conv(x)
    outputs = run_streaming(conv, x, random_chunks(x.shape[-1], 3 * stride + 2, seed))
    torch.testing.assert_close(torch.cat(outputs, -1), offline, atol=1e-5, rtol=1e-5)
    assert conv.is_streaming is False and conv._streaming_state is None


def test_conv_streaming_buffers_what_the_next_frame_needs() -> None:
    conv = Conv1d(1, 1, 7, stride=1, dilation=3, causal=True)
    with conv.streaming(1):
        conv(torch.randn(1, 1, 50))
        assert conv.streaming_state.buffer.shape[-1] == (7 - 1) * 3
    strided = Conv1d(1, 1, 8, stride=4, causal=True)
    with strided.streaming(1):
        assert strided(torch.randn(1, 1, 6)).shape[-1] == 1  # 4 zeros of padding + 6 samples: one frame
        assert strided.streaming_state.buffer.shape[-1] == 6  # 8 - 4 needed by the next frame, plus 2 pending


@pytest.mark.parametrize(
    ("kernel", "stride", "groups"), [(2, 1, 1), (4, 2, 1), (10, 5, 1), (16, 8, 1), (4, 2, 4), (12, 4, 1)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_conv_transpose_streaming_equals_offline(kernel: int, stride: int, groups: int, seed: int) -> None:
    convtr = ConvTranspose1d(4, 4, kernel, stride, groups=groups, causal=True)
    z = torch.randn(2, 4, 15)
    offline = convtr(z)
    outputs = run_streaming(convtr, z, random_chunks(z.shape[-1], 4, seed))
    torch.testing.assert_close(torch.cat(outputs, -1), offline, atol=1e-5, rtol=1e-5)


def test_streaming_requires_causal_and_matching_batch() -> None:
    with pytest.raises(RuntimeError, match="causal"), Conv1d(1, 1, 3).streaming(1):
        pass
    with pytest.raises(RuntimeError, match="causal"), ConvTranspose1d(1, 1, 4, 2).streaming(1):
        pass
    conv = Conv1d(1, 1, 3, causal=True)
    with conv.streaming(2), pytest.raises(ValueError, match="batch size"):
        conv(torch.randn(3, 1, 8))


def test_invalid_geometry_is_rejected() -> None:
    with pytest.raises(ValueError, match="stride"):
        Conv1d(1, 1, 2, stride=4)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvTranspose1d(1, 1, 2, stride=4)
    with pytest.raises(ValueError, match="pad_mode"):
        Conv1d(1, 1, 3, pad_mode="circularish")
