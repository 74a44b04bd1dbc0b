"""Balancer contract: turn named losses into one backward pass and report gradient shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from torch import Tensor

from codecbench.registry import Registry


@dataclass
class BalancerResult:
    """``total`` is the detached weighted sum of all losses; ``shares`` maps each loss that
    depends on the output to its share (0..1) of the gradient norm at that output, when
    measured on this call; ``metrics`` holds anything else worth logging."""

    total: Tensor
    shares: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Tensor] = field(default_factory=dict)


class Balancer(ABC):
    """Combines losses and runs ``backward``.

    ``losses`` depend on the model only through ``output`` (the decoder output) and may be
    rescaled at that point; ``direct`` losses (the quantizer penalty, distillation) are
    back-propagated as they are, times their weight (default 1). ``weight_scales`` multiplies
    the configured weights of the named output losses for this call only (a float or a
    scalar tensor each, >= 0): the trainer's adversary gate passes it.
    """

    @abstractmethod
    def backward(
        self,
        losses: Mapping[str, Tensor],
        output: Tensor,
        direct: Mapping[str, Tensor],
        measure_shares: bool = False,
        weight_scales: Mapping[str, Tensor | float] | None = None,
    ) -> BalancerResult: ...


BALANCERS: Registry[Balancer] = Registry("balancer", "codecbench.balancers", Balancer)
