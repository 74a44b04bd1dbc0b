"""Transformer for codec bottlenecks (Mimi style): windowed attention, rotary positions, LayerScale.

Each query at position ``i`` sees keys ``j`` with ``0 <= i - j < context`` (causal) or
``|i - j| < context`` (non-causal; ``context=None`` means unbounded). Streaming (causal only)
keeps a KV cache of the last ``context - 1`` positions, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecbench.streaming import StreamingModule


def rotary_tables(positions: Tensor, head_dim: int, max_period: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """cos and sin tables [T, head_dim/2] for the given absolute positions (computed in float32)."""
    half = head_dim // 2
    freqs = max_period ** (-torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.to(torch.float32)[:, None] * freqs[None, :]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (x[..., :h], x[..., h:]) of ``x`` [B, H, T, D] by the angles in ``cos``/``sin`` [T, D/2]."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def window_mask(q_pos: Tensor, k_pos: Tensor, context: int | None, causal: bool) -> Tensor | None:
    """Boolean attention mask [Tq, Tk] (True = attend), or None when every key is visible."""
    delta = q_pos[:, None] - k_pos[None, :]
    if causal:
        allowed = delta >= 0
        if context is not None:
            allowed = allowed & (delta < context)
        return allowed
    if context is None:
        return None
    return delta.abs() < context


class LayerScale(nn.Module):
    """Per-channel residual-branch scale initialised small (CaiT; Mimi uses 0.01)."""

    def __init__(self, dim: int, init: float = 0.01) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


@dataclass
class KVCacheState:
    """Rotated keys and values of the last ``context - 1`` positions, and the next absolute position."""

    keys: Tensor | None = None  # [B, H, n, Dh]
    values: Tensor | None = None
    offset: int = 0


class WindowedAttention(StreamingModule[KVCacheState]):
    """Multi-head self-attention with rotary positions and a bounded window, via ``F.scaled_dot_product_attention``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        context: int | None = None,
        causal: bool = True,
        max_period: float = 10_000.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if dim % num_heads or (dim // num_heads) % 2:
            raise ValueError(f"attention dim {dim} must split into {num_heads} heads of even size")
        if context is not None and context < 1:
            raise ValueError(f"attention context must be >= 1 or None, got {context}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.context = context
        self.causal = causal
        self.max_period = max_period
        self.in_proj = nn.Linear(dim, 3 * dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def init_streaming_state(self, batch_size: int) -> KVCacheState:
        if not self.causal:
            raise RuntimeError("WindowedAttention: streaming needs causal=True")
        return KVCacheState()

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, T, D] -> [B, T, D]."""
        batch, length, dim = x.shape
        qkv = self.in_proj(x).view(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [B, H, T, Dh]
        state = self.streaming_state if self.is_streaming else None
        offset = state.offset if state is not None else 0
        q_pos = torch.arange(offset, offset + length, device=x.device)
        cos, sin = rotary_tables(q_pos, self.head_dim, self.max_period, q.dtype)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        k_pos = q_pos
        if state is not None:
            self.check_streaming_batch(x)
            if state.keys is not None:
                k = torch.cat([state.keys.to(k.dtype), k], dim=2)
                v = torch.cat([state.values.to(v.dtype), v], dim=2)
                k_pos = torch.arange(offset - state.keys.shape[2], offset + length, device=x.device)
            keep = k.shape[2] if self.context is None else min(self.context - 1, k.shape[2])
            state.keys = k[:, :, k.shape[2] - keep :]
            state.values = v[:, :, v.shape[2] - keep :]
            state.offset = offset + length
        mask = window_mask(q_pos, k_pos, self.context, self.causal)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))


class TransformerLayer(nn.Module):
    """Pre-norm layer: ``x + LS(attn(LN(x)))`` then ``x + LS(FF(LN(x)))`` with a GELU feed-forward."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dim_feedforward: int,
        context: int | None,
        causal: bool,
        layer_scale: float | None = 0.01,
        max_period: float = 10_000.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = WindowedAttention(dim, num_heads, context, causal, max_period)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.ff = nn.Sequential(
            nn.Linear(dim, dim_feedforward, bias=False), nn.GELU(), nn.Linear(dim_feedforward, dim, bias=False)
        )
        self.scale1 = LayerScale(dim, layer_scale) if layer_scale is not None else nn.Identity()
        self.scale2 = LayerScale(dim, layer_scale) if layer_scale is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.scale1(self.attn(self.norm1(x)))
        return x + self.scale2(self.ff(self.norm2(x)))


class Transformer(StreamingModule[None]):
    """Stack of :class:`TransformerLayer` applied to conv-layout input [B, D, T] -> [B, D, T]."""

    def __init__(
        self,
        dim: int,
        num_layers: int = 8,
        num_heads: int = 8,
        dim_feedforward: int = 2048,
        context: int | None = 250,
        causal: bool = True,
        layer_scale: float | None = 0.01,
        max_period: float = 10_000.0,
    ) -> None:
        super().__init__()
        self.causal = causal
        self.layers = nn.ModuleList(
            TransformerLayer(dim, num_heads, dim_feedforward, context, causal, layer_scale, max_period)
            for _ in range(num_layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] == 0:
            return x
        h = x.transpose(1, 2)
        for layer in self.layers:
            h = layer(h)
        return h.transpose(1, 2)
