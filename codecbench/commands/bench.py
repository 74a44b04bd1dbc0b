"""Benchmark checkpoints and classic codecs on a folder of audio.

Every file under --data (recursive; wav, flac, ogg, ...) is mixed to mono, resampled to each
system's rate and compared at that rate. Checkpoint input is normalised to -16 dBFS RMS (the
training normaliser) before encoding and the original level is restored after decoding, so the
amplitude ratio measures the codec. Baselines (opus:BITRATE, codec2:MODE) need opus-tools (or
ffmpeg) and codec2 installed; missing ones are reported and skipped.

Metrics (--metric, comma-separated; default: all available): snr, si_sdr (dB, higher is better),
amplitude (% of input RMS, ideal 100), mel, stft (DAC-style distances, lower is better),
pesq (wide band, MOS), stoi (0-1), bitrate (nominal and measured kbps), codebook (perplexity
per level over the set), rtf (encode/decode seconds per audio second). The table shows
mean ± 95 % confidence half-width (Student t) over files.

examples:
  codecbench bench --checkpoint runs/dac/last.pt --baseline opus:6000 --baseline codec2:3200 --data dev/
  codecbench bench --checkpoint a.pt --n-q 2,4,8 --data dev/ --max-files 50 --json out.json --report report/
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

DEFAULT_SAMPLE_RATE = 16000


def _comma_list(values: list[str] | None) -> list[str]:
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="CKPT",
        help="codec checkpoint file, or a run directory for its latest checkpoint (repeatable)",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="SPEC",
        help="classic codec: opus:BITRATE (e.g. opus:6000) or codec2:MODE (e.g. codec2:3200); repeatable",
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="folder of audio files (searched recursively)")
    parser.add_argument(
        "--metric", action="append", metavar="LIST", help="comma-separated measures (default: every available one)"
    )
    parser.add_argument("--max-files", type=int, default=None, metavar="N", help="use the first N files (sorted)")
    parser.add_argument(
        "--n-q",
        default=None,
        metavar="K",
        help="codebook levels to decode with (a comma-separated list gives one row per value)",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device for checkpoints")
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=None,
        metavar="HZ",
        help="comparison rate for baselines (default: the checkpoints' rate if they share one, else 16000)",
    )
    parser.add_argument("--json", default=None, metavar="OUT", help="write all results as JSON")
    parser.add_argument(
        "--csv",
        default=None,
        metavar="OUT",
        help="write the summary CSV (and per-file rows to OUT with suffix .files.csv)",
    )
    parser.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="write a Markdown report with plots, spectrograms and decoded audio",
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=3,
        metavar="N",
        help="files with spectrograms and decoded audio in the report (default 3)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="do not warm systems up before timing")


def _n_q_values(text: str | None) -> list[int | None]:
    from codecbench.errors import CodecbenchError

    if text is None:
        return [None]
    try:
        values = [int(v) for v in _comma_list([text])]
    except ValueError:
        raise CodecbenchError(f"--n-q {text!r}: expected an integer or a comma-separated list of integers") from None
    if not values or any(v < 1 for v in values):
        raise CodecbenchError(f"--n-q {text!r}: values must be >= 1")
    return list(dict.fromkeys(values))


def _build_systems(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    import torch

    from codecbench.bench.baselines import make_baseline
    from codecbench.bench.runner import SkippedSystem
    from codecbench.bench.systems import CheckpointSystem, SystemUnavailable
    from codecbench.errors import CodecbenchError

    if args.device == "cuda" and not torch.cuda.is_available():
        raise CodecbenchError("--device cuda: no CUDA device is available here; use --device cpu")
    systems: list[Any] = []
    skipped: list[Any] = []
    stems = [Path(p).stem for p in args.checkpoint]
    for path, stem in zip(args.checkpoint, stems):
        if not Path(path).exists():
            raise FileNotFoundError(f"--checkpoint {path}: no such file")
        label = f"{Path(path).parent.name}/{stem}" if stems.count(stem) > 1 else stem
        try:
            systems += CheckpointSystem.from_checkpoint(path, name=label, n_q=_n_q_values(args.n_q), device=args.device)
        except ValueError as error:
            raise CodecbenchError(str(error)) from error
    rates = {s.sample_rate for s in systems}
    rate = args.sample_rate or (rates.pop() if len(rates) == 1 else DEFAULT_SAMPLE_RATE)
    for spec in args.baseline:
        try:
            systems.append(make_baseline(spec, rate))
        except SystemUnavailable as error:
            skipped.append(SkippedSystem(spec, str(error)))
        except ValueError as error:
            raise CodecbenchError(str(error)) from error
    return systems, skipped


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from codecbench import __version__
    from codecbench.bench.audio import find_audio_files
    from codecbench.bench.columns import plan_measures
    from codecbench.bench.export import write_csv, write_json
    from codecbench.bench.runner import run_benchmark
    from codecbench.bench.tables import rich_table
    from codecbench.errors import CodecbenchError

    console = Console(stderr=True)
    if not args.checkpoint and not args.baseline:
        raise CodecbenchError("nothing to benchmark: give at least one --checkpoint or --baseline")
    if args.max_files is not None and args.max_files < 1:
        raise CodecbenchError(f"--max-files must be >= 1, got {args.max_files}")
    _n_q_values(args.n_q)  # validate early, also when only baselines are given
    try:
        plan = plan_measures(_comma_list(args.metric))
    except ValueError as error:
        raise CodecbenchError(str(error)) from error
    files = find_audio_files(args.data, args.max_files)
    systems, skipped = _build_systems(args)
    for item in skipped:
        console.print(f"[yellow]{item.name}: {item.reason}[/yellow]")
    for note in plan.notes:
        console.print(f"[yellow]{note}[/yellow]")
    if not systems:
        raise CodecbenchError("no system could run (see the messages above)")
    if args.report:
        from codecbench.bench.plots import MissingDependency, pyplot

        try:
            pyplot()
        except MissingDependency as error:
            raise CodecbenchError(str(error)) from error

    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("benchmark", total=len(files) * len(systems))

        def progress(done: int, total: int, text: str) -> None:
            bar.update(task, completed=done, description=text[:60])

        try:
            result = run_benchmark(
                systems,
                files,
                plan,
                skipped=skipped,
                examples=args.examples if args.report else 0,
                root=args.data,
                warmup=not args.no_warmup,
                progress=progress,
            )
        except RuntimeError as error:
            raise CodecbenchError(str(error)) from error
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "codecbench_version": __version__,
        "data": str(args.data),
        "device": args.device,
        "command": ["codecbench", "bench", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else None,
    }
    out = Console() if sys.stdout.isatty() else Console(width=250)  # pipes and logs: no folding
    out.print(rich_table(result))
    for system in result.systems:
        if system.warnings:
            console.print(f"[yellow]{system.name}: {len(system.warnings)} warning(s), first: {system.warnings[0]}")
    if args.json:
        console.print(f"wrote {write_json(args.json, result, meta)}")
    if args.csv:
        summary, per_file = write_csv(args.csv, result)
        console.print(f"wrote {summary} and {per_file}")
    if args.report:
        from codecbench.bench.report import write_report

        console.print(f"wrote {write_report(result, args.report, meta)}")
    return 0
