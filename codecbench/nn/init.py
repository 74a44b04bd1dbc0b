"""Parameter initialisation shared by codec parts."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def zero_biases(module: M) -> M:
    """Set every bias in ``module`` to zero, in place; weights keep PyTorch's default initialisation.

    This is how DAC initialises its model (its ``init_weights`` zeroes ``Conv1d`` biases; the truncated-normal
    weights it also writes are recomputed from the weight-norm parameters at the first forward pass). With
    PyTorch's random biases, Snake's non-negative ``sin^2`` term turns them into a large constant offset:
    the encoder's latent barely varies in time and the first codebook level starts with a handful of codes.
    """
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.rsplit(".", 1)[-1] == "bias":
                parameter.zero_()
    return module
