"""Snake activation ``x + 1/(alpha + eps) * sin(alpha * x)^2`` with a learnable per-channel alpha.

Training uses a custom autograd function that saves only ``x`` and ``alpha`` (the plain formula
keeps three extra activation-sized tensors alive for backward); inference runs in place on one
temporary buffer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

EPS = 1e-9


def snake_reference(x: Tensor, alpha: Tensor, eps: float = EPS) -> Tensor:
    """The plain formula, for tests: ``x + 1/(alpha+eps) * sin(alpha*x)^2``."""
    return x + (alpha + eps).reciprocal() * torch.sin(alpha * x).pow(2)


def _snake_no_grad(x: Tensor, alpha: Tensor, eps: float) -> Tensor:
    t = x * alpha
    t.sin_().square_()
    return torch.addcmul(x, t, (alpha + eps).reciprocal())


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
