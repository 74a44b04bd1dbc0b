"""Teacher contract for semantic distillation: audio -> frozen feature frames."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from codecbench.registry import Registry


class Teacher(nn.Module, ABC):
    """A frozen feature extractor; audio [B, 1, T] at ``sample_rate`` -> features [B, feature_dim, frames]."""

    sample_rate: int
    feature_dim: int

    @abstractmethod
    def forward(self, audio: Tensor) -> Tensor: ...


TEACHERS: Registry[Teacher] = Registry("teacher", "codecbench.teachers", Teacher)
