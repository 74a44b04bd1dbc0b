"""``codecbench train``: argument handling, clear errors, resume, and SIGTERM writing a checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from training_helpers import TINY, read_records

from codecbench.cli import main
from codecbench.training.checkpoint import list_checkpoints, load_checkpoint

REPO = Path(__file__).resolve().parents[2]


def test_unknown_recipe_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "no_such_recipe_xyz"]) == 2
    assert "recipe 'no_such_recipe_xyz' not found" in capsys.readouterr().err


def test_missing_data_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(TINY), "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "run")]) == 2
    assert f"--data {tmp_path / 'absent'}: no such file or folder" in capsys.readouterr().err


def test_corrupt_checkpoint_on_resume_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "step_00000007.pt").write_bytes(b"PK\x03\x04 truncated")
    assert main(["train", str(TINY), "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "step_00000007.pt is corrupt, truncated" in err and "Traceback" not in err


def test_resume_needs_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(TINY), "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_cli_trains_then_resumes_with_overrides(audio_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", str(TINY), "--data", str(audio_dir), "--out", str(run), "--max-steps", "2",
                 "--device", "cpu", "--gin", "codecbench.train.validation_every = 0"]) == 0
    assert main(["train", str(TINY), "--out", str(run), "--resume", "--max-steps", "3"]) == 0
    assert [row["step"] for row in read_records(run, "train")] == [1, 2, 3]
    payload = load_checkpoint(run)
    assert payload["step"] == 3 and str(audio_dir) in payload["config"]  # --data was kept by the saved config


def test_sigterm_writes_a_checkpoint_and_exits_cleanly(audio_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "codecbench", "train", str(TINY), "--data", str(audio_dir), "--out", str(run),
               "--max-steps", "100000", "--gin", "codecbench.train.checkpoint_every = 0",
               "--gin", "codecbench.train.validation_every = 0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    deadline = time.monotonic() + 120
    metrics = run / "metrics.jsonl"
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()[0]
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    checkpoints = list_checkpoints(run)
    assert len(checkpoints) == 1, output
    step = load_checkpoint(checkpoints[0])["step"]
    assert step >= 2
    assert "SIGTERM" in output and f"--out {run} --resume" in output
