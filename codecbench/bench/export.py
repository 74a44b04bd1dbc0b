"""Machine-readable results: JSON (everything) and CSV (summary row per system, and per-file rows)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from codecbench.bench.runner import BenchResult
from codecbench.utils.files import atomic_write_text


def _clean(value: Any) -> Any:
    """NaN/Inf -> None (JSON null), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def result_dict(result: BenchResult, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole result as plain data: columns with units and directions, per-system summaries and per-file rows."""
    return _clean(
        {
            "meta": dict(meta or {}),
            "columns": [
                {"key": c.key, "label": c.label, "unit": c.unit, "direction": c.direction, "per_file": c.per_file}
                for c in result.columns
            ],
            "files": result.files,
            "notes": result.notes,
            "systems": [
                {
                    "name": s.name,
                    "sample_rate": s.sample_rate,
                    "description": s.description,
                    "summary": {k: v.as_dict() for k, v in s.summary.items()},
                    "set_values": s.set_values,
                    "codebook": None if s.codebook is None else s.codebook.as_dict(),
                    "files": [{"file": r.file, "duration": r.duration, **r.values} for r in s.rows],
                    "warnings": s.warnings,
                }
                for s in result.systems
            ],
            "skipped": [{"name": s.name, "reason": s.reason} for s in result.skipped],
        }
    )


def write_json(path: str | Path, result: BenchResult, meta: dict[str, Any] | None = None) -> Path:
    return atomic_write_text(path, json.dumps(result_dict(result, meta), indent=2, allow_nan=False) + "\n")


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if isinstance(v, float) and not math.isfinite(v) else v for v in row])
    return buffer.getvalue()


def summary_csv(result: BenchResult) -> str:
    """One row per system: ``<key>_mean``, ``<key>_ci95`` and ``<key>_n`` per per-file column, set values as is."""
    header = ["system", "sample_rate", "files", "skipped"]
    for c in result.columns:
        header += [f"{c.key}_mean", f"{c.key}_ci95", f"{c.key}_n"] if c.per_file else [c.key]
    rows: list[list[Any]] = []
    for s in result.systems:
        row: list[Any] = [s.name, s.sample_rate, len(s.rows), ""]
        for c in result.columns:
            if c.per_file:
                summary = s.summary[c.key]
                row += [summary.mean, summary.half_width, summary.n]
            else:
                row.append(s.set_values.get(c.key, math.nan))
        rows.append(row)
    for s in result.skipped:
        rows.append([s.name, "", 0, s.reason] + [""] * (len(header) - 4))
    return _csv_text(header, rows)


def files_csv(result: BenchResult) -> str:
    """One row per (system, file) with every per-file value."""
    keys = [c.key for c in result.columns if c.per_file]
    rows = [
        [s.name, r.file, r.duration, *[r.values.get(k, math.nan) for k in keys]] for s in result.systems for r in s.rows
    ]
    return _csv_text(["system", "file", "duration", *keys], rows)


def files_csv_path(path: str | Path) -> Path:
    """Where the per-file CSV goes next to a summary CSV: ``results.csv`` -> ``results.files.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.files{path.suffix or '.csv'}")


def write_csv(path: str | Path, result: BenchResult) -> tuple[Path, Path]:
    """Write the summary CSV to ``path`` and the per-file CSV beside it; returns both paths."""
    summary = atomic_write_text(path, summary_csv(result))
    return summary, atomic_write_text(files_csv_path(path), files_csv(result))
