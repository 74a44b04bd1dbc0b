"""PNG figures for the report (matplotlib, Agg backend, imported only when a report is written)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from codecbench.bench.runner import BenchResult, Example

QUALITY_KEYS: tuple[str, ...] = ("si_sdr", "mel", "pesq", "stoi")


class MissingDependency(RuntimeError):
    """An optional package needed for this output is not installed."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, or a clear error if matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise MissingDependency(
            "--report needs matplotlib for its plots: pip install matplotlib (or pip install 'codecbench[dev]')"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _group(description: dict[str, Any], name: str) -> str:
    """Points of the same codec (a checkpoint at several n_q, opus at several bitrates) share a line."""
    if "checkpoint" in description:
        return str(description["checkpoint"])
    return str(description.get("kind", name))


def bitrate_quality_plot(result: BenchResult, path: Path) -> Path | None:
    """Quality (SI-SDR, mel, PESQ, STOI: those measured) against bitrate, one point per system with its 95 % CI.

    The x axis is the measured bitrate where every system has one, else the nominal bitrate.
    Returns None when there is no bitrate or quality column to plot.
    """
    keys = {c.key for c in result.columns}
    quality = [c for c in result.columns if c.key in QUALITY_KEYS]
    if not quality or "kbps" not in keys or not result.systems:
        return None
    measured = "kbps_measured" in keys and all(math.isfinite(s.summary["kbps_measured"].mean) for s in result.systems)
    x_key = "kbps_measured" if measured else "kbps"
    plt = pyplot()
    fig, axes = plt.subplots(1, len(quality), figsize=(4.2 * len(quality), 3.6), squeeze=False)
    groups: dict[str, list[int]] = {}
    for index, system in enumerate(result.systems):
        groups.setdefault(_group(system.description, system.name), []).append(index)
    for ax, column in zip(axes[0], quality):
        for members in groups.values():
            points = []
            for index in members:
                system = result.systems[index]
                x, y = system.summary[x_key].mean, system.summary[column.key]
                if math.isfinite(x) and math.isfinite(y.mean):
                    points.append((x, y.mean, 0.0 if math.isnan(y.half_width) else y.half_width, system.name))
            points.sort()
            if not points:
                continue
            xs, ys, errs, names = zip(*points)
            line = ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, linestyle="-" if len(xs) > 1 else "none")
            for x, y, name in zip(xs, ys, names):
                ax.annotate(
                    name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=line[0].get_color()
                )
        ax.set_xlabel(f"{'measured' if measured else 'nominal'} bitrate (kbps)")
        ax.set_ylabel(column.header)
        ax.grid(True, alpha=0.3)
    fig.suptitle("Quality versus bitrate (mean ± 95% CI)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def log_spectrogram(audio: np.ndarray, sample_rate: int, window_seconds: float = 0.032) -> np.ndarray:
    """Power spectrogram in dB [freq, frames] with a Hann window of ~32 ms and 75 % overlap."""
    n_fft = 1 << max(6, round(math.log2(window_seconds * sample_rate)))
    hop = n_fft // 4
    padded = np.pad(np.asarray(audio, dtype=np.float64), (n_fft // 2, n_fft // 2))
    if padded.size < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.size))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=-1)) ** 2
    return 10.0 * np.log10(np.maximum(spec.T, 1e-12))


def spectrogram_plot(example: Example, path: Path, dynamic_range_db: float = 80.0) -> Path:
    """Reference (at the highest system rate) above each system's decoded audio, on one colour scale."""
    plt = pyplot()
    ref_rate = max(example.references)
    panels = [("reference", ref_rate, example.references[ref_rate])]
    panels += [(name, rate, audio) for name, (rate, audio) in example.decoded.items()]
    specs = [log_spectrogram(audio, rate) for _, rate, audio in panels]
    top = max(float(s.max()) for s in specs)
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 1.9 * len(panels)), squeeze=False, sharex=True)
    for ax, (name, rate, audio), spec in zip(axes[:, 0], panels, specs):
        extent = (0.0, audio.size / rate, 0.0, rate / 2000.0)
        image = ax.imshow(
            spec, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=top - dynamic_range_db, vmax=top
        )
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="dB", shrink=0.8)
    fig.suptitle(Path(example.file).name, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
