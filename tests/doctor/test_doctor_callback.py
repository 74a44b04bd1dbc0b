"""The doctor callback: diagnosis records, printed lines, fail-fast with a checkpoint, Gin, resume."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import gin
import pytest
import torch

from codecbench.losses.base import LossInputs, LossTerm
from codecbench.training.callbacks import RunContext, StepRecord, StopRequest
from codecbench.training.doctor import Thresholds
from codecbench.training.doctor_callback import DoctorCallback

TINY = Path(__file__).resolve().parents[1] / "training" / "recipes" / "tiny.gin"


def context(tmp_path: Path, emitted: list[StepRecord], start_step: int = 0) -> RunContext:
    return RunContext(run_dir=tmp_path, max_steps=1000, start_step=start_step, sample_rate=16000,
                      codebook_sizes=[1024] * 4, emit=emitted.append)  # fmt: skip


def nan_train(step: int) -> StepRecord:
    return StepRecord(step, "train", {"loss/mel": math.nan, "grad_norm/generator": 1.0})


def ok_train(step: int) -> StepRecord:
    return StepRecord(step, "train", {"loss/mel": 1.0, "grad_norm/generator": 1.0})


def test_fires_logs_prints_clears_and_fails_fast(tmp_path: Path) -> None:
    emitted: list[StepRecord] = []
    stream = io.StringIO()
    callback = DoctorCallback(fail_fast=True, patience=3, stream=stream)
    callback.on_start(context(tmp_path, emitted))
    assert callback.on_step(ok_train(10)) is None
    assert callback.on_step(nan_train(20)) is None
    assert [(r.kind, r.step, r.values["non_finite"], r.values["non_finite/fatal"]) for r in emitted] == [
        ("diagnosis", 20, 1.0, 1.0)
    ]
    assert emitted[0].values["non_finite/train/loss/mel"] == 1.0
    assert "FATAL non_finite" in stream.getvalue() and "suggestion:" in stream.getvalue()
    assert callback.on_step(ok_train(30)) is None  # cleared: the streak starts again
    assert emitted[-1].values == {"non_finite": 0.0, "non_finite/fatal": 1.0}
    assert "cleared non_finite" in stream.getvalue()
    assert callback.on_step(nan_train(40)) is None
    assert callback.on_step(nan_train(50)) is None
    request = callback.on_step(nan_train(60))
    assert isinstance(request, StopRequest) and "non_finite persisted for 3 checks (since step 40)" in request.reason
    assert callback.on_step(nan_train(70)) is None  # asks once
    assert sum(1 for r in emitted if r.values.get("non_finite") == 1.0) == 2  # logged when it fired, not every check


def test_without_fail_fast_or_for_warnings_the_run_goes_on(tmp_path: Path) -> None:
    callback = DoctorCallback(patience=1, quiet=True)
    callback.on_start(context(tmp_path, []))
    assert all(callback.on_step(nan_train(step)) is None for step in range(10, 100, 10))
    warning = DoctorCallback(fail_fast=True, patience=1, quiet=True)
    warning.on_start(context(tmp_path, []))
    share = [StepRecord(step, "monitor", {"encoder/penalty_share": 0.95}) for step in range(20, 200, 20)]
    assert all(warning.on_step(record) is None for record in share)
    assert "vq_penalty_dominating" in warning.doctor.active


def test_ignore_thresholds_and_bad_settings(tmp_path: Path) -> None:
    callback = DoctorCallback(ignore=("non_finite",), thresholds={"penalty_share": 0.99}, quiet=True)
    callback.on_start(context(tmp_path, []))
    callback.on_step(nan_train(10))
    for step in range(20, 100, 20):
        callback.on_step(StepRecord(step, "monitor", {"encoder/penalty_share": 0.95}))
    assert callback.doctor.active == {}
    assert callback.thresholds == Thresholds(penalty_share=0.99)
    with pytest.raises(ValueError, match="unknown diagnoses"):
        DoctorCallback(ignore=("nan",))
    with pytest.raises(ValueError, match="unknown doctor threshold"):
        DoctorCallback(thresholds={"penalty": 0.5})
    with pytest.raises(ValueError, match="patience"):
        DoctorCallback(patience=0)


def test_resume_rebuilds_the_history_silently(tmp_path: Path) -> None:
    rows = [{"step": s, "kind": "monitor", "encoder/penalty_share": 0.95} for s in (20, 40, 60, 80)]
    rows.append({"step": 80, "kind": "diagnosis", "vq_penalty_dominating": 1.0})
    rows.append({"step": 100, "kind": "monitor", "encoder/penalty_share": 0.95})  # after the resumed step
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    emitted: list[StepRecord] = []
    stream = io.StringIO()
    callback = DoctorCallback(stream=stream)
    callback.on_start(context(tmp_path, emitted, start_step=80))
    assert list(callback.doctor.active) == ["vq_penalty_dominating"]
    assert [r.step for r in callback.doctor.history.last("monitor", 10)] == [20, 40, 60, 80]
    callback.on_step(StepRecord(100, "monitor", {"encoder/penalty_share": 0.95}))
    assert emitted == [] and stream.getvalue() == ""  # already known: not announced again


def test_gin_binding_builds_the_callback() -> None:
    import codecbench.training  # noqa: F401  (registers codecbench.train)

    gin.parse_config([
        "codecbench.train.callbacks = [@codecbench.doctor()]",
        "codecbench.doctor.fail_fast = True",
        "codecbench.doctor.patience = 5",
        "codecbench.doctor.thresholds = {'amplitude_pct': 40.0}",
    ])  # fmt: skip
    (reference,) = gin.query_parameter("codecbench.train.callbacks")
    callback = reference.scoped_configurable_fn()
    assert isinstance(callback, DoctorCallback)
    assert callback.fail_fast and callback.patience == 5 and callback.thresholds.amplitude_pct == 40.0


class NaNLoss(LossTerm):
    """A reconstruction loss that is always NaN."""

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        return (inputs.reconstruction - inputs.reference).abs().mean() * math.nan


def test_fail_fast_stops_a_real_run_with_a_checkpoint(tmp_path: Path) -> None:
    from codecbench.balancers.base import BALANCERS
    from codecbench.config import parse_recipe
    from codecbench.losses import LOSSES
    from codecbench.training import load_checkpoint, train

    parse_recipe(TINY, ["codecbench.train.max_steps = 20", "codecbench.train.validation_every = 0"])
    stream = io.StringIO()
    doctor = DoctorCallback(fail_fast=True, patience=2, stream=stream)
    losses = {"l1": LOSSES.create("l1"), "nan": NaNLoss()}
    balancer = BALANCERS.create("weighted", weights={"l1": 1.0, "nan": 1.0})
    result = train(tmp_path / "run", callbacks=[doctor], generator_losses=losses, balancer=balancer)
    assert result.step == 2 and result.stop_reason.startswith("callback: doctor: fatal diagnosis non_finite")
    assert result.checkpoint is not None and load_checkpoint(result.checkpoint)["step"] == 2
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    diagnoses = [row for row in rows if row["kind"] == "diagnosis"]
    assert diagnoses[0]["step"] == 1 and diagnoses[0]["non_finite"] == 1.0
    assert "fail-fast: stopping the run (non_finite)" in stream.getvalue()
