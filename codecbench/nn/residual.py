"""Dilated residual units of SEANet (ELU) and DAC (Snake) flavour."""

from __future__ import annotations

from torch import Tensor, nn

from codecbench.nn.conv import Conv1d
from codecbench.nn.snake import Snake


class ResidualUnit(nn.Module):
    """``shortcut(x) + block(x)``; the block keeps the length (stride 1, "same" padding)."""

    def __init__(self, block: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.block = block
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.block(x)


def dac_residual_unit(dim: int, dilation: int, kernel_size: int = 7, causal: bool = False) -> ResidualUnit:
    """DAC unit: Snake -> dilated conv k7 -> Snake -> conv k1, identity skip."""
    block = nn.Sequential(
        Snake(dim),
        Conv1d(dim, dim, kernel_size, dilation=dilation, causal=causal),
        Snake(dim),
        Conv1d(dim, dim, 1, causal=causal),
    )
    return ResidualUnit(block)


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
