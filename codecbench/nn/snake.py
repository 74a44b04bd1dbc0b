"""Snake activation ``x + 1/(alpha + eps) * sin(alpha * x)^2`` with a learnable per-channel alpha.

Training uses a custom autograd function that saves only ``x`` and ``alpha`` (the plain formula
keeps three extra activation-sized tensors alive for backward). Without gradients the result is
computed in cache-sized chunks written straight into one output buffer (or into ``x`` itself with
:func:`snake_`): one pass over memory and one fresh allocation at most, the same arithmetic
(``x + sin(alpha x)^2 * 1/(alpha + eps)``, bit-identical to the unchunked form).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

EPS = 1e-9


def snake_reference(x: Tensor, alpha: Tensor, eps: float = EPS) -> Tensor:
    """The plain formula, for tests: ``x + 1/(alpha+eps) * sin(alpha*x)^2``."""
    return x + (alpha + eps).reciprocal() * torch.sin(alpha * x).pow(2)


CHUNK_ELEMENTS = 1 << 18
"""Elements per chunk of the no-grad forms (1 MiB in float32: the temporaries stay in cache)."""


def _chunks(x: Tensor, out: Tensor, alpha: Tensor, inv: Tensor) -> list[tuple[Tensor, ...]] | None:
    """(x, out, alpha, 1/alpha) views of about ``CHUNK_ELEMENTS`` each, contiguous in memory, or None.

    ``x`` and ``out`` [B, C, T] must share a layout: channel-major (time stride 1: chunks are row
    blocks of one item) or time-major (channel stride 1: chunks are frame ranges of one item).
    """
    if x.dim() != 3 or alpha.shape != (1, x.shape[1], 1):
        return None
    channels, length = x.shape[1], x.shape[2]
    if channels > 1 and x.stride(1) == out.stride(1) == 1:  # time-major: [frames, C] blocks
        step = max(1, CHUNK_ELEMENTS // channels)
        return [
            (x[b, :, t : t + step], out[b, :, t : t + step], alpha[0], inv[0])
            for b in range(x.shape[0])
            for t in range(0, length, step)
        ]
    if not x.stride(2) == out.stride(2) == 1:
        return None
    step_rows = max(1, CHUNK_ELEMENTS // max(1, length))
    step_cols = length if step_rows > 1 else min(length, CHUNK_ELEMENTS)
    return [
        (
            x[b, r : r + step_rows, c : c + step_cols],
            out[b, r : r + step_rows, c : c + step_cols],
            alpha[0, r : r + step_rows],
            inv[0, r : r + step_rows],
        )
        for b in range(x.shape[0])
        for r in range(0, channels, step_rows)
        for c in range(0, length, step_cols)
    ]


def empty_like_layout(x: Tensor) -> Tensor:
    """An uninitialised dense tensor shaped like ``x`` [B, C, T], time-major if ``x`` is, else contiguous."""
    if x.dim() == 3 and x.shape[1] > 1 and x.stride(1) == 1:
        return x.new_empty(x.shape[0], x.shape[2], x.shape[1]).transpose(1, 2)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _snake_into(x: Tensor, alpha: Tensor, eps: float, out: Tensor) -> Tensor:
    """Write snake(x) into ``out`` (a fresh buffer, or ``x`` itself); chunked when the layout allows."""
    inv = (alpha + eps).reciprocal()
    if torch.compiler.is_compiling():  # the compiler fuses the plain formula itself; it cannot trace out=
        y = torch.addcmul(x, torch.sin(x * alpha).square(), inv)
        return out.copy_(y)
    chunks = _chunks(x, out, alpha, inv) if x.numel() > CHUNK_ELEMENTS else None
    in_place = out is x
    for xc, oc, ac, ic in chunks or [(x, out, alpha, inv)]:
        t = xc * ac if in_place else torch.mul(xc, ac, out=oc)
        t.sin_().square_()
        torch.addcmul(xc, t, ic, out=oc)
    return out


def _snake_no_grad(x: Tensor, alpha: Tensor, eps: float) -> Tensor:
    return _snake_into(x, alpha, eps, empty_like_layout(x))


def snake_(x: Tensor, alpha: Tensor, eps: float = EPS) -> Tensor:
    """Snake of ``x`` computed in place (no autograd; for tensors nobody else reads). Returns ``x``."""
    if torch.is_grad_enabled() and (x.requires_grad or alpha.requires_grad):
        raise RuntimeError("snake_: in-place Snake is for inference; use snake() when gradients are needed")
    return _snake_into(x, alpha.to(x.dtype), eps, x)


class _SnakeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, alpha: Tensor, eps: float) -> Tensor:  # type: ignore[override]
        a = alpha.to(x.dtype)
        ctx.save_for_backward(x, alpha)
        ctx.eps = eps
        return _snake_no_grad(x, a, eps)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # type: ignore[override]
        x, alpha = ctx.saved_tensors
        a = alpha.to(x.dtype)
        inv = (a + ctx.eps).reciprocal()
        ax = x * a
        sin2 = torch.sin(2 * ax)  # d/dx sin^2(ax) = a sin(2ax)
        grad_x = grad_alpha = None
        if ctx.needs_input_grad[0]:
            grad_x = grad * (1 + a * inv * sin2)
        if ctx.needs_input_grad[1]:
            sq = ax.sin_().square_()
            # d/da [sin^2(ax) / (a + eps)] = x sin(2ax) / (a + eps) - sin^2(ax) / (a + eps)^2
            local = torch.addcmul(x * sin2 * inv, sq, inv.square(), value=-1)
            reduce_dims = [d for d in range(grad.dim()) if alpha.shape[d] == 1 and grad.shape[d] != 1]
            grad_alpha = (grad * local).sum(dim=reduce_dims, keepdim=True).to(alpha.dtype)
        return grad_x, grad_alpha, None


def snake(x: Tensor, alpha: Tensor, eps: float = EPS) -> Tensor:
    """Snake of ``x`` [B, C, T] with ``alpha`` broadcastable to it (e.g. [1, C, 1])."""
    if torch.is_grad_enabled() and (x.requires_grad or alpha.requires_grad):
        return _SnakeFunction.apply(x, alpha, eps)
    return _snake_no_grad(x, alpha.to(x.dtype), eps)


class Snake(nn.Module):
    """Snake activation with one learnable frequency ``alpha`` per channel (init 1, as in DAC/BigVGAN)."""

    def __init__(self, channels: int, alpha_init: float = 1.0) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1, channels, 1), float(alpha_init)))

    def forward(self, x: Tensor) -> Tensor:
        return snake(x, self.alpha)
