"""A run resumed at step k matches the uninterrupted run (GAN, EMA, gradient balancer, schedules)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from training_helpers import TINY_GAN, data_binding, read_records

from codecbench.config import parse_config_text, parse_recipe
from codecbench.training import load_checkpoint, train

STATEFUL = [
    "codecbench.train.max_steps = 6",
    "codecbench.train.checkpoint_every = 3",
    "codecbench.train.validation_every = 3",
    "codecbench.train.monitor_every = 2",
    "codecbench.train.ema_decay = 0.9",
    "codecbench.train.generator_lr_warmup_steps = 2",
    "codecbench.train.discriminator_lr_warmup_steps = 2",
    "codecbench.train.generator_scheduler = @generator/torch.optim.lr_scheduler.ExponentialLR",
    "generator/torch.optim.lr_scheduler.ExponentialLR.gamma = 0.9",
    "codecbench.train.balancer = @codecbench.balancers.gradient()",
    "codecbench.balancers.gradient.weights = {'l1': 1.0, 'mel': 1.0, 'adversarial': 1.0, 'feature': 2.0}",
    "codecbench.train.discriminator_update_probability = 0.5",
    "codecbench.train.discriminator_warmup_steps = 0",
    "codecbench.train.adversary_full_margin = 0.01",  # the gate's running margin is resumed too
    "codecbench.datasets.folder.crops_per_epoch = 12",  # 3 batches per epoch: the resume lands mid-epoch
]


def losses_by_step(run: Path) -> dict[int, dict[str, float]]:
    return {row["step"]: row for row in read_records(run, "train")}


def test_resumed_run_matches_uninterrupted_run(audio_dir: Path, tmp_path: Path) -> None:
    bindings = [data_binding(audio_dir), *STATEFUL]
    parse_recipe(TINY_GAN, bindings)
    train(tmp_path / "full")

    parse_recipe(TINY_GAN, [*bindings, "codecbench.train.max_steps = 4"])
    train(tmp_path / "part")
    # resume exactly as the CLI does: defaults -> saved config -> overrides
    saved = load_checkpoint(tmp_path / "part")["config"]
    parse_config_text(saved, ["codecbench.train.max_steps = 6"])
    result = train(tmp_path / "part", resume=True)
    assert result.step == 6

    full, part = losses_by_step(tmp_path / "full"), losses_by_step(tmp_path / "part")
    assert sorted(part) == [1, 2, 3, 4, 5, 6]  # records after the resumed step were dropped, then rewritten
    for step in (5, 6):
        assert 0.0 < full[step]["adversary_gate"] <= 1.0  # the gate is open: it shapes the losses compared
        for key in ("loss/l1", "loss/mel", "loss/adversarial", "loss/feature", "loss/total", "lr/generator",
                    "adversary_gate"):
            assert part[step][key] == pytest.approx(full[step][key], rel=1e-5, abs=1e-7), (step, key)
        assert ("loss/discriminator" in part[step]) == ("loss/discriminator" in full[step]), step
        if "loss/discriminator" in full[step]:
            assert part[step]["loss/discriminator"] == pytest.approx(full[step]["loss/discriminator"], rel=1e-5)
    a = torch.load(tmp_path / "full" / "checkpoints" / "step_00000006.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoints" / "step_00000006.pt", weights_only=True)
    for section in ("codec", "codec_ema", "discriminator"):
        for key, value in a[section].items():
            torch.testing.assert_close(b[section][key], value, rtol=1e-5, atol=1e-6, msg=f"{section}.{key}")
    for key in ("ema_sum", "ema_count"):
        assert b["balancer"][key] == pytest.approx(a["balancer"][key], rel=1e-5)
    assert a["data"] == b["data"]
