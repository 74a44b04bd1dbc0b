"""Parameter initialisation shared by codec parts."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def zero_biases(module: M) -> M:
    """Set every bias in ``module`` to zero (LSTM gate biases too), in place; weights keep PyTorch's default.

    This is how DAC initialises its model (its ``init_weights`` zeroes ``Conv1d`` biases; the truncated-normal
    weights it also writes are recomputed from the weight-norm parameters at the first forward pass). With
    PyTorch's random biases a small-signal encoder adds up a large constant offset (Snake's non-negative
    ``sin^2`` term, ELU, an LSTM's skip): the latent barely varies in time and the first codebook level
    starts with a handful of codes (``benchmarks/latent_spread.py``).
    """
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "bias" or leaf.startswith("bias_"):  # nn.LSTM: bias_ih_l0, bias_hh_l0, ...
                parameter.zero_()
    return module
