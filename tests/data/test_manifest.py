"""Manifest files (TSV/CSV/TXT, paths relative to the manifest) and the path-hash split."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecbench.data import FolderDataset, NoAudioFoundError, read_manifest
from codecbench.data.split import select_split, split_value


@pytest.fixture
def corpus(make_audio, tmp_path: Path) -> Path:
    for i in range(4):
        make_audio(f"audio/clip{i}.wav", 1.5, seed=i)
    make_audio("audio/sub/deep.flac", 1.5, seed=9)
    return tmp_path


def test_tsv_with_header_and_extra_columns(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "lists" / "train.tsv"
    manifest.parent.mkdir()
    manifest.write_text(
        "language\tpath\ttext\n"
        'te\t../audio/clip0.wav\tనమస్కారం "quoted"\n'
        "en\t../audio/sub/deep.flac\thello\n"
        "# a comment row\n"
        "\n",
        encoding="utf-8",
    )
    sources = read_manifest(manifest)
    assert [s.key for s in sources] == ["../audio/clip0.wav", "../audio/sub/deep.flac"]
    assert all(s.path.is_file() for s in sources)
    dataset = FolderDataset(manifest=manifest, split="all", crops_per_epoch=4)
    assert {f.path.name for f in dataset.files} == {"clip0.wav", "deep.flac"}


def test_csv_headerless_txt_and_absolute_paths(corpus: Path, tmp_path: Path) -> None:
    csv_manifest = tmp_path / "list.csv"
    csv_manifest.write_text("audio/clip1.wav,1.5\naudio/clip2.wav,1.5\n")
    assert [s.path.name for s in read_manifest(csv_manifest)] == ["clip1.wav", "clip2.wav"]
    txt = tmp_path / "list.txt"
    txt.write_text(f"# files\naudio/clip3.wav\n{(corpus / 'audio' / 'clip0.wav').resolve()}\n")
    assert [s.path.name for s in read_manifest(txt)] == ["clip3.wav", "clip0.wav"]
    # Manifests may also be given among `paths`, mixed with folders; duplicates are dropped.
    dataset = FolderDataset([txt, corpus / "audio"], split="all", crops_per_epoch=2)
    assert len(dataset.files) == 5


def test_missing_entries_are_counted_and_bad_manifests_explained(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.txt"
    manifest.write_text("audio/clip0.wav\naudio/gone.wav\n")
    with pytest.warns(RuntimeWarning, match=r"gone\.wav"):
        dataset = FolderDataset(manifest=manifest, split="all", crops_per_epoch=2)
    assert dataset.num_unreadable == 1 and len(dataset.files) == 1
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")
    with pytest.raises(NoAudioFoundError, match="empty"):
        read_manifest(empty)
    header_only = tmp_path / "header.tsv"
    header_only.write_text("path\ttext\n")
    with pytest.raises(NoAudioFoundError, match="header"):
        read_manifest(header_only)
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        read_manifest(tmp_path / "absent.tsv")
    with pytest.raises(ValueError, match="must end in"):
        read_manifest(corpus / "audio" / "clip0.wav")


def test_split_hash_is_stable_and_uniform() -> None:
    assert split_value("spk1/utt3.flac") == split_value("spk1/utt3.flac")
    # A pinned value guards against accidental changes that would move files between splits.
    assert split_value("a.wav") == pytest.approx(0.73512, abs=1e-5)
    keys = [f"speaker{i // 10}/utt{i}.flac" for i in range(2000)]
    fraction = len(select_split(keys, "validation", 0.1)) / len(keys)
    assert fraction == pytest.approx(0.1, abs=0.02)
    train = set(select_split(keys, "train", 0.1))
    assert not train & set(select_split(keys, "validation", 0.1))
    assert len(train) + len(select_split(keys, "validation", 0.1)) == len(keys)
    assert select_split(keys[:3], "all", 0.1) == [0, 1, 2]
    with pytest.raises(ValueError, match="validation_fraction"):
        select_split(keys, "train", 1.0)
