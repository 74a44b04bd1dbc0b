"""Building blocks for codec encoders and decoders: convolutions, Snake, residual units, LSTM, transformer."""

from codecbench.nn.conv import Conv1d, ConvTranspose1d, extra_padding, pad1d
from codecbench.nn.init import zero_biases
from codecbench.nn.lstm import StreamingLSTM
from codecbench.nn.residual import ResidualUnit, dac_residual_unit, seanet_residual_unit
from codecbench.nn.snake import Snake, snake, snake_reference
from codecbench.nn.transformer import LayerScale, Transformer, TransformerLayer, WindowedAttention
from codecbench.nn.weight_norm import apply_weight_norm, has_weight_norm, remove_weight_norm

__all__ = [
    "Conv1d",
    "ConvTranspose1d",
    "LayerScale",
    "ResidualUnit",
    "Snake",
    "StreamingLSTM",
    "Transformer",
    "TransformerLayer",
    "WindowedAttention",
    "apply_weight_norm",
    "dac_residual_unit",
    "extra_padding",
    "has_weight_norm",
    "pad1d",
    "remove_weight_norm",
    "seanet_residual_unit",
    "snake",
    "snake_reference",
    "zero_biases",
]
