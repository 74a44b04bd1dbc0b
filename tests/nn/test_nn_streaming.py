"""The streaming() context sets up, resets and drops state on every streaming submodule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codecbench.nn.conv import Conv1d, ConvTranspose1d
from codecbench.nn.lstm import StreamingLSTM
from codecbench.nn.residual import dac_residual_unit, seanet_residual_unit
from codecbench.streaming import StreamingModule, reset_streaming, streaming, streaming_modules


def _model() -> nn.Sequential:
    return nn.Sequential(Conv1d(1, 4, 7, causal=True), StreamingLSTM(4, 1), ConvTranspose1d(4, 1, 4, 2, causal=True))


def test_context_sets_up_and_drops_state_everywhere() -> None:
    model = _model()
    modules = streaming_modules(model)
    assert len(modules) == 3
    with streaming(model, 2):
        assert all(m.is_streaming and m.streaming_batch_size == 2 for m in modules)
        model(torch.randn(2, 1, 10))
        assert modules[0].streaming_state.buffer is not None
    assert not any(m.is_streaming for m in modules)
    with pytest.raises(RuntimeError, match="not streaming"):
        _ = modules[0].streaming_batch_size


def test_state_dropped_even_on_error_and_nesting_refused() -> None:
    model = _model()
    with pytest.raises(ValueError), streaming(model, 1):
        raise ValueError("boom")
    assert not any(m.is_streaming for m in streaming_modules(model))
    with streaming(model, 1), pytest.raises(RuntimeError, match="already streaming"), streaming(model, 1):
        pass


def test_reset_starts_a_new_stream() -> None:
    model = _model()
    x = torch.randn(1, 1, 24)
    with streaming(model, 1):
        first = model(x)
        second_without_reset = model(x)
        reset_streaming(model)
        after_reset = model(x)
    torch.testing.assert_close(after_reset, first)
    assert not torch.allclose(second_without_reset, first)


def test_method_form_on_streaming_module() -> None:
    class Wrapper(StreamingModule[None]):
        def __init__(self) -> None:
            super().__init__()
            self.inner = _model()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    wrapper = Wrapper()
    x = torch.randn(1, 1, 30)
    with wrapper.streaming(1):
        a = wrapper(x)
        wrapper.reset_streaming()
        b = wrapper(x)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("unit", ["dac", "seanet"])
def test_residual_units_stream_like_offline(unit: str) -> None:
    from stream_helpers import random_chunks, run_streaming

    module = (
        dac_residual_unit(3, 9, causal=True)
        if unit == "dac"
        else seanet_residual_unit(4, 3, causal=True, pad_mode="constant")
    )
    x = torch.randn(2, module.block[1].conv.in_channels, 80)
    offline = module(x)
    assert offline.shape == x.shape
    outputs = run_streaming(module, x, random_chunks(80, 11, seed=3))
    torch.testing.assert_close(torch.cat(outputs, -1), offline, atol=1e-5, rtol=1e-5)


def test_lstm_streams_like_offline_and_keeps_hidden_state() -> None:
    from stream_helpers import random_chunks, run_streaming

    lstm = StreamingLSTM(5, num_layers=2)
    x = torch.randn(2, 5, 40)
    offline = lstm(x)
    outputs = run_streaming(lstm, x, random_chunks(40, 6, seed=4))
    torch.testing.assert_close(torch.cat(outputs, -1), offline, atol=1e-5, rtol=1e-5)
    with lstm.streaming(2):
        lstm(x[..., :3])
        h, c = lstm.streaming_state.hidden
        assert h.shape == (2, 2, 5) and c.shape == (2, 2, 5)
