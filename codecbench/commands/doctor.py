"""Diagnose a live or finished training run from its metrics.jsonl.

examples:
  codecbench doctor runs/dac                       # monitor timeline + diagnoses
  codecbench doctor runs/dac --plot runs/dac/doctor.png
  codecbench doctor runs/dac --follow              # keep reading a live run; Ctrl-C to stop
  codecbench doctor runs/dac --threshold amplitude_pct=40 --all

Diagnoses are recomputed from the records, so runs trained without the doctor callback work too.
Exit status: 0 when no diagnosis is active at the last record, 1 when one is, 2 on errors.
See docs/doctor.md for every diagnosis, what it means, what to do and its thresholds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codecbench.errors import CodecbenchError

if TYPE_CHECKING:
    from codecbench.training.doctor import Doctor
    from codecbench.training.doctor_report import MetricsTail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory (or its metrics.jsonl)")
    parser.add_argument("--plot", metavar="OUT.png", help="also write a multi-panel plot of the monitors")
    parser.add_argument("--all", action="store_true", help="show every logged quantity, not only the main monitors")
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a rule threshold, e.g. amplitude_pct=40 (repeatable; see docs/doctor.md)",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep reading a live run and print diagnoses as they fire or clear (Ctrl-C stops)",
    )
    parser.add_argument("--interval", type=float, default=5.0, metavar="S", help="seconds between reads (--follow)")
    parser.add_argument("--max-polls", type=int, default=None, help=argparse.SUPPRESS)


def _thresholds(pairs: list[str]) -> dict[str, float]:
    overrides: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            overrides[name.strip()] = float(value)
        except ValueError as error:
            raise CodecbenchError(f"--threshold {pair!r}: expected NAME=NUMBER, e.g. amplitude_pct=40") from error
    return overrides


def _metrics_path(run_dir: str) -> Path:
    target = Path(run_dir).expanduser()
    if target.is_dir():
        target = target / "metrics.jsonl"
    if not target.exists():
        raise CodecbenchError(
            f"{target} does not exist: give a run directory written by 'codecbench train' "
            "(it holds metrics.jsonl) or the path of a metrics.jsonl"
        )
    return target


def run(args: argparse.Namespace) -> int:
    from codecbench.training.doctor import Doctor, Thresholds
    from codecbench.training.doctor_report import MetricsTail, plot_run, render_report

    path = _metrics_path(args.run_dir)
    try:
        thresholds = Thresholds.with_overrides(_thresholds(args.threshold))
    except ValueError as error:
        raise CodecbenchError(str(error)) from error
    doctor = Doctor(thresholds)
    tail = MetricsTail(path)
    rows = tail.read()
    for row in rows:
        doctor.observe(row)
    print(render_report(str(path.parent), rows, doctor, show_all=args.all), flush=True)
    if args.follow:
        rows += _follow(tail, doctor, args.interval, args.max_polls)
    if args.plot:
        written = plot_run(rows, doctor, args.plot, title=str(path.parent))
        print(f"plot written to {written}")
    if tail.bad_lines:
        print(f"note: skipped {tail.bad_lines} unreadable line(s) of {path}")
    return 1 if doctor.active else 0


def _follow(tail: MetricsTail, doctor: Doctor, interval: float, max_polls: int | None) -> list[dict[str, Any]]:
    """Poll the file and print diagnoses as they fire or clear; returns the rows read."""
    from codecbench.training.doctor_callback import format_diagnosis

    rows: list[dict[str, Any]] = []
    polls = 0
    print(f"following (every {interval:g} s; Ctrl-C to stop)", flush=True)
    try:
        while max_polls is None or polls < max_polls:
            time.sleep(interval)
            polls += 1
            for row in tail.read():
                rows.append(row)
                result = doctor.observe(row)
                if result is None:
                    continue
                for diagnosis in result.fired:
                    print(format_diagnosis(diagnosis, result.step, fired=True), flush=True)
                for diagnosis in result.cleared:
                    print(format_diagnosis(diagnosis, result.step, fired=False), flush=True)
    except KeyboardInterrupt:
        print("stopped following", flush=True)
    return rows
