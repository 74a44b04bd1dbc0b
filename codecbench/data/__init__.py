"""Datasets of audio crops; importing this package registers them in ``DATASETS``."""

from codecbench.data.base import DATASETS
from codecbench.data.folder import AudioFile, Crop, FolderDataset, SkippedFile, demo_data_dir
from codecbench.data.sources import NoAudioFoundError, collect_sources, read_manifest, scan_folder

__all__ = [
    "DATASETS",
    "AudioFile",
    "Crop",
    "FolderDataset",
    "NoAudioFoundError",
    "SkippedFile",
    "collect_sources",
    "demo_data_dir",
    "read_manifest",
    "scan_folder",
]
