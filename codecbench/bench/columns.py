"""Benchmark measures: which per-file metrics and system facts become table columns, with units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from codecbench.metrics import METRICS, Metric, MetricUnavailable

SYSTEM_MEASURES: tuple[str, ...] = ("bitrate", "codebook", "rtf")
"""Measures read from what a system reports (not from comparing audio)."""


@dataclass(frozen=True)
class Column:
    """One result column. ``per_file`` columns get mean ± 95 % CI; the others are one value for the whole set."""

    key: str
    label: str
    unit: str
    direction: str  # "higher", "lower", "ideal:<value>" or "" (informational)
    per_file: bool = True

    @property
    def header(self) -> str:
        """Label with unit and direction, e.g. ``SI-SDR (dB) ↑``."""
        return f"{self.label} {self.unit_text}".strip()

    @property
    def unit_text(self) -> str:
        """Unit and direction, e.g. ``(dB) ↑``, ``(%) →100``, ``↓``."""
        unit = f"({self.unit})" if self.unit else ""
        if self.direction == "higher":
            arrow = " ↑"
        elif self.direction == "lower":
            arrow = " ↓"
        elif self.direction.startswith("ideal:"):
            arrow = f" →{self.direction.split(':', 1)[1]}"
        else:
            arrow = ""
        return f"{unit}{arrow}".strip()


LABELS = {
    "snr": "SNR",
    "si_sdr": "SI-SDR",
    "amplitude": "amplitude",
    "mel": "mel dist",
    "stft": "STFT dist",
    "pesq": "PESQ-WB",
    "stoi": "STOI",
}

MEASURE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "bitrate": (
        Column("kbps", "bitrate", "kbps", ""),
        Column("kbps_measured", "measured", "kbps", ""),
    ),
    "codebook": (Column("perplexity", "codebook ppl", "mean of levels", "higher", per_file=False),),
    "rtf": (
        Column("rtf_encode", "encode RTF", "", "lower"),
        Column("rtf_decode", "decode RTF", "", "lower"),
    ),
}


PREFERRED_ORDER: tuple[str, ...] = ("snr", "si_sdr", "amplitude", "mel", "stft", "pesq", "stoi")


def all_measure_names() -> list[str]:
    """Every name ``--metric`` accepts: built-in metrics, other registered metrics, then the system measures."""
    registered = METRICS.names()
    ordered = [n for n in PREFERRED_ORDER if n in registered] + [n for n in registered if n not in PREFERRED_ORDER]
    return [*ordered, *SYSTEM_MEASURES]


def metric_column(name: str, metric: Metric) -> Column:
    ideal = getattr(metric, "ideal", None)
    direction = "higher" if metric.higher_is_better else "lower"
    if ideal is not None:
        direction = f"ideal:{ideal:g}"
    return Column(name, LABELS.get(name, name), metric.unit, direction)


@dataclass
class MeasurePlan:
    """Metrics to compute per file, system measures to record, their columns, and notes about what was left out."""

    metrics: dict[str, Metric]
    measures: tuple[str, ...]
    columns: list[Column]
    notes: list[str]


def plan_measures(names: Sequence[str] | None) -> MeasurePlan:
    """Resolve ``--metric`` names (None: everything available); unavailable metrics become notes."""
    known = all_measure_names()
    requested = list(known) if not names else list(dict.fromkeys(names))
    unknown = [n for n in requested if n not in known]
    if unknown:
        raise ValueError(f"--metric: unknown name(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    metrics: dict[str, Metric] = {}
    columns: list[Column] = []
    notes: list[str] = []
    for name in requested:
        if name in SYSTEM_MEASURES:
            continue
        try:
            metrics[name] = METRICS.create(name)
        except MetricUnavailable as error:
            notes.append(f"{error} (column left out)")
            continue
        columns.append(metric_column(name, metrics[name]))
    measures = tuple(n for n in requested if n in SYSTEM_MEASURES)
    for name in measures:
        columns.extend(MEASURE_COLUMNS[name])
    return MeasurePlan(metrics, measures, columns, notes)
