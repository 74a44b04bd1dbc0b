"""The ``.cbc`` container: a versioned header, bit-packed codes in frame order and a CRC32.

Layout (little-endian)::

    magic "CBCS" | version u16 | header_size u32 | header body | header crc32 u32
    payload: frames in time order, each frame the codes of every level, level i taking
             ceil(log2(codebook_size_i)) bits, most significant bit first, packed without gaps
    trailer: crc32 u32 of the payload

The header body holds the sample rate, frame rate (as hop length), codebook sizes of the
levels used, number of samples and frames, the gain (dB) that restores the original
loudness, the model fingerprint (sha256 of config and weights) and the checkpoint path it
was written with. Frame order lets a decoder start before the whole file has arrived and
lets a writer stream codes of an arbitrarily long input with bounded memory.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from codecbench.errors import CodecbenchError

MAGIC = b"CBCS"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<4sHI")  # magic, version, header body size
_FIXED = struct.Struct("<IIHQQf32sH")  # sample_rate, hop, n_levels, n_samples, n_frames, gain_db, fingerprint, path len
_CRC = struct.Struct("<I")
MAX_LEVELS = 64
MAX_CODEBOOK_SIZE = 2**24


class BitstreamError(CodecbenchError):
    """A .cbc file is not valid: wrong format, truncated, corrupted or for another model."""


@dataclass(frozen=True)
class BitstreamHeader:
    sample_rate: int
    hop_length: int
    codebook_sizes: tuple[int, ...]
    num_samples: int
    num_frames: int
    gain_db: float
    fingerprint: bytes  # 32 bytes
    checkpoint_hint: str = ""

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def bits_per_code(self) -> tuple[int, ...]:
        return tuple(bits_for(size) for size in self.codebook_sizes)

    @property
    def bits_per_frame(self) -> int:
        return sum(self.bits_per_code)

    @property
    def payload_bytes(self) -> int:
        return math.ceil(self.num_frames * self.bits_per_frame / 8)

    @property
    def nominal_bitrate(self) -> float:
        """Bits per second of the codes alone."""
        return self.bits_per_frame * self.frame_rate

    def validate(self) -> None:
        if not 0 < len(self.codebook_sizes) <= MAX_LEVELS:
            raise BitstreamError(f"bitstream header: {len(self.codebook_sizes)} levels (expected 1..{MAX_LEVELS})")
        if any(not 2 <= size <= MAX_CODEBOOK_SIZE for size in self.codebook_sizes):
            raise BitstreamError(f"bitstream header: codebook sizes {self.codebook_sizes} out of range")
        if self.sample_rate <= 0 or self.hop_length <= 0:
            raise BitstreamError(f"bitstream header: sample rate {self.sample_rate} / hop {self.hop_length} invalid")
        if len(self.fingerprint) != 32:
            raise BitstreamError("bitstream header: fingerprint must be 32 bytes")
        if self.num_frames < math.ceil(self.num_samples / self.hop_length):
            raise BitstreamError(f"bitstream header: {self.num_frames} frames cannot hold {self.num_samples} samples")

    def to_bytes(self) -> bytes:
        self.validate()
        hint = self.checkpoint_hint.encode("utf-8")[:65535]
        body = _FIXED.pack(self.sample_rate, self.hop_length, len(self.codebook_sizes), self.num_samples,
                           self.num_frames, self.gain_db, self.fingerprint, len(hint))
        body += struct.pack(f"<{len(self.codebook_sizes)}I", *self.codebook_sizes) + hint
        head = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(body)) + body
        return head + _CRC.pack(zlib.crc32(head))

    @classmethod
    def from_file(cls, file: BinaryIO, name: str) -> tuple[BitstreamHeader, bytes]:
        """Read and check the header; return it with its raw bytes (for the trailing checksum)."""
        preamble = file.read(_PREAMBLE.size)
        if len(preamble) < _PREAMBLE.size:
            raise BitstreamError(f"{name}: too short to be a codecbench bitstream ({len(preamble)} bytes)")
        magic, version, body_size = _PREAMBLE.unpack(preamble)
        if magic != MAGIC:
            raise BitstreamError(f"{name}: not a codecbench bitstream (magic {magic!r}, expected {MAGIC!r})")
        if version != FORMAT_VERSION:
            raise BitstreamError(f"{name}: format version {version} is not supported by this codecbench "
                                 f"(reads version {FORMAT_VERSION}); upgrade codecbench or re-encode")
        if not _FIXED.size <= body_size <= _FIXED.size + 4 * MAX_LEVELS + 65535:
            raise BitstreamError(f"{name}: corrupted header (size {body_size})")
        body = file.read(body_size)
        crc = file.read(_CRC.size)
        if len(body) < body_size or len(crc) < _CRC.size:
            raise BitstreamError(f"{name}: truncated inside the header")
        if zlib.crc32(preamble + body) != _CRC.unpack(crc)[0]:
            raise BitstreamError(f"{name}: header checksum mismatch; the file is corrupted")
        sample_rate, hop, n_levels, n_samples, n_frames, gain_db, fingerprint, hint_size = _FIXED.unpack_from(body)
        sizes_end = _FIXED.size + 4 * n_levels
        if sizes_end + hint_size != body_size:
            raise BitstreamError(f"{name}: corrupted header (inconsistent sizes)")
        sizes = struct.unpack_from(f"<{n_levels}I", body, _FIXED.size)
        hint = body[sizes_end:].decode("utf-8", errors="replace")
        header = cls(sample_rate, hop, tuple(sizes), n_samples, n_frames, gain_db, fingerprint, hint)
        header.validate()
        return header, preamble + body + crc


def bits_for(codebook_size: int) -> int:
    """Bits needed to store one code of a codebook of this size."""
    return max(1, math.ceil(math.log2(codebook_size)))


def _code_bits(codes: np.ndarray, widths: tuple[int, ...]) -> np.ndarray:
    """codes [frames, levels] -> flat uint8 array of bits, frame-major, MSB first."""
    columns = []
    for level, width in enumerate(widths):
        shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
        columns.append(((codes[:, level, None].astype(np.int64) >> shifts) & 1).astype(np.uint8))
    return np.concatenate(columns, axis=1).reshape(-1)


def pack_codes(codes: np.ndarray, codebook_sizes: tuple[int, ...]) -> bytes:
    """Bit-pack codes [levels, frames]; the last byte is zero-padded."""
    _check_codes(codes, codebook_sizes)
    return np.packbits(_code_bits(codes.T, tuple(map(bits_for, codebook_sizes)))).tobytes()


def unpack_codes(data: bytes, codebook_sizes: tuple[int, ...], num_frames: int) -> np.ndarray:
    """Inverse of ``pack_codes``: codes [levels, frames] as int64."""
    widths = tuple(map(bits_for, codebook_sizes))
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: num_frames * sum(widths)]
    bits = bits.reshape(num_frames, sum(widths)).astype(np.int64)
    codes = np.empty((len(widths), num_frames), dtype=np.int64)
    start = 0
    for level, width in enumerate(widths):
        weights = 1 << np.arange(width - 1, -1, -1, dtype=np.int64)
        codes[level] = bits[:, start : start + width] @ weights
        start += width
    return codes


def _check_codes(codes: np.ndarray, codebook_sizes: tuple[int, ...]) -> None:
    if codes.ndim != 2 or codes.shape[0] != len(codebook_sizes):
        raise ValueError(f"codes must be [levels={len(codebook_sizes)}, frames], got {codes.shape}")
    if codes.size and (codes.min() < 0 or np.any(codes.max(axis=1) >= np.asarray(codebook_sizes))):
        raise ValueError(f"codes out of range for codebook sizes {codebook_sizes}")


class BitstreamWriter:
    """Writes a .cbc file frame chunk by frame chunk; ``close`` fills in the final counts.

    The header is written first with zero counts and rewritten on close, so memory stays
    bounded whatever the input length. Writing goes to ``path + '.partial'`` and is renamed
    on close, so an interrupted encode never leaves a file that looks complete.
    """

    def __init__(self, path: str | Path, header: BitstreamHeader) -> None:
        self.path = Path(path)
        self.header = header
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._file = open(self._partial, "wb")  # noqa: SIM115 (closed in close/abort)
        self._header_size = len(self._provisional_header().to_bytes())
        self._file.write(b"\0" * self._header_size)
        self._widths = header.bits_per_code
        self._pending_bits = np.zeros(0, dtype=np.uint8)
        self._payload_crc = 0
        self._frames = 0

    def _provisional_header(self) -> BitstreamHeader:
        return BitstreamHeader(self.header.sample_rate, self.header.hop_length, self.header.codebook_sizes, 0, 0,
                               self.header.gain_db, self.header.fingerprint, self.header.checkpoint_hint)

    def write(self, codes: np.ndarray) -> None:
        """Append codes [levels, frames]."""
        _check_codes(codes, self.header.codebook_sizes)
        bits = np.concatenate([self._pending_bits, _code_bits(codes.T, self._widths)])
        whole = len(bits) - len(bits) % 8
        chunk = np.packbits(bits[:whole]).tobytes()
        self._pending_bits = bits[whole:]
        self._payload_crc = zlib.crc32(chunk, self._payload_crc)
        self._file.write(chunk)
        self._frames += codes.shape[1]

    def close(self, num_samples: int) -> BitstreamHeader:
        """Flush the last bits, write the payload checksum, fill in the header and publish the file."""
        if len(self._pending_bits):
            tail = np.packbits(self._pending_bits).tobytes()
            self._payload_crc = zlib.crc32(tail, self._payload_crc)
            self._file.write(tail)
        self._file.write(_CRC.pack(self._payload_crc))
        header = BitstreamHeader(self.header.sample_rate, self.header.hop_length, self.header.codebook_sizes,
                                 num_samples, self._frames, self.header.gain_db, self.header.fingerprint,
                                 self.header.checkpoint_hint)
        self._file.seek(0)
        self._file.write(header.to_bytes())
        self._file.flush()
        self._file.close()
        self._partial.replace(self.path)
        return header

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


READ_CHUNK_FRAMES = 4096


class BitstreamReader:
    """Opens a .cbc file, checks header, length and payload checksum, then yields codes in chunks.

    The checksum pass reads the payload in bounded chunks, so a damaged file is rejected
    before any audio is produced and memory stays bounded for long files.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BitstreamError(f"{self.path}: no such bitstream file")
        with open(self.path, "rb") as file:
            self.header, raw_header = BitstreamHeader.from_file(file, str(self.path))
        self._payload_offset = len(raw_header)
        expected = self._payload_offset + self.header.payload_bytes + _CRC.size
        actual = self.path.stat().st_size
        if actual < expected:
            raise BitstreamError(f"{self.path}: truncated ({actual} bytes, expected {expected} for "
                                 f"{self.header.num_frames} frames); the file was cut off, re-encode it")
        if actual > expected:
            raise BitstreamError(f"{self.path}: {actual - expected} unexpected bytes after the end; file is corrupted")
        self._verify_payload()

    def _verify_payload(self) -> None:
        crc = 0
        with open(self.path, "rb") as file:
            file.seek(self._payload_offset)
            remaining = self.header.payload_bytes
            while remaining:
                block = file.read(min(remaining, 1 << 20))
                crc = zlib.crc32(block, crc)
                remaining -= len(block)
            stored = _CRC.unpack(file.read(_CRC.size))[0]
        if crc != stored:
            raise BitstreamError(f"{self.path}: payload checksum mismatch; the file is corrupted")

    def iter_codes(self, frames_per_chunk: int = READ_CHUNK_FRAMES) -> Iterator[np.ndarray]:
        """Codes [levels, frames] in chunks of ``frames_per_chunk`` frames (a multiple of 8 frames)."""
        frames_per_chunk = max(8, frames_per_chunk - frames_per_chunk % 8)  # whole bytes per chunk
        bits_per_frame = self.header.bits_per_frame
        with open(self.path, "rb") as file:
            file.seek(self._payload_offset)
            for first in range(0, self.header.num_frames, frames_per_chunk):
                frames = min(frames_per_chunk, self.header.num_frames - first)
                data = file.read(math.ceil(frames * bits_per_frame / 8))
                yield unpack_codes(data, self.header.codebook_sizes, frames)

    def read_codes(self) -> np.ndarray:
        chunks = list(self.iter_codes())
        if not chunks:
            return np.zeros((len(self.header.codebook_sizes), 0), dtype=np.int64)
        return np.concatenate(chunks, axis=1)


def write_bitstream(path: str | Path, header: BitstreamHeader, codes: np.ndarray, num_samples: int) -> BitstreamHeader:
    """Write all codes [levels, frames] at once (see ``BitstreamWriter`` for streaming)."""
    writer = BitstreamWriter(path, header)
    try:
        writer.write(codes)
        return writer.close(num_samples)
    except BaseException:
        writer.abort()
        raise
