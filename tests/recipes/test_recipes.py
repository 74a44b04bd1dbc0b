"""Every bundled recipe parses, builds its parts, and trains a few steps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gin
import pytest
import torch

from codecbench.config import bundled_recipes_dir, parse_recipe
from codecbench.training.trainer import train

NAMED = ("l1_vq_baseline", "dac_style", "mimi_style", "encodec_style")
ADVERSARIAL = {"dac_style", "mimi_style", "encodec_style"}
SMALL_RUN = ["BATCH_SIZE = 2", "CROP_SECONDS = 0.32", "codecbench.train.validation_items = 2",
             "codecbench.train.validation_examples = 1", "codecbench.train.progress = False"]


def test_every_named_recipe_has_a_tiny_variant() -> None:
    names = {path.stem for path in bundled_recipes_dir().glob("*.gin")}
    assert set(NAMED) | {f"{name}_tiny" for name in NAMED} <= names


@pytest.mark.parametrize("recipe", [*NAMED, *(f"{name}_tiny" for name in NAMED)])
def test_recipe_builds(recipe: str) -> None:
    parse_recipe(recipe)
    model = gin.query_parameter("codecbench.train.model").scoped_configurable_fn()
    assert model.sample_rate == 16000
    try:
        discriminator = gin.query_parameter("codecbench.train.discriminator")
    except ValueError:  # not bound: no adversary
        discriminator = None
    assert (discriminator is not None) == (recipe.removesuffix("_tiny") in ADVERSARIAL)
    if discriminator is not None:
        assert discriminator.scoped_configurable_fn().sees_absolute_level
    if recipe.endswith("_tiny"):
        generator_parameters = sum(p.numel() for p in model.parameters())
        assert generator_parameters < 6_000_000, f"{recipe}: tiny generator has {generator_parameters} parameters"


def _losses(run_dir: Path) -> list[dict[str, float]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r.get("kind") == "train"]


@pytest.mark.parametrize("recipe", [f"{name}_tiny" for name in NAMED])
def test_tiny_recipe_trains_a_few_steps(recipe: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    # The adversary joins at step 2 (the tiny GAN recipes warm up without it for 100-300 steps).
    parse_recipe(recipe, [*SMALL_RUN, "codecbench.train.log_every = 1", "codecbench.train.adversary_warmup_steps = 1"])
    result = train(tmp_path / "run", max_steps=3)
    assert result.step == 3
    assert result.checkpoint is not None and result.checkpoint.exists()
    records = _losses(tmp_path / "run")
    assert records, "no training records logged"
    for record in records:
        losses = {k: v for k, v in record.items() if k.startswith("loss/")}
        assert losses and all(isinstance(v, float) and math.isfinite(v) for v in losses.values()), record
    if recipe.removesuffix("_tiny") in ADVERSARIAL:
        assert "loss/adversarial" in records[-1] and "loss/discriminator" in records[-1], records[-1]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", NAMED)
def test_full_size_recipe_trains_a_step(recipe: str, tmp_path: Path) -> None:
    parse_recipe(recipe, ["BATCH_SIZE = 1", "CROP_SECONDS = 0.16", *SMALL_RUN[2:]])
    result = train(tmp_path / "run", max_steps=1)
    assert result.step == 1 and result.checkpoint is not None
