"""The training doctor: named diagnoses from the records a run logs (kinds ``train``, ``monitor``, ``validation``).

Pure: no Gin, no torch, no files. A :class:`Doctor` is fed records in step order (live from the
trainer through :mod:`codecbench.training.doctor_callback`, or afterwards from ``metrics.jsonl``)
and keeps the set of active :class:`Diagnosis` up to date; each rule looks only at the history
it has been shown, so replaying a run's records gives the same diagnoses at the same steps.
Thresholds live in :class:`Thresholds`; docs/doctor.md explains every rule and how its
defaults were chosen on the tiny CPU recipes.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import islice, pairwise
from typing import Any, NamedTuple

from codecbench.training.callbacks import RECORD_KINDS, StepRecord

SEVERITIES = ("warning", "fatal")
OBSERVED_KINDS = ("train", "monitor", "validation")
RECONSTRUCTION_LOSSES = ("l1", "mse", "mel", "stft", "waveform", "multiscale_mel", "mrstft")
_LEVEL_KEY = "codebook/q{level}/{stat}"


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Diagnosis:
    """One named problem found at ``step``, with the numbers that show it."""

    name: str
    severity: str  # "warning" | "fatal"
    step: int
    summary: str
    explanation: str
    suggestion: str
    evidence: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"diagnosis severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def fatal(self) -> bool:
        return self.severity == "fatal"


@dataclass(frozen=True)
class DiagnosisEvent:
    """A diagnosis that ``fired`` or ``cleared`` at ``step``."""

    step: int
    state: str  # "fired" | "cleared"
    diagnosis: Diagnosis


@dataclass(frozen=True)
class CheckResult:
    """What one observed record changed: diagnoses that fired or cleared, and all now active."""

    step: int
    kind: str
    fired: list[Diagnosis]
    cleared: list[Diagnosis]
    active: list[Diagnosis]


# ------------------------------------------------------------------------------------ thresholds
@dataclass(frozen=True)
class Thresholds:
    """Every number the rules compare against (docs/doctor.md gives the reasoning for each default)."""

    warmup_steps: int = 100  # dynamics rules (amplitude, codebook, discriminator) ignore earlier checks
    checks: int = 3  # consecutive monitor checks a condition must hold before it fires
    # amplitude collapse: output/input RMS ratio in percent
    amplitude_pct: float = 50.0
    amplitude_floor_pct: float = 10.0
    amplitude_fall: float = 0.5  # "keeps falling": last value below this fraction of the window's first
    amplitude_window: int = 5
    # quantizer penalty dominating (meaningful from the first step: no warm-up by default)
    penalty_warmup_steps: int = 0
    penalty_share: float = 0.8
    penalty_ratio: float = 10.0
    # codebook collapse
    codebook_perplexity: float = 2.0
    codebook_dead_fraction: float = 0.9
    codebook_collapsed_levels: float = 0.75
    # discriminator overpowering (from the first check with an active adversary: no general warm-up)
    disc_warmup_steps: int = 0
    disc_accuracy: float = 0.92
    disc_loss_fraction: float = 0.3  # D loss (train window mean) below this fraction of its first value
    # discriminator not learning
    disc_frozen_change: float = 1e-9  # relative change of the D weight norm between checks that counts as none
    disc_idle_steps: int = 2000  # at chance for this long (after the warm-up): a warning
    disc_idle_margin: float = 0.02
    disc_idle_accuracy: float = 0.1  # |accuracy - 0.5| below this counts as chance
    # gradient balancer amplifying a vanishing term
    balancer_norm_ratio: float = 1e-4  # a term's EMA gradient norm below this fraction of the largest ...
    balancer_scale: float = 1000.0  # ... that the balancer multiplies by at least this
    # loudness
    loudness_target_dbfs: float = -16.0
    loudness_tolerance_db: float = 4.0
    peak_spread_db: float = 0.1  # items whose peaks differ by less than this (std, dB) ...
    rms_spread_db: float = 0.5  # ... while their RMS differs by more (mean std over the checks): peak-normalised
    validation_loudness_db: float = 3.0
    # learning stalled: compare the mean of the last window with the window before it
    stall_steps: int = 1000  # window length, at least ...
    stall_fraction: float = 0.25  # ... this fraction of the steps so far
    stall_improvement: float = 0.01

    def __post_init__(self) -> None:
        if self.checks < 1 or self.amplitude_window < 2:
            raise ValueError("doctor thresholds: need checks >= 1 and amplitude_window >= 2")
        if self.warmup_steps < 0 or self.stall_steps < 1:
            raise ValueError("doctor thresholds: warmup_steps >= 0 and stall_steps >= 1")

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, float] | None = None) -> Thresholds:
        """Defaults with some fields replaced; unknown names raise an error listing the valid ones."""
        base = cls()
        if not overrides:
            return base
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(f"unknown doctor threshold(s) {unknown}; valid names: {sorted(names)}")
        typed = {key: (int(value) if names[key].type in ("int", int) else float(value))
                 for key, value in overrides.items()}  # fmt: skip
        return replace(base, **typed)


# ------------------------------------------------------------------------------------ history
def _number(value: Any) -> float:
    """A record value as a float; ``None`` (how metrics.jsonl writes NaN/Inf) becomes NaN."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def record_from_row(row: Mapping[str, Any]) -> StepRecord | None:
    """A :class:`StepRecord` from one ``metrics.jsonl`` object, or None if it is not a step record."""
    kind, step = row.get("kind"), row.get("step")
    if kind not in RECORD_KINDS or not isinstance(step, int | float):
        return None
    values = {key: _number(value) for key, value in row.items() if key not in ("step", "kind")}
    return StepRecord(int(step), str(kind), values)


class Measure:
    """An append-only series of finite (step, value) pairs with prefix sums: window means in O(log n)."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.prefix: list[float] = [0.0]

    def add(self, step: int, value: float) -> None:
        if math.isfinite(value):
            self.steps.append(step)
            self.prefix.append(self.prefix[-1] + value)

    def __len__(self) -> int:
        return len(self.steps)

    def window(self, low: int, high: int) -> tuple[int, float]:
        """(count, mean) of the values with ``low < step <= high``."""
        start, stop = bisect_right(self.steps, low), bisect_right(self.steps, high)
        count = stop - start
        return count, (self.prefix[stop] - self.prefix[start]) / count if count else math.nan


def _reconstruction_sum(record: StepRecord) -> float | None:
    present = [record.values[f"loss/{name}"] for name in RECONSTRUCTION_LOSSES if f"loss/{name}" in record.values]
    return sum(present) if present else None


class History:
    """The records seen so far (the most recent ``max_records`` per kind) and running summaries of all of them.

    Every accessor costs at most the number of records it returns, so a doctor can follow a
    run of any length.
    """

    def __init__(self, max_records: int = 5000) -> None:
        self.records: dict[str, deque[StepRecord]] = {kind: deque(maxlen=max_records) for kind in OBSERVED_KINDS}
        self.current: StepRecord | None = None  # the record observed last
        self.active: frozenset[str] = frozenset()  # diagnoses active before this record (for hysteresis)
        self.first: dict[tuple[str, str], float] = {}  # first finite value per (kind, key)
        self.last_finite: dict[tuple[str, str], float] = {}  # latest finite value per (kind, key)
        self.measures: dict[str, Measure] = {name: Measure() for name in ("reconstruction", "mel_distance", "snr")}

    def add(self, record: StepRecord) -> None:
        self.records[record.kind].append(record)
        self.current = record
        for key, value in record.values.items():
            if math.isfinite(value):
                slot = (record.kind, key)
                self.first.setdefault(slot, value)
                self.last_finite[slot] = value
        if record.kind == "train":
            reconstruction = _reconstruction_sum(record)
            if reconstruction is not None:
                self.measures["reconstruction"].add(record.step, reconstruction)
        elif record.kind == "validation" and "mel_distance" in record.values:
            self.measures["mel_distance"].add(record.step, record.values["mel_distance"])
        elif record.kind == "monitor" and "snr_db" in record.values:
            self.measures["snr"].add(record.step, -record.values["snr_db"])  # lower is better, like a loss

    def last(self, kind: str, count: int) -> list[StepRecord]:
        """The newest ``count`` records of ``kind``, oldest first."""
        return list(islice(reversed(self.records[kind]), count))[::-1]

    def series(self, key: str, kind: str, since_step: int, count: int) -> list[tuple[int, float]]:
        """The newest ``count`` values of ``key`` in records of ``kind`` at ``since_step`` or later, oldest first."""
        found: list[tuple[int, float]] = []
        for record in reversed(self.records[kind]):
            if record.step < since_step or len(found) >= count:
                break
            if key in record.values:
                found.append((record.step, record.values[key]))
        return found[::-1]

    def latest(self, kind: str) -> StepRecord | None:
        rows = self.records[kind]
        return rows[-1] if rows else None


@dataclass(frozen=True)
class Finding:
    """What a rule's check returns when its condition holds."""

    summary: str
    evidence: dict[str, float]
    suggestion: str | None = None  # overrides the rule's generic suggestion
    severity: str | None = None  # overrides the rule's severity


@dataclass(frozen=True)
class Rule:
    """A named diagnosis: when to evaluate it, the check, and its texts."""

    name: str
    severity: str
    kinds: tuple[str, ...]
    check: Callable[[History, Thresholds, Sequence[int]], Finding | None]
    explanation: str
    suggestion: str


# ------------------------------------------------------------------------------------ rule helpers
def _window(history: History, key: str, count: int, since_step: int) -> list[tuple[int, float]] | None:
    """The last ``count`` monitor values of ``key`` if all are at ``since_step`` or later, else None."""
    window = history.series(key, "monitor", since_step, count)
    if len(window) < count:
        return None
    latest = history.latest("monitor")
    if latest is None or window[-1][0] != latest.step:  # the key must be in the newest check
        return None
    return window


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _median(values: Sequence[float]) -> float:
    """The upper median (``statistics.median_high``), NaN when there are no values."""
    return statistics.median_high(values) if values else math.nan


def _levels(record: StepRecord) -> list[int]:
    levels = []
    for key in record.values:
        if key.startswith("codebook/q") and key.endswith("/perplexity"):
            token = key[len("codebook/q") : -len("/perplexity")]
            if token.isdigit():
                levels.append(int(token))
    return sorted(levels)


# ------------------------------------------------------------------------------------ the rules
NONFINITE_PREFIXES = ("loss/", "grad_norm/")
NONFINITE_SIGNALS = ("amplitude_pct", "snr_db", "si_sdr_db", "output_rms_dbfs")


def _nonfinite_values(record: StepRecord) -> dict[str, float]:
    bad: dict[str, float] = {}
    for key, value in record.values.items():
        if key.startswith(NONFINITE_PREFIXES) or key in NONFINITE_SIGNALS:
            if not math.isfinite(value):
                bad[key] = 1.0
        elif key.startswith(("nonfinite/", "skipped/")) and (not math.isfinite(value) or value > 0):
            bad[key] = value if math.isfinite(value) else 1.0
    return bad


def check_nonfinite(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    """Active while the latest record of any kind (train, monitor, validation) holds a non-finite value."""
    bad: dict[str, float] = {}
    where = []
    for kind in OBSERVED_KINDS:
        record = history.latest(kind)
        found = _nonfinite_values(record) if record is not None else {}
        if found:
            bad.update({f"{kind}/{key}": value for key, value in found.items()})
            where.append(f"{kind} record of step {record.step}: " + ", ".join(sorted(found)[:5]))
    if not bad:
        return None
    return Finding("NaN/Inf in the " + "; ".join(where), bad)


def check_amplitude(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    recent = _window(history, "amplitude_pct", t.checks, t.warmup_steps)
    if recent is None or not all(math.isfinite(v) and v < t.amplitude_pct for _, v in recent):
        return None
    values = [v for _, v in recent]
    if all(v < t.amplitude_floor_pct for v in values):
        return Finding(
            f"output level is {values[-1]:.1f} % of the input (below {t.amplitude_floor_pct:g} % for "
            f"{t.checks} checks)",
            {"amplitude_pct": values[-1], "checks": float(len(values))},
        )
    window = _window(history, "amplitude_pct", max(t.checks, t.amplitude_window), t.warmup_steps)
    if window is None:
        return None
    values = [v for _, v in window]
    if values[-1] < t.amplitude_fall * values[0] and values[-1] <= min(values[:-1]) * 1.05:
        return Finding(
            f"output level is {values[-1]:.1f} % of the input, down from {values[0]:.0f} % over {len(values)} checks "
            f"(steps {window[0][0]}-{window[-1][0]})",
            {"amplitude_pct": values[-1], "amplitude_pct_window_start": values[0], "checks": float(len(values))},
        )
    return None


def check_penalty(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    window = _window(history, "encoder/penalty_share", t.checks, t.penalty_warmup_steps)
    if window is not None:
        shares = [v for _, v in window]
        if all(math.isfinite(v) and v > t.penalty_share for v in shares):
            return Finding(
                f"the quantizer penalty is {shares[-1]:.0%} of the gradient at the encoder output "
                f"(> {t.penalty_share:.0%} for {t.checks} checks)",
                {"encoder/penalty_share": shares[-1], "min_share": min(shares)},
            )
        return None
    # no gradient probe in the records: compare loss values instead
    recent = history.last("monitor", t.checks)
    if len(recent) < t.checks:
        return None
    ratios = []
    for record in recent:
        penalty = record.values.get("loss/penalty", math.nan)
        reconstruction = sum(record.values.get(f"loss/{name}", 0.0) for name in RECONSTRUCTION_LOSSES)
        if not (math.isfinite(penalty) and reconstruction > 0):
            return None
        ratios.append(penalty / reconstruction)
    if all(r > t.penalty_ratio for r in ratios):
        return Finding(
            f"the quantizer penalty is {ratios[-1]:.0f}x the reconstruction losses (> {t.penalty_ratio:g}x)",
            {"penalty_to_reconstruction": ratios[-1]},
        )
    return None


def _checks_after_warmup(history: History, t: Thresholds) -> list[StepRecord] | None:
    """The last ``t.checks`` monitor records when all of them come after the warm-up, else None."""
    recent = [r for r in history.last("monitor", t.checks) if r.step >= t.warmup_steps]
    return recent if len(recent) >= t.checks else None


def check_codebook(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    recent = _checks_after_warmup(history, t)
    if recent is None:
        return None
    collapsed_per_check = []
    for record in recent:
        levels = _levels(record)
        if not levels:
            return None
        collapsed = []
        for level in levels:
            limit = t.codebook_perplexity
            if level < len(sizes):
                limit = min(limit, 0.5 * sizes[level])
            dead = record.values.get(_LEVEL_KEY.format(level=level, stat="dead_fraction"), 1.0)
            perplexity = record.values[_LEVEL_KEY.format(level=level, stat="perplexity")]
            if perplexity < limit and not dead < t.codebook_dead_fraction:
                collapsed.append(level)
        if len(collapsed) < t.codebook_collapsed_levels * len(levels):
            return None
        collapsed_per_check.append((collapsed, levels))
    collapsed, levels = collapsed_per_check[-1]
    last = recent[-1].values
    evidence = {f"q{level}/perplexity": last[_LEVEL_KEY.format(level=level, stat="perplexity")] for level in levels}
    dead = _finite(last.get(_LEVEL_KEY.format(level=level, stat="dead_fraction"), math.nan) for level in levels)
    if dead:
        evidence["mean_dead_fraction"] = sum(dead) / len(dead)
    evidence["collapsed_levels"] = float(len(collapsed))
    return Finding(
        f"{len(collapsed)} of {len(levels)} codebook levels use effectively one code (perplexity < "
        f"{t.codebook_perplexity:g}, dead fraction >= {t.codebook_dead_fraction:g}) for {t.checks} checks",
        evidence,
    )


def _first_and_last(history: History, key: str) -> tuple[float, float] | None:
    """The first and the latest finite train-record value of ``key`` (window means: smoother than monitors)."""
    slot = ("train", key)
    return (history.first[slot], history.last_finite[slot]) if slot in history.first else None


def check_disc_overpowering(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    recent = _adversary_records(history, t.disc_warmup_steps, t.checks)
    if len(recent) < t.checks:
        return None
    accuracy = [r.values.get("disc/accuracy", math.nan) for r in recent]
    if not all(math.isfinite(a) and a >= t.disc_accuracy for a in accuracy):
        return None
    evidence = {"disc/accuracy": accuracy[-1]}
    for key in ("disc/margin", "disc/feature_distance"):
        if key in recent[-1].values:
            evidence[key] = recent[-1].values[key]
    d_loss = _first_and_last(history, "loss/discriminator")
    if d_loss is None or not (d_loss[0] > 0 and d_loss[1] < t.disc_loss_fraction * d_loss[0]):
        return None
    evidence.update({"loss/discriminator_first": d_loss[0], "loss/discriminator": d_loss[1]})
    g_loss = _first_and_last(history, "loss/adversarial")
    trend = ""
    if g_loss is not None:
        evidence.update({"loss/adversarial_first": g_loss[0], "loss/adversarial": g_loss[1]})
        trend = f"; the generator's adversarial loss went from {g_loss[0]:.3g} to {g_loss[1]:.3g}"
    return Finding(
        f"the discriminator wins: accuracy >= {t.disc_accuracy:g} for {t.checks} checks (now {accuracy[-1]:.2f}) "
        f"and its loss fell from {d_loss[0]:.3g} to {d_loss[1]:.3g}{trend}",
        evidence,
    )


def _adversary_records(history: History, since_step: int, count: int) -> list[StepRecord]:
    """The newest ``count`` monitor records (oldest first) since ``since_step`` in an unbroken run with an
    active adversary."""
    run: list[StepRecord] = []
    for record in reversed(history.records["monitor"]):
        if len(run) >= count or record.step < since_step or record.values.get("adversary_active", 0.0) < 0.5:
            break
        run.append(record)
    return run[::-1]


def check_disc_idle(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    recent = _adversary_records(history, 0, t.checks)
    if len(recent) >= max(t.checks, 2):
        norms = [r.values.get("param_norm/discriminator", math.nan) for r in recent]
        if all(math.isfinite(n) for n in norms):
            change = max(abs(b - a) / max(abs(a), 1e-30) for a, b in pairwise(norms))
            if change <= t.disc_frozen_change:
                return Finding(
                    f"the discriminator's weights have not changed over {len(recent)} checks (steps "
                    f"{recent[0].step}-{recent[-1].step}) although the adversary is active",
                    {
                        "param_norm/discriminator": norms[-1],
                        "max_relative_change": change,
                        "grad_norm/discriminator": recent[-1].values.get("grad_norm/discriminator", math.nan),
                    },
                )
        grads = [r.values.get("grad_norm/discriminator", math.nan) for r in recent]
        if all(g == 0.0 for g in grads):
            return Finding(
                f"the discriminator's gradient norm is exactly 0 at {len(recent)} checks",
                {"grad_norm/discriminator": 0.0},
            )
    # at chance for a long time (a weak or starved discriminator rather than a bug): a warning
    latest = history.latest("monitor")
    if latest is None:
        return None
    window: list[StepRecord] = []
    for record in reversed(history.records["monitor"]):
        if record.step < t.warmup_steps or record.values.get("adversary_active", 0.0) < 0.5:
            return None  # the adversary has not been active (after the warm-up) for long enough
        margin = record.values.get("disc/margin", math.nan)
        accuracy = record.values.get("disc/accuracy", math.nan)
        if not (abs(margin) < t.disc_idle_margin and abs(accuracy - 0.5) < t.disc_idle_accuracy):
            return None
        window.append(record)
        if record.step <= latest.step - t.disc_idle_steps:
            break
    else:
        return None
    span = latest.step - window[-1].step
    return Finding(
        f"the discriminator has stayed at chance for {span} steps (margin {latest.values['disc/margin']:.2g}, "
        f"accuracy {latest.values['disc/accuracy']:.2f}): its adversarial signal is noise",
        {
            "disc/margin": latest.values["disc/margin"],
            "disc/accuracy": latest.values["disc/accuracy"],
            "steps": float(span),
        },
        severity="warning",
    )


BALANCER_NORM_PREFIX = "balancer/ema_grad_norm/"


class AmplifiedTerm(NamedTuple):
    """A balanced term whose output gradient has all but vanished, at one check."""

    name: str
    largest: str  # the term with the largest EMA gradient norm
    ratio: float  # its norm / the largest norm
    scale: float  # what the balancer multiplies its gradient by


def _amplified_noise(record: StepRecord, t: Thresholds) -> AmplifiedTerm | None:
    """The most amplified vanishing term of one check, or None."""
    norms = {key[len(BALANCER_NORM_PREFIX):]: value for key, value in record.values.items()
             if key.startswith(BALANCER_NORM_PREFIX) and math.isfinite(value)}  # fmt: skip
    if len(norms) < 2:
        return None
    largest = max(norms, key=norms.__getitem__)
    if norms[largest] <= 0.0:
        return None
    worst: AmplifiedTerm | None = None
    for name, norm in norms.items():
        scale = record.values.get(f"balancer/scale/{name}", math.nan)
        ratio = norm / norms[largest]
        amplified = ratio < t.balancer_norm_ratio and math.isfinite(scale) and scale >= t.balancer_scale
        if amplified and (worst is None or scale > worst.scale):
            worst = AmplifiedTerm(name, largest, ratio, scale)
    return worst


def check_balancer_noise(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    recent = _checks_after_warmup(history, t)
    if recent is None:
        return None
    found = [term for term in (_amplified_noise(record, t) for record in recent) if term is not None]
    if len(found) < len(recent) or len({term.name for term in found}) != 1:
        return None
    name, largest, ratio, scale = found[-1]
    return Finding(
        f"the gradient balancer multiplies the '{name}' gradient by {scale:.3g}: at the decoder output it is "
        f"{1 / ratio:.2g}x smaller than '{largest}''s, yet keeps its full share of the update ({t.checks} checks)",
        {f"balancer/scale/{name}": scale, "norm_ratio": ratio},
    )


def check_loudness(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    recent = history.last("monitor", t.checks)
    if len(recent) < t.checks or any("input_rms_dbfs" not in r.values for r in recent):
        return None
    levels = [r.values["input_rms_dbfs"] for r in recent]
    if not all(math.isfinite(v) for v in levels):
        return None
    level = _median(levels)  # one batch with a silent item must not decide
    evidence = {"input_rms_dbfs": level, "target_dbfs": t.loudness_target_dbfs}
    peak_spread = [r.values.get("input_peak_dbfs_std", math.nan) for r in recent]
    rms_spread = [r.values.get("input_rms_dbfs_std", math.nan) for r in recent]
    rms_spread_mean = sum(rms_spread) / len(rms_spread)
    if all(math.isfinite(p) and p < t.peak_spread_db for p in peak_spread) and rms_spread_mean > t.rms_spread_db:
        evidence.update(input_peak_dbfs_std=peak_spread[-1], input_rms_dbfs_std=rms_spread_mean)
        if "input_peak_dbfs" in recent[-1].values:
            evidence["input_peak_dbfs"] = recent[-1].values["input_peak_dbfs"]
        return Finding(
            f"training items are peak-normalised: every item peaks at the same level (spread "
            f"{peak_spread[-1]:.2f} dB) while their RMS varies by {rms_spread_mean:.1f} dB (std over items)",
            evidence,
            "Normalise by loudness, not by peak: remove the per-item peak normalisation from your data "
            "pipeline and let the dataset's normaliser bring every item to the -16 dBFS RMS target "
            "(codecbench.datasets.folder.normalize, the default); inference uses the same normaliser.",
        )
    if abs(level - t.loudness_target_dbfs) > t.loudness_tolerance_db:
        return Finding(
            f"training input is at {level:.1f} dBFS RMS, {level - t.loudness_target_dbfs:+.1f} dB from the "
            f"{t.loudness_target_dbfs:g} dBFS target",
            evidence,
        )
    validation = history.latest("validation")
    if validation is not None and "input_rms_dbfs" in validation.values:
        val_level = validation.values["input_rms_dbfs"]
        train_levels = _finite(r.values.get("input_rms_dbfs", math.nan) for r in history.last("monitor", 50))
        train_level = _median(train_levels)
        if math.isfinite(val_level) and abs(val_level - train_level) > t.validation_loudness_db:
            evidence.update(validation_input_rms_dbfs=val_level, train_input_rms_dbfs=train_level)
            return Finding(
                f"validation audio is at {val_level:.1f} dBFS RMS but training audio at {train_level:.1f} dBFS",
                evidence,
            )
    return None


STALL_MEASURES = (
    ("reconstruction", "the reconstruction losses (train)", 1.0),
    ("mel_distance", "the validation mel distance", 1.0),
    ("snr", "the training-batch SNR", -1.0),
)


def check_stalled(history: History, t: Thresholds, sizes: Sequence[int]) -> Finding | None:
    chosen = next((m for m in STALL_MEASURES if len(history.measures[m[0]]) >= 4), None)
    if chosen is None:
        return None
    key, name, sign = chosen
    measure = history.measures[key]
    end = measure.steps[-1]
    width = max(t.stall_steps, int(t.stall_fraction * end))
    start = end - 2 * width
    if start < t.warmup_steps or measure.steps[0] > start + (end - measure.steps[-2]):
        return None  # not yet two full windows of history after the warm-up
    count_last, mean_last = measure.window(end - width, end)
    count_previous, mean_previous = measure.window(start, end - width)
    if count_last < 2 or count_previous < 2:
        return None
    improvement = (mean_previous - mean_last) / max(abs(mean_previous), 1e-12)
    needed = t.stall_improvement * (2.0 if "learning_stalled" in history.active else 1.0)  # hysteresis
    if improvement >= needed:
        return None
    return Finding(
        f"{name} improved by {improvement:.1%} over the last {width} steps (mean {sign * mean_last:.4g}, "
        f"previous {width} steps {sign * mean_previous:.4g}; threshold {t.stall_improvement:.0%})",
        {
            "mean_last": sign * mean_last,
            "mean_previous": sign * mean_previous,
            "improvement": improvement,
            "window_steps": float(width),
        },
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "non_finite",
        "fatal",
        ("train", "monitor", "validation"),
        check_nonfinite,
        "A loss, a gradient or the reconstruction holds NaN or Inf. The trainer skips such updates, but a run "
        "that keeps producing them is not learning and its weights may already be corrupt. The usual causes "
        "are spectral ops run in float16 (power spectra overflow above 65504, log of an underflowed zero), "
        "an epsilon too small for the precision, a learning rate that makes a network diverge, or a "
        "division by a level that can be zero.",
        "Run STFT/mel computations in float32 (torch.autocast(enabled=False) and .float()), use eps >= 1e-5 "
        "inside logs and divisions, lower the learning rate or add gradient clipping "
        "(codecbench.train.generator_grad_clip), and resume from the last checkpoint before the first NaN.",
    ),
    Rule(
        "amplitude_collapse",
        "fatal",
        ("monitor",),
        check_amplitude,
        "The reconstruction is getting quieter than the input and keeps getting quieter: the output/input RMS "
        "ratio is below the threshold and falling (or stays under the floor). A codec in this state trades "
        "level for a small loss - typically because the quantizer penalty dominates the encoder's gradient, "
        "the training items were peak-normalised, or an amplitude-blind discriminator is the only loss.",
        "Check the vq_penalty_dominating and loudness_mismatch diagnoses; add a level-sensitive "
        "reconstruction loss (codecbench.losses.mel, l1) or a gradient balancer "
        "(codecbench.balancers.gradient); lower the commitment weight.",
    ),
    Rule(
        "vq_penalty_dominating",
        "warning",
        ("monitor",),
        check_penalty,
        "The quantizer penalty (commitment + codebook loss) sends the encoder most of its gradient, so the "
        "encoder learns to sit on the codebook rather than to describe the audio. Left alone this ends in "
        "collapsed codebooks and a quiet, muffled output.",
        "Lower the commitment/codebook weights (DAC: 0.25 and 1.0; EnCodec: 1.0 with EMA codebooks), or "
        "balance the reconstruction losses with codecbench.balancers.gradient so that they keep a fixed share.",
    ),
    Rule(
        "codebook_collapse",
        "warning",
        ("monitor",),
        check_codebook,
        "Most codebook levels map every frame to (effectively) one code: their perplexity - the number of "
        "equally used codes that would give the same entropy - is near 1, so the codes carry almost no "
        "information. This happens when codebooks start far from the encoder's output (no k-means "
        "initialisation) and unused codes are never restarted, or when the penalty squeezes the latent.",
        "Initialise codebooks by k-means on the first batch (codecbench.quantizers.rvq.kmeans_iters = 50), "
        "restart dead codes (restart_dead = True, threshold_dead = 2), or use factorised, L2-normalised "
        "codes (codecbench.quantizers.factorized_rvq).",
    ),
    Rule(
        "discriminator_overpowering",
        "warning",
        ("monitor",),
        check_disc_overpowering,
        "The discriminator tells real from reconstructed audio almost perfectly and its own loss has collapsed "
        "towards zero. The generator then gets saturated, uninformative adversarial gradients: its "
        "adversarial loss climbs and the run drifts or destabilises instead of improving.",
        "Lower the discriminator learning rate (DAC and EnCodec use 1e-4 to 3e-4), update it less often "
        "(codecbench.train.discriminator_update_probability), clip its gradients "
        "(discriminator_grad_clip), or start the adversary later (adversary_warmup_steps).",
    ),
    Rule(
        "discriminator_not_learning",
        "fatal",
        ("monitor",),
        check_disc_idle,
        "The adversary is active but the discriminator does not learn: its weights do not change between checks, "
        "or its gradient is exactly zero, or (a warning) it has stayed at chance - real/fake margin ~0, "
        "accuracy ~0.5 - for a long time. Either its optimiser never steps (a missing optimizer.step(), a "
        "learning rate of 0, zero_grad between backward and step, parameters that do not require gradients) "
        "or it is too weak or starved to tell real from fake; the adversarial losses are then noise.",
        "Check discriminator_optimizer and its learning rate (DISCRIMINATOR_LR), that the discriminator's "
        "parameters require gradients, and that a resumed checkpoint holds the discriminator state.",
    ),
    Rule(
        "balancer_amplifying_noise",
        "warning",
        ("monitor",),
        check_balancer_noise,
        "The gradient balancer gives every term a fixed share of the update whatever its raw gradient, and one "
        "term's gradient at the decoder output has all but vanished - typically the adversarial or "
        "feature-matching term of a discriminator whose logits are still near zero (at chance). The balancer "
        "scales that noise up by thousands and the reconstruction terms keep only their own small share.",
        "Start the adversary later (codecbench.train.adversary_warmup_steps) or make the discriminator learn "
        "faster (DISCRIMINATOR_LR, a larger discriminator); or gate the adversarial terms by the discriminator's "
        "margin (codecbench.train.adversary_full_margin, with discriminator_warmup_steps = 0) so that they get "
        "weight only as the discriminator separates real from reconstructed audio; check "
        "discriminator_not_learning.",
    ),
    Rule(
        "loudness_mismatch",
        "warning",
        ("monitor", "validation"),
        check_loudness,
        "The audio the model trains on is not at the loudness codecbench assumes (-16 dBFS RMS), varies "
        "item to item the way per-item peak normalisation does, or differs from the validation audio. "
        "A codec learns the level statistics of its training data: at inference, where items are brought "
        "to -16 dBFS, it will then be too loud, too quiet or level-dependent.",
        "Use the dataset's loudness normaliser (codecbench.datasets.folder.normalize, -16 dBFS RMS) for "
        "training, validation and inference alike, and remove any peak normalisation from preprocessing.",
    ),
    Rule(
        "learning_stalled",
        "warning",
        ("train", "validation"),
        check_stalled,
        "The reconstruction loss (or validation mel distance / SNR) has not improved over a long window. "
        "Either the learning rate has decayed to nothing, the run has converged for this model size, or "
        "another problem (see other diagnoses) keeps it from learning.",
        "Check the learning-rate schedule (lr/generator in the train records), compare with the validation "
        "curves; if the run has converged, stop it or enlarge the model; otherwise raise the learning rate.",
    ),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)


# ------------------------------------------------------------------------------------ the doctor
class Doctor:
    """Feeds records to the rules and tracks which diagnoses are active.

    ``observe`` takes one record (a :class:`StepRecord` or a ``metrics.jsonl`` object) and returns
    what changed. A rule is evaluated only on the record kinds it names; its diagnosis stays
    active until a later evaluation no longer finds the condition. :meth:`streak` counts how many
    consecutive evaluations a diagnosis has been active (used by the fail-fast option).
    """

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        *,
        codebook_sizes: Sequence[int] = (),
        rules: Sequence[Rule] = RULES,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.codebook_sizes = tuple(int(size) for size in codebook_sizes)
        self.rules = tuple(rules)
        self.history = History()
        self.active: dict[str, Diagnosis] = {}
        self.events: list[DiagnosisEvent] = []
        self._streaks: dict[str, int] = {}

    def streak(self, name: str) -> int:
        """Consecutive evaluations for which ``name`` has been active (0 when it is not)."""
        return self._streaks.get(name, 0) if name in self.active else 0

    def observe(self, record: StepRecord | Mapping[str, Any]) -> CheckResult | None:
        """Add one record and re-run the rules that watch its kind; None for records the doctor ignores."""
        if not isinstance(record, StepRecord):
            record = record_from_row(record)
        if record is None or record.kind not in OBSERVED_KINDS:
            return None
        self.history.add(record)
        self.history.active = frozenset(self.active)
        fired, cleared = [], []
        for rule in self.rules:
            if record.kind not in rule.kinds:
                continue
            finding = rule.check(self.history, self.thresholds, self.codebook_sizes)
            if finding is None:
                if rule.name in self.active:
                    gone = self.active.pop(rule.name)
                    self._streaks[rule.name] = 0
                    cleared.append(gone)
                    self.events.append(DiagnosisEvent(record.step, "cleared", gone))
                continue
            diagnosis = Diagnosis(
                name=rule.name, severity=finding.severity or rule.severity, step=record.step, summary=finding.summary,
                explanation=rule.explanation, suggestion=finding.suggestion or rule.suggestion,
                evidence=dict(finding.evidence),
            )  # fmt: skip
            if rule.name not in self.active:
                fired.append(diagnosis)
                self.events.append(DiagnosisEvent(record.step, "fired", diagnosis))
                self._streaks[rule.name] = 0
            self.active[rule.name] = diagnosis
            self._streaks[rule.name] = self._streaks.get(rule.name, 0) + 1
        return CheckResult(record.step, record.kind, fired, cleared, list(self.active.values()))

    def observe_all(self, records: Iterable[StepRecord | Mapping[str, Any]]) -> Iterator[CheckResult]:
        for record in records:
            result = self.observe(record)
            if result is not None:
                yield result

    def first_fired(self) -> dict[str, Diagnosis]:
        """Each diagnosis that ever fired, as it was when it first fired."""
        first: dict[str, Diagnosis] = {}
        for event in self.events:
            if event.state == "fired":
                first.setdefault(event.diagnosis.name, event.diagnosis)
        return first


def diagnose(
    records: Iterable[StepRecord | Mapping[str, Any]],
    thresholds: Thresholds | None = None,
    codebook_sizes: Sequence[int] = (),
) -> Doctor:
    """Replay ``records`` (e.g. ``read_metrics(run_dir)``) through a fresh doctor and return it."""
    doctor = Doctor(thresholds, codebook_sizes=codebook_sizes)
    for _ in doctor.observe_all(records):
        pass
    return doctor
