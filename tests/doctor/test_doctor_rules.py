"""Each doctor rule on synthetic record sequences (no training): fires when it should, stays quiet otherwise."""

from __future__ import annotations

import math

import pytest

from codecbench.training.callbacks import StepRecord
from codecbench.training.doctor import RULE_NAMES, Doctor, Thresholds, diagnose, record_from_row

T = Thresholds()


def monitor(step: int, **values: float) -> StepRecord:
    return StepRecord(step, "monitor", {key.replace("__", "/"): value for key, value in values.items()})


def train(step: int, **values: float) -> StepRecord:
    return StepRecord(step, "train", {key.replace("__", "/"): value for key, value in values.items()})


def fired(doctor: Doctor) -> dict[str, int]:
    """Name -> step at which it first fired."""
    return {name: d.step for name, d in doctor.first_fired().items()}


def healthy_monitor(step: int, **overrides: float) -> StepRecord:
    values = {
        "amplitude_pct": 80.0, "snr_db": 3.0, "si_sdr_db": 2.0, "input_rms_dbfs": -16.2, "output_rms_dbfs": -18.0,
        "encoder/penalty_share": 0.1, "loss/l1": 0.1, "loss/penalty": 0.01, "nonfinite/losses": 0.0,
        "nonfinite/generator_grads": 0.0, "grad_norm/generator": 5.0,
        "input_rms_dbfs_std": 1.2, "input_peak_dbfs": -1.5, "input_peak_dbfs_std": 1.4,
    }  # fmt: skip
    for level in range(4):
        values[f"codebook/q{level}/perplexity"] = 20.0
        values[f"codebook/q{level}/dead_fraction"] = 0.0
    values.update({key.replace("__", "/"): value for key, value in overrides.items()})
    return StepRecord(step, "monitor", values)


def run(records: list[StepRecord], **thresholds: float) -> Doctor:
    return diagnose(records, Thresholds.with_overrides(thresholds))


def test_healthy_sequence_has_no_diagnosis() -> None:
    records = []
    for step in range(20, 1001, 20):
        records.append(train(step - 10, loss__l1=1.0 / step, grad_norm__generator=3.0, skipped__generator=0.0))
        records.append(healthy_monitor(step))
    assert fired(run(records)) == {}


# ------------------------------------------------------------------------------------ non-finite
def test_non_finite_fires_at_once_is_fatal_and_clears() -> None:
    doctor = Doctor()
    doctor.observe(train(10, loss__mel=1.0, grad_norm__generator=2.0))
    result = doctor.observe(train(20, loss__mel=math.nan, grad_norm__generator=math.inf))
    assert [d.name for d in result.fired] == ["non_finite"]
    diagnosis = result.fired[0]
    assert diagnosis.fatal and diagnosis.step == 20
    assert "loss/mel" in diagnosis.summary and "grad_norm/generator" in diagnosis.summary
    assert doctor.streak("non_finite") == 1
    doctor.observe(monitor(20, nonfinite__losses=1.0, amplitude_pct=50.0))
    assert doctor.streak("non_finite") == 2
    result = doctor.observe(train(30, loss__mel=1.0, grad_norm__generator=2.0))
    assert result.cleared == [] and "monitor record of step 20" in doctor.active["non_finite"].summary
    result = doctor.observe(monitor(40, nonfinite__losses=0.0, amplitude_pct=50.0))
    assert [d.name for d in result.cleared] == ["non_finite"] and not doctor.active


def test_non_finite_reads_nulls_from_metrics_jsonl_and_skipped_updates() -> None:
    doctor = Doctor()
    result = doctor.observe({"step": 10, "kind": "train", "loss/mel": None, "steps_per_second": 1.0})
    assert result is not None and result.fired[0].name == "non_finite"
    doctor = Doctor()
    result = doctor.observe({"step": 10, "kind": "train", "loss/mel": 1.0, "skipped/generator": 0.1})
    assert result is not None and "train/skipped/generator" in result.fired[0].evidence
    assert Doctor().observe({"step": 10, "kind": "train", "lr/generator": None}).fired == []  # not a loss or grad


# ------------------------------------------------------------------------------------ amplitude
def test_amplitude_collapse_needs_a_fall_after_warm_up() -> None:
    falling = [healthy_monitor(s, amplitude_pct=a) for s, a in zip(range(100, 261, 20), (60, 45, 40, 30, 25, 20, 14))]
    doctor = run(falling)
    assert fired(doctor) == {"amplitude_collapse": 180}  # window 100..180: 60 -> 25 (< 0.5 x), last 3 < 50 %
    assert doctor.active["amplitude_collapse"].fatal
    # the same values before the warm-up are the normal start of training
    assert fired(run([healthy_monitor(s - 100, amplitude_pct=a.values["amplitude_pct"]) for s, a in
                      zip(range(100, 261, 20), falling)])) == {}  # fmt: skip


def test_amplitude_low_but_recovering_is_not_collapse_but_the_floor_is() -> None:
    low = [healthy_monitor(s, amplitude_pct=a) for s, a in zip(range(100, 301, 20), (20, 15, 19, 22, 18, 27, 28, 35,
                                                                                      25, 27, 29))]  # fmt: skip
    assert fired(run(low)) == {}  # the healthy l1_vq_baseline_tiny shape
    floor = [healthy_monitor(s, amplitude_pct=a) for s, a in zip(range(100, 201, 20), (30, 9, 8, 9.5, 7, 8))]
    assert fired(run(floor)) == {"amplitude_collapse": 160}


# ------------------------------------------------------------------------------------ VQ penalty
def test_penalty_share_must_persist() -> None:
    shares = (0.3, 0.9, 0.95, 0.5, 0.9, 0.92, 0.97, 0.99)
    records = [healthy_monitor(s, encoder__penalty_share=v) for s, v in zip(range(20, 161, 20), shares)]
    doctor = run(records)
    assert fired(doctor) == {"vq_penalty_dominating": 140}
    assert doctor.active["vq_penalty_dominating"].severity == "warning"
    assert doctor.active["vq_penalty_dominating"].evidence["encoder/penalty_share"] == pytest.approx(0.99)


def test_penalty_ratio_is_the_fallback_without_the_gradient_probe() -> None:
    records = []
    for step in (20, 40, 60):
        record = healthy_monitor(step, loss__penalty=5.0, loss__l1=0.2)
        del record.values["encoder/penalty_share"]
        records.append(record)
    assert fired(run(records)) == {"vq_penalty_dominating": 60}
    records[-1].values["loss/penalty"] = 1.0  # 5x: below the 10x threshold
    assert fired(run(records)) == {}


# ------------------------------------------------------------------------------------ codebook
def collapsed(step: int, perplexities: tuple[float, ...], dead: float) -> StepRecord:
    overrides = {f"codebook__q{i}__perplexity": p for i, p in enumerate(perplexities)}
    overrides.update({f"codebook__q{i}__dead_fraction": dead for i in range(len(perplexities))})
    return healthy_monitor(step, **overrides)


def test_codebook_collapse_needs_low_perplexity_high_dead_fraction_and_persistence() -> None:
    flat = (1.0, 1.0, 1.2, 1.0)
    doctor = run([collapsed(s, flat, 0.99) for s in range(20, 181, 20)])
    assert fired(doctor) == {"codebook_collapse": 140}  # warm-up 100, then 3 checks
    assert doctor.active["codebook_collapse"].evidence["q0/perplexity"] == 1.0
    assert fired(run([collapsed(s, flat, 0.0) for s in range(20, 181, 20)])) == {}  # restarts keep codes alive
    partly = (1.0, 1.0, 9.0, 12.0)  # half the levels (DAC early in training)
    assert fired(run([collapsed(s, partly, 0.99) for s in range(20, 181, 20)])) == {}


def test_codebook_threshold_respects_tiny_codebooks() -> None:
    doctor = Doctor(codebook_sizes=(2, 2, 2, 2))
    for step in range(100, 200, 20):
        doctor.observe(collapsed(step, (1.5, 1.5, 1.5, 1.5), 1.0))
    assert doctor.active == {}  # 1.5 of 2 codes is not a collapse


# ------------------------------------------------------------------------------------ discriminator
def gan(step: int, **overrides: float) -> StepRecord:
    values = {
        "adversary_active": 1.0,
        "disc__accuracy": 0.7,
        "disc__margin": 0.1,
        "loss__discriminator": 4.0,
        "grad_norm__discriminator": 2.0,
        "param_norm__discriminator": 10.0 + step * 1e-3,
    }
    values.update(overrides)
    return healthy_monitor(step, **values)


def adversarial_run(accuracy: float, d_losses: tuple[float, ...], g_losses: tuple[float, ...]) -> list[StepRecord]:
    records = []
    for i, (d_loss, g_loss) in enumerate(zip(d_losses, g_losses)):
        step = 10 * (i + 1)
        records.append(train(step, loss__discriminator=d_loss, loss__adversarial=g_loss, grad_norm__generator=1.0))
        if step % 20 == 0:
            records.append(gan(step, disc__accuracy=accuracy, disc__margin=0.8))
    return records


def test_discriminator_overpowering_needs_accuracy_and_a_collapsed_discriminator_loss() -> None:
    # the dac_style_tiny shape with the discriminator learning rate x100
    d_losses, g_losses = (5.4, 2.1, 1.3, 1.2, 1.1, 1.0), (4.0, 5.2, 6.3, 6.4, 6.5, 6.6)
    doctor = run(adversarial_run(0.96, d_losses, g_losses))
    assert fired(doctor) == {"discriminator_overpowering": 60}
    evidence = doctor.active["discriminator_overpowering"].evidence
    assert evidence["loss/discriminator"] == 1.0 and evidence["loss/adversarial_first"] == 4.0
    # a growing generator loss alone is normal with hinge losses (healthy mimi_style_tiny: x1.75)
    assert fired(run(adversarial_run(0.96, (2.0,) * 6, (0.9, 1.1, 1.3, 1.5, 1.6, 1.7)))) == {}
    # accuracy 0.86 is the most the healthy tiny recipes reached in 300 steps
    assert fired(run(adversarial_run(0.86, d_losses, g_losses))) == {}


def test_discriminator_frozen_weights_are_fatal_even_early() -> None:
    frozen = [gan(s, param_norm__discriminator=12.5, disc__margin=0.0) for s in (20, 40, 60)]
    doctor = run(frozen)
    assert fired(doctor) == {"discriminator_not_learning": 60}
    assert doctor.active["discriminator_not_learning"].fatal
    inactive = [gan(s, param_norm__discriminator=12.5, adversary_active=0.0) for s in (20, 40, 60)]
    assert fired(run(inactive)) == {}  # adversary warm-up: the D is not trained yet
    assert fired(run([gan(s) for s in (20, 40, 60)])) == {}


def test_discriminator_zero_gradient_and_long_chance() -> None:
    zero = [gan(s, grad_norm__discriminator=0.0) for s in (20, 40, 60)]
    for record in zero:
        del record.values["param_norm/discriminator"]
    assert fired(run(zero)) == {"discriminator_not_learning": 60}
    chance = [gan(s, disc__margin=1e-4, disc__accuracy=0.52) for s in range(20, 2201, 100)]
    doctor = run(chance, disc_idle_steps=1000)
    assert fired(doctor) == {"discriminator_not_learning": 1120}  # 120..1120 at chance after the warm-up
    assert doctor.active["discriminator_not_learning"].severity == "warning"


# ------------------------------------------------------------------------------------ loudness
def test_loudness_peak_normalisation_signature() -> None:
    records = [healthy_monitor(s, input_peak_dbfs=-0.09, input_peak_dbfs_std=0.0, input_rms_dbfs_std=2.3)
               for s in (20, 40, 60)]  # fmt: skip
    doctor = run(records)
    assert fired(doctor) == {"loudness_mismatch": 60}
    assert "peak-normalised" in doctor.active["loudness_mismatch"].summary
    assert "peak" in doctor.active["loudness_mismatch"].suggestion
    one_item = [healthy_monitor(s, input_peak_dbfs_std=0.0, input_rms_dbfs_std=0.0) for s in (20, 40, 60)]
    assert fired(run(one_item)) == {}  # batch of one: no spread to judge


def test_loudness_off_target_and_validation_mismatch() -> None:
    assert fired(run([healthy_monitor(s, input_rms_dbfs=-23.0) for s in (20, 40, 60)])) == {"loudness_mismatch": 60}
    assert fired(run([healthy_monitor(s, input_rms_dbfs=-18.5) for s in (20, 40, 60)])) == {}
    one_silent_item = [healthy_monitor(s, input_rms_dbfs=-62.0 if s == 40 else -16.3) for s in (20, 40, 60, 80)]
    one_silent_item.append(StepRecord(80, "validation", {"input_rms_dbfs": -16.8}))
    assert fired(run(one_silent_item)) == {}
    records = [healthy_monitor(s) for s in (20, 40, 60)] + [StepRecord(60, "validation", {"input_rms_dbfs": -26.0})]
    doctor = run(records)
    assert fired(doctor) == {"loudness_mismatch": 60}
    assert doctor.active["loudness_mismatch"].evidence["validation_input_rms_dbfs"] == -26.0


# ------------------------------------------------------------------------------------ learning stalled
def test_learning_stalled_on_a_flat_reconstruction_loss() -> None:
    improving = [train(s, loss__mel=5.0 * (1 + 1000 / s)) for s in range(10, 6001, 10)]
    assert fired(run(improving)) == {}
    flat = [train(s, loss__mel=5.0 if s > 1000 else 5.0 + (1000 - s) / 100) for s in range(10, 6001, 10)]
    doctor = run(flat)
    assert "learning_stalled" in fired(doctor)
    assert fired(doctor)["learning_stalled"] <= 3100  # flat since 1000: visible once 2000 steps show no gain


# ------------------------------------------------------------------------------------ mechanics
def test_thresholds_overrides_are_validated_and_typed() -> None:
    t = Thresholds.with_overrides({"checks": 5.0, "amplitude_pct": 40})
    assert t.checks == 5 and isinstance(t.checks, int) and t.amplitude_pct == 40.0
    with pytest.raises(ValueError, match=r"unknown doctor threshold.*amplitude_percent"):
        Thresholds.with_overrides({"amplitude_percent": 40})
    with pytest.raises(ValueError, match="checks >= 1"):
        Thresholds(checks=0)


def test_record_from_row_and_ignored_kinds() -> None:
    record = record_from_row({"step": 3, "kind": "monitor", "snr_db": None, "amplitude_pct": 40})
    assert record is not None and math.isnan(record.values["snr_db"]) and record.values["amplitude_pct"] == 40.0
    assert record_from_row({"step": 3, "kind": "something_else"}) is None
    assert record_from_row({"kind": "train"}) is None
    assert Doctor().observe({"step": 3, "kind": "diagnosis", "non_finite": 1.0}) is None


# ------------------------------------------------------------------------------------ balancer
def balanced(step: int, adversarial_norm: float, adversarial_scale: float) -> StepRecord:
    """EMA gradient norms and scales as an EnCodec-style tiny run logged them (adversary at chance)."""
    return healthy_monitor(
        step, balancer__ema_grad_norm__mel=1.2, balancer__scale__mel=0.16, balancer__ema_grad_norm__l1=0.0016,
        balancer__scale__l1=6.2, balancer__ema_grad_norm__feature=0.003, balancer__scale__feature=130.0,
        balancer__ema_grad_norm__adversarial=adversarial_norm, balancer__scale__adversarial=adversarial_scale,
    )  # fmt: skip


def test_balancer_amplifying_a_vanishing_term_fires_after_three_checks() -> None:
    doctor = run([balanced(s, 1.4e-5, 30_000.0) for s in range(100, 201, 20)])
    assert fired(doctor) == {"balancer_amplifying_noise": 140}
    diagnosis = doctor.active["balancer_amplifying_noise"]
    assert diagnosis.severity == "warning" and "'adversarial'" in diagnosis.summary and "'mel'" in diagnosis.summary
    assert diagnosis.evidence["balancer/scale/adversarial"] == 30_000.0


def test_balancer_rule_ignores_small_but_real_gradients_and_short_episodes() -> None:
    # l1 (1e-3 of mel, scale 6) and a discriminator that wakes up (norm 0.05, scale 20) are healthy
    assert fired(run([balanced(s, 0.05, 20.0) for s in range(100, 201, 20)])) == {}
    # vanishing for two checks only
    steps = range(100, 201, 20)
    records = [balanced(s, 1.4e-5, 30_000.0) if s in (120, 160) else balanced(s, 0.05, 20.0) for s in steps]
    assert fired(run(records)) == {}
    assert fired(run([healthy_monitor(s) for s in range(100, 201, 20)])) == {}  # no balancer in the records


def test_every_rule_has_texts_and_a_known_severity() -> None:
    from codecbench.training.doctor import RULES

    assert len(set(RULE_NAMES)) == len(RULE_NAMES) == 9
    for rule in RULES:
        assert rule.severity in ("warning", "fatal")
        assert len(rule.explanation) > 80 and len(rule.suggestion) > 40


def test_stalled_has_hysteresis_and_a_long_run_replays_quickly() -> None:
    import random
    import time

    rng = random.Random(0)
    records = [train(s, loss__mel=5.0 + rng.random(), loss__adversarial=3.0) for s in range(10, 100_001, 10)]
    for step in range(50, 100_001, 50):
        records.append(gan(step, param_norm__discriminator=10.0 + step * 1e-4))
    records.sort(key=lambda r: (r.step, r.kind != "train"))
    started = time.process_time()
    doctor = run(records)
    elapsed = time.process_time() - started
    assert [(e.diagnosis.name, e.state) for e in doctor.events] == [("learning_stalled", "fired")]  # no flapping
    assert elapsed < 30.0, f"replaying 100k steps of records took {elapsed:.1f} s CPU"
