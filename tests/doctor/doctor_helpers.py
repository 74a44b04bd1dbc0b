"""Test-only breakages for the doctor's proofs, and a runner for short tiny-recipe trainings.

Nothing here is registered with Gin or a registry: each broken piece is handed to
``codecbench.training.trainer.train`` as a keyword override (model, dataset factory, optimiser
factory, generator losses).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gin
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from codecbench.audio.spectral import stft_magnitude
from codecbench.losses.base import LossInputs, LossTerm
from codecbench.training.callbacks import StepRecord, StopRequest, TrainerCallback

# The cheapest settings that still show every failure (crops of whole frames: hop 320 -> 12 frames).
BASE_BINDINGS = (
    "BATCH_SIZE = 4",
    "CROP_SECONDS = 0.24",
    "codecbench.train.progress = False",
    "codecbench.train.checkpoint_every = 100000",
    "codecbench.train.validation_every = 100",
    "codecbench.train.validation_items = 4",
    "codecbench.train.validation_examples = 0",
)


# ------------------------------------------------------------------------------------ monitor stand-ins
class PeakNormalized(Dataset):
    """Wraps a dataset built with ``normalize=None`` and scales every item to the same peak."""

    def __init__(self, inner: Dataset, peak: float = 0.99) -> None:
        self.inner = inner
        self.peak = peak
        self.sample_rate = getattr(inner, "sample_rate", None)

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Tensor:
        item = torch.as_tensor(self.inner[index]).float()
        return item * (self.peak / item.abs().max().clamp_min(1e-8))

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)


def peak_normalized_dataset_factory() -> Callable[..., Dataset]:
    """The recipe's configured dataset factory, with its normaliser replaced by per-item peak normalisation."""
    folder = gin.query_parameter("codecbench.train.dataset").scoped_configurable_fn

    def factory(split: str, seed: int = 0, paths: Sequence[str] | None = None) -> Dataset:
        kwargs: dict[str, Any] = {"split": split, "seed": seed, "normalize": None}
        if paths is not None:
            kwargs["paths"] = list(paths)
        return PeakNormalized(folder(**kwargs))

    return factory


def far_codebook_model(offset: float = 10.0) -> nn.Module:
    """The recipe's codec with every EMA codebook moved ``offset`` away from the data (no k-means, no restarts)."""
    codec = gin.query_parameter("codecbench.train.model").scoped_configurable_fn()
    with torch.no_grad():
        for level in codec.quantizer.levels:
            codebook = level.codebook
            codebook.embed.add_(offset)
            codebook.embed_sum.copy_(codebook.embed * codebook.cluster_size[:, None])
    return codec


class NoStepAdam(torch.optim.Adam):
    """An optimiser whose ``step`` does nothing: the 'never stepped' bug."""

    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        return None


class Float16SpectralConvergence(LossTerm):
    """Spectral convergence ||S_x - S_y|| / ||S_x|| with the spectra summed in float16: overflows to NaN."""

    def __init__(self, n_fft: int = 1024) -> None:
        super().__init__()
        self.n_fft = n_fft

    def forward(self, inputs: LossInputs) -> Tensor:
        est = stft_magnitude(inputs.reconstruction, self.n_fft, self.n_fft // 4).half()
        ref = stft_magnitude(inputs.reference, self.n_fft, self.n_fft // 4).half()
        return ((ref - est).pow(2).sum().sqrt() / ref.pow(2).sum().sqrt()).float()


# ------------------------------------------------------------------------------------ running a case
class StopWhenDiagnosed(TrainerCallback):
    """Ends the run as soon as the doctor callback has ``expected`` active (saves CI time)."""

    def __init__(self, doctor_callback: Any, expected: str) -> None:
        self.doctor_callback = doctor_callback
        self.expected = expected

    def on_step(self, record: StepRecord) -> StopRequest | None:
        if self.expected in self.doctor_callback.doctor.active:
            return StopRequest(f"test: {self.expected} diagnosed")
        return None


@dataclass
class CaseResult:
    """What a short training with the doctor found."""

    first_fired: dict[str, int]  # diagnosis -> step it first fired
    steps: int
    stop_reason: str
    seconds: float
    cpu_seconds: float
    printed: str
    logged: list[dict[str, Any]] = field(default_factory=list)


def run_case(
    recipe: str,
    out: Path,
    *,
    bindings: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
    stop_on: str | None = None,
    fail_fast: bool = False,
    build_overrides: Callable[[], Mapping[str, Any]] | None = None,
) -> CaseResult:
    """Train ``recipe`` (tiny) with the doctor callback; ``build_overrides`` runs after the recipe is parsed."""
    import io
    import json
    import os

    from codecbench.config import parse_recipe
    from codecbench.training.doctor_callback import DoctorCallback
    from codecbench.training.trainer import configured_seed, seed_everything, train

    parse_recipe(recipe, [*BASE_BINDINGS, *bindings])
    stream = io.StringIO()
    doctor = DoctorCallback(fail_fast=fail_fast, stream=stream)
    callbacks: list[TrainerCallback] = [doctor]
    if stop_on is not None:
        callbacks.append(StopWhenDiagnosed(doctor, stop_on))
    kwargs: dict[str, Any] = dict(overrides or {})
    if build_overrides is not None:
        seed_everything(configured_seed())  # as train() does before Gin builds the parts
        kwargs.update(build_overrides())
    started, cpu_started = time.monotonic(), os.times()
    result = train(out, callbacks=callbacks, **kwargs)
    cpu = os.times()
    cpu_seconds = (cpu.user - cpu_started.user) + (cpu.system - cpu_started.system)
    first = {name: d.step for name, d in doctor.doctor.first_fired().items()}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return CaseResult(
        first_fired=first, steps=result.step, stop_reason=result.stop_reason,
        seconds=time.monotonic() - started, cpu_seconds=cpu_seconds, printed=stream.getvalue(),
        logged=[row for row in rows if row["kind"] == "diagnosis"],
    )  # fmt: skip
