"""Two CPU processes under torchrun (gloo): parameters stay identical across ranks, rank 0 logs once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from training_helpers import TINY_GAN, read_records

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_training_keeps_ranks_identical(audio_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(Path(__file__).with_name("ddp_worker.py")), str(TINY_GAN), "--data", str(audio_dir),
               "--out", str(run), "--max-steps", "4", "--device", "cpu",
               "--gin", "codecbench.train.adversary_warmup_steps = 1",
               "--gin", "codecbench.train.validation_every = 2", "--gin", "codecbench.train.monitor_every = 2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [torch.load(run / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 4
    for section in ("codec", "discriminator"):
        for key, value in ranks[0][section].items():
            torch.testing.assert_close(ranks[1][section][key], value, rtol=0, atol=0, msg=f"{section}.{key}")
    checkpoint = torch.load(run / "checkpoints" / "step_00000004.pt", weights_only=True)
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng"]) == 2
    for key, value in checkpoint["codec"].items():
        assert torch.equal(value, ranks[0]["codec"][key]), key
    rows = read_records(run, "train")
    assert [row["step"] for row in rows] == [1, 2, 3, 4]  # rank 0 only: no duplicates
    assert len(read_records(run, "validation")) == 2
