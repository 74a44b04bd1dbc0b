"""The ``codecbench doctor`` report: follow ``metrics.jsonl``, tabulate each monitor, list the diagnoses, plot.

:class:`MetricsTail` reads a (possibly live) ``metrics.jsonl`` incrementally and leaves a partly
written last line for the next read. :func:`render_report` turns the records plus a replayed
:class:`~codecbench.training.doctor.Doctor` into text: one sparkline row per monitor
(first/min/max/last over steps) and the diagnosis timeline. :func:`plot_run` draws a multi-panel
figure (matplotlib is imported only there).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecbench.training.callbacks import StepRecord
from codecbench.training.doctor import Doctor, record_from_row

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
KIND_PREFIX = {"monitor": "", "train": "train ", "validation": "val "}


class MetricsTail:
    """Reads new complete lines of a ``metrics.jsonl`` on each :meth:`read` (a live run may still be writing it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0

    def read(self) -> list[dict[str, Any]]:
        """Objects of the lines completed since the last call; an unfinished last line waits for the next."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        rows = []
        for line in chunk[: end + 1].splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                self.bad_lines += 1  # a line cut by a crash, then appended to after a resume
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


# ------------------------------------------------------------------------------------ monitor table
@dataclass
class Series:
    """One quantity over steps."""

    name: str
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)


def collect_series(
    records: Iterable[StepRecord], kinds: Sequence[str] = ("monitor", "validation", "train")
) -> dict[str, Series]:
    """Every value of the given kinds as a series named ``[train |val ]<key>``, in first-seen order."""
    series: dict[str, Series] = {}
    for record in records:
        if record.kind not in kinds:
            continue
        prefix = KIND_PREFIX.get(record.kind, f"{record.kind} ")
        for key, value in record.values.items():
            name = prefix + key
            series.setdefault(name, Series(name)).add(record.step, value)
    return series


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """Values binned into at most ``width`` cells (mean per cell); ``!`` marks a cell holding NaN/Inf."""
    if not values:
        return ""
    cells = min(width, len(values))
    bins: list[list[float]] = [[] for _ in range(cells)]
    for i, value in enumerate(values):
        bins[i * cells // len(values)].append(value)
    means: list[float | None] = []
    for cell in bins:
        means.append(None if any(not math.isfinite(v) for v in cell) else sum(cell) / len(cell))
    finite = [m for m in means if m is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    out = []
    for mean in means:
        if mean is None:
            out.append("!")
        elif high - low <= 1e-12 * max(1.0, abs(high)):
            out.append(SPARK[len(SPARK) // 2])
        else:
            out.append(SPARK[min(len(SPARK) - 1, int((mean - low) / (high - low) * len(SPARK)))])
    return "".join(out)


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.4g}"


def monitor_table(series: dict[str, Series], keys: Sequence[str] | None = None) -> str:
    """A text table: name, steps, first, min, max, last and the sparkline of each series."""
    names = list(series) if keys is None else [k for k in keys if k in series]
    if not names:
        return "(no monitor records)"
    width = max(len(n) for n in names)
    header = f"{'monitor':<{width}}  {'steps':>11}  {'first':>9}  {'min':>9}  {'max':>9}  {'last':>9}  timeline"
    lines = [header, "-" * len(header)]
    for name in names:
        s = series[name]
        finite = [v for v in s.values if math.isfinite(v)]
        low = _fmt(min(finite)) if finite else "nan"
        high = _fmt(max(finite)) if finite else "nan"
        steps = f"{s.steps[0]}-{s.steps[-1]}"
        lines.append(
            f"{name:<{width}}  {steps:>11}  {_fmt(s.values[0]):>9}  {low:>9}  {high:>9}  "
            f"{_fmt(s.values[-1]):>9}  {sparkline(s.values)}"
        )
    return "\n".join(lines)


DEFAULT_KEYS_PREFIXES = (
    "amplitude_pct",
    "snr_db",
    "si_sdr_db",
    "input_",
    "output_",
    "encoder/penalty_share",
    "share/",
    "disc/",
    "loss/",
    "grad_norm/",
    "nonfinite/",
    "codebook/",
)


def default_keys(series: dict[str, Series], show_all: bool) -> list[str]:
    """The rows shown by default: monitors first, per-level codebook statistics summarised unless ``show_all``."""
    if show_all:
        return list(series)
    keys = [n for n in series if not n.startswith(("train ", "val ")) and n.startswith(DEFAULT_KEYS_PREFIXES)]
    keys = [k for k in keys if not (k.startswith("codebook/q") and not k.endswith(("/perplexity", "dead_fraction")))]
    keys += [
        n
        for n in series
        if n.startswith("val ") and n[4:] in ("snr_db", "si_sdr_db", "amplitude_pct", "mel_distance", "input_rms_dbfs")
    ]
    keys += [n for n in series if n.startswith("train loss/")]
    return keys


# ------------------------------------------------------------------------------------ the report
def logged_diagnoses(rows: Iterable[dict[str, Any]]) -> list[tuple[int, str, bool]]:
    """(step, name, fired) for each diagnosis record the live callback wrote."""
    events = []
    for row in rows:
        if row.get("kind") != "diagnosis":
            continue
        for key, value in row.items():
            if key in ("step", "kind") or "/" in key or value is None:
                continue
            events.append((int(row["step"]), key, bool(value)))
    return events


def render_report(run: str, rows: Sequence[dict[str, Any]], doctor: Doctor, show_all: bool = False) -> str:
    """The full text report of a run."""
    records = [r for r in (record_from_row(row) for row in rows) if r is not None]
    steps = [r.step for r in records]
    kinds = {kind: sum(1 for r in records if r.kind == kind) for kind in ("train", "monitor", "validation")}
    lines = [
        f"codecbench doctor: {run}",
        f"{len(records)} records up to step {max(steps) if steps else 0} ({kinds['train']} train, "
        f"{kinds['monitor']} monitor, {kinds['validation']} validation)",
        "",
    ]
    series = collect_series(records)
    lines.append(monitor_table(series, default_keys(series, show_all)))
    lines.append("")
    lines.append("Diagnoses (recomputed from the records)")
    if not doctor.events:
        lines.append("  none: no rule fired")
    for event in doctor.events:
        d = event.diagnosis
        if event.state == "fired":
            lines.append(f"  step {event.step:>7}  fired    {d.name} ({d.severity}): {d.summary}")
        else:
            lines.append(f"  step {event.step:>7}  cleared  {d.name}")
    logged = logged_diagnoses(rows)
    if logged:
        lines.append("")
        lines.append("Logged live by the doctor callback")
        lines.extend(f"  step {step:>7}  {'fired' if fired else 'cleared':<8} {name}" for step, name, fired in logged)
    first = doctor.first_fired()
    if first:
        lines.append("")
        lines.append("Details")
        for name, d in first.items():
            state = "ACTIVE" if name in doctor.active else "cleared"
            current = doctor.active.get(name, d)
            evidence = ", ".join(f"{k}={_fmt(v)}" for k, v in current.evidence.items())
            lines += [
                f"* {name} [{d.severity}, {state}, first at step {d.step}]",
                f"  {current.summary}",
                f"  what it means: {d.explanation}",
                f"  what to do: {current.suggestion}",
                f"  evidence (step {current.step}): {evidence}",
            ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ the plot
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("output/input level (%)", ("amplitude_pct", "val amplitude_pct")),
    ("loudness (dBFS)", ("input_rms_dbfs", "output_rms_dbfs", "input_peak_dbfs", "val input_rms_dbfs")),
    ("fidelity (dB)", ("snr_db", "si_sdr_db", "val snr_db", "val si_sdr_db")),
    ("codebook perplexity", ("codebook/q*/perplexity",)),
    ("gradient shares", ("encoder/penalty_share", "share/*")),
    ("discriminator", ("disc/accuracy", "disc/margin", "disc/feature_relative", "adversary_gate")),
    ("losses (train)", ("train loss/*",)),
    ("gradient norms", ("grad_norm/*",)),
    ("weight norms", ("param_norm/*",)),
    ("non-finite counts", ("nonfinite/*",)),
)


def _match(pattern: str, name: str) -> bool:
    if "*" not in pattern:
        return name == pattern
    head, tail = pattern.split("*", 1)
    return name.startswith(head) and name.endswith(tail) and len(name) >= len(head) + len(tail)


def plot_run(rows: Sequence[dict[str, Any]], doctor: Doctor, out: str | Path, title: str = "") -> Path:
    """A multi-panel PNG of the monitors, with a vertical line where each diagnosis fired."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r for r in (record_from_row(row) for row in rows) if r is not None]
    series = collect_series(records)
    panels = [(title_, [n for n in series if any(_match(p, n) for p in patterns)]) for title_, patterns in PANELS]
    panels = [(t, names) for t, names in panels if names]
    if not panels:
        raise ValueError("nothing to plot: the run has no train, monitor or validation records yet")
    columns = 2
    rows_count = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows_count, columns, figsize=(12, 3.0 * rows_count), squeeze=False)
    fired = [(e.step, e.diagnosis.name, e.diagnosis.fatal) for e in doctor.events if e.state == "fired"]
    for axis, (panel_title, names) in zip(axes.flat, panels):
        for name in names[:12]:
            s = series[name]
            axis.plot(s.steps, [v if math.isfinite(v) else math.nan for v in s.values], label=name, linewidth=1)
        if panel_title.startswith("losses") or panel_title.startswith("gradient norms"):
            positive = [v for n in names for v in series[n].values if math.isfinite(v) and v > 0]
            if positive and max(positive) / min(positive) > 100:
                axis.set_yscale("log")
        for step, _name, fatal in fired:
            axis.axvline(step, color="red" if fatal else "orange", linestyle="--", linewidth=0.8)
        axis.set_title(panel_title, fontsize=9)
        axis.legend(fontsize=6, loc="best")
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    if fired:
        names = ", ".join(sorted({f"{name} @ {step}" for step, name, _ in fired}))
        title = f"{title}\ndiagnoses: {names}" if title else f"diagnoses: {names}"
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100)
    plt.close(figure)
    return target
