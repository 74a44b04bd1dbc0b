"""Loss balancers (importing this registers the built-ins: weighted, gradient)."""

from codecbench.balancers import gradient, weighted
from codecbench.balancers.base import BALANCERS, Balancer, BalancerResult
from codecbench.balancers.gradient import GradientBalancer
from codecbench.balancers.weighted import WeightedBalancer

__all__ = ["BALANCERS", "Balancer", "BalancerResult", "GradientBalancer", "WeightedBalancer", "gradient", "weighted"]
