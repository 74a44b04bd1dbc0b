"""Dataset registry: every dataset yields mono float32 crops shaped [1, samples]."""

from __future__ import annotations

from torch.utils.data import Dataset

from codecbench.registry import Registry

DATASETS: Registry[Dataset] = Registry("dataset", "codecbench.datasets", Dataset)
