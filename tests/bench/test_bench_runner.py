"""The runner with scripted systems: same-rate comparison, measures, summaries, exports and the report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from bench_doubles import FrameMeanCodec, ScaledSystem, write_signals

from codecbench.bench.columns import plan_measures
from codecbench.bench.export import files_csv_path, write_csv, write_json
from codecbench.bench.runner import SkippedSystem, run_benchmark
from codecbench.bench.systems import CheckpointSystem
from codecbench.bench.tables import format_summary, rich_table, summary_markdown
from codecbench.metrics import MAX_DB, perceptual

CHEAP = ["snr", "si_sdr", "amplitude", "mel", "bitrate", "codebook", "rtf"]


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    return write_signals(tmp_path / "data", rates=(16000, 22050, 16000), seconds=0.5)


def test_files_are_compared_at_each_system_rate(files: list[Path], tmp_path: Path) -> None:
    identity8k = ScaledSystem("identity@8k", 8000)
    half16k = ScaledSystem("half@16k", 16000, gain=0.5, bps=2000.0)
    result = run_benchmark([identity8k, half16k], files, plan_measures(CHEAP), warmup=False, root=tmp_path / "data")
    assert result.files == ["sig_00.wav", "sig_01.wav", "sig_02.wav"]
    assert identity8k.calls == [4000, 4000, 4000]  # 0.5 s at 8 kHz, whatever the file rate (16k, 22.05k)
    ident, half = result.systems
    # An identity system scores the cap: the reference was resampled to the system's rate, not the file's.
    assert all(row.values["snr"] == MAX_DB for row in ident.rows)
    assert half.summary["amplitude"].mean == pytest.approx(50.0)
    assert half.summary["snr"].mean == pytest.approx(10 * math.log10(4))
    assert half.summary["si_sdr"].mean == MAX_DB
    assert ident.summary["mel"].mean == 0.0
    assert 0.5 < half.summary["mel"].mean <= 7 * math.log10(2) + 1e-6  # bands below the clamp do not count
    assert half.summary["kbps"].mean == pytest.approx(2.0) and half.summary["kbps"].half_width == 0.0
    assert half.summary["kbps_measured"].mean == pytest.approx(4.0)
    assert half.summary["rtf_encode"].mean == pytest.approx(0.1) and half.summary["rtf_decode"].mean == pytest.approx(
        0.05
    )
    assert half.codebook.perplexity == [pytest.approx(4.0)] and half.codebook.used_fraction == [0.25]
    assert half.set_values["perplexity"] == pytest.approx(4.0)
    assert half.codebook.frames == 300


def test_checkpoint_system_end_to_end_with_codec_double(files: list[Path]) -> None:
    systems = [CheckpointSystem(FrameMeanCodec(output_gain=g), f"double{g}", 8000) for g in (1.0, 0.9)]
    result = run_benchmark(systems, files[:2], plan_measures(["amplitude", "snr", "bitrate", "codebook"]))
    full, summary = result.systems[0].summary, result.systems[1].summary
    assert 80.0 < full["amplitude"].mean < 100.0  # 4-sample frame means lose the upper harmonics
    assert summary["amplitude"].mean == pytest.approx(0.9 * full["amplitude"].mean, rel=1e-4)
    assert summary["kbps"].mean == pytest.approx(16.0)
    assert summary["kbps_measured"].mean > 16.0  # header and checksum on top of the packed codes
    usage = result.systems[1].codebook
    assert usage.sizes == [16, 16] and all(1.0 < p <= 16.0 for p in usage.perplexity)


def test_unavailable_metric_is_a_note_not_a_column(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(perceptual, "package_available", lambda module: module != "pesq")
    plan = plan_measures(None)
    keys = [c.key for c in plan.columns]
    assert "pesq" not in keys and "stoi" in keys and keys[:3] == ["snr", "si_sdr", "amplitude"]
    assert any("pip install pesq" in note for note in plan.notes)
    with pytest.raises(ValueError, match="unknown name"):
        plan_measures(["snr", "nope"])


def test_exports_and_tables(files: list[Path], tmp_path: Path) -> None:
    systems = [ScaledSystem("a", 16000, gain=0.9), ScaledSystem("b", 8000, gain=0.7)]
    skipped = [SkippedSystem("codec2:3200", "codec2 baseline skipped: c2enc not found")]
    result = run_benchmark(systems, files, plan_measures(["snr", "amplitude", "bitrate"]), skipped=skipped)
    data = json.loads(write_json(tmp_path / "out.json", result, {"data": "x"}).read_text())
    assert [s["name"] for s in data["systems"]] == ["a", "b"] and data["skipped"][0]["name"] == "codec2:3200"
    assert data["systems"][1]["summary"]["amplitude"]["mean"] == pytest.approx(70.0)
    assert {c["key"]: c["unit"] for c in data["columns"]}["snr"] == "dB"
    assert len(data["systems"][0]["files"]) == 3
    summary_path, files_path = write_csv(tmp_path / "out.csv", result)
    assert files_path == files_csv_path(tmp_path / "out.csv") == tmp_path / "out.files.csv"
    rows = list(csv.DictReader(summary_path.open()))
    assert [r["system"] for r in rows] == ["a", "b", "codec2:3200"]
    assert float(rows[0]["amplitude_mean"]) == pytest.approx(90.0) and rows[2]["skipped"].startswith("codec2")
    assert len(list(csv.DictReader(files_path.open()))) == 6
    markdown = summary_markdown(result)
    assert "SNR (dB) ↑" in markdown and "amplitude (%) →100" in markdown and "codec2:3200 (skipped)" in markdown
    assert rich_table(result).row_count == 3


def test_format_summary() -> None:
    from codecbench.bench.stats import summarize

    assert format_summary(summarize([1.0, 2.0, 3.0])) == "2.00 ± 2.48"
    assert format_summary(summarize([100.0, 120.0, math.nan])).endswith("(1 NaN)")
    assert format_summary(summarize([0.9501, 0.9502])).startswith("0.950 ± ")


def test_report_has_table_plots_and_audio(files: list[Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from codecbench.bench.report import write_report

    systems = [ScaledSystem("a", 16000, gain=0.9, bps=6000), ScaledSystem("b", 8000, gain=0.5, bps=1500)]
    result = run_benchmark(
        systems, files, plan_measures(["snr", "si_sdr", "mel", "bitrate"]), examples=2, root=tmp_path / "data"
    )
    report = write_report(result, tmp_path / "report", {"data": "x"})
    text = report.read_text()
    assert "| a | 16000 | 3 |" in text and "plots/bitrate_quality.png" in text and "plots/spectrogram_01.png" in text
    out = tmp_path / "report"
    for name in ("bitrate_quality.png", "spectrogram_00.png", "spectrogram_01.png"):
        assert (out / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    wavs = sorted(p.relative_to(out).as_posix() for p in (out / "audio").rglob("*.wav"))
    assert wavs == [
        "audio/00_sig_00/a.wav",
        "audio/00_sig_00/b.wav",
        "audio/00_sig_00/reference_16000.wav",
        "audio/00_sig_00/reference_8000.wav",
        "audio/01_sig_01/a.wav",
        "audio/01_sig_01/b.wav",
        "audio/01_sig_01/reference_16000.wav",
        "audio/01_sig_01/reference_8000.wav",
    ]
    import soundfile as sf

    decoded, rate = sf.read(out / "audio/01_sig_01/b.wav")
    reference, _ = sf.read(out / "audio/01_sig_01/reference_8000.wav")
    assert rate == 8000 and np.allclose(decoded, 0.5 * reference, atol=1e-6)
    assert (out / "results.json").exists() and (out / "results.csv").exists()
