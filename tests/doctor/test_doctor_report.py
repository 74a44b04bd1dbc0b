"""The doctor report: incremental metrics.jsonl reading, sparkline table, diagnoses, CLI and plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from codecbench.cli import main
from codecbench.training.callbacks import StepRecord
from codecbench.training.doctor import diagnose
from codecbench.training.doctor_report import MetricsTail, collect_series, monitor_table, render_report, sparkline


def write_run(folder: Path, collapse: bool, partial: bool = False) -> Path:
    """A metrics.jsonl of a run whose quantizer penalty dominates (or not), as the trainer writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for step in range(10, 201, 10):
        lines.append({"step": step, "kind": "train", "loss/l1": 1.0 / step, "grad_norm/generator": 2.0})
        if step % 20 == 0:
            share = 0.95 if collapse and step >= 60 else 0.1
            lines.append({"step": step, "kind": "monitor", "amplitude_pct": 50.0 + step / 10, "snr_db": None if
                          step == 40 and collapse else 1.0, "encoder/penalty_share": share})  # fmt: skip
    text = "".join(json.dumps(row) + "\n" for row in lines)
    if partial:
        text += '{"step": 210, "kind": "tra'
    (folder / "metrics.jsonl").write_text(text)
    return folder


def test_tail_reads_complete_lines_only_and_continues(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.read() == []  # not there yet
    path.write_text('{"step": 1, "kind": "train", "loss/l1": 1.0}\n{"step": 2, "kind": "tr')
    assert [row["step"] for row in tail.read()] == [1]
    assert tail.read() == []
    with path.open("a") as handle:
        handle.write('ain", "loss/l1": 0.5}\n{"step": 3, "kind": "train"}\n')
    assert [row["step"] for row in tail.read()] == [2, 3]
    with path.open("a") as handle:
        handle.write('{"step": 4, "ki\n{"step": 5, "kind": "train"}\n')  # a line cut by a crash
    assert [row["step"] for row in tail.read()] == [5] and tail.bad_lines == 1


def test_sparkline_and_table() -> None:
    assert sparkline([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0, math.nan, 1.0]) == "▅!▅"
    assert len(sparkline(list(range(100)))) == 24
    records = [StepRecord(s, "monitor", {"snr_db": float(s)}) for s in (10, 20, 30)]
    table = monitor_table(collect_series(records))
    row = next(line for line in table.splitlines() if line.startswith("snr_db"))
    assert row.split()[:6] == ["snr_db", "10-30", "10", "10", "30", "30"]


def test_report_recomputes_diagnoses_and_lists_logged_ones(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", collapse=True)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows.append({"step": 100, "kind": "diagnosis", "vq_penalty_dominating": 1.0, "vq_penalty_dominating/fatal": 0.0})
    doctor = diagnose(rows)
    text = render_report("run", rows, doctor)
    assert "amplitude_pct" in text and "encoder/penalty_share" in text
    assert "fired    vq_penalty_dominating (warning)" in text
    assert "non_finite" in text  # the null snr_db at step 40
    assert "Logged live by the doctor callback" in text and "what to do:" in text


def test_cli_exit_status_follow_partial_line_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    healthy = write_run(tmp_path / "healthy", collapse=False, partial=True)
    assert main(["doctor", str(healthy)]) == 0
    out = capsys.readouterr().out
    assert "none: no rule fired" in out and "20 train" in out
    broken = write_run(tmp_path / "broken", collapse=True)
    assert main(["doctor", str(broken / "metrics.jsonl"), "--follow", "--interval", "0", "--max-polls", "1"]) == 1
    assert "vq_penalty_dominating" in capsys.readouterr().out
    assert main(["doctor", str(broken), "--threshold", "penalty_share=0.99"]) == 0
    assert main(["doctor", str(broken), "--threshold", "nope=1"]) == 2
    assert "unknown doctor threshold" in capsys.readouterr().err
    assert main(["doctor", str(tmp_path / "missing")]) == 2


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run = write_run(tmp_path / "run", collapse=True)
    assert main(["doctor", str(run), "--plot", str(tmp_path / "out" / "doctor.png")]) == 1
    png = (tmp_path / "out" / "doctor.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
