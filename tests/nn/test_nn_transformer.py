"""Windowed rotary attention and the transformer: reference numerics, causality, context, streaming."""

from __future__ import annotations

import math

import pytest
import torch
from stream_helpers import random_chunks, run_streaming

from codecbench.nn.transformer import Transformer, WindowedAttention


def _reference_attention(attn: WindowedAttention, x: torch.Tensor) -> torch.Tensor:
    """Loop-per-query attention with rotary positions written as complex rotations."""
    batch, length, dim = x.shape
    heads, hd = attn.num_heads, attn.head_dim
    q, k, v = attn.in_proj(x).chunk(3, dim=-1)

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.view(batch, length, heads, hd).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    half = hd // 2
    freqs = attn.max_period ** (-torch.arange(half, dtype=torch.float64) / half)
    rot = torch.polar(torch.ones(length, half, dtype=torch.float64), torch.arange(length)[:, None] * freqs)

    def rotate(t: torch.Tensor) -> torch.Tensor:
        z = torch.complex(t[..., :half].double(), t[..., half:].double()) * rot
        return torch.cat([z.real, z.imag], -1).to(t.dtype)

    q, k = rotate(q), rotate(k)
    out = torch.zeros_like(q)
    for i in range(length):
        if attn.causal:
            keys = [j for j in range(length) if 0 <= i - j < (attn.context or 10**9)]
        else:
            keys = [j for j in range(length) if abs(i - j) < (attn.context or 10**9)]
        scores = q[:, :, i : i + 1] @ k[:, :, keys].transpose(-1, -2) / math.sqrt(hd)
        out[:, :, i] = (scores.softmax(-1) @ v[:, :, keys])[:, :, 0]
    return attn.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


@pytest.mark.parametrize(("causal", "context"), [(True, 4), (True, None), (False, 3), (False, None)])
def test_attention_matches_reference(causal: bool, context: int | None) -> None:
    attn = WindowedAttention(16, 2, context=context, causal=causal)
    x = torch.randn(2, 11, 16)
    torch.testing.assert_close(attn(x), _reference_attention(attn, x), atol=1e-5, rtol=1e-5)


def test_causal_transformer_ignores_future_and_old_context() -> None:
    model = Transformer(16, num_layers=1, num_heads=2, dim_feedforward=32, context=4, causal=True)
    x = torch.randn(1, 16, 20)
    y = model(x)
    future = x.clone()
    future[..., 12:] = torch.randn(1, 16, 8)
    torch.testing.assert_close(model(future)[..., :12], y[..., :12])
    old = x.clone()
    old[..., :5] = torch.randn(1, 16, 5)  # one layer: frame t sees frames t-3..t only
    torch.testing.assert_close(model(old)[..., 8:], y[..., 8:])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_transformer_streaming_equals_offline_with_bounded_cache(seed: int) -> None:
    context = 5
    model = Transformer(16, num_layers=2, num_heads=2, dim_feedforward=32, context=context, causal=True)
    with torch.no_grad():
        for layer in model.layers:
            layer.scale1.scale.fill_(0.5)
            layer.scale2.scale.fill_(0.5)
    x = torch.randn(2, 16, 31)
    offline = model(x)
    outputs = run_streaming(model, x, random_chunks(31, 7, seed))
    torch.testing.assert_close(torch.cat(outputs, -1), offline, atol=1e-5, rtol=1e-5)
    with model.streaming(2):
        model(x)
        for layer in model.layers:
            state = layer.attn.streaming_state
            assert state.keys.shape[2] == context - 1 and state.offset == 31


def test_non_causal_transformer_runs_but_cannot_stream() -> None:
    model = Transformer(8, num_layers=1, num_heads=2, dim_feedforward=16, context=None, causal=False)
    assert model(torch.randn(2, 8, 9)).shape == (2, 8, 9)
    with pytest.raises(RuntimeError, match="causal"), model.streaming(1):
        pass


def test_layer_scale_starts_small_and_gradients_flow() -> None:
    model = Transformer(8, num_layers=2, num_heads=2, dim_feedforward=16, context=3, layer_scale=0.01)
    x = torch.randn(2, 8, 6, requires_grad=True)
    y = model(x)
    assert (y - x).abs().max() < 0.2
    y.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bad_head_split_rejected() -> None:
    with pytest.raises(ValueError, match="heads"):
        WindowedAttention(10, 4)
