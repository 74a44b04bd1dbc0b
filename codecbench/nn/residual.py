"""Dilated residual units of SEANet (ELU) and DAC (Snake) flavour."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codecbench.nn.conv import Conv1d
from codecbench.nn.snake import Snake, empty_like_layout, snake, snake_


class ResidualUnit(nn.Module):
    """``shortcut(x) + block(x)``; the block keeps the length (stride 1, "same" padding)."""

    def __init__(self, block: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.block = block
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.block(x)


def pointwise_conv_add(conv: nn.Conv1d, h: Tensor, skip: Tensor, out: Tensor | None = None) -> Tensor:
    """``skip + conv(h)`` for a kernel-1 ``conv``, as one GEMM per item accumulating onto ``skip``.

    Writes into ``out`` when given (it must not overlap ``h`` or ``skip``), so no buffer is allocated.
    Inference only (no autograd graph needed); float32 or any single dtype shared by all operands.
    """
    weight = conv.weight[:, :, 0]
    out = empty_like_layout(h) if out is None else out
    for b in range(h.shape[0]):
        if out.stride(1) == 1:  # time-major: [T, C] = skip^T + h^T W^T, all operands BLAS-friendly views
            torch.addmm(skip[b].T, h[b].T, weight.T, out=out[b].T)
        else:
            torch.addmm(skip[b], weight, h[b], out=out[b])
    return out if conv.bias is None else out.add_(conv.bias[:, None])


class DACResidualUnit(ResidualUnit):
    """DAC unit ``x + conv1(snake(conv7(snake(x))))``; without gradients it runs with two fresh buffers.

    The inference path is the same arithmetic reordered for memory: the first Snake writes one new
    buffer, the second works in place on the conv output, and the pointwise conv accumulates onto the
    skip connection inside the first buffer (its input is no longer needed). Fresh activation-sized
    tensors cost page faults on CPU, which is most of what this saves. Under autocast, or with mixed
    dtypes, the pointwise conv and the sum use the plain ops so that their precision is unchanged.
    """

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() or torch.compiler.is_compiling() or not isinstance(self.shortcut, nn.Identity):
            return super().forward(x)
        first, conv, second, pointwise = self.block
        s = snake(x, first.alpha)
        h = snake_(conv(s), second.alpha)
        inner = pointwise.conv
        plain = torch.is_autocast_enabled(x.device.type) or not (x.dtype == h.dtype == inner.weight.dtype)
        if plain or pointwise.is_streaming:
            return x + pointwise(h)
        return pointwise_conv_add(inner, h, x, out=None if conv.is_streaming else s)


def dac_residual_unit(dim: int, dilation: int, kernel_size: int = 7, causal: bool = False) -> DACResidualUnit:
    """DAC unit: Snake -> dilated conv k7 -> Snake -> conv k1, identity skip."""
    block = nn.Sequential(
        Snake(dim),
        Conv1d(dim, dim, kernel_size, dilation=dilation, causal=causal),
        Snake(dim),
        Conv1d(dim, dim, 1, causal=causal),
    )
    return DACResidualUnit(block)


def seanet_residual_unit(
    dim: int,
    dilation: int,
    kernel_size: int = 3,
    compress: int = 2,
    causal: bool = False,
    pad_mode: str = "reflect",
    true_skip: bool = True,
) -> ResidualUnit:
    """SEANet/EnCodec unit: ELU -> dilated conv to dim/compress -> ELU -> conv k1 back; identity or 1x1 skip."""
    hidden = dim // compress
    block = nn.Sequential(
        nn.ELU(),
        Conv1d(dim, hidden, kernel_size, dilation=dilation, causal=causal, pad_mode=pad_mode),
        nn.ELU(),
        Conv1d(hidden, dim, 1, causal=causal, pad_mode=pad_mode),
    )
    shortcut = None if true_skip else Conv1d(dim, dim, 1, causal=causal, pad_mode=pad_mode)
    return ResidualUnit(block, shortcut)
