"""SEANet (SoundStream / EnCodec / Mimi) encoder and decoder stacks with ELU and optional LSTM."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from codecbench.nn.conv import Conv1d, ConvTranspose1d
from codecbench.nn.init import zero_biases
from codecbench.nn.lstm import StreamingLSTM
from codecbench.nn.residual import seanet_residual_unit


def seanet_pad_mode(causal: bool) -> str:
    """Reflect padding offline (EnCodec default); zeros when causal, so the stack can stream."""
    return "constant" if causal else "reflect"


def _initialised(stack: nn.Sequential, zero_bias_init: bool) -> nn.Sequential:
    return zero_biases(stack) if zero_bias_init else stack


def build_seanet_encoder(
    channels: int,
    strides: Sequence[int],
    latent_dim: int,
    causal: bool = False,
    residual_layers: int = 1,
    dilation_base: int = 2,
    kernel_size: int = 7,
    last_kernel_size: int = 7,
    residual_kernel_size: int = 3,
    compress: int = 2,
    lstm_layers: int = 0,
    zero_bias_init: bool = True,
) -> nn.Sequential:
    """conv k7 (1 -> channels); per stride: residual units, ELU, strided conv doubling the width;
    optional LSTM; ELU; conv to ``latent_dim``.

    ``zero_bias_init`` starts every bias (LSTM gates included) at zero, as DAC does; with PyTorch's
    random biases a small stack's untrained latent is mostly a constant (``benchmarks/latent_spread.py``).
    """
    pad_mode = seanet_pad_mode(causal)
    layers: list[nn.Module] = [Conv1d(1, channels, kernel_size, causal=causal, pad_mode=pad_mode)]
    dim = channels
    for stride in strides:
        layers += [
            seanet_residual_unit(dim, dilation_base**j, residual_kernel_size, compress, causal, pad_mode)
            for j in range(residual_layers)
        ]
        layers += [nn.ELU(), Conv1d(dim, 2 * dim, 2 * stride, stride=stride, causal=causal, pad_mode=pad_mode)]
        dim *= 2
    if lstm_layers:
        layers.append(StreamingLSTM(dim, lstm_layers))
    layers += [nn.ELU(), Conv1d(dim, latent_dim, last_kernel_size, causal=causal, pad_mode=pad_mode)]
    return _initialised(nn.Sequential(*layers), zero_bias_init)


def build_seanet_decoder(
    channels: int,
    strides: Sequence[int],
    latent_dim: int,
    causal: bool = False,
    residual_layers: int = 1,
    dilation_base: int = 2,
    kernel_size: int = 7,
    last_kernel_size: int = 7,
    residual_kernel_size: int = 3,
    compress: int = 2,
    lstm_layers: int = 0,
    zero_bias_init: bool = True,
) -> nn.Sequential:
    """Mirror of :func:`build_seanet_encoder` (``strides`` in encoder order); halves the width per stride."""
    pad_mode = seanet_pad_mode(causal)
    dim = channels * 2 ** len(strides)
    layers: list[nn.Module] = [Conv1d(latent_dim, dim, kernel_size, causal=causal, pad_mode=pad_mode)]
    if lstm_layers:
        layers.append(StreamingLSTM(dim, lstm_layers))
    for stride in reversed(strides):
        layers += [nn.ELU(), ConvTranspose1d(dim, dim // 2, 2 * stride, stride=stride, causal=causal)]
        dim //= 2
        layers += [
            seanet_residual_unit(dim, dilation_base**j, residual_kernel_size, compress, causal, pad_mode)
            for j in range(residual_layers)
        ]
    layers += [nn.ELU(), Conv1d(dim, 1, last_kernel_size, causal=causal, pad_mode=pad_mode)]
    return _initialised(nn.Sequential(*layers), zero_bias_init)
