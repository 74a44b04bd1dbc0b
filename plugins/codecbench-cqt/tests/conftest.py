"""Seeded RNGs and a clean Gin state for every plugin test."""

from __future__ import annotations

import random
from collections.abc import Iterator

import gin
import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_clean_gin() -> Iterator[None]:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    gin.clear_config()
    yield
    gin.clear_config()
