"""Gradient plumbing shared by the balancers: per-loss gradients at the output, norms, shares, backward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def check_weights(weights: Mapping[str, float], names: Sequence[str], balancer: str) -> dict[str, float]:
    """Weights for ``names``; a missing name is an error that lists what is configured."""
    missing = [name for name in names if name not in weights]
    if missing:
        raise KeyError(
            f"{balancer} balancer: no weight for loss(es) {missing}; configured weights: "
            f"{sorted(weights) or '(none)'}; losses given: {sorted(names)}. Add e.g. weights={{'{missing[0]}': 1.0}}"
        )
    out = {name: float(weights[name]) for name in names}
    negative = {name: w for name, w in out.items() if w < 0}
    if negative:
        raise ValueError(f"{balancer} balancer: weights must be >= 0, got {negative}")
    return out


def scaled_weights(
    weights: Mapping[str, float], scales: Mapping[str, Tensor | float] | None
) -> dict[str, Tensor | float]:
    """``weights`` with each name in ``scales`` multiplied by its scale (the others unchanged)."""
    return {name: weight * scales[name] if scales and name in scales else weight for name, weight in weights.items()}


def grad_at_output(loss: Tensor, output: Tensor) -> Tensor:
    """d loss / d output, keeping the graph; zeros when the loss does not reach ``output``."""
    if not loss.requires_grad or not output.requires_grad:
        return torch.zeros_like(output)
    (grad,) = torch.autograd.grad(loss, [output], retain_graph=True, allow_unused=True)
    return torch.zeros_like(output) if grad is None else grad


def gradient_norm(grad: Tensor, per_batch_item: bool) -> Tensor:
    """L2 norm of a gradient, or (EnCodec default) the mean over batch items of each item's L2 norm."""
    grad = grad.detach().float()
    if per_batch_item and grad.dim() > 1:
        return torch.linalg.vector_norm(grad.reshape(grad.shape[0], -1), dim=1).mean()
    return torch.linalg.vector_norm(grad)


def shares_from_norms(norms: Mapping[str, Tensor]) -> dict[str, float]:
    """Each loss's fraction of the summed gradient norms (0..1, summing to 1 unless all are zero)."""
    if not norms:
        return {}
    values = torch.stack([norms[name].detach().float() for name in norms])
    total = values.sum()
    fractions = (values / total).tolist() if float(total) > 0 else [0.0] * len(values)
    return dict(zip(norms, fractions))


def weighted_direct_sum(direct: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor | None:
    """``sum_d w_d * direct_d`` (weight default 1) over the direct losses that need gradients, or None."""
    total: Tensor | None = None
    for name, loss in direct.items():
        if loss.requires_grad:
            term = float(weights.get(name, 1.0)) * loss
            total = term if total is None else total + term
    return total


def backward_once(output: Tensor, output_grad: Tensor | None, direct_total: Tensor | None) -> None:
    """One backward pass from ``output`` (with ``output_grad``) and the direct losses together.

    Parameters reached from both (the encoder, via the decoder and via the quantizer
    penalty) receive each contribution exactly once.
    """
    tensors: list[Tensor] = []
    grads: list[Tensor] = []
    if output_grad is not None and output.requires_grad:
        tensors.append(output)
        grads.append(output_grad.to(output.dtype))
    if direct_total is not None:
        tensors.append(direct_total)
        grads.append(torch.ones_like(direct_total))
    if tensors:
        torch.autograd.backward(tensors, grad_tensors=grads)


def raw_metrics(losses: Mapping[str, Tensor], direct: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Detached raw value of every loss, keyed by its name."""
    return {name: loss.detach() for name, loss in {**losses, **direct}.items()}
