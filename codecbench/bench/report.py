"""``--report DIR``: Markdown report with tables, plots, spectrograms and decoded audio.

Layout::

    DIR/report.md             summary table, notes, codebook usage, plots, examples, per-file tables
    DIR/results.json          everything (as ``--json``)
    DIR/results.csv           summary row per system (as ``--csv``), results.files.csv per file
    DIR/plots/bitrate_quality.png
    DIR/plots/spectrogram_NN.png
    DIR/audio/NN_<file>/reference_<rate>.wav and <system>.wav (32-bit float)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codecbench.bench.audio import write_wav
from codecbench.bench.export import write_csv, write_json
from codecbench.bench.plots import bitrate_quality_plot, pyplot, spectrogram_plot
from codecbench.bench.runner import BenchResult
from codecbench.bench.tables import markdown_table, per_file_markdown, summary_markdown
from codecbench.utils.files import atomic_write_text

LOUDNESS_NOTE = (
    "Checkpoints: input is normalised to -16 dBFS RMS (the training normaliser) before encoding and the "
    "decoded audio is divided by the same gain, so the amplitude ratio measures the codec, not the normaliser. "
    "Baselines get the file at its own level. Every file is mixed to mono and resampled to each system's "
    "rate; the reference is compared at that rate. Mel/STFT distances: DAC-style, lower is better. "
    "STOI is computed after removing the codec delay (cross-correlation, up to 100 ms); PESQ aligns itself. "
    "RTF = processing seconds / audio seconds (lower is faster)."
)


def safe_name(text: str) -> str:
    """File-system-safe version of a system or file name."""
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", text).strip("_") or "unnamed"


def _codebook_section(result: BenchResult) -> list[str]:
    lines: list[str] = []
    for system in result.systems:
        usage = system.codebook
        if usage is None:
            continue
        header = ["level", "codebook size", "perplexity", "used (%)"]
        rows = [
            [str(level), str(size), f"{ppl:.1f}", f"{100 * used:.1f}"]
            for level, (size, ppl, used) in enumerate(zip(usage.sizes, usage.perplexity, usage.used_fraction))
        ]
        lines += [f"### {system.name} ({usage.frames} frames)", "", markdown_table(header, rows), ""]
    return lines


def write_report(result: BenchResult, out_dir: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write the report directory; returns the path of ``report.md``. Needs matplotlib."""
    pyplot()  # fail early with a clear message if matplotlib is missing
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    write_json(out / "results.json", result, meta)
    write_csv(out / "results.csv", result)
    lines = ["# codecbench benchmark report", ""]
    for key in ("date", "codecbench_version", "data", "device"):
        if key in meta:
            lines.append(f"- **{key}**: {meta[key]}")
    lines += [f"- **files**: {len(result.files)}", "", LOUDNESS_NOTE, "", "## Summary (mean ± 95% CI)", ""]
    lines += [summary_markdown(result), ""]
    if result.skipped:
        lines += ["## Skipped systems", ""] + [f"- **{s.name}**: {s.reason}" for s in result.skipped] + [""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in result.notes] + [""]
    codebook = _codebook_section(result)
    if codebook:
        lines += ["## Codebook usage over the whole set", "", *codebook]
    plot = bitrate_quality_plot(result, out / "plots" / "bitrate_quality.png")
    if plot is not None:
        lines += ["## Quality versus bitrate", "", f"![quality versus bitrate]({plot.relative_to(out).as_posix()})", ""]
    if result.examples:
        lines += ["## Examples", ""]
    for index, example in enumerate(result.examples):
        folder = out / "audio" / f"{index:02d}_{safe_name(Path(example.file).stem)}"
        links = []
        for rate, audio in sorted(example.references.items()):
            wav = write_wav(folder / f"reference_{rate}.wav", audio, rate)
            links.append(f"[reference {rate} Hz]({wav.relative_to(out).as_posix()})")
        for name, (rate, audio) in example.decoded.items():
            wav = write_wav(folder / f"{safe_name(name)}.wav", audio, rate)
            links.append(f"[{name}]({wav.relative_to(out).as_posix()})")
        figure = spectrogram_plot(example, out / "plots" / f"spectrogram_{index:02d}.png")
        lines += [f"### {Path(example.file).name}", "", f"![spectrograms]({figure.relative_to(out).as_posix()})", ""]
        lines += ["Audio: " + " · ".join(links), ""]
    lines += ["## Per-file results", ""]
    for system in result.systems:
        lines += [f"### {system.name}", "", per_file_markdown(result, system), ""]
        if system.warnings:
            shown = system.warnings[:20]
            lines += [f"Warnings ({len(system.warnings)}):", ""] + [f"- {w}" for w in shown] + [""]
    report = out / "report.md"
    atomic_write_text(report, "\n".join(lines))
    return report
