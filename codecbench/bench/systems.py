"""Systems under test: anything that turns audio into decoded audio plus facts about the encoding.

A :class:`System` works at its own ``sample_rate``; the runner resamples each file to it and
compares against the reference at that rate. :class:`CheckpointSystem` wraps a trained codec
(``codecbench.training.checkpoint.load_codec``); classic codecs live in ``baselines.py``.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from codecbench.bench.audio import training_gain_db


class SystemUnavailable(RuntimeError):
    """A system cannot run on this machine (e.g. a codec binary is missing); its row is skipped."""


@dataclass
class ProcessInfo:
    """What a system reports for one file besides the decoded audio."""

    encode_seconds: float
    decode_seconds: float
    nominal_bps: float | None = None  # bitrate the configuration promises (levels x bits x frame rate)
    payload_bits: int | None = None  # size of the encoded file/bitstream in bits, when one is produced
    codes: np.ndarray | None = None  # int64 [n_q, frames], neural codecs only
    codebook_sizes: tuple[int, ...] | None = None  # one per level of ``codes``
    extra: dict[str, Any] = field(default_factory=dict)


class System(ABC):
    """A codec under test: ``process(audio) -> (decoded, info)`` on mono float32 audio at ``sample_rate``."""

    name: str
    sample_rate: int
    kind: str = "system"

    @abstractmethod
    def process(self, audio: np.ndarray) -> tuple[np.ndarray, ProcessInfo]:
        """Encode and decode mono float32 [T] audio; returns decoded float32 audio (any length) and info."""

    def describe(self) -> dict[str, Any]:
        """Facts for the JSON report (kind, parameters)."""
        return {"kind": self.kind, "sample_rate": self.sample_rate}

    def warmup(self) -> None:
        """Run once on half a second of quiet noise so that timings exclude one-off start-up costs."""
        rng = np.random.default_rng(0)
        self.process((0.01 * rng.standard_normal(self.sample_rate // 2)).astype(np.float32))


def nominal_bits_per_second(codebook_sizes: Sequence[int], frame_rate: float) -> float:
    """Levels x bits x frame rate: ``frame_rate * sum(log2(size))``."""
    return float(frame_rate) * sum(math.log2(int(size)) for size in codebook_sizes)


def bitstream_bits(
    codes: np.ndarray,
    codebook_sizes: Sequence[int],
    *,
    sample_rate: int,
    hop_length: int,
    num_samples: int,
    gain_db: float,
    fingerprint: str,
    checkpoint_hint: str = "",
) -> int:
    """Size in bits of the ``.cbc`` file (``codecbench.bitstream``) holding ``codes`` [n_q, frames].

    The file is really written (to a temporary folder) and its size measured, so header,
    bit packing and checksums all count, as in a file ``codecbench encode`` writes. The bench
    leaves the header's checkpoint-path hint empty so the size does not depend on where the
    checkpoint lives (a real file is longer by that path's length).
    """
    import tempfile
    from pathlib import Path

    from codecbench.bitstream import BitstreamHeader, write_bitstream

    digest = bytes.fromhex(fingerprint) if len(fingerprint) == 64 else bytes(32)
    header = BitstreamHeader(
        sample_rate, hop_length, tuple(int(s) for s in codebook_sizes), 0, 0, float(gain_db), digest, checkpoint_hint
    )
    with tempfile.TemporaryDirectory(prefix="codecbench-bench-") as tmp:
        path = Path(tmp) / "codes.cbc"
        write_bitstream(path, header, codes, num_samples)
        return 8 * path.stat().st_size


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class CheckpointSystem(System):
    """A trained codec: loudness-normalise (-16 dBFS RMS), encode to codes, decode, restore the input level.

    The normaliser is the one used in training (``codecbench.audio.loudness.DEFAULT_NORMALIZER``),
    so the codec sees audio at its training level; removing the same gain afterwards makes the
    amplitude ratio measure the codec alone. Timings cover ``encode`` and ``decode`` only.
    """

    kind = "checkpoint"

    def __init__(
        self,
        codec: torch.nn.Module,
        name: str,
        sample_rate: int,
        *,
        n_q: int | None = None,
        device: torch.device | str = "cpu",
        gain_db: Callable[[np.ndarray], float] = training_gain_db,
        fingerprint: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        self.codec = codec.eval()
        self.name = name
        self.sample_rate = int(sample_rate)
        self.device = torch.device(device)
        self.gain_db = gain_db
        self.fingerprint = fingerprint
        self.details = dict(details or {})
        sizes = tuple(int(s) for s in codec.codebook_sizes)
        if n_q is not None and not 1 <= n_q <= len(sizes):
            raise ValueError(f"{name}: --n-q {n_q} is out of range; this codec has {len(sizes)} codebook levels")
        self.n_q = n_q
        self.codebook_sizes = sizes if n_q is None else sizes[:n_q]
        self.nominal_bps = nominal_bits_per_second(self.codebook_sizes, float(codec.frame_rate))

    @classmethod
    def from_checkpoint(
        cls, path: str, *, name: str | None = None, n_q: Sequence[int | None] = (None,), device: str = "cpu"
    ) -> list[CheckpointSystem]:
        """Load once with ``load_codec`` (file or run directory); one system per ``n_q`` value.

        The codec is prepared as ``codecbench encode``/``decode`` prepare it (weight norm folded,
        no gradients), so timings match what users get. Names are ``name`` (default: the file
        stem), with ``@q<K>`` appended when ``n_q`` is set.
        """
        from pathlib import Path

        from codecbench.inference import prepare_for_inference
        from codecbench.training.checkpoint import load_codec

        loaded = load_codec(path, device=device)
        prepare_for_inference(loaded.codec)
        label = name or Path(path).stem
        details = {"checkpoint": str(path), "step": loaded.step, "fingerprint": loaded.fingerprint}
        return [
            cls(
                loaded.codec,
                label if k is None else f"{label}@q{k}",
                loaded.sample_rate,
                n_q=k,
                device=device,
                fingerprint=loaded.fingerprint,
                details=details,
            )
            for k in n_q
        ]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "n_q": self.n_q, "codebook_sizes": list(self.codebook_sizes), **self.details}

    @torch.inference_mode()
    def process(self, audio: np.ndarray) -> tuple[np.ndarray, ProcessInfo]:
        gain_db = float(self.gain_db(audio))
        gain = 10.0 ** (gain_db / 20.0)
        x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32) * np.float32(gain))
        x = x.to(self.device).view(1, 1, -1)
        length = x.shape[-1]
        _synchronize(self.device)
        start = time.perf_counter()
        codes = self.codec.encode(x, n_q=self.n_q)
        _synchronize(self.device)
        encoded = time.perf_counter()
        decoded = self.codec.decode(codes, length=length)
        _synchronize(self.device)
        finished = time.perf_counter()
        out = decoded.reshape(-1).float().cpu().numpy() / np.float32(gain)
        levels = codes[0].detach().cpu().numpy().astype(np.int64)
        sizes = self.codebook_sizes[: levels.shape[0]]
        bits = bitstream_bits(
            levels,
            sizes,
            sample_rate=self.sample_rate,
            hop_length=int(self.codec.hop_length),
            num_samples=length,
            gain_db=gain_db,
            fingerprint=self.fingerprint,
        )
        return out, ProcessInfo(
            encode_seconds=encoded - start,
            decode_seconds=finished - encoded,
            nominal_bps=self.nominal_bps,
            payload_bits=bits,
            codes=levels,
            codebook_sizes=sizes,
        )
