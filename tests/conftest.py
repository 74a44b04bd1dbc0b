"""Shared fixtures: seeded RNGs and a clean Gin state for every test; loading ``benchmarks/`` scripts."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import gin
import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_clean_gin() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    gin.clear_config()
    yield
    gin.clear_config()


BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="session")
def benchmark_script() -> Iterator[Callable[[str], ModuleType]]:
    """Loads ``benchmarks/<name>.py`` as a module (the scripts are not a package); unloaded at the end."""
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS_DIR / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve their module by name
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
