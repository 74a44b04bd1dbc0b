"""Run systems over a set of files: per-file metrics, system measures, summaries, example audio."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.bench.audio import fit_length, load_mono, resample
from codecbench.bench.columns import Column, MeasurePlan
from codecbench.bench.stats import Summary, summarize
from codecbench.bench.systems import ProcessInfo, System


@dataclass
class FileRow:
    """One system's results on one file."""

    file: str
    duration: float  # seconds
    values: dict[str, float]


@dataclass
class CodebookUsage:
    """Code statistics over the whole set, one entry per level."""

    sizes: list[int]
    perplexity: list[float]  # exp(entropy) of the code histogram
    used_fraction: list[float]  # share of codebook entries used at least once
    frames: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "sizes": self.sizes,
            "perplexity": self.perplexity,
            "used_fraction": self.used_fraction,
            "frames": self.frames,
        }


@dataclass
class SystemResult:
    """Everything measured for one system."""

    name: str
    sample_rate: int
    description: dict[str, Any]
    rows: list[FileRow] = field(default_factory=list)
    summary: dict[str, Summary] = field(default_factory=dict)
    codebook: CodebookUsage | None = None
    set_values: dict[str, float] = field(default_factory=dict)  # columns with one value for the whole set
    warnings: list[str] = field(default_factory=list)


@dataclass
class SkippedSystem:
    """A system that could not run here, and why."""

    name: str
    reason: str


@dataclass
class Example:
    """Reference and decoded audio of one file, kept for the report."""

    file: str
    references: dict[int, np.ndarray]  # sample rate -> reference at that rate
    decoded: dict[str, tuple[int, np.ndarray]]  # system name -> (rate, audio)


@dataclass
class BenchResult:
    """Result of one benchmark run."""

    columns: list[Column]
    systems: list[SystemResult]
    skipped: list[SkippedSystem]
    files: list[str]
    notes: list[str]
    examples: list[Example] = field(default_factory=list)


class _CodeCounter:
    """Histogram of codes per level, accumulated over files."""

    def __init__(self) -> None:
        self.sizes: tuple[int, ...] | None = None
        self.counts: list[np.ndarray] = []
        self.frames = 0

    def add(self, codes: np.ndarray, sizes: tuple[int, ...]) -> None:
        if self.sizes is None:
            self.sizes = tuple(int(s) for s in sizes)
            self.counts = [np.zeros(s, dtype=np.int64) for s in self.sizes]
        if codes.ndim != 2 or codes.shape[0] != len(self.counts):
            raise ValueError(f"codes must be [n_q={len(self.counts)}, frames], got shape {codes.shape}")
        for level, row in enumerate(codes):
            if row.size and (row.min() < 0 or row.max() >= self.sizes[level]):
                raise ValueError(f"level {level}: codes outside [0, {self.sizes[level]})")
            self.counts[level] += np.bincount(row, minlength=self.sizes[level])
        self.frames += int(codes.shape[1])

    def usage(self) -> CodebookUsage | None:
        if self.sizes is None or self.frames == 0:
            return None
        perplexities, used = [], []
        for counts in self.counts:
            p = counts[counts > 0] / counts.sum()
            perplexities.append(float(np.exp(-np.sum(p * np.log(p)))))
            used.append(float(np.count_nonzero(counts)) / counts.size)
        return CodebookUsage(list(self.sizes), perplexities, used, self.frames)


def _measure_values(info: ProcessInfo, duration: float, measures: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    if "bitrate" in measures:
        values["kbps"] = math.nan if info.nominal_bps is None else info.nominal_bps / 1000.0
        values["kbps_measured"] = math.nan if info.payload_bits is None else info.payload_bits / duration / 1000.0
    if "rtf" in measures:
        values["rtf_encode"] = info.encode_seconds / duration
        values["rtf_decode"] = info.decode_seconds / duration
    return values


ProgressCallback = Callable[[int, int, str], None]


def run_benchmark(
    systems: Sequence[System],
    files: Sequence[str | Path],
    plan: MeasurePlan,
    *,
    skipped: Sequence[SkippedSystem] = (),
    examples: int = 0,
    root: str | Path | None = None,
    warmup: bool = True,
    progress: ProgressCallback | None = None,
) -> BenchResult:
    """Process every file with every system and measure it against the reference at the system's rate.

    Each file is read once, mixed to mono and resampled to each system's rate; the decoded audio
    is trimmed or zero-padded to the reference length. The first ``examples`` files keep their
    audio for the report. Files are named relative to ``root`` when given.
    """
    names = [_display_name(path, root) for path in files]
    results = [SystemResult(s.name, s.sample_rate, s.describe()) for s in systems]
    counters = [_CodeCounter() for _ in systems]
    kept: list[Example] = []
    if warmup:
        for system in systems:
            system.warmup()
    total = len(files) * len(systems)
    for index, path in enumerate(files):
        audio, rate = load_mono(path)
        if audio.size == 0:
            raise ValueError(f"{path}: empty audio file")
        at_rate: dict[int, np.ndarray] = {rate: audio}
        example = Example(names[index], {}, {}) if index < examples else None
        for position, (system, result, counter) in enumerate(zip(systems, results, counters)):
            if progress is not None:
                progress(index * len(systems) + position, total, f"{system.name}: {Path(path).name}")
            if system.sample_rate not in at_rate:
                at_rate[system.sample_rate] = resample(audio, rate, system.sample_rate)
            reference = at_rate[system.sample_rate]
            try:
                decoded, info = system.process(reference)
            except Exception as error:
                raise RuntimeError(f"system {system.name} failed on {path}: {error}") from error
            decoded = fit_length(np.asarray(decoded, dtype=np.float32).reshape(-1), reference.size)
            duration = reference.size / system.sample_rate
            values = _compare(plan, reference, decoded, system.sample_rate, result, path)
            values.update(_measure_values(info, duration, plan.measures))
            if "codebook" in plan.measures and info.codes is not None and info.codebook_sizes is not None:
                counter.add(info.codes, info.codebook_sizes)
            result.rows.append(FileRow(names[index], duration, values))
            if example is not None:
                example.references[system.sample_rate] = reference
                example.decoded[system.name] = (system.sample_rate, decoded)
        if example is not None:
            kept.append(example)
    if progress is not None:
        progress(total, total, "done")
    for result, counter in zip(results, counters):
        _summarise(result, plan, counter)
    return BenchResult(plan.columns, results, list(skipped), names, list(plan.notes), kept)


def _display_name(path: str | Path, root: str | Path | None) -> str:
    if root is not None:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def _compare(
    plan: MeasurePlan, reference: np.ndarray, decoded: np.ndarray, rate: int, result: SystemResult, path: str | Path
) -> dict[str, float]:
    if not np.all(np.isfinite(decoded)):
        result.warnings.append(f"{path}: decoded audio has NaN/Inf; its metrics are NaN")
        return {name: math.nan for name in plan.metrics}
    values: dict[str, float] = {}
    for name, metric in plan.metrics.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values[name] = float(metric(reference, decoded, rate))
        result.warnings.extend(f"{path}: {name}: {w.message}" for w in caught)
    return values


def _summarise(result: SystemResult, plan: MeasurePlan, counter: _CodeCounter) -> None:
    for column in plan.columns:
        if column.per_file:
            result.summary[column.key] = summarize(row.values.get(column.key, math.nan) for row in result.rows)
    if "codebook" in plan.measures:
        result.codebook = counter.usage()
        result.set_values["perplexity"] = (
            math.nan if result.codebook is None else float(np.mean(result.codebook.perplexity))
        )
