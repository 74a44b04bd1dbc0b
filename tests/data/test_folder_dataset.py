"""FolderDataset: scanning, crops, errors, determinism across workers/epochs/ranks, memory on long files."""

from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader, DistributedSampler

from codecbench.audio.loudness import LoudnessNormalizer, rms_db
from codecbench.data import DATASETS, FolderDataset, NoAudioFoundError
from codecbench.data.split import assign_validation


def few_files(make_audio, count: int = 6, seconds: float = 2.0) -> Path:
    for i in range(count):
        make_audio(f"corpus/spk{i % 2}/utt{i}.wav", seconds, seed=i, level=0.02 * (i + 1))
    return make_audio("corpus/extra.flac", seconds, seed=99).parent


def batches(loader: DataLoader) -> torch.Tensor:
    return torch.cat(list(loader))


def test_recursive_scan_items_and_loudness(make_audio) -> None:
    root = few_files(make_audio)
    (root / "notes.txt").write_text("not audio")
    dataset = FolderDataset(root, split="all", crops_per_epoch=20, crop_seconds=0.5)
    assert len(dataset.files) == 7 and len(dataset) == 20
    assert {f.key for f in dataset.files} >= {"spk0/utt0.wav", "spk1/utt1.wav", "extra.flac"}
    item = dataset[3]
    assert item.shape == (1, 8000) and item.dtype == torch.float32
    # Every item lands on the one fixed target, whatever the file's own level (0.02 ... 0.14 RMS here).
    for i in range(10):
        assert rms_db(dataset[i]) == pytest.approx(-16.0, abs=1e-3)
    assert dataset.total_seconds == pytest.approx(14.0)


def test_registered_and_creatable_by_name(make_audio) -> None:
    root = few_files(make_audio)
    assert "folder" in DATASETS
    dataset = DATASETS.create("folder", paths=[str(root)], crops_per_epoch=2, split="all")
    assert isinstance(dataset, FolderDataset)
    assert DATASETS.entry("folder").gin_name == "codecbench.datasets.folder"


def test_clear_errors_for_empty_and_audio_free_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoAudioFoundError, match="is empty"):
        FolderDataset(empty)
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    with pytest.raises(NoAudioFoundError, match=r"no audio files found .*looked for .*\.wav.*\.flac"):
        FolderDataset(tmp_path / "texts")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split"):
        FolderDataset(empty, split="test")


def test_corrupt_file_is_skipped_warned_and_counted(make_audio) -> None:
    root = few_files(make_audio, count=3)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.warns(RuntimeWarning, match=r"broken\.wav"):
        dataset = FolderDataset(root, split="all", crops_per_epoch=8)
    assert dataset.num_unreadable == 1 and dataset.unreadable[0].path.name == "broken.wav"
    assert len(dataset.files) == 4
    assert all(item.shape == (1, 16000) for item in dataset)


def test_file_failing_during_training_is_skipped_not_fatal(make_audio) -> None:
    root = few_files(make_audio, count=3)
    dataset = FolderDataset(root, split="all", crops_per_epoch=30)
    victim = dataset.files[0].path
    victim.write_bytes(b"garbage")  # e.g. replaced on a network share mid-run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        crops = [dataset.crop(i) for i in range(30)]
    assert all(crop.path != victim for crop in crops)
    assert dataset.num_unreadable == 1
    assert sum(victim.name in str(w.message) for w in caught) == 1  # warned once, then avoided


def test_file_with_nan_samples_is_skipped(make_audio) -> None:
    root = few_files(make_audio, count=2)
    sf.write(str(root / "nan.wav"), np.full(32000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    dataset = FolderDataset(root, split="all", crops_per_epoch=20)
    with pytest.warns(RuntimeWarning, match=r"nan\.wav.*NaN"):
        items = torch.stack([dataset[i] for i in range(20)])
    assert torch.isfinite(items).all() and dataset.num_unreadable == 1


def test_all_files_unreadable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"nope")
    with pytest.warns(RuntimeWarning), pytest.raises(OSError, match=r"none of the 1 audio file.*a\.wav"):
        FolderDataset(tmp_path)


def test_short_files_pad_or_skip(make_audio) -> None:
    make_audio("d/short.wav", 0.25, seed=1)
    make_audio("d/long.wav", 3.0, seed=2)
    root = make_audio("d/long2.wav", 3.0, seed=3).parent
    padded = FolderDataset(root, split="all", crops_per_epoch=40, short_files="pad")
    short_crops = [c for c in map(padded.crop, range(40)) if c.path.name == "short.wav"]
    assert short_crops, "the short file should still be drawn"
    for crop in short_crops:
        assert crop.audio.shape == (16000,) and crop.start == 0
        assert np.all(crop.audio[4000:] == 0.0) and np.any(crop.audio[:4000] != 0.0)
    skipped = FolderDataset(root, split="all", crops_per_epoch=40, short_files="skip")
    assert [s.path.name for s in skipped.too_short] == ["short.wav"]
    assert all(c.path.name != "short.wav" for c in map(skipped.crop, range(40)))
    with pytest.raises(ValueError, match="shorter than"):
        FolderDataset(make_audio("only/short.wav", 0.1).parent, split="all", short_files="skip")


def test_near_silent_crops_are_redrawn_with_a_bound(make_audio) -> None:
    root = make_audio("s/mostly_silent.wav", 10.0, silent_until=8.0, seed=4).parent
    dataset = FolderDataset(root, split="all", crops_per_epoch=40, min_rms_db=-60.0, silence_retries=20)
    crops = [dataset.crop(i) for i in range(40)]
    assert all(crop.rms_db > -60.0 for crop in crops)
    assert all(crop.start > 7 * 16000 for crop in crops)
    assert max(crop.tries for crop in crops) > 1
    make_audio("z/silence.wav", 3.0, level=0.0)
    silent = FolderDataset(dataset.files[0].path.parent.parent / "z", split="all", crops_per_epoch=3)
    for crop in map(silent.crop, range(3)):
        assert crop.tries == silent.silence_retries + 1  # bounded, then gives up gracefully
        assert crop.gain_db == 0.0 and np.all(crop.audio == 0.0)


def test_stereo_44k_file_gives_mono_16k_crops(make_audio) -> None:
    rate = 44100
    t = np.arange(rate * 3) / rate
    tone = 0.3 * np.sin(2 * np.pi * 1500.0 * t)
    path = make_audio("st/stereo.flac", 0.1).parent / "stereo44.flac"
    sf.write(str(path), np.stack([tone, -0.5 * tone], axis=1).astype(np.float32), rate, subtype="PCM_24")
    dataset = FolderDataset(path, split="all", crops_per_epoch=4, normalize=None)
    assert dataset.files[0].frames_at_rate == 48000
    crop = dataset.crop(0)
    assert crop.audio.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(crop.audio * np.hanning(16000)))
    assert np.fft.rfftfreq(16000, 1 / 16000)[np.argmax(spectrum)] == pytest.approx(1500.0, abs=1.0)
    assert np.sqrt(np.mean(crop.audio**2)) == pytest.approx(0.25 * 0.3 / np.sqrt(2), rel=0.01)


def test_split_is_deterministic_disjoint_and_nonempty(make_audio) -> None:
    root = few_files(make_audio, count=20, seconds=1.0)
    train = FolderDataset(root, split="train", validation_fraction=0.2)
    validation = FolderDataset(root, split="validation", validation_fraction=0.2)
    again = FolderDataset(root, split="validation", validation_fraction=0.2, seed=123)
    train_keys, validation_keys = {f.key for f in train.files}, {f.key for f in validation.files}
    assert not train_keys & validation_keys
    assert len(train_keys | validation_keys) == 21
    assert validation_keys == {f.key for f in again.files}  # independent of the crop seed
    assert validation_keys and train_keys
    # Two files: one each, whatever their hashes.
    assert sorted(assign_validation(["a.wav", "b.wav"], 0.1)) == [False, True]
    assert assign_validation(["a.wav", "b.wav"], 0.0) == [False, False]
    assert assign_validation(["only.wav"], 0.5) == [False]


def test_crops_depend_on_seed_epoch_and_index_only(make_audio) -> None:
    root = few_files(make_audio)
    a = FolderDataset(root, split="train", crops_per_epoch=8, seed=1)
    b = FolderDataset(root, split="train", crops_per_epoch=8, seed=1)
    torch.manual_seed(999)
    np.random.seed(999)  # the global RNGs must not matter
    assert torch.equal(batches(DataLoader(a, batch_size=4)), batches(DataLoader(b, batch_size=4)))
    assert torch.equal(a[5], a[5])
    epoch0 = torch.stack([a[i] for i in range(8)])
    a.set_epoch(1)
    assert not torch.equal(epoch0, torch.stack([a[i] for i in range(8)]))
    a.set_epoch(0)
    assert torch.equal(epoch0, torch.stack([a[i] for i in range(8)]))  # resume reproduces
    other_seed = FolderDataset(root, split="train", crops_per_epoch=8, seed=2)
    assert not torch.equal(epoch0, torch.stack([other_seed[i] for i in range(8)]))


def test_validation_crops_ignore_the_epoch_and_augmentation(make_audio) -> None:
    root = few_files(make_audio, count=10)
    validation = FolderDataset(root, split="validation", crops_per_epoch=6, gain_augmentation_db=6.0)
    first = torch.stack([validation[i] for i in range(6)])
    validation.set_epoch(7)
    assert torch.equal(first, torch.stack([validation[i] for i in range(6)]))
    for item in first:
        assert rms_db(item) == pytest.approx(-16.0, abs=1e-3)


def test_heldout_folder_uses_every_file_with_fixed_unaugmented_crops(make_audio) -> None:
    """A separate validation folder (``--val-data``): all its files, drawn as validation is drawn."""
    root = few_files(make_audio, count=10)
    heldout = FolderDataset(root, split="heldout", crops_per_epoch=11, gain_augmentation_db=6.0)
    assert len(heldout.files) == len(FolderDataset(root, split="all").files)
    first = torch.stack([heldout[i] for i in range(11)])
    heldout.set_epoch(3)
    assert torch.equal(first, torch.stack([heldout[i] for i in range(11)]))
    for item in first:
        assert rms_db(item) == pytest.approx(-16.0, abs=1e-3)
    trained_on_all = FolderDataset(root, split="all", crops_per_epoch=11, gain_augmentation_db=6.0)
    first_all = torch.stack([trained_on_all[i] for i in range(11)])
    trained_on_all.set_epoch(3)
    assert not torch.equal(first_all, torch.stack([trained_on_all[i] for i in range(11)]))


def test_gain_augmentation_varies_level_around_the_target(make_audio) -> None:
    root = few_files(make_audio, count=3)
    dataset = FolderDataset(root, split="all", crops_per_epoch=30, gain_augmentation_db=6.0)
    levels = np.array([rms_db(dataset[i]) for i in range(30)])
    assert levels.min() >= -22.0 - 1e-3 and levels.max() <= -10.0 + 1e-3 and levels.std() > 1.5
    lufs = FolderDataset(root, split="all", crops_per_epoch=2, normalize=LoudnessNormalizer(method="lufs"))
    assert lufs.normalize is not None and lufs.normalize.measure(lufs[0][0], 16000) == pytest.approx(-16, abs=0.01)


@pytest.mark.parametrize("persistent", [False, True])
def test_identical_for_any_number_of_workers(make_audio, persistent: bool) -> None:
    root = few_files(make_audio)
    dataset = FolderDataset(root, split="train", crops_per_epoch=12, seed=3)
    reference = {}
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        reference[epoch] = batches(DataLoader(dataset, batch_size=3, num_workers=0))
    dataset.set_epoch(0)
    loader = DataLoader(dataset, batch_size=3, num_workers=2, persistent_workers=persistent)
    for epoch in (0, 1):
        dataset.set_epoch(epoch)  # reaches persistent workers through shared memory
        assert torch.equal(batches(loader), reference[epoch])


def test_distributed_sampler_shards_cover_the_epoch(make_audio) -> None:
    root = few_files(make_audio)
    dataset = FolderDataset(root, split="train", crops_per_epoch=10, seed=4)
    dataset.set_epoch(2)
    shards = []
    for rank in range(2):
        sampler = DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=4)
        sampler.set_epoch(2)
        shards.append(list(sampler))
        items = batches(DataLoader(dataset, batch_size=5, sampler=sampler))
        assert torch.equal(items, torch.stack([dataset[i] for i in shards[-1]]))
    assert sorted(shards[0] + shards[1]) == list(range(10))


def test_crops_from_a_20_minute_file_use_bounded_memory(tmp_path: Path) -> None:
    """A 20-minute file (19.2 M samples, 38 MB of PCM) is never loaded: each crop allocates ~one crop."""
    path = tmp_path / "twenty_minutes.wav"
    rng = np.random.default_rng(0)
    chunk = (0.1 * rng.standard_normal(16000 * 60)).astype(np.float32)
    with sf.SoundFile(str(path), "w", 16000, 1, subtype="PCM_16") as handle:
        for minute in range(20):
            handle.write(chunk * (1.0 + 0.01 * minute))
    dataset = FolderDataset(path, split="all", crops_per_epoch=50)
    assert dataset.total_seconds == pytest.approx(1200.0)
    crops, peaks = [], []
    tracemalloc.start()
    try:
        for i in range(20):
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            crops.append(dataset.crop(i))
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    crop_bytes = 16000 * 4
    assert max(peaks) < 8 * crop_bytes, f"peak traced allocation per crop: {max(peaks)} bytes"
    assert max(peaks) < 19_200_000 * 2 / 50  # vs. the whole file even as int16
    assert max(c.start for c in crops) > 16000 * 600  # crops really come from all over the file


def test_demo_data_is_the_default(tmp_path: Path) -> None:
    dataset = FolderDataset(crops_per_epoch=4)
    assert dataset.files and all(f.path.suffix == ".flac" for f in dataset.files)
    assert dataset[0].shape == (1, 16000)
