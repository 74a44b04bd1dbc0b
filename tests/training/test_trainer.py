"""The shared trainer end to end on CPU: tiny recipes, over-fitting, stopping, callbacks, precision."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import gin
import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import Dataset
from training_helpers import TINY, TINY_GAN, data_binding, read_records

from codecbench.config import parse_config_text, parse_recipe
from codecbench.errors import CodecbenchError
from codecbench.losses.base import LossInputs, LossTerm
from codecbench.training import StepRecord, StopRequest, TrainerCallback, load_codec, train


class FixedCrops(Dataset):
    """The same four tone crops in every epoch (for over-fitting one batch)."""

    def __init__(self, split: str = "train", seed: int = 0, samples: int = 800) -> None:
        t = torch.arange(samples) / 16000
        self.items = [0.1 * torch.sin(2 * math.pi * (150 + 100 * i) * t).reshape(1, -1) for i in range(4)]
        self.sample_rate = 16000

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.items[index]


gin.register(FixedCrops, module="tests_training")


def test_tiny_recipe_trains_and_writes_a_run_directory(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir)])
    result = train(tmp_path / "run")
    run = tmp_path / "run"
    assert result.step == 6 and result.stop_reason == "max_steps"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000003.pt", "step_00000006.pt"]
    kinds = {row["kind"] for row in read_records(run)}
    assert kinds == {"train", "monitor", "validation"}
    train_rows = read_records(run, "train")
    assert [row["step"] for row in train_rows] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(row["loss/mel"]) and math.isfinite(row["loss/l1"]) for row in train_rows)
    monitor = read_records(run, "monitor")[-1]
    for key in ("amplitude_pct", "snr_db", "si_sdr_db", "input_rms_dbfs", "share/l1", "share/mel",
                "encoder/penalty_share", "codebook/q0/perplexity", "codebook/q0/dead_fraction",
                "nonfinite/losses", "nonfinite/generator_grads", "grad_norm/generator"):
        assert key in monitor, key
    assert monitor["share/l1"] + monitor["share/mel"] == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= monitor["encoder/penalty_share"] <= 1.0
    validation = read_records(run, "validation")
    assert [row["step"] for row in validation] == [3, 6]
    for key in ("snr_db", "si_sdr_db", "amplitude_pct", "mel_distance", "codebook_usage", "q1/perplexity"):
        assert math.isfinite(validation[-1][key]), key
    wavs = sorted((run / "samples" / "step_00000006").glob("*.wav"))
    assert len(wavs) == 4 and sf.info(str(wavs[0])).samplerate == 16000
    # the config beside the checkpoints parses back and names the trainer's settings
    parse_config_text((run / "config.gin").read_text())
    assert gin.query_parameter("codecbench.train.max_steps") == 6


def test_loss_falls_when_overfitting_one_batch(tmp_path: Path) -> None:
    parse_recipe(TINY, [
        "codecbench.train.dataset = @tests_training.FixedCrops",
        "codecbench.train.max_steps = 30",
        "codecbench.train.validation_every = 0",
        "codecbench.train.checkpoint_every = 0",
        "codecbench.train.monitor_every = 0",
        "generator/torch.optim.Adam.lr = 3e-3",
    ])
    train(tmp_path / "run")
    rows = read_records(tmp_path / "run", "train")
    first = np.mean([row["loss/l1"] + row["loss/mel"] for row in rows[:3]])
    last = np.mean([row["loss/l1"] + row["loss/mel"] for row in rows[-3:]])
    assert last < 0.7 * first, (first, last)


def test_same_seed_same_losses_and_gan_parts_run(audio_dir: Path, tmp_path: Path) -> None:
    losses = []
    for name in ("a", "b"):
        parse_recipe(TINY_GAN, [data_binding(audio_dir), "codecbench.train.max_steps = 4",
                                "codecbench.train.validation_every = 0", "codecbench.train.monitor_every = 4"])
        train(tmp_path / name)
        losses.append([(r["loss/total"], r.get("loss/discriminator")) for r in read_records(tmp_path / name, "train")])
    assert losses[0] == losses[1]
    rows = read_records(tmp_path / "a", "train")
    assert "loss/discriminator" not in rows[0] and "loss/discriminator" not in rows[1]  # adversary warm-up: 2
    assert any("loss/discriminator" in r for r in rows[2:])
    monitor = read_records(tmp_path / "a", "monitor")[-1]
    for key in ("disc/margin", "disc/accuracy", "disc/feature_distance", "share/adversarial", "share/feature"):
        assert key in monitor, key
    assert monitor["disc/feature_distance"] == pytest.approx(monitor["loss/feature"], rel=1e-4)


def test_discriminator_can_start_before_the_adversarial_losses(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY_GAN, [data_binding(audio_dir), "codecbench.train.max_steps = 5",
                            "codecbench.train.validation_every = 0", "codecbench.train.monitor_every = 2",
                            "codecbench.train.discriminator_update_probability = 1.0",
                            "codecbench.train.adversary_warmup_steps = 3",
                            "codecbench.train.discriminator_warmup_steps = 1"])
    train(tmp_path / "run")
    rows = {row["step"]: row for row in read_records(tmp_path / "run", "train")}
    assert "loss/discriminator" not in rows[1]
    assert all("loss/discriminator" in rows[step] for step in (2, 3, 4, 5))  # D learns from step 2 ...
    assert all("loss/adversarial" not in rows[step] for step in (1, 2, 3))  # ... G sees it from step 4
    assert all("loss/adversarial" in rows[step] and "loss/feature" in rows[step] for step in (4, 5))
    lead = {row["step"]: row for row in read_records(tmp_path / "run", "monitor")}[2]
    assert lead["adversary_active"] == 0.0 and "disc/margin" in lead and "share/adversarial" not in lead


def test_adversary_gate_scales_the_adversarial_shares(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY_GAN, [data_binding(audio_dir), "codecbench.train.max_steps = 4",
                            "codecbench.train.validation_every = 0", "codecbench.train.monitor_every = 4",
                            "codecbench.train.discriminator_warmup_steps = 0",
                            "codecbench.train.adversary_full_margin = 1e6"])  # the gate stays ~closed
    train(tmp_path / "run")
    rows = {row["step"]: row for row in read_records(tmp_path / "run", "train")}
    assert "adversary_gate" not in rows[2] and 0.0 <= rows[4]["adversary_gate"] < 1e-5  # logged once active
    monitor = read_records(tmp_path / "run", "monitor")[-1]
    assert monitor["adversary_gate"] == pytest.approx(rows[4]["adversary_gate"])
    assert abs(monitor["adversary_gate/margin"]) < 10.0
    assert monitor["share/adversarial"] < 1e-4 and monitor["share/feature"] < 1e-4
    assert monitor["share/l1"] + monitor["share/mel"] == pytest.approx(1.0, abs=1e-4)


def test_negative_discriminator_warmup_is_refused(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY_GAN, [data_binding(audio_dir), "codecbench.train.discriminator_warmup_steps = -1"])
    with pytest.raises(CodecbenchError, match="discriminator_warmup_steps must be >= 0"):
        train(tmp_path / "run")


def test_max_minutes_stops_cleanly_with_a_checkpoint(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 1000"])
    result = train(tmp_path / "run", max_minutes=1e-6)
    assert result.stop_reason == "max_minutes" and result.step == 1
    assert result.checkpoint is not None and result.checkpoint.name == "step_00000001.pt"


class StopAtTwo(TrainerCallback):
    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.started = False

    def on_start(self, context) -> None:
        self.started = True
        self.emit = context.emit

    def on_step(self, record: StepRecord) -> StopRequest | None:
        self.kinds.append(record.kind)
        if record.kind == "train" and record.step == 2:
            self.emit(StepRecord(record.step, "diagnosis", {"alarm": 1.0}))
            return StopRequest("test asked to stop")
        return None


def test_callback_sees_records_logs_diagnoses_and_stops_the_run(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.monitor_every = 1"])
    callback = StopAtTwo()
    result = train(tmp_path / "run", callbacks=[callback])
    assert callback.started and result.step == 2 and "test asked to stop" in result.stop_reason
    assert {"train", "monitor"} <= set(callback.kinds)
    assert read_records(tmp_path / "run", "diagnosis") == [{"step": 2, "kind": "diagnosis", "alarm": 1.0}]
    assert result.checkpoint is not None and result.checkpoint.exists()


def test_bf16_autocast_on_cpu_with_ema_and_warmup(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 3",
                        "codecbench.train.precision = 'bf16'", "codecbench.train.ema_decay = 0.9",
                        "codecbench.train.generator_lr_warmup_steps = 4", "codecbench.train.validation_every = 3"])
    result = train(tmp_path / "run")
    rows = read_records(tmp_path / "run", "train")
    assert all(math.isfinite(r["loss/total"]) for r in rows)
    assert [r["lr/generator"] for r in rows] == pytest.approx([1e-3 / 4, 2e-3 / 4, 3e-3 / 4])
    assert math.isfinite(result.validation["snr_db"])
    payload = torch.load(result.checkpoint, weights_only=True)
    assert payload["codec_ema"] is not None
    loaded = load_codec(result.checkpoint)
    ema = payload["codec_ema"]
    assert all(torch.equal(v, ema[k]) for k, v in loaded.codec.state_dict().items())


def test_refuses_to_overwrite_a_run_without_resume(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 1"])
    train(tmp_path / "run")
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 1"])
    with pytest.raises(CodecbenchError, match="--resume"):
        train(tmp_path / "run")


def test_missing_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(tmp_path / "nowhere")])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        train(tmp_path / "run")


class NanOnSecondCall(LossTerm):
    """L1 that turns NaN on its second call (a simulated blow-up)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        self.calls += 1
        loss = (inputs.reference - inputs.reconstruction).abs().mean()
        return loss * float("nan") if self.calls == 2 else loss


gin.register(NanOnSecondCall, module="tests_training")


def test_nonfinite_loss_is_counted_and_the_update_skipped(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 3",
                        "codecbench.train.monitor_every = 2", "codecbench.train.validation_every = 0",
                        "codecbench.train.generator_losses = {'l1': @tests_training.NanOnSecondCall()}",
                        "codecbench.balancers.weighted.weights = {'l1': 1.0}"])
    result = train(tmp_path / "run")
    rows = {row["step"]: row for row in read_records(tmp_path / "run", "train")}
    assert rows[2]["skipped/generator"] == 1.0 and rows[1]["skipped/generator"] == 0.0
    assert rows[2]["loss/l1"] is None  # NaN is written as null
    monitor = read_records(tmp_path / "run", "monitor")[0]
    assert monitor["nonfinite/losses"] == 1.0 and monitor["nonfinite/generator_grads"] > 0
    weights = torch.load(result.checkpoint, weights_only=True)["codec"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert math.isfinite(rows[3]["loss/l1"])


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_wandb_missing_is_a_clear_error(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), "codecbench.train.max_steps = 1", "codecbench.train.wandb = True"])
    with pytest.raises(CodecbenchError, match="pip install wandb"):
        train(tmp_path / "run")


MIMI_LIKE = [
    "codecbench.Codec.quantizer = @codecbench.quantizers.split_rvq()",
    "codecbench.Codec.quantize_probability = 0.5",
    "codecbench.quantizers.split_rvq.dim = 8",
    "codecbench.quantizers.split_rvq.n_q = 3",
    "codecbench.quantizers.split_rvq.codebook_size = 16",
    "codecbench.quantizers.split_rvq.codebook_dim = 4",
    "codecbench.quantizers.split_rvq.kmeans_iters = 2",
    "codecbench.train.generator_losses = {'l1': @codecbench.losses.l1(), 'distill': @codecbench.losses.distillation()}",
    "codecbench.losses.distillation.teacher = @codecbench.teachers.random_conv()",
    "codecbench.teachers.random_conv.feature_dim = 8",
    "codecbench.teachers.random_conv.hidden_dim = 8",
    "codecbench.teachers.random_conv.n_mels = 16",
    "codecbench.teachers.random_conv.frame_rate = 2000.0",
    "codecbench.balancers.weighted.weights = {'l1': 1.0}",
    "codecbench.train.ema_decay = 0.9",
    "codecbench.train.max_steps = 2",
    "codecbench.train.validation_every = 2",
    "codecbench.train.monitor_every = 2",
]


def test_lazy_distillation_projection_is_trained_with_the_generator_and_saved(audio_dir: Path, tmp_path: Path) -> None:
    parse_recipe(TINY, [data_binding(audio_dir), *MIMI_LIKE])
    result = train(tmp_path / "run")
    payload = torch.load(result.checkpoint, weights_only=True)
    projection = payload["generator_losses"]["distill"]["projection.weight"]
    assert projection.shape == (8, 8, 1)
    optimizer_state = payload["generator_optimizer"]["state"]
    assert any(state["exp_avg"].shape == projection.shape for state in optimizer_state.values())
    rows = read_records(tmp_path / "run", "train")
    assert all(math.isfinite(row["loss/distill"]) for row in rows)
    assert load_codec(result.checkpoint).codec.codebook_sizes == [16, 16, 16]
