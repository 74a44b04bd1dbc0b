"""Validation on held-out audio: SNR, SI-SDR, amplitude ratio, mel distance, codebook usage, WAV examples.

Items are sharded over ranks and the sums all-reduced, so every rank returns the same numbers.
The model runs in eval mode, in float32, without gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from codecbench.audio.io import write_audio
from codecbench.training.distributed import DistInfo, all_reduce_sum
from codecbench.training.errors import TrainingConfigError
from codecbench.training.signal_metrics import amplitude_ratio_pct, mel_distance, rms_dbfs, si_sdr_db, snr_db

_SUMMED = ("snr_db", "si_sdr_db", "amplitude_pct", "mel_distance", "input_rms_dbfs", "output_rms_dbfs")


@dataclass
class ValidationResult:
    """Means over the validation items, and the example WAV files written (rank 0)."""

    values: dict[str, float]
    examples: list[Path] = field(default_factory=list)


def codebook_usage(histogram: Tensor, sizes: list[int]) -> dict[str, float]:
    """Per level: fraction of codes used and perplexity (exp of the code entropy); and their means."""
    values: dict[str, float] = {}
    usages, perplexities = [], []
    for level, size in enumerate(sizes):
        counts = histogram[level, :size].double()
        total = counts.sum()
        if total <= 0:
            continue
        probs = counts[counts > 0] / total
        perplexity = math.exp(float(-(probs * probs.log()).sum()))
        usage = float((counts > 0).sum()) / size
        values[f"q{level}/usage"] = usage
        values[f"q{level}/perplexity"] = perplexity
        usages.append(usage)
        perplexities.append(perplexity)
    if usages:
        values["codebook_usage"] = sum(usages) / len(usages)
        values["codebook_perplexity"] = sum(perplexities) / len(perplexities)
    return values


class Validator:
    """Runs a codec over the first ``max_items`` items of a validation dataset."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        sample_rate: int,
        codebook_sizes: list[int],
        batch_size: int,
        max_items: int,
        num_examples: int,
        samples_dir: Path | None,
        info: DistInfo,
        device: torch.device,
    ) -> None:
        self.dataset = dataset
        self.sample_rate = sample_rate
        self.codebook_sizes = list(codebook_sizes)
        self.batch_size = max(1, batch_size)
        self.num_items = min(len(dataset), max_items)  # type: ignore[arg-type]
        self.num_examples = num_examples
        self.samples_dir = samples_dir
        self.info = info
        self.device = device
        if self.num_items == 0:
            raise TrainingConfigError(
                "the validation dataset is empty: give --val-data DIR or more files to split from"
            )

    def _batches(self) -> list[list[int]]:
        mine = list(range(self.info.rank, self.num_items, self.info.world_size))
        return [mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size)]

    def _load(self, indices: list[int]) -> list[Tensor]:
        """Items as [1, 1, T] tensors; equal-length items are later stacked into one batch."""
        return [torch.as_tensor(self.dataset[i]).float().reshape(1, 1, -1) for i in indices]

    @torch.no_grad()
    def run(self, codec: nn.Module, step: int) -> ValidationResult:
        was_training = codec.training
        codec.eval()
        sums = torch.zeros(len(_SUMMED) + 1, dtype=torch.float64, device=self.device)
        width = max(self.codebook_sizes) if self.codebook_sizes else 1
        histogram = torch.zeros(len(self.codebook_sizes), width, dtype=torch.float64, device=self.device)
        examples: list[Path] = []
        try:
            for indices in self._batches():
                items = self._load(indices)
                groups = [torch.cat(items)] if len({x.shape for x in items}) == 1 else items
                offset = 0
                for reference in groups:
                    reference = reference.to(self.device)
                    output = codec(reference)
                    estimate = output.audio.float()
                    per_item = torch.stack([
                        snr_db(reference, estimate),
                        si_sdr_db(reference, estimate),
                        amplitude_ratio_pct(reference, estimate),
                        mel_distance(reference, estimate, self.sample_rate),
                        rms_dbfs(reference),
                        rms_dbfs(estimate),
                    ]).double()
                    sums[:-1] += per_item.sum(-1)
                    sums[-1] += reference.shape[0]
                    codes = output.codes
                    for level in range(min(codes.shape[1], len(self.codebook_sizes))):
                        counts = torch.bincount(codes[:, level].reshape(-1), minlength=width)[:width]
                        histogram[level] += counts.double()
                    examples += self._write_examples(indices[offset : offset + reference.shape[0]],
                                                     reference, estimate, step)
                    offset += reference.shape[0]
        finally:
            codec.train(was_training)
        all_reduce_sum(sums, self.info)
        all_reduce_sum(histogram, self.info)
        count = max(float(sums[-1]), 1.0)
        values = {name: float(sums[i]) / count for i, name in enumerate(_SUMMED)}
        values.update(codebook_usage(histogram, self.codebook_sizes))
        values["items"] = float(sums[-1])
        return ValidationResult(values=values, examples=examples)

    def _write_examples(self, indices: list[int], reference: Tensor, estimate: Tensor, step: int) -> list[Path]:
        if self.samples_dir is None or not self.info.is_main:
            return []
        written: list[Path] = []
        folder = self.samples_dir / f"step_{step:08d}"
        mine = range(0, self.num_items, self.info.world_size)[: self.num_examples]  # rank 0's first items
        for row, index in enumerate(indices):
            if index not in mine or not torch.isfinite(estimate[row]).all():
                continue
            for name, audio in (("reference", reference[row]), ("reconstruction", estimate[row])):
                path = folder / f"item{index:02d}_{name}.wav"
                written.append(write_audio(path, audio.detach().cpu().numpy(), self.sample_rate, subtype="FLOAT"))
        return written
