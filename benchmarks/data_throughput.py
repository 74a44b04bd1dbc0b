"""FolderDataset throughput and memory: 1 s crops at 16 kHz from short and very long files.

Each case runs in its own subprocess so that its peak RSS (own and DataLoader workers') is measured alone.
Prints a table and writes JSON::

    python benchmarks/data_throughput.py                       # -> benchmarks/results/data_throughput.json
    python benchmarks/data_throughput.py --crops 500 --json out.json --long-minutes 60

Target: >= 200x real time per worker, and peak RSS that does not grow with file length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "data_throughput.json"


@dataclass(frozen=True)
class Case:
    """One measurement: a file and a DataLoader worker count."""

    label: str
    path: str
    file_minutes: float
    file_rate: int
    num_workers: int
    crops: int


def write_long_file(path: Path, minutes: float, rate: int, seed: int = 0) -> Path:
    """Noise with a syllable-like envelope, written a minute at a time (never held whole in memory)."""
    rng = np.random.default_rng(seed)
    subtype = "PCM_16"
    with sf.SoundFile(str(path), "w", rate, 1, subtype=subtype) as handle:
        remaining = round(minutes * 60 * rate)
        while remaining > 0:
            frames = min(remaining, 60 * rate)
            envelope = np.repeat(rng.uniform(0.05, 1.0, frames // (rate // 5) + 1), rate // 5)[:frames]
            handle.write((0.1 * rng.standard_normal(frames) * envelope).astype(np.float32))
            remaining -= frames
    return path


def peak_rss_mb(who: int) -> float:
    """Peak resident set size in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(who).ru_maxrss / 1024.0


def run_case(case: Case) -> dict[str, float | int | str]:
    """Measure one case in this process (called in a fresh subprocess)."""
    import torch
    from torch.utils.data import DataLoader

    from codecbench.data import FolderDataset

    torch.set_num_threads(1)
    started = time.perf_counter()
    dataset = FolderDataset(case.path, split="all", crop_seconds=1.0, crops_per_epoch=case.crops, seed=0)
    build_s = time.perf_counter() - started
    loader = DataLoader(dataset, batch_size=16, num_workers=case.num_workers)
    rss_after_build = peak_rss_mb(resource.RUSAGE_SELF)
    iterator = iter(loader)
    first = next(iterator)  # worker start-up and first reads are not throughput
    started = time.perf_counter()
    cpu_started = time.process_time()
    count = 0
    for batch in iterator:
        count += batch.shape[0]
    elapsed = time.perf_counter() - started
    cpu_main = time.process_time() - cpu_started
    del iterator  # joins the workers, so RUSAGE_CHILDREN includes them
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Worker CPU includes their start-up and the first batch, so the CPU-based rate is a slight underestimate.
    cpu_seconds = cpu_main + children.ru_utime + children.ru_stime
    crops_per_s = count / elapsed
    audio_s_per_s = crops_per_s * dataset.crop_seconds
    return {
        "label": case.label,
        "file_minutes": case.file_minutes,
        "file_rate": case.file_rate,
        "num_workers": case.num_workers,
        "crops_timed": count,
        "crop_shape": list(first.shape[1:]),
        "build_seconds": round(build_s, 4),
        "crops_per_second": round(crops_per_s, 1),
        "audio_seconds_per_second": round(audio_s_per_s, 1),
        "realtime_factor_per_worker": round(audio_s_per_s / max(1, case.num_workers), 1),
        "cpu_seconds": round(cpu_seconds, 3),
        "realtime_factor_per_cpu_second": round(count * dataset.crop_seconds / cpu_seconds, 1),
        "peak_rss_main_mb": round(peak_rss_mb(resource.RUSAGE_SELF), 1),
        "peak_rss_main_after_build_mb": round(rss_after_build, 1),
        "peak_rss_workers_mb": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1) if case.num_workers else 0.0,
    }


def measure_in_subprocess(case: Case) -> dict[str, float | int | str]:
    completed = subprocess.run(
        [sys.executable, __file__, "--run-case", json.dumps(asdict(case))],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"output file (default {DEFAULT_JSON})")
    parser.add_argument("--crops", type=int, default=1600, help="crops per case (default 1600)")
    parser.add_argument("--long-minutes", type=float, default=60.0, help="length of the very long file")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader num_workers values")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_case:
        print(json.dumps(run_case(Case(**json.loads(args.run_case)))))
        return 0

    results = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="codecbench_throughput_") as tmp:
        files = []
        for label, minutes, rate, extension in (
            ("10 s wav", 10 / 60, SAMPLE_RATE, "wav"),
            ("10 min wav", 10.0, SAMPLE_RATE, "wav"),
            (f"{args.long_minutes:g} min wav", args.long_minutes, SAMPLE_RATE, "wav"),
            (f"{args.long_minutes:g} min flac", args.long_minutes, SAMPLE_RATE, "flac"),
            ("10 min flac 44.1k", 10.0, 44100, "flac"),
        ):
            started = time.perf_counter()
            path = write_long_file(Path(tmp) / f"{label.replace(' ', '_')}.{extension}", minutes, rate)
            size_mb = path.stat().st_size / 1e6
            print(f"wrote {label}: {size_mb:.0f} MB in {time.perf_counter() - started:.1f} s", flush=True)
            files.append((label, path, minutes, rate))
        print(
            f"\n{'file':>18} {'workers':>7} {'crops/s':>9} {'audio s/s':>10} {'xRT/worker':>10} {'xRT/CPU-s':>9} "
            f"{'RSS main MB':>11} {'RSS worker MB':>13}"
        )
        for label, path, minutes, rate in files:
            for workers in args.workers:
                case = Case(label, str(path), minutes, rate, workers, args.crops)
                result = measure_in_subprocess(case)
                results.append(result)
                print(
                    f"{label:>18} {workers:>7} {result['crops_per_second']:>9} "
                    f"{result['audio_seconds_per_second']:>10} "
                    f"{result['realtime_factor_per_worker']:>10} {result['realtime_factor_per_cpu_second']:>9} "
                    f"{result['peak_rss_main_mb']:>11} "
                    f"{result['peak_rss_workers_mb']:>13}",
                    flush=True,
                )
    report = {
        "benchmark": "data_throughput",
        "crop_seconds": 1.0,
        "sample_rate": SAMPLE_RATE,
        "batch_size": 16,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine: other jobs ran at the same time; wall-clock rates are lower bounds, "
            "realtime_factor_per_cpu_second is less sensitive to contention",
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
