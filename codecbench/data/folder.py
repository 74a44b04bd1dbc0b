"""Random fixed-length crops from a folder (or manifest) of audio files, read without loading whole files.

Every item is a pure function of ``(seed, epoch, index)`` and the file list: no global RNG is touched, so the
same crops come out for any ``num_workers``, under ``DistributedSampler`` sharding, and after a resume.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from codecbench.audio.io import AudioInfo, AudioReadError, audio_info, read_span
from codecbench.audio.loudness import (
    DEFAULT_NORMALIZER,
    LoudnessNormalizer,
    apply_gain,
    random_gain_db,
    rms_db,
)
from codecbench.audio.resample import resampled_length
from codecbench.data.base import DATASETS
from codecbench.data.sources import SourceFile, collect_sources
from codecbench.data.split import FIXED_CROP_SPLITS, SPLITS, select_split

SHORT_FILE_POLICIES = ("pad", "skip")
_TRAIN_STREAM, _VALIDATION_STREAM = 0, 1
_MAX_FILE_DRAWS = 1000


@dataclass(frozen=True)
class AudioFile:
    """A probed file: where it is, its split key, and its header facts (cached at construction)."""

    path: Path
    key: str
    info: AudioInfo
    frames_at_rate: int  # length in samples at the dataset's sample rate

    @property
    def duration(self) -> float:
        return self.info.duration


@dataclass(frozen=True)
class SkippedFile:
    """A file left out, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Crop:
    """One drawn crop and where it came from."""

    audio: np.ndarray  # float32 [samples], normalised
    path: Path
    start: int  # first sample, at the dataset's sample rate
    rms_db: float  # level before normalisation
    gain_db: float  # gain applied by the normaliser (plus augmentation)
    tries: int  # draws needed to find a crop above min_rms_db (or the retry bound)


def demo_data_dir() -> Path:
    """Folder of the bundled Telugu/English demo speech (16 kHz mono FLAC plus ``manifest.tsv``)."""
    return Path(__file__).resolve().parent / "demo"


def _as_path_list(paths: Sequence[str | Path] | str | Path | None, manifest: str | Path | None) -> list[Path]:
    if paths is None:
        return [demo_data_dir()] if manifest is None else []
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(path) for path in paths]


@DATASETS.register("folder")
class FolderDataset(Dataset):
    """Random fixed-length crops from a folder or manifest of audio files (partial reads, seeded per item).

    ``paths`` are folders (scanned recursively), manifests (.tsv/.csv/.txt, paths relative to the manifest)
    or audio files; ``None`` (and no ``manifest``) means the bundled demo data. Headers are read once here;
    unreadable files are warned about, skipped and counted (``num_unreadable``). Files are split
    train/validation by a hash of their relative path. Train crops pick a file with probability proportional
    to its duration; validation crops visit files round-robin and depend neither on the epoch nor on gain
    augmentation. Crops quieter than ``min_rms_db`` are re-drawn up to ``silence_retries`` times.
    Items: float32 tensors [1, crop samples], normalised by ``normalize`` (``None``: left as read).

    Call ``set_epoch(e)`` each epoch (like ``DistributedSampler.set_epoch``); it also reaches persistent
    DataLoader workers, because the epoch lives in shared memory. Files that fail while training are warned
    about once and avoided; that count is per process (each DataLoader worker keeps its own).
    """

    def __init__(
        self,
        paths: Sequence[str | Path] | str | Path | None = None,
        manifest: str | Path | None = None,
        sample_rate: int = 16000,
        crop_seconds: float = 1.0,
        crops_per_epoch: int = 1000,
        split: str = "train",
        validation_fraction: float = 0.1,
        seed: int = 0,
        normalize: LoudnessNormalizer | None = DEFAULT_NORMALIZER,
        gain_augmentation_db: float = 0.0,
        short_files: str = "pad",
        min_rms_db: float = -60.0,
        silence_retries: int = 10,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if crop_seconds <= 0:
            raise ValueError(f"crop_seconds must be positive, got {crop_seconds}")
        if crops_per_epoch <= 0:
            raise ValueError(f"crops_per_epoch must be positive, got {crops_per_epoch}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if short_files not in SHORT_FILE_POLICIES:
            raise ValueError(f"short_files must be one of {SHORT_FILE_POLICIES}, got {short_files!r}")
        if gain_augmentation_db < 0:
            raise ValueError(f"gain_augmentation_db must be >= 0, got {gain_augmentation_db}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if silence_retries < 0:
            raise ValueError(f"silence_retries must be >= 0, got {silence_retries}")
        self.sample_rate = int(sample_rate)
        self.crop_frames = round(crop_seconds * sample_rate)
        if self.crop_frames < 1:
            raise ValueError(f"crop of {crop_seconds} s at {sample_rate} Hz has no samples")
        self.crops_per_epoch = int(crops_per_epoch)
        self.split = split
        self.validation_fraction = float(validation_fraction)
        self.seed = int(seed)
        self.normalize = normalize
        self.gain_augmentation_db = float(gain_augmentation_db)
        self.short_files = short_files
        self.min_rms_db = float(min_rms_db)
        self.silence_retries = int(silence_retries)
        self.unreadable: list[SkippedFile] = []
        self.too_short: list[SkippedFile] = []
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._failed: set[Path] = set()

        sources = collect_sources(_as_path_list(paths, manifest), Path(manifest) if manifest is not None else None)
        readable = self._probe(sources)
        if not readable:
            raise AudioReadError(
                f"none of the {len(sources)} audio file(s) could be read; first failure: "
                f"{self.unreadable[0].path}: {self.unreadable[0].reason}"
            )
        chosen = [readable[i] for i in select_split([f.key for f in readable], split, self.validation_fraction)]
        if not chosen:
            raise ValueError(
                f"the {split!r} split is empty ({len(readable)} readable file(s), validation_fraction="
                f"{validation_fraction}); validation needs >= 2 files, or use split='all'"
            )
        self.files: list[AudioFile] = self._apply_short_policy(chosen)
        durations = np.array([f.frames_at_rate for f in self.files], dtype=np.float64)
        self._cumulative_weights = np.cumsum(durations) / durations.sum()

    # -- construction helpers -------------------------------------------------------------------------------
    def _probe(self, sources: Sequence[SourceFile]) -> list[AudioFile]:
        readable: list[AudioFile] = []
        for source in sources:
            try:
                info = audio_info(source.path)
                if info.frames <= 0:
                    raise AudioReadError(f"{source.path} holds no samples")
            except AudioReadError as error:
                self._record_unreadable(source.path, str(error))
                continue
            frames = resampled_length(info.frames, info.sample_rate, self.sample_rate)
            readable.append(AudioFile(path=source.path, key=source.key, info=info, frames_at_rate=frames))
        return readable

    def _apply_short_policy(self, files: list[AudioFile]) -> list[AudioFile]:
        if self.short_files == "pad":
            return files
        kept = [f for f in files if f.frames_at_rate >= self.crop_frames]
        for f in files:
            if f.frames_at_rate < self.crop_frames:
                self.too_short.append(SkippedFile(f.path, f"{f.duration:.3f} s < crop {self.crop_seconds:.3f} s"))
        if not kept:
            raise ValueError(
                f"all {len(files)} file(s) of the {self.split!r} split are shorter than the "
                f"{self.crop_seconds} s crop; use short_files='pad' or a shorter crop"
            )
        return kept

    def _record_unreadable(self, path: Path, reason: str) -> None:
        warnings.warn(f"skipping unreadable audio file {path}: {reason}", RuntimeWarning, stacklevel=3)
        self.unreadable.append(SkippedFile(path, reason))
        self._failed.add(path)

    # -- public state -----------------------------------------------------------------------------------------
    @property
    def crop_seconds(self) -> float:
        return self.crop_frames / self.sample_rate

    @property
    def num_unreadable(self) -> int:
        """Files skipped as unreadable or corrupt (at construction, plus read failures in this process)."""
        return len(self.unreadable)

    @property
    def total_seconds(self) -> float:
        """Audio duration of the files in this split."""
        return sum(f.frames_at_rate for f in self.files) / self.sample_rate

    @property
    def epoch(self) -> int:
        return int(self._epoch[0])

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose crops are drawn (ignored by the fixed-crop splits)."""
        self._epoch[0] = int(epoch)

    def __len__(self) -> int:
        return self.crops_per_epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.crop(index).audio).unsqueeze(0)

    def __repr__(self) -> str:
        return (
            f"FolderDataset({len(self.files)} files, {self.total_seconds:.1f} s, split={self.split!r}, "
            f"{self.crops_per_epoch} x {self.crop_seconds:g} s crops at {self.sample_rate} Hz, "
            f"{self.num_unreadable} unreadable, {len(self.too_short)} too short)"
        )

    # -- drawing ----------------------------------------------------------------------------------------------
    @property
    def fixed_crops(self) -> bool:
        """Validation-style drawing: the same crops every epoch, files in turn, no gain augmentation."""
        return self.split in FIXED_CROP_SPLITS

    def rng_for(self, index: int) -> np.random.Generator:
        """The item's own generator, from (seed, split stream, epoch, index) only."""
        if self.fixed_crops:
            entropy = [self.seed, _VALIDATION_STREAM, 0, index]
        else:
            entropy = [self.seed, _TRAIN_STREAM, self.epoch, index]
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def _pick_file(self, rng: np.random.Generator, index: int, attempt: int) -> AudioFile:
        for draw in range(_MAX_FILE_DRAWS):
            if self.fixed_crops:
                position = (index + attempt + draw) % len(self.files)
            else:
                position = int(np.searchsorted(self._cumulative_weights, rng.random(), side="right"))
                position = min(position, len(self.files) - 1)
            candidate = self.files[position]
            if candidate.path not in self._failed:
                return candidate
        raise RuntimeError(f"no readable file left to crop from ({self.num_unreadable} unreadable)")

    def _read(self, file: AudioFile, start: int) -> np.ndarray | None:
        try:
            audio = read_span(file.path, start, self.crop_frames, self.sample_rate, info=file.info)
        except (AudioReadError, ValueError) as error:
            self._record_unreadable(file.path, str(error))
            return None
        if not np.isfinite(audio).all():
            self._record_unreadable(file.path, f"NaN/Inf samples near sample {start} (at {self.sample_rate} Hz)")
            return None
        if audio.shape[0] < self.crop_frames:  # short file (pad policy) or a header that overstated its length
            audio = np.pad(audio, (0, self.crop_frames - audio.shape[0]))
        return audio

    def crop(self, index: int) -> Crop:
        """Draw item ``index`` of the current epoch (the same crop every time for the same seed and epoch)."""
        if not 0 <= index < self.crops_per_epoch:
            raise IndexError(f"crop index {index} out of range for {self.crops_per_epoch} crops per epoch")
        rng = self.rng_for(index)
        best: tuple[float, AudioFile, int, np.ndarray] | None = None
        tries = 0
        failures = 0
        while tries <= self.silence_retries:
            file = self._pick_file(rng, index, tries + failures)
            start = int(rng.integers(0, max(0, file.frames_at_rate - self.crop_frames) + 1))
            audio = self._read(file, start)
            if audio is None:
                failures += 1
                if failures > _MAX_FILE_DRAWS:
                    raise RuntimeError(f"giving up on crop {index}: {failures} read failures")
                continue
            tries += 1
            level = rms_db(audio)
            if best is None or level > best[0]:
                best = (level, file, start, audio)
            if level >= self.min_rms_db:
                break
        assert best is not None
        level, file, start, audio = best
        offset = 0.0 if self.fixed_crops else random_gain_db(rng, self.gain_augmentation_db)
        if self.normalize is not None:
            result = self.normalize.normalize(audio, self.sample_rate, offset_db=offset)
            audio, gain = np.ascontiguousarray(result.audio, dtype=np.float32), result.gain_db
        else:
            audio, gain = apply_gain(audio, offset), offset
        return Crop(audio=audio, path=file.path, start=start, rms_db=level, gain_db=gain, tries=tries)
