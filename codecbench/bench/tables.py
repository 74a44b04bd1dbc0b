"""Result tables: a row per system, a column per measure, mean ± 95 % CI half-width (rich and Markdown)."""

from __future__ import annotations

import math

from codecbench.bench.columns import Column
from codecbench.bench.runner import BenchResult, SystemResult
from codecbench.bench.stats import Summary

MISSING = "–"


def decimals_for(value: float) -> int:
    """Decimals that show a value with about three significant digits (at least one decimal)."""
    if not math.isfinite(value) or value == 0.0:
        return 2
    magnitude = math.floor(math.log10(abs(value)))
    return max(1, min(6, 2 - magnitude))


def format_number(value: float, decimals: int | None = None) -> str:
    if not math.isfinite(value):
        return MISSING
    return f"{value:.{decimals_for(value) if decimals is None else decimals}f}"


def format_summary(summary: Summary | None) -> str:
    """``mean ± half-width`` at the precision of the mean; just the mean when the interval is undefined."""
    if summary is None or summary.n == 0:
        return MISSING
    decimals = decimals_for(summary.mean)
    text = format_number(summary.mean, decimals)
    if math.isfinite(summary.half_width):
        text += f" ± {summary.half_width:.{decimals}f}"
    if summary.n_missing:
        text += f" ({summary.n_missing} NaN)"
    return text


def cell(result: SystemResult, column: Column) -> str:
    if column.per_file:
        return format_summary(result.summary.get(column.key))
    return format_number(result.set_values.get(column.key, math.nan))


def table_rows(result: BenchResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows (strings) shared by the rich and Markdown renderings; skipped systems last."""
    header = ["system", "rate (Hz)", "files", *[c.header for c in result.columns]]
    rows = [
        [s.name, str(s.sample_rate), str(len(s.rows)), *[cell(s, c) for c in result.columns]] for s in result.systems
    ]
    rows += [[f"{s.name} (skipped)", MISSING, "0", *[MISSING for _ in result.columns]] for s in result.skipped]
    return header, rows


def rich_table(result: BenchResult, title: str = "codecbench bench (mean ± 95% CI)") -> object:
    """A ``rich.table.Table`` of the summary."""
    from rich.table import Table

    _, rows = table_rows(result)
    header = ["system", "rate\n(Hz)", "files", *[f"{c.label}\n{c.unit_text}" for c in result.columns]]
    table = Table(title=title)
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_markdown(result: BenchResult) -> str:
    header, rows = table_rows(result)
    return markdown_table(header, rows)


def per_file_markdown(result: BenchResult, system: SystemResult) -> str:
    """One row per file with that system's values."""
    columns = [c for c in result.columns if c.per_file]
    header = ["file", "duration (s)", *[c.header for c in columns]]
    rows = [
        [row.file, f"{row.duration:.2f}", *[format_number(row.values.get(c.key, math.nan)) for c in columns]]
        for row in system.rows
    ]
    return markdown_table(header, rows)
