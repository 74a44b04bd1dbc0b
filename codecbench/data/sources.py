"""Find audio files: recursive folder scans and manifest files (TSV/CSV/TXT lists of paths)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codecbench.audio.io import AUDIO_EXTENSIONS, is_audio_file

MANIFEST_EXTENSIONS = (".tsv", ".csv", ".txt")
PATH_COLUMNS = ("path", "file", "filename", "file_name", "filepath", "audio", "audio_path", "audio_filepath")


class NoAudioFoundError(FileNotFoundError):
    """A folder or manifest yielded no audio files; the message says where and what was looked for."""


@dataclass(frozen=True)
class SourceFile:
    """An audio file and the stable key (path relative to its folder or manifest) used for splitting."""

    path: Path
    key: str


def _looked_for() -> str:
    return ", ".join(AUDIO_EXTENSIONS)


def scan_folder(root: Path) -> list[SourceFile]:
    """All audio files below ``root`` (recursive, sorted, hidden files and folders skipped)."""
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    found: list[SourceFile] = []
    others: list[str] = []
    for folder, subfolders, names in os.walk(root, followlinks=True):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if is_audio_file(path):
                found.append(SourceFile(path=path, key=path.relative_to(root).as_posix()))
            else:
                others.append(path.relative_to(root).as_posix())
    if not found and not others:
        raise NoAudioFoundError(f"folder {root} is empty: put audio files ({_looked_for()}) in it or below it")
    if not found:
        examples = ", ".join(others[:5])
        raise NoAudioFoundError(
            f"no audio files found under {root} (looked for {_looked_for()}); "
            f"it holds {len(others)} other file(s), e.g. {examples}"
        )
    return found


def _manifest_rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        if suffix == ".tsv":
            rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
        else:
            rows = list(csv.reader(text.splitlines()))
        return [row for row in rows if row and any(cell.strip() for cell in row) and not row[0].startswith("#")]
    lines = (line.strip() for line in text.splitlines())
    return [[line] for line in lines if line and not line.startswith("#")]


def _path_column(rows: Sequence[Sequence[str]], manifest: Path) -> tuple[int, int]:
    """(column index, first data row) from the header, if any."""
    header = [cell.strip().lower() for cell in rows[0]]
    for name in PATH_COLUMNS:
        if name in header:
            return header.index(name), 1
    if is_audio_file(rows[0][0].strip()) or manifest.suffix.lower() == ".txt":
        return 0, 0
    return 0, 1  # unnamed header row: paths in the first column


def read_manifest(manifest: Path) -> list[SourceFile]:
    """Paths listed in a manifest, resolved relative to the manifest's folder.

    TSV/CSV: the column named one of ``PATH_COLUMNS`` (else the first column; a first row that is not an audio
    path is taken as a header). TXT: one path per line. Blank lines and lines starting with ``#`` are ignored.
    Files that do not exist are returned too; the dataset reports them as unreadable.
    """
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest not found: {manifest}")
    if manifest.suffix.lower() not in MANIFEST_EXTENSIONS:
        raise ValueError(f"manifest {manifest} must end in one of {', '.join(MANIFEST_EXTENSIONS)}")
    rows = _manifest_rows(manifest)
    if not rows:
        raise NoAudioFoundError(f"manifest {manifest} is empty: list one audio path per line/row")
    column, first = _path_column(rows, manifest)
    base = manifest.parent
    found: list[SourceFile] = []
    for number, row in enumerate(rows[first:], start=first + 1):
        if column >= len(row) or not row[column].strip():
            raise ValueError(f"manifest {manifest}, row {number}: no path in column {column} ({row!r})")
        listed = Path(row[column].strip())
        path = listed if listed.is_absolute() else base / listed
        found.append(SourceFile(path=path, key=listed.as_posix()))
    if not found:
        raise NoAudioFoundError(f"manifest {manifest} lists no audio paths (only a header row)")
    return found


def collect_sources(paths: Iterable[Path], manifest: Path | None = None) -> list[SourceFile]:
    """Files from folders (scanned), manifests (.tsv/.csv/.txt) and single audio files, de-duplicated in order."""
    collected: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            collected.extend(scan_folder(path))
        elif path.is_file() and path.suffix.lower() in MANIFEST_EXTENSIONS:
            collected.extend(read_manifest(path))
        elif path.is_file():
            collected.append(SourceFile(path=path, key=path.name))
        else:
            raise FileNotFoundError(f"dataset path does not exist: {path}")
    if manifest is not None:
        collected.extend(read_manifest(manifest))
    unique: dict[Path, SourceFile] = {}
    for source in collected:
        unique.setdefault(source.path.absolute(), source)
    return list(unique.values())
