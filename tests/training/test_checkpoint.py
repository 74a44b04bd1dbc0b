"""Checkpoint files: atomic writes, keep-last-K, safe loading, clear errors, RNG round trip, load_codec."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from training_helpers import TINY, data_binding

from codecbench.config import parse_recipe
from codecbench.training import checkpoint as ckpt
from codecbench.training import load_codec, train


def payload(step: int) -> dict:
    return {"format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION, "step": step, "w": torch.full((4,), step)}


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ckpt.save_checkpoint(tmp_path, 1, payload(1))
    real_save = torch.save

    def broken_save(obj: object, file: object, *args: object, **kwargs: object) -> None:
        real_save(obj, file, *args, **kwargs)
        file.truncate(50)  # type: ignore[attr-defined]  # half-written, then the "crash"
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="simulated"):
        ckpt.save_checkpoint(tmp_path, 2, payload(2), keep_last=1)
    monkeypatch.undo()
    assert ckpt.list_checkpoints(tmp_path) == [first]
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]  # no temporary file left behind
    assert torch.equal(ckpt.load_checkpoint(first)["w"], torch.full((4,), 1))


def test_keep_last_k_and_latest(tmp_path: Path) -> None:
    for step in (5, 10, 15, 20):
        ckpt.save_checkpoint(tmp_path, step, payload(step), keep_last=2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step_00000015.pt", "step_00000020.pt"]
    assert ckpt.latest_checkpoint(tmp_path).name == "step_00000020.pt"
    assert ckpt.load_checkpoint(tmp_path)["step"] == 20  # a run directory resolves to its latest checkpoint


def test_corrupt_truncated_and_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    good = ckpt.save_checkpoint(tmp_path, 1, payload(1))
    truncated = good.with_name("step_00000002.pt")
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ckpt.CheckpointError, match=r"step_00000002\.pt is corrupt, truncated"):
        ckpt.load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match=r"garbage\.pt"):
        load_codec(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ckpt.CheckpointError, match="not a codecbench checkpoint"):
        ckpt.load_checkpoint(foreign)
    with pytest.raises(ckpt.CheckpointError, match="does not exist"):
        ckpt.load_checkpoint(tmp_path / "missing.pt")


def test_loading_never_unpickles_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": ckpt.FORMAT, "payload": Path("/etc/passwd")}, path)  # an arbitrary class instance
    with pytest.raises(ckpt.CheckpointError, match="objects other than tensors"):
        ckpt.load_checkpoint(path)


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path: Path) -> None:
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # leave a cached gaussian behind
    state = ckpt.capture_rng_state()
    expected = (random.random(), np.random.standard_normal(3), torch.rand(3))
    path = ckpt.atomic_torch_save({"rng": state}, tmp_path / "rng.pt")
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    ckpt.restore_rng_state(torch.load(path, weights_only=True)["rng"])
    assert random.random() == expected[0]
    np.testing.assert_array_equal(np.random.standard_normal(3), expected[1])
    assert torch.equal(torch.rand(3), expected[2])


def test_load_codec_rebuilds_the_model_from_the_checkpoint_alone(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 2",
                        "codecbench.train.validation_every = 0"])
    result = train(tmp_path / "run")
    live = torch.load(result.checkpoint, weights_only=True)["codec"]
    loaded = load_codec(result.checkpoint)
    assert loaded.step == 2 and loaded.sample_rate == 16000 and not loaded.codec.training
    assert len(loaded.fingerprint) == 64 and loaded.fingerprint == load_codec(tmp_path / "run").fingerprint
    for key, value in loaded.codec.state_dict().items():
        assert torch.equal(value, live[key]), key
    audio = 0.1 * torch.randn(1, 1, 1600)
    codes = loaded.codec.encode(audio)
    assert codes.shape == (1, 2, 200) and codes.dtype == torch.int64
    assert loaded.codec.decode(codes, length=1600).shape == (1, 1, 1600)
    assert "codecbench.train" in loaded.config_text or "train." in loaded.config_text
