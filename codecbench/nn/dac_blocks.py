"""DAC encoder/decoder stacks: Snake residual units, channels doubling down / halving up."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from codecbench.nn.conv import Conv1d, ConvTranspose1d
from codecbench.nn.init import zero_biases
from codecbench.nn.residual import dac_residual_unit
from codecbench.nn.snake import Snake

DILATIONS = (1, 3, 9)


def dac_encoder_block(in_dim: int, out_dim: int, stride: int, causal: bool = False) -> nn.Sequential:
    """Three dilated residual units at ``in_dim``, then Snake and a strided conv (kernel 2*stride) to ``out_dim``."""
    return nn.Sequential(
        *(dac_residual_unit(in_dim, d, causal=causal) for d in DILATIONS),
        Snake(in_dim),
        Conv1d(in_dim, out_dim, 2 * stride, stride=stride, causal=causal),
    )


def dac_decoder_block(in_dim: int, out_dim: int, stride: int, causal: bool = False) -> nn.Sequential:
    """Snake, transposed conv (kernel 2*stride) upsampling to ``out_dim``, then three dilated residual units."""
    return nn.Sequential(
        Snake(in_dim),
        ConvTranspose1d(in_dim, out_dim, 2 * stride, stride=stride, causal=causal),
        *(dac_residual_unit(out_dim, d, causal=causal) for d in DILATIONS),
    )


def build_dac_encoder(channels: int, strides: Sequence[int], latent_dim: int, causal: bool = False) -> nn.Sequential:
    """conv k7 (1 -> channels), one block per stride doubling the width, Snake, conv k3 to ``latent_dim``."""
    layers: list[nn.Module] = [Conv1d(1, channels, 7, causal=causal)]
    dim = channels
    for stride in strides:
        layers.append(dac_encoder_block(dim, 2 * dim, stride, causal))
        dim *= 2
    layers += [Snake(dim), Conv1d(dim, latent_dim, 3, causal=causal)]
    return zero_biases(nn.Sequential(*layers))  # DAC's initialisation


def build_dac_decoder(channels: int, strides: Sequence[int], latent_dim: int, causal: bool = False) -> nn.Sequential:
    """Mirror of :func:`build_dac_encoder`; ``strides`` in encoder order, ``channels`` halves per block.

    Ends with Snake, conv k7 to one channel and tanh, as in DAC.
    """
    if channels % (2 ** len(strides)):
        raise ValueError(f"DAC decoder channels {channels} must be divisible by 2**{len(strides)} (halved per stride)")
    layers: list[nn.Module] = [Conv1d(latent_dim, channels, 7, causal=causal)]
    dim = channels
    for stride in reversed(strides):
        layers.append(dac_decoder_block(dim, dim // 2, stride, causal))
        dim //= 2
    layers += [Snake(dim), Conv1d(dim, 1, 7, causal=causal), nn.Tanh()]
    return zero_biases(nn.Sequential(*layers))  # DAC's initialisation
