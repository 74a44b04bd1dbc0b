"""Proof on real (tiny, CPU) trainings: each deliberately broken recipe is named, healthy recipes are not.

Every run uses the bundled demo data, batch 4, 0.24 s crops and the same step budget. A broken run
ends as soon as its expected diagnosis fires (or by the doctor's fail-fast); healthy runs go the
whole budget. Measured costs are in docs/doctor.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from doctor_helpers import (
    Float16SpectralConvergence,
    NoStepAdam,
    far_codebook_model,
    peak_normalized_dataset_factory,
    run_case,
)

pytestmark = pytest.mark.slow

BUDGET = 200  # steps; the latest expected diagnosis (codebook_collapse) fires at step 140

FACTORIZED_VQ = (
    "codecbench.Codec.quantizer = @codecbench.quantizers.factorized_rvq()",
    "codecbench.quantizers.factorized_rvq.dim = %LATENT_DIM",
    "codecbench.quantizers.factorized_rvq.n_q = %N_Q",
    "codecbench.quantizers.factorized_rvq.codebook_size = %CODEBOOK_SIZE",
)


def fp16_losses() -> dict[str, Any]:
    from codecbench.losses import LOSSES

    return {"l1": LOSSES.create("l1"), "mel": LOSSES.create("mel", sample_rate=16000, mag_weight=0.0),
            "sc": Float16SpectralConvergence()}  # fmt: skip


@dataclass(frozen=True)
class Case:
    recipe: str
    expected: str
    bindings: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    build: Callable[[], Mapping[str, Any]] | None = None
    fail_fast: bool = False


BROKEN = {
    # DAC's factorised quantizer with the commitment weight x100 (0.25 -> 25), weighted losses, no balancer
    "vq_weight_x100": Case("l1_vq_baseline_tiny", "vq_penalty_dominating",
                           (*FACTORIZED_VQ, "codecbench.quantizers.factorized_rvq.commitment_weight = 25.0")),
    "peak_normalised_items": Case("l1_vq_baseline_tiny", "loudness_mismatch",
                                  build=lambda: {"dataset": peak_normalized_dataset_factory()}),
    "codebook_far_from_data": Case("l1_vq_baseline_tiny", "codebook_collapse",
                                   ("codecbench.quantizers.rvq.kmeans_iters = 0",
                                    "codecbench.quantizers.rvq.restart_dead = False"),
                                   build=lambda: {"model": far_codebook_model(offset=10.0)}),
    "discriminator_lr_x100": Case("dac_style_tiny", "discriminator_overpowering",
                                  ("GENERATOR_LR = 1e-4", "DISCRIMINATOR_LR = 0.01")),
    "discriminator_never_stepped": Case(
        "encodec_style_tiny", "discriminator_not_learning", ("codecbench.train.adversary_warmup_steps = 0",),
        overrides={"discriminator_optimizer": lambda params: NoStepAdam(params, lr=3e-4, betas=(0.5, 0.9))}),
    "fp16_spectral_loss": Case("l1_vq_baseline_tiny", "non_finite",
                               ("codecbench.balancers.weighted.weights = {'l1': 10.0, 'mel': 1.0, 'sc': 1.0}",),
                               build=lambda: {"generator_losses": fp16_losses()}, fail_fast=True),
}  # fmt: skip

HEALTHY = ("l1_vq_baseline_tiny", "dac_style_tiny", "encodec_style_tiny", "mimi_style_tiny")


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_recipe_is_named(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = BROKEN[name]
    result = run_case(
        case.recipe, tmp_path / name, bindings=(f"MAX_STEPS = {BUDGET}", *case.bindings), overrides=case.overrides,
        build_overrides=case.build, stop_on=None if case.fail_fast else case.expected, fail_fast=case.fail_fast,
    )  # fmt: skip
    print(
        f"\n{name}: {result.first_fired} after {result.steps} steps, {result.seconds:.0f} s "
        f"({result.cpu_seconds:.0f} s CPU)"
    )
    assert case.expected in result.first_fired, f"{name}: expected {case.expected}, got {result.first_fired}"
    assert result.first_fired[case.expected] <= BUDGET
    assert any(row.get(case.expected) == 1.0 for row in result.logged)  # in metrics.jsonl ...
    assert f" {case.expected}: " in result.printed  # ... and in the progress output
    if case.fail_fast:
        assert "fatal diagnosis non_finite persisted" in result.stop_reason
        assert (tmp_path / name / "checkpoints" / f"step_{result.steps:08d}.pt").exists()


@pytest.mark.parametrize("recipe", HEALTHY)
def test_healthy_recipe_has_no_diagnosis(recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_case(recipe, tmp_path / recipe, bindings=(f"MAX_STEPS = {BUDGET}",))
    print(
        f"\n{recipe}: {result.first_fired} after {result.steps} steps, {result.seconds:.0f} s "
        f"({result.cpu_seconds:.0f} s CPU)"
    )
    assert result.steps == BUDGET
    assert result.first_fired == {}, result.printed
