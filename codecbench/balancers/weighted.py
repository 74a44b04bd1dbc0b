"""Fixed-weight loss combination."""

from __future__ import annotations

from collections.abc import Mapping

import torch
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


@BALANCERS.register("weighted")
class WeightedBalancer(Balancer):
    """Back-propagates ``sum_i w_i * loss_i + sum_d w_d * direct_d`` (direct weights default to 1).

    Every loss in ``losses`` needs a weight. The output losses are back-propagated in two
    stages (their summed gradient at ``output``, then ``output`` together with the direct
    losses), which gives the model's parameters exactly the gradients of the weighted sum
    and leaves the discriminator's parameters untouched. With ``measure_shares`` each
    loss's gradient at the output is taken separately to report its share of the
    weighted gradient norm (``per_batch_item``: norms per item, averaged, as EnCodec).

    Metrics: each loss's raw value under its own name, and with ``measure_shares``
    ``grad_norm/<name>`` (unweighted norm at the output).
    """

    def __init__(self, weights: Mapping[str, float] | None = None, per_batch_item: bool = True) -> None:
        self.weights = dict(weights or {})
        self.per_batch_item = per_batch_item

    def backward(
        self,
        losses: Mapping[str, Tensor],
        output: Tensor,
        direct: Mapping[str, Tensor],
        measure_shares: bool = False,
        weight_scales: Mapping[str, Tensor | float] | None = None,
    ) -> BalancerResult:
        weights = scaled_weights(check_weights(self.weights, list(losses), "weighted"), weight_scales)
        metrics = raw_metrics(losses, direct)
        shares: dict[str, float] = {}
        output_grad: Tensor | None = None
        if measure_shares and losses:
            grads = {name: grad_at_output(loss, output) for name, loss in losses.items()}
            norms = {name: gradient_norm(grad, self.per_batch_item) for name, grad in grads.items()}
            for name, norm in norms.items():
                metrics[f"grad_norm/{name}"] = norm
            shares = shares_from_norms({name: weights[name] * norm for name, norm in norms.items()})
            output_grad = sum((weights[name] * grad for name, grad in grads.items()), torch.zeros_like(output))
        else:
            reaching = [weights[name] * loss for name, loss in losses.items() if loss.requires_grad]
            if reaching:
                output_grad = grad_at_output(sum(reaching[1:], reaching[0]), output)
        backward_once(output, output_grad, weighted_direct_sum(direct, self.weights))
        total = sum(
            (weights.get(name, float(self.weights.get(name, 1.0))) * loss.detach().float()
             for name, loss in {**losses, **direct}.items()),
            torch.zeros((), device=output.device),
        )
        return BalancerResult(total=total, shares=shares, metrics=metrics)
