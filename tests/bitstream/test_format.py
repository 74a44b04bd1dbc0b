from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codecbench.bitstream import (
    BitstreamError,
    BitstreamHeader,
    BitstreamReader,
    BitstreamWriter,
    bits_for,
    pack_codes,
    unpack_codes,
    write_bitstream,
)

FINGERPRINT = hashlib.sha256(b"model").digest()


def header(sizes: tuple[int, ...] = (1024, 1024, 1024), samples: int = 16000, hop: int = 320) -> BitstreamHeader:
    frames = -(-samples // hop)
    return BitstreamHeader(16000, hop, sizes, samples, frames, -3.5, FINGERPRINT, "runs/x/checkpoint.pt")


def random_codes(sizes: tuple[int, ...], frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, size, frames) for size in sizes]).astype(np.int64)


def test_bits_for() -> None:
    assert [bits_for(n) for n in (2, 3, 4, 1000, 1024, 1025, 2048)] == [1, 2, 2, 10, 10, 11, 11]


@pytest.mark.parametrize("sizes", [(1024,), (1024, 512, 3), (2, 2, 2, 2, 2), (2048,) * 8])
@pytest.mark.parametrize("frames", [0, 1, 7, 50, 333])
def test_pack_round_trip(sizes: tuple[int, ...], frames: int) -> None:
    codes = random_codes(sizes, frames)
    packed = pack_codes(codes, sizes)
    assert len(packed) == -(-frames * sum(map(bits_for, sizes)) // 8)
    np.testing.assert_array_equal(unpack_codes(packed, sizes, frames), codes)


def test_file_round_trip_and_size_matches_nominal_bitrate(tmp_path: Path) -> None:
    duration_s = 10
    sizes = (1024,) * 8
    head = header(sizes, samples=16000 * duration_s)
    codes = random_codes(sizes, head.num_frames)
    path = tmp_path / "a.cbc"
    written = write_bitstream(path, head, codes, head.num_samples)
    reader = BitstreamReader(path)
    assert reader.header == written
    np.testing.assert_array_equal(reader.read_codes(), codes)
    nominal_bytes = head.nominal_bitrate * duration_s / 8  # 8 levels x 10 bits x 50 Hz = 4 kbps
    assert head.nominal_bitrate == 4000
    overhead = path.stat().st_size - nominal_bytes
    assert 0 < overhead < 200  # header + checksum only


def test_streaming_writer_equals_one_shot(tmp_path: Path) -> None:
    sizes = (1024, 3, 512)  # 23 bits per frame: chunks do not end on byte boundaries
    codes = random_codes(sizes, 101)
    head = header(sizes, samples=101 * 320)
    write_bitstream(tmp_path / "one.cbc", head, codes, head.num_samples)
    writer = BitstreamWriter(tmp_path / "chunked.cbc", head)
    for start, stop in [(0, 1), (1, 4), (4, 50), (50, 101)]:
        writer.write(codes[:, start:stop])
    writer.close(head.num_samples)
    assert (tmp_path / "one.cbc").read_bytes() == (tmp_path / "chunked.cbc").read_bytes()
    chunks = list(BitstreamReader(tmp_path / "chunked.cbc").iter_codes(frames_per_chunk=16))
    assert [c.shape[1] for c in chunks] == [16] * 6 + [5]
    np.testing.assert_array_equal(np.concatenate(chunks, axis=1), codes)


def test_aborted_writer_leaves_no_file(tmp_path: Path) -> None:
    writer = BitstreamWriter(tmp_path / "x.cbc", header())
    writer.write(random_codes((1024,) * 3, 5))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def valid_file(tmp_path: Path) -> Path:
    head = header()
    path = tmp_path / "valid.cbc"
    write_bitstream(path, head, random_codes(head.codebook_sizes, head.num_frames), head.num_samples)
    return path


def test_truncated_file_is_named(valid_file: Path) -> None:
    data = valid_file.read_bytes()
    valid_file.write_bytes(data[:-10])
    with pytest.raises(BitstreamError, match="truncated"):
        BitstreamReader(valid_file)


def test_corrupted_payload_is_detected(valid_file: Path) -> None:
    data = bytearray(valid_file.read_bytes())
    data[len(data) // 2] ^= 0x10
    valid_file.write_bytes(bytes(data))
    with pytest.raises(BitstreamError, match="checksum mismatch"):
        BitstreamReader(valid_file)


def test_wrong_magic_and_version(valid_file: Path) -> None:
    data = bytearray(valid_file.read_bytes())
    valid_file.write_bytes(b"RIFF" + bytes(data[4:]))
    with pytest.raises(BitstreamError, match="not a codecbench bitstream"):
        BitstreamReader(valid_file)
    data[4] = 99
    valid_file.write_bytes(bytes(data))
    with pytest.raises(BitstreamError, match="format version 99"):
        BitstreamReader(valid_file)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255),
       cut=st.integers(min_value=0), mode=st.sampled_from(["flip", "cut", "append"]))
def test_fuzzed_files_never_crash_or_decode_garbage(valid_file: Path, position: int, value: int, cut: int,
                                                    mode: str) -> None:
    original = valid_file.read_bytes()
    damaged = bytearray(original)
    if mode == "flip":
        damaged[position % len(damaged)] ^= value or 1
    elif mode == "cut":
        damaged = damaged[: cut % len(damaged)]
    else:
        damaged += bytes([value]) * (1 + cut % 7)
    path = valid_file.with_name("fuzzed.cbc")
    path.write_bytes(bytes(damaged))
    try:
        reader = BitstreamReader(path)
    except BitstreamError:
        return
    # Anything accepted must be the original content (e.g. a flip inside the unused padding bits).
    np.testing.assert_array_equal(reader.read_codes(), BitstreamReader(valid_file).read_codes())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_rejected_cleanly(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "blob.cbc"
    path.write_bytes(blob)
    with pytest.raises(BitstreamError):
        BitstreamReader(path)
