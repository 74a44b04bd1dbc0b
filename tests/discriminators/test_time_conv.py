"""The im2col-GEMM (k, 1) convolution used by MPD equals conv2d, gradients included."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from codecbench.discriminators.time_conv import time_conv

CASES = [(5, 3, 2, 17), (5, 1, 2, 9), (3, 1, 1, 4), (5, 3, 2, 3)]


@pytest.mark.parametrize(("kernel", "stride", "padding", "length"), CASES)
def test_matches_conv2d_and_gradcheck(kernel: int, stride: int, padding: int, length: int) -> None:
    x = torch.randn(2, 3, length, 4, dtype=torch.float64, requires_grad=True)  # [B, C, L, P]
    w = torch.randn(5, 3, kernel, 1, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    expected = F.conv2d(x, w, b, (stride, 1), (padding, 0))
    got = time_conv(x.permute(0, 2, 3, 1), w, b, stride, padding).permute(0, 3, 1, 2)
    torch.testing.assert_close(got, expected)
    assert torch.autograd.gradcheck(
        lambda xx, ww, bb: time_conv(xx.permute(0, 2, 3, 1), ww, bb, stride, padding), (x, w, b)
    )


def test_no_bias_and_autocast_dtype() -> None:
    x = torch.randn(1, 6, 2, 4)  # channels-last [B, L, P, C]
    w = torch.randn(3, 4, 5, 1)
    expected = F.conv2d(x.permute(0, 3, 1, 2), w, None, (1, 1), (2, 0)).permute(0, 2, 3, 1)
    torch.testing.assert_close(time_conv(x, w, None, 1, 2), expected)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = time_conv(x, w, None, 1, 2)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), expected, rtol=0.05, atol=0.1)


def test_rejects_mismatched_weight() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        time_conv(torch.randn(1, 6, 2, 4), torch.randn(3, 5, 5, 1), None, 1, 2)
