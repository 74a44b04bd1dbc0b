"""``codecbench bench`` in-process: arguments, outputs, skipped baselines and error messages."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from bench_doubles import write_signals

from codecbench.bench import baselines
from codecbench.cli import main

HAVE_OPUS = shutil.which("opusenc") is not None and shutil.which("opusdec") is not None
HAVE_CODEC2 = shutil.which("c2enc") is not None and shutil.which("c2dec") is not None


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    write_signals(tmp_path / "data", rates=(16000, 48000, 22050), seconds=0.6)
    return tmp_path / "data"


@pytest.mark.skipif(not (HAVE_OPUS and HAVE_CODEC2), reason="opus-tools and codec2 not installed")
def test_bench_baselines_writes_json_and_csv(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "bench",
            "--baseline",
            "opus:6000",
            "--baseline",
            "codec2:3200",
            "--data",
            str(data),
            "--metric",
            "snr,amplitude",
            "--metric",
            "bitrate",
            "--max-files",
            "2",
            "--json",
            str(tmp_path / "r.json"),
            "--csv",
            str(tmp_path / "r.csv"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "opus@6k" in out and "codec2@3200" in out and "SNR" in out and "(dB) ↑" in out
    result = json.loads((tmp_path / "r.json").read_text())
    assert [s["name"] for s in result["systems"]] == ["opus@6k", "codec2@3200"]
    assert result["files"] == ["sig_00.wav", "sig_01.wav"]
    assert [c["key"] for c in result["columns"]] == ["snr", "amplitude", "kbps", "kbps_measured"]
    codec2 = result["systems"][1]["summary"]
    assert codec2["kbps"]["mean"] == 3.2 and codec2["kbps_measured"]["mean"] == pytest.approx(3.2, rel=0.05)
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert rows[0]["system"] == "opus@6k" and float(rows[0]["kbps_mean"]) == 6.0
    assert len(list(csv.DictReader((tmp_path / "r.files.csv").open()))) == 4


def test_missing_tools_skip_rows_with_a_message(data: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(baselines.shutil, "which", lambda name: None)
    code = main(["bench", "--baseline", "opus:6000", "--baseline", "codec2:3200", "--data", str(data)])
    err = capsys.readouterr().err
    assert code == 2
    assert "opus baseline skipped" in err and "codec2 baseline skipped" in err and "no system could run" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--baseline", "opus:6000", "--metric", "snr,wer"], "unknown name(s) wer"),
        (["--baseline", "flac:1"], "expected opus:BITRATE"),
        ([], "nothing to benchmark"),
        (["--checkpoint", "missing.pt"], "missing.pt: no such file"),
        (["--baseline", "opus:6000", "--max-files", "0"], "--max-files must be >= 1"),
        (["--baseline", "opus:6000", "--n-q", "two"], "--n-q 'two'"),
    ],
)
def test_argument_errors(data: Path, capsys, argv: list[str], message: str) -> None:
    assert main(["bench", "--data", str(data), *argv]) == 2
    assert message in capsys.readouterr().err


def test_empty_data_folder(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--baseline", "opus:6000", "--data", str(tmp_path)]) == 2
    assert "no audio files" in capsys.readouterr().err
