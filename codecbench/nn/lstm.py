"""Unidirectional LSTM over conv-layout sequences, with a skip connection and streaming state."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from codecbench.streaming import StreamingModule


@dataclass
class LSTMState:
    """Hidden and cell state carried between chunks (None before the first chunk)."""

    hidden: tuple[Tensor, Tensor] | None = None


class StreamingLSTM(StreamingModule[LSTMState]):
    """``y = LSTM(x) (+ x)`` on [B, C, T]; always causal, so it can stream."""

    causal = True

    def __init__(self, dim: int, num_layers: int = 2, skip: bool = True) -> None:
        super().__init__()
        self.skip = skip
        self.lstm = nn.LSTM(dim, dim, num_layers)

    def init_streaming_state(self, batch_size: int) -> LSTMState:
        return LSTMState()

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] == 0:
            return x
        seq = x.permute(2, 0, 1)  # [T, B, C]
        if self.is_streaming:
            self.check_streaming_batch(x)
            state = self.streaming_state
            y, state.hidden = self.lstm(seq, state.hidden)
        else:
            y, _ = self.lstm(seq)
        if self.skip:
            y = y + seq
        return y.permute(1, 2, 0)
