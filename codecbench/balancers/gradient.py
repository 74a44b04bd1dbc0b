"""EnCodec's gradient balancer: each loss gets a fixed share of the gradient norm at the decoder output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from codecbench.balancers.base import BALANCERS, Balancer, BalancerResult
from codecbench.balancers.common import (
    backward_once,
    check_weights,
    grad_at_output,
    gradient_norm,
    raw_metrics,
    scaled_weights,
    shares_from_norms,
    weighted_direct_sum,
)
from codecbench.utils.running_average import BiasCorrectedEMA


def _average_across_processes(values: Tensor) -> Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values = values / dist.get_world_size()
    return values


@BALANCERS.register("gradient")
class GradientBalancer(Balancer):
    """EnCodec-style balancer: loss i contributes ``w_i / sum(w)`` of the gradient norm at the output.

    For each balanced loss, ``g_i = d loss_i / d output``; its norm (per batch item,
    averaged, unless ``per_batch_item=False``; averaged over processes under DDP) feeds a
    bias-corrected EMA ``n_i`` (``ema_decay`` 0.999 as EnCodec). The output then receives
    ``sum_i total_norm * w_i / sum(w) / (eps + n_i) * g_i`` in one backward pass together
    with the direct losses (times their weights, default 1). The raw scale of a loss thus
    no longer matters, only its weight. Non-finite norms do not enter the EMA, so one bad
    step cannot poison it. ``shares`` (every call) are the measured fractions of the
    rescaled gradient norms; they equal ``w_i / sum(w)`` once the EMA has settled.

    Metrics: raw value per loss, ``grad_norm/<name>`` (raw norm at the output),
    ``ema_grad_norm/<name>`` and ``scale/<name>``. ``total`` is ``sum scale_i * loss_i``
    plus the weighted direct losses (EnCodec's "effective loss").
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        total_norm: float = 1.0,
        ema_decay: float = 0.999,
        per_batch_item: bool = True,
        epsilon: float = 1e-12,
    ) -> None:
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"gradient balancer: ema_decay must be in [0, 1), got {ema_decay}")
        self.weights = dict(weights or {})
        self.total_norm = float(total_norm)
        self.ema_decay = float(ema_decay)
        self.per_batch_item = per_batch_item
        self.epsilon = float(epsilon)
        self._norm_averages: dict[str, BiasCorrectedEMA] = {}

    def _update_ema(self, norms: dict[str, Tensor]) -> dict[str, Tensor]:
        return {
            name: self._norm_averages.setdefault(name, BiasCorrectedEMA(self.ema_decay)).update(norm)
            for name, norm in norms.items()
        }

    def backward(
        self,
        losses: Mapping[str, Tensor],
        output: Tensor,
        direct: Mapping[str, Tensor],
        measure_shares: bool = False,
        weight_scales: Mapping[str, Tensor | float] | None = None,
    ) -> BalancerResult:
        configured = check_weights(self.weights, list(losses), "gradient")
        metrics = raw_metrics(losses, direct)
        direct_total = weighted_direct_sum(direct, self.weights)
        effective = sum(
            (float(self.weights.get(name, 1.0)) * loss.detach().float() for name, loss in direct.items()),
            torch.zeros((), device=output.device),
        )
        if not losses:
            backward_once(output, None, direct_total)
            return BalancerResult(total=effective, metrics=metrics)
        configured_sum = sum(configured.values())
        if configured_sum <= 0:
            raise ValueError(f"gradient balancer: the weights of the balanced losses sum to {configured_sum}; need > 0")
        weights = scaled_weights(configured, weight_scales)
        # a tensor when the weights are scaled (no host sync); all-zero scaled weights give zero scales
        weight_sum = torch.as_tensor(sum(weights.values()), device=output.device).clamp_min(1e-12)
        names = list(losses)
        grads = {name: grad_at_output(losses[name], output) for name in names}
        local = torch.stack([gradient_norm(grads[name], self.per_batch_item) for name in names])
        norms = dict(zip(names, _average_across_processes(local).unbind(0)))
        ema = self._update_ema(norms)
        output_grad = torch.zeros_like(output)
        rescaled_norms: dict[str, Tensor] = {}
        for index, name in enumerate(names):
            scale = self.total_norm * weights[name] / weight_sum / (self.epsilon + ema[name])
            output_grad = output_grad + scale.to(output.dtype) * grads[name]
            effective = effective + scale * losses[name].detach().float()
            rescaled_norms[name] = scale * local[index]
            metrics[f"grad_norm/{name}"] = local[index]
            metrics[f"ema_grad_norm/{name}"] = ema[name].detach()
            metrics[f"scale/{name}"] = scale.detach()
        backward_once(output, output_grad, direct_total)
        return BalancerResult(total=effective.detach(), shares=shares_from_norms(rescaled_norms), metrics=metrics)

    def state_dict(self) -> dict[str, Any]:
        """EMA state, for resuming (floats, safe for ``torch.load(weights_only=True)``)."""
        return {
            "ema_sum": {name: float(average.total) for name, average in self._norm_averages.items()},
            "ema_count": {name: float(average.count) for name, average in self._norm_averages.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        counts = state.get("ema_count", {})
        self._norm_averages = {}
        for name, total in state.get("ema_sum", {}).items():
            self._norm_averages[name] = BiasCorrectedEMA(self.ema_decay)
            self._norm_averages[name].load(total, counts[name])
