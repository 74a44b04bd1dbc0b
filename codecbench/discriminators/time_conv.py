"""A (k, 1) convolution along time written as one im2col matrix product (forward and backward).

MPD's convs only mix along time, so on channels-last activations [B, L, P, C] each one is a single GEMM
``[B*L_out*P, k*C] @ [k*C, C_out]``. On CPU under bf16 autocast this beat oneDNN's conv2d backward
(its weight gradient for (5, 1) kernels is slow) by 15-20 % for DAC's MPD; in fp32 oneDNN was as fast
or faster, so MPD uses this path only for reduced-precision autocast on CPU.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def im2col_time(x: Tensor, kernel: int, stride: int, padding: int) -> Tensor:
    """[B, L, P, C] -> [B, L_out, P, kernel, C] (a copy), zero-padding ``padding`` frames on both ends."""
    padded = F.pad(x, (0, 0, 0, 0, padding, padding))
    return padded.unfold(1, kernel, stride).transpose(-1, -2).contiguous()


class _TimeConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int) -> Tensor:
        kernel = weight.shape[1] // x.shape[-1]
        cols = im2col_time(x, kernel, stride, padding)
        batch, length_out, width = cols.shape[:3]
        flat = cols.view(-1, weight.shape[1])
        y = flat @ weight.t() if bias is None else torch.addmm(bias, flat, weight.t())
        ctx.save_for_backward(flat, weight)
        ctx.geometry = (tuple(x.shape), kernel, stride, padding, length_out, bias is not None)
        return y.view(batch, length_out, width, -1)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        flat, weight = ctx.saved_tensors
        (batch, length, width, channels), kernel, stride, padding, length_out, has_bias = ctx.geometry
        grad2 = grad.reshape(-1, grad.shape[-1])
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[1]:
            grad_w = grad2.t() @ flat
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad2.sum(0)
        if ctx.needs_input_grad[0]:
            grad_cols = (grad2 @ weight).view(batch, length_out, width, kernel, channels)
            grad_padded = grad.new_zeros(batch, length + 2 * padding, width, channels)
            span = stride * (length_out - 1) + 1
            for tap in range(kernel):
                grad_padded[:, tap : tap + span : stride] += grad_cols[:, :, :, tap]
            grad_x = grad_padded[:, padding : padding + length]
        return grad_x, grad_w, grad_b, None, None


def time_conv(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int) -> Tensor:
    """Convolve channels-last ``x`` [B, L, P, C] along L with a conv2d weight [C_out, C, k, 1].

    Same result as ``conv2d`` on [B, C, L, P] with stride (stride, 1) and padding (padding, 0), returned
    channels-last [B, L_out, P, C_out]. Follows the caller's autocast dtype (the GEMMs run in it).
    """
    if weight.dim() != 4 or weight.shape[-1] != 1 or weight.shape[1] != x.shape[-1]:
        raise ValueError(f"time_conv: weight {tuple(weight.shape)} does not fit channels-last input {tuple(x.shape)}")
    out_ch, in_ch, kernel = weight.shape[:3]
    device = x.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        x, weight = x.to(dtype), weight.to(dtype)  # cast before the transpose below: half the bytes moved
        bias = bias.to(dtype) if bias is not None else None
    w2 = weight.squeeze(-1).transpose(1, 2).reshape(out_ch, kernel * in_ch)  # tap-major, matches im2col_time
    with torch.autocast(device_type=device, enabled=False):
        return _TimeConv.apply(x.contiguous(), w2, bias, stride, padding)
