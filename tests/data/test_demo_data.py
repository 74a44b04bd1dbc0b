"""The bundled demo speech: present, as documented, small, and listed in its manifest."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from codecbench.audio.io import audio_info
from codecbench.audio.loudness import rms_db
from codecbench.data import FolderDataset, demo_data_dir


def manifest_rows() -> list[dict[str, str]]:
    with open(demo_data_dir() / "manifest.tsv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_manifest_lists_exactly_the_shipped_files() -> None:
    rows = manifest_rows()
    assert {"file", "language", "voice", "text"} <= set(rows[0])
    assert sorted(row["file"] for row in rows) == sorted(p.name for p in demo_data_dir().glob("*.flac"))
    assert {row["language"] for row in rows} == {"te", "en"}
    telugu = [row["text"] for row in rows if row["language"] == "te"]
    assert all(any("\u0c00" <= ch <= "\u0c7f" for ch in text) for text in telugu)  # Telugu script
    assert len({row["text"] for row in rows}) == len(rows)  # all different
    assert len({row["voice"] for row in rows}) >= 8


def test_files_are_16k_mono_flac_of_the_documented_size() -> None:
    files = sorted(demo_data_dir().glob("*.flac"))
    infos = [audio_info(path) for path in files]
    assert 20 <= len(files) <= 45
    assert all(i.sample_rate == 16000 and i.channels == 1 and i.format == "FLAC" for i in infos)
    total_seconds = sum(i.duration for i in infos)
    assert 180.0 <= total_seconds <= 360.0
    assert max(i.duration for i in infos) >= 60.0  # a long file for long-file crops
    assert sum(path.stat().st_size for path in files) < 4_200_000
    durations = {row["file"]: float(row["seconds"]) for row in manifest_rows()}
    for info in infos:
        assert durations[info.path.name] == pytest.approx(info.duration, abs=0.01)


def test_levels_are_minus_16_dbfs_rms_or_peak_guarded() -> None:
    for path in sorted(demo_data_dir().glob("*.flac"))[:10]:
        audio, _ = sf.read(str(path), dtype="float32")
        level = rms_db(audio)
        assert -21.0 < level < -15.99
        if level < -16.05:  # the clipping guard stopped the gain at full scale
            assert np.abs(audio).max() > 0.99


def test_demo_dataset_splits_both_ways() -> None:
    train = FolderDataset(split="train", crops_per_epoch=3)
    validation = FolderDataset(split="validation", crops_per_epoch=3)
    assert validation.files and train.files
    assert not {f.key for f in train.files} & {f.key for f in validation.files}
