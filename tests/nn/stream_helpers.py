"""Helpers for streaming tests: run a module on random chunks and join the outputs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codecbench.streaming import streaming


def random_chunks(total: int, max_chunk: int, seed: int) -> list[int]:
    """Chunk lengths (zeros included) that add up to ``total``."""
    generator = torch.Generator().manual_seed(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(int(torch.randint(0, max_chunk + 1, (1,), generator=generator)), total - sum(sizes)))
    return sizes


def run_streaming(module: nn.Module, x: Tensor, sizes: list[int], time_dim: int = -1) -> list[Tensor]:
    """Feed ``x`` chunk by chunk inside one stream; return each chunk's output."""
    outputs = []
    with streaming(module, x.shape[0]):
        start = 0
        for size in sizes:
            outputs.append(module(x.narrow(time_dim, start, size)))
            start += size
    return outputs
