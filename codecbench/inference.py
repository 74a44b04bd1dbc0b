"""Inference: audio files to ``.cbc`` bitstreams and back, offline or streamed chunk by chunk.

Encoding mixes the input to mono, resamples it to the model rate, brings it to the training
loudness target (the same ``LoudnessNormalizer`` as the data pipeline, -16 dBFS RMS) and stores
the gain in the header; decoding applies the inverse gain, so the output has the input's level.
Decoded audio is at the model's sample rate.

Streaming (causal codecs only) keeps memory bounded for any input length: the input is read in
soundfile blocks and resampled with a streaming soxr resampler, once to measure the loudness and
once to encode; codes go to the file as they come; decoding feeds codes from the file to the
decoder and writes audio blocks. ``StreamingEncoder``/``StreamingDecoder`` are the same machinery
for live use: audio chunk in, codes out; codes in, audio chunk out.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor, nn

from codecbench.audio.io import AudioInfo, AudioReadError, audio_info, read_audio, to_mono
from codecbench.audio.loudness import DEFAULT_NORMALIZER, LoudnessNormalizer, apply_gain
from codecbench.bitstream import BitstreamHeader, BitstreamReader, BitstreamWriter, write_bitstream
from codecbench.errors import CodecbenchError
from codecbench.utils.files import atomic_write

PathLike = str | Path
NOT_CAUSAL = "this checkpoint's encoder is not causal; streaming needs a causal recipe such as mimi_style"
OUTPUT_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
DEFAULT_CHUNK_SECONDS = 1.0
MAX_FLUSH_FRAMES = 64  # zero frames fed at the end to release frames a look-ahead holds back
StreamT = TypeVar("StreamT", bound="_Stream")


class InferenceError(CodecbenchError):
    """Encoding or decoding cannot proceed: bad input file, output path, model or options."""


class StreamingNotSupported(InferenceError):
    """The codec cannot run chunk by chunk (its encoder or decoder is not causal)."""


class FingerprintMismatch(InferenceError):
    """A bitstream was written by a different model than the one asked to decode it."""


# ---------------------------------------------------------------------------------------------- model helpers
def _device(codec: nn.Module) -> torch.device:
    parameter = next(codec.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def check_streamable(codec: nn.Module) -> None:
    """Raise ``StreamingNotSupported`` unless both the encoder and the decoder are causal."""
    if not getattr(codec, "causal", False):
        raise StreamingNotSupported(NOT_CAUSAL)


def model_fingerprint(codec: nn.Module, config_text: str = "") -> str:
    """sha256 hex of ``config_text`` and the codec's current weights (what ``load_codec`` reports for a checkpoint)."""
    from codecbench.training.checkpoint import fingerprint

    return fingerprint(config_text, codec.state_dict())


def prepare_for_inference(codec: nn.Module) -> nn.Module:
    """Eval mode, no gradients, weight norm folded into plain weights (same outputs, faster); in place."""
    from codecbench.nn.weight_norm import remove_weight_norm

    codec.eval()
    remove_weight_norm(codec)
    for parameter in codec.parameters():
        parameter.requires_grad_(False)
    return codec


def _level_count(codec: nn.Module, n_q: int | None) -> int:
    levels = len(codec.codebook_sizes)
    if n_q is None:
        return levels
    if not 1 <= n_q <= levels:
        raise InferenceError(f"--n-q {n_q}: this model has {levels} codebook levels; choose 1..{levels}")
    return n_q


# ---------------------------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class ChunkTimings:
    """Compute time of the model per chunk (file reading, resampling and writing excluded)."""

    chunks: int
    chunk_seconds: float  # audio per chunk (nominal; the last one may be shorter)
    mean_ms: float  # wall clock
    max_ms: float
    total_seconds: float
    cpu_mean_ms: float  # process CPU time (all threads): less affected by other load on the machine

    @property
    def real_time_factor(self) -> float:
        """Mean compute time over chunk duration (< 1: faster than real time)."""
        return self.mean_ms / (1000.0 * self.chunk_seconds) if self.chunk_seconds > 0 else math.nan


class _Stopwatch:
    """Running count / sum / max of timed calls: bounded memory for any number of chunks."""

    def __init__(self) -> None:
        self.count, self.total, self.longest, self.cpu = 0, 0.0, 0.0, 0.0

    def add(self, seconds: float, cpu_seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.longest = max(self.longest, seconds)
        self.cpu += cpu_seconds

    def summary(self, chunk_seconds: float) -> ChunkTimings:
        count = max(self.count, 1)
        return ChunkTimings(self.count, chunk_seconds, 1000.0 * self.total / count, 1000.0 * self.longest, self.total,
                            1000.0 * self.cpu / count)


# ---------------------------------------------------------------------------------------------- streaming
def _as_chunk(audio: Tensor | np.ndarray, device: torch.device) -> Tensor:
    chunk = torch.as_tensor(np.asarray(audio, dtype=np.float32) if isinstance(audio, np.ndarray) else audio)
    if chunk.dim() == 1:
        chunk = chunk[None, None]
    elif chunk.dim() == 2 and chunk.shape[0] == 1:
        chunk = chunk[None]
    if chunk.dim() != 3 or chunk.shape[:2] != (1, 1):
        raise ValueError(f"StreamingEncoder.feed: expected mono audio [T], [1, T] or [1, 1, T], "
                         f"got {tuple(chunk.shape)}")
    return chunk.to(device=device, dtype=torch.float32)


class _Stream:
    """Opens ``codec.streaming(1)`` on construction and closes it once (``close``, ``with``)."""

    def __init__(self, codec: nn.Module) -> None:
        check_streamable(codec)
        self.codec = codec
        self.device = _device(codec)
        self.stopwatch = _Stopwatch()
        self._stack = ExitStack()
        self._stack.enter_context(codec.streaming(1))
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"{type(self).__name__} is closed; create a new one for a new stream")

    def _timed(self, call: Callable[[], Tensor], count: bool = True) -> Tensor:
        self._check_open()
        start, cpu = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            out = call()
        if count:
            self.stopwatch.add(time.perf_counter() - start, time.process_time() - cpu)
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._stack.close()

    def __enter__(self: StreamT) -> StreamT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamingEncoder(_Stream):
    """Audio chunks of any length in, codes [n_q, frames] (CPU int64) out as soon as frames complete.

    ``flush()`` zero-pads the last partial frame (as the offline encoder pads), returns the last
    codes and closes the stream. Concatenated outputs equal ``codec.encode`` of the whole signal.
    The codec stays in streaming mode until ``flush``/``close``: one stream per codec at a time.
    """

    def __init__(self, codec: nn.Module, n_q: int | None = None) -> None:
        self.n_q = _level_count(codec, n_q)
        super().__init__(codec)
        self.hop = int(codec.hop_length)
        self.samples_fed = 0  # real (unpadded) samples
        self.frames_emitted = 0
        self.max_pending = 0  # most samples fed but not yet turned into a frame (look-ahead probe)

    def _encode(self, chunk: Tensor, count: bool = True) -> Tensor:
        codes = self._timed(lambda: self.codec.encode(chunk, n_q=self.n_q), count)[0].to("cpu", torch.int64)
        self.frames_emitted += codes.shape[-1]
        return codes

    def feed(self, audio: Tensor | np.ndarray) -> Tensor:
        chunk = _as_chunk(audio, self.device)
        codes = self._encode(chunk)
        self.samples_fed += chunk.shape[-1]
        self.max_pending = max(self.max_pending, self.samples_fed - self.frames_emitted * self.hop)
        return codes

    def flush(self) -> Tensor:
        """Codes of the remaining samples (zero-padded to whole frames); closes the stream. Not counted in timings."""
        self._check_open()
        expected = math.ceil(self.samples_fed / self.hop)
        pieces = []
        missing = -self.samples_fed % self.hop
        if missing:
            pieces.append(self._encode(torch.zeros(1, 1, missing, device=self.device), count=False))
        for _ in range(MAX_FLUSH_FRAMES):
            if self.frames_emitted >= expected:
                break
            pieces.append(self._encode(torch.zeros(1, 1, self.hop, device=self.device), count=False))
        self.close()
        if self.frames_emitted < expected:
            raise InferenceError(f"the encoder held back {expected - self.frames_emitted} frames after "
                                 f"{MAX_FLUSH_FRAMES} frames of zero padding; it does not stream")
        codes = torch.cat(pieces, -1) if pieces else torch.zeros(self.n_q, 0, dtype=torch.int64)
        surplus = self.frames_emitted - expected
        self.frames_emitted = expected
        return codes[:, : codes.shape[-1] - surplus]


class StreamingDecoder(_Stream):
    """Codes [n_q, frames] in, audio [frames * hop] (CPU float32) out; equals ``codec.decode`` of all codes."""

    def feed(self, codes: Tensor | np.ndarray) -> Tensor:
        block = torch.as_tensor(codes).to(self.device, torch.int64)
        if block.dim() != 2:
            raise ValueError(f"StreamingDecoder.feed: expected codes [n_q, frames], got {tuple(block.shape)}")
        return self._timed(lambda: self.codec.decode(block[None]))[0, 0].to("cpu", torch.float32)


# ---------------------------------------------------------------------------------------------- latency
@dataclass(frozen=True)
class AlgorithmicLatency:
    """Delay imposed by the model itself: one frame of buffering plus any look-ahead (measured on the model)."""

    sample_rate: int
    frame_samples: int
    encoder_lookahead_samples: int  # samples beyond a frame's end needed before its codes come out
    decoder_delay_samples: int  # samples a code frame's audio comes out late

    @property
    def samples(self) -> int:
        return self.frame_samples + self.encoder_lookahead_samples + self.decoder_delay_samples

    @property
    def ms(self) -> float:
        return 1000.0 * self.samples / self.sample_rate


def algorithmic_latency(codec: nn.Module, probe_frames: int = 4) -> AlgorithmicLatency:
    """Probe a causal codec with frame-sized zero chunks: frames held back -> look-ahead, samples missing -> delay."""
    hop = int(codec.hop_length)
    with StreamingEncoder(codec) as encoder:
        for _ in range(probe_frames):
            encoder.feed(torch.zeros(hop))
        lookahead = encoder.max_pending  # whole frames held back after whole-frame chunks
    levels = len(codec.codebook_sizes)
    with StreamingDecoder(codec) as decoder:
        produced = sum(decoder.feed(torch.zeros(levels, 1, dtype=torch.int64)).shape[-1] for _ in range(probe_frames))
    return AlgorithmicLatency(int(codec.sample_rate), hop, int(lookahead), max(0, probe_frames * hop - produced))


@dataclass(frozen=True)
class StreamingLatency:
    """Algorithmic latency and measured per-chunk compute of streamed encode and decode."""

    algorithmic: AlgorithmicLatency
    chunk_frames: int
    chunk_ms: float
    encode: ChunkTimings
    decode: ChunkTimings
    device: str
    threads: int

    @property
    def algorithmic_ms(self) -> float:
        return self.algorithmic.ms


def measure_streaming_latency(
    codec: nn.Module, chunk_frames: int, *, seconds: float = 5.0, n_q: int | None = None, warmup_chunks: int = 1,
    seed: int = 0,
) -> StreamingLatency:
    """Stream ``seconds`` of seeded noise (-16 dBFS RMS) through encoder then decoder in chunks of ``chunk_frames``.

    Per-chunk compute times exclude the first ``warmup_chunks`` chunks of each direction.
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    check_streamable(codec)
    latency = algorithmic_latency(codec)
    hop, rate = int(codec.hop_length), int(codec.sample_rate)
    chunk = chunk_frames * hop
    chunks = max(warmup_chunks + 1, math.ceil(seconds * rate / chunk))
    generator = torch.Generator().manual_seed(seed)
    audio = torch.randn(chunks * chunk, generator=generator) * 10 ** (-16 / 20)
    coded: list[Tensor] = []
    timings: list[ChunkTimings] = []
    with StreamingEncoder(codec, n_q) as encoder:
        for index in range(chunks):
            if index == warmup_chunks:
                encoder.stopwatch = _Stopwatch()
            coded.append(encoder.feed(audio[index * chunk : (index + 1) * chunk]))
        timings.append(encoder.stopwatch.summary(chunk / rate))
    codes = torch.cat(coded, -1)
    with StreamingDecoder(codec) as decoder:
        for index, start in enumerate(range(0, codes.shape[-1], chunk_frames)):
            if index == warmup_chunks:
                decoder.stopwatch = _Stopwatch()
            decoder.feed(codes[:, start : start + chunk_frames])
        timings.append(decoder.stopwatch.summary(chunk / rate))
    return StreamingLatency(latency, chunk_frames, 1000.0 * chunk / rate, timings[0], timings[1],
                            str(_device(codec)), torch.get_num_threads())


# ---------------------------------------------------------------------------------------------- loudness
def gain_from_statistics(normalizer: LoudnessNormalizer, mean_square: float, peak: float) -> float:
    """The gain ``normalizer.gain_for`` gives a signal with this mean square and peak (RMS method only).

    Lets a streamed encode compute the whole-file gain from one bounded-memory pass.
    """
    if normalizer.method != "rms":
        raise InferenceError(f"streamed encoding measures loudness as RMS; this normaliser uses {normalizer.method!r}")
    if not (math.isfinite(mean_square) and math.isfinite(peak)):
        raise InferenceError("the input contains NaN or Inf samples; cannot normalise its loudness")
    loudness = 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf
    return normalizer.gain_from_levels(loudness, peak)[0]


def _storable_gain(gain_db: float) -> float:
    """The gain as the header stores it (float32), so that decode undoes exactly what encode applied."""
    return float(np.float32(gain_db))


# ---------------------------------------------------------------------------------------------- file reading
def _input_info(path: PathLike) -> AudioInfo:
    try:
        info = audio_info(path)
    except AudioReadError as error:
        raise InferenceError(str(error)) from error
    if info.frames <= 0:
        raise InferenceError(f"{info.path}: holds no audio samples; nothing to encode")
    return info


def iter_model_rate_blocks(info: AudioInfo, sample_rate: int, block_frames: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks of a file at ``sample_rate``: soundfile blocks, streaming soxr (== one-shot soxr)."""
    stream = None if info.sample_rate == sample_rate else soxr.ResampleStream(
        info.sample_rate, sample_rate, 1, dtype="float32", quality="HQ")
    read = 0
    try:
        with sf.SoundFile(str(info.path)) as handle:
            while read < info.frames:
                block = handle.read(min(block_frames, info.frames - read), dtype="float32", always_2d=True)
                if len(block) == 0:
                    raise InferenceError(f"{info.path}: ended after {read} of {info.frames} frames; "
                                         "the file is damaged")
                read += len(block)
                mono = np.ascontiguousarray(to_mono(block), dtype=np.float32)
                yield mono if stream is None else stream.resample_chunk(mono, last=read >= info.frames)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise InferenceError(f"cannot decode {info.path} after {read} frames: {error}") from error


def _loudness_pass(info: AudioInfo, sample_rate: int, block_frames: int) -> tuple[float, float, int]:
    """Mean square, peak and length at ``sample_rate``, in bounded memory."""
    total, peak, count = 0.0, 0.0, 0
    for block in iter_model_rate_blocks(info, sample_rate, block_frames):
        wide = block.astype(np.float64)
        total += float(np.dot(wide, wide))
        peak = max(peak, float(np.abs(block).max(initial=0.0)))
        count += len(block)
    return (total / count if count else 0.0), peak, count


# ---------------------------------------------------------------------------------------------- paths
def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(source: PathLike, output: PathLike, *, audio: bool) -> Path:
    """Refuse to overwrite the input, a folder, or (for audio) an extension we cannot write."""
    source, output = Path(source), Path(output)
    if _same_file(source, output) or source.resolve() == output.resolve():
        raise InferenceError(f"refusing to overwrite the input {source} with the output; choose another output path")
    if output.is_dir():
        raise InferenceError(f"output {output} is a folder; give a file name")
    if audio and output.suffix.lower() not in OUTPUT_FORMATS:
        raise InferenceError(f"cannot write {output}: decoded audio is written as {' or '.join(OUTPUT_FORMATS)}")
    return output


# ---------------------------------------------------------------------------------------------- encode
@dataclass(frozen=True)
class EncodeResult:
    """What ``encode_file`` wrote."""

    output: Path
    header: BitstreamHeader
    input_sample_rate: int
    input_channels: int
    file_bytes: int
    streamed: bool
    compute_seconds: float  # model time only
    timings: ChunkTimings | None = None  # per chunk, streamed encodes
    latency: AlgorithmicLatency | None = None  # streamed encodes

    @property
    def duration_seconds(self) -> float:
        return self.header.num_samples / self.header.sample_rate

    @property
    def nominal_bitrate(self) -> float:
        """Bits per second of the codes alone."""
        return self.header.nominal_bitrate

    @property
    def file_bitrate(self) -> float:
        """File size in bits per second of audio (header and checksums included)."""
        return 8.0 * self.file_bytes / self.duration_seconds if self.duration_seconds else math.nan

    @property
    def overhead_bytes(self) -> int:
        """Bytes beyond the packed codes: header, checksums."""
        return self.file_bytes - self.header.payload_bytes


def _header(codec: nn.Module, levels: int, gain_db: float, fingerprint: str, hint: str) -> BitstreamHeader:
    try:
        raw = bytes.fromhex(fingerprint)
    except ValueError:
        raise InferenceError(f"model fingerprint must be a sha256 hex string, got {fingerprint[:80]!r}") from None
    if len(raw) != 32:
        raise InferenceError(f"model fingerprint must be 64 hex digits (sha256), got {len(fingerprint)}")
    return BitstreamHeader(int(codec.sample_rate), int(codec.hop_length), tuple(codec.codebook_sizes[:levels]),
                           0, 0, gain_db, raw, hint)


def encode_file(
    codec: nn.Module,
    source: PathLike,
    output: PathLike,
    *,
    fingerprint: str | None = None,
    checkpoint_hint: str = "",
    n_q: int | None = None,
    stream: bool = False,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    normalizer: LoudnessNormalizer = DEFAULT_NORMALIZER,
) -> EncodeResult:
    """Encode an audio file (any rate, any channel count) into a ``.cbc`` bitstream at ``output``.

    ``fingerprint`` (sha256 hex; default: ``model_fingerprint(codec)``) and ``checkpoint_hint`` go into
    the header. ``stream`` encodes chunk by chunk (causal codecs) with memory bounded for any length;
    offline and streamed encodes write the same codes. The file appears only once complete.
    """
    levels = _level_count(codec, n_q)
    if stream:
        check_streamable(codec)
    if chunk_seconds <= 0:
        raise InferenceError(f"--chunk-seconds must be positive, got {chunk_seconds}")
    output = check_output_path(source, output, audio=False)
    info = _input_info(source)
    rate = int(codec.sample_rate)
    fingerprint = fingerprint or model_fingerprint(codec)
    output.parent.mkdir(parents=True, exist_ok=True)
    if stream:
        return _encode_streamed(codec, info, output, levels, fingerprint, checkpoint_hint, chunk_seconds, normalizer)
    try:
        audio, _ = read_audio(info.path, rate)
    except AudioReadError as error:
        raise InferenceError(str(error)) from error
    try:
        gain = _storable_gain(normalizer.gain_for(audio, rate).gain_db)
    except ValueError as error:
        raise InferenceError(f"{info.path}: {error}") from error
    normalized = apply_gain(audio, gain) if gain else audio
    start = time.perf_counter()
    with torch.inference_mode():
        tensor = torch.from_numpy(np.ascontiguousarray(normalized))[None, None].to(_device(codec))
        codes = codec.encode(tensor, n_q=levels)[0].to("cpu", torch.int64).numpy()
    compute = time.perf_counter() - start
    header = write_bitstream(output, _header(codec, levels, gain, fingerprint, checkpoint_hint), codes, len(audio))
    return EncodeResult(output, header, info.sample_rate, info.channels, output.stat().st_size, False, compute)


def _encode_streamed(
    codec: nn.Module, info: AudioInfo, output: Path, levels: int, fingerprint: str, hint: str,
    chunk_seconds: float, normalizer: LoudnessNormalizer,
) -> EncodeResult:
    rate = int(codec.sample_rate)
    block_frames = max(1, round(chunk_seconds * info.sample_rate))
    mean_square, peak, _ = _loudness_pass(info, rate, block_frames)
    gain = _storable_gain(gain_from_statistics(normalizer, mean_square, peak))
    latency = algorithmic_latency(codec)
    writer = BitstreamWriter(output, _header(codec, levels, gain, fingerprint, hint))
    try:
        with StreamingEncoder(codec, levels) as encoder:
            for block in iter_model_rate_blocks(info, rate, block_frames):
                writer.write(encoder.feed(apply_gain(block, gain) if gain else block).numpy())
            writer.write(encoder.flush().numpy())
        header = writer.close(encoder.samples_fed)
    except BaseException:
        writer.abort()
        raise
    timings = encoder.stopwatch.summary(chunk_seconds)
    return EncodeResult(output, header, info.sample_rate, info.channels, output.stat().st_size, True,
                        timings.total_seconds, timings, latency)


# ---------------------------------------------------------------------------------------------- decode
@dataclass(frozen=True)
class DecodeResult:
    """What ``decode_file`` wrote."""

    output: Path
    header: BitstreamHeader
    num_samples: int
    sample_rate: int  # the model's rate (the input was resampled to it on encode)
    clipped_samples: int
    streamed: bool
    compute_seconds: float
    timings: ChunkTimings | None = None


def open_bitstream(source: PathLike | BitstreamReader) -> BitstreamReader:
    """A reader whose header, length and checksum have been verified (``BitstreamError`` otherwise)."""
    return source if isinstance(source, BitstreamReader) else BitstreamReader(source)


def check_model(header: BitstreamHeader, codec: nn.Module, fingerprint: str, source: Path, model_name: str) -> None:
    """Raise ``FingerprintMismatch`` naming both models unless the bitstream was written by this one."""
    stored = header.fingerprint.hex()
    if stored != fingerprint:
        written_by = f" ({header.checkpoint_hint})" if header.checkpoint_hint else ""
        raise FingerprintMismatch(
            f"{source} was encoded by model {stored[:16]}…{written_by}, but {model_name} is model "
            f"{fingerprint[:16]}…; decode with the checkpoint that encoded it"
        )
    sizes = tuple(codec.codebook_sizes[: len(header.codebook_sizes)])
    if (header.sample_rate, header.hop_length, header.codebook_sizes) != (codec.sample_rate, codec.hop_length, sizes):
        raise InferenceError(
            f"{source}: {header.sample_rate} Hz, hop {header.hop_length}, codebooks {header.codebook_sizes} do not "
            f"fit {model_name} ({codec.sample_rate} Hz, hop {codec.hop_length}, "
            f"codebooks {tuple(codec.codebook_sizes)})"
        )


class _AudioSink:
    """Restores the level, checks, clips (integer formats) and writes decoded blocks to an open SoundFile."""

    def __init__(self, handle: sf.SoundFile, gain_db: float, source: Path) -> None:
        self.handle, self.gain_db, self.source = handle, gain_db, source
        self.clip = handle.subtype.startswith("PCM") or handle.subtype in ("ULAW", "ALAW")
        self.clipped = 0

    def write(self, block: np.ndarray) -> None:
        if not np.all(np.isfinite(block)):
            raise InferenceError(f"decoding {self.source} produced NaN/Inf samples; the checkpoint is broken")
        audio = apply_gain(block, -self.gain_db) if self.gain_db else block
        if self.clip:
            over = int(np.count_nonzero(np.abs(audio) > 1.0))
            if over:
                self.clipped += over
                audio = np.clip(audio, -1.0, 1.0)
        self.handle.write(audio)


def decode_file(
    codec: nn.Module,
    source: PathLike | BitstreamReader,
    output: PathLike,
    *,
    fingerprint: str | None = None,
    model_name: str = "the given model",
    stream: bool = False,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    subtype: str | None = None,
) -> DecodeResult:
    """Decode a ``.cbc`` file to audio at the model's rate, restoring the original loudness.

    The bitstream is fully verified (header, length, checksum, model fingerprint) before any audio is
    produced; the output is written to a temporary file and renamed, so a failure never leaves a
    partial or clobbered ``output``. ``subtype``: soundfile subtype (default PCM_16 for WAV).
    """
    reader = open_bitstream(source)
    header = reader.header
    output = check_output_path(reader.path, output, audio=True)
    check_model(header, codec, fingerprint or model_fingerprint(codec), reader.path, model_name)
    if stream:
        check_streamable(codec)
    if chunk_seconds <= 0:
        raise InferenceError(f"--chunk-seconds must be positive, got {chunk_seconds}")
    audio_format = OUTPUT_FORMATS[output.suffix.lower()]
    if subtype is not None and not sf.check_format(audio_format, subtype):
        raise InferenceError(f"cannot write {output} as {audio_format} with sample format {subtype!r}")
    stats: dict[str, Any] = {}

    def write(file: BinaryIO) -> None:
        with sf.SoundFile(file, "w", samplerate=header.sample_rate, channels=1, format=audio_format,
                          subtype=subtype) as handle:
            sink = _AudioSink(handle, header.gain_db, reader.path)
            if stream:
                stats["timings"] = _decode_streamed(codec, reader, sink, chunk_seconds)
                stats["compute"] = stats["timings"].total_seconds
            else:
                stats["compute"] = _decode_offline(codec, reader, sink)
            stats["clipped"] = sink.clipped

    try:
        atomic_write(output, write)
    except sf.LibsndfileError as error:
        raise InferenceError(f"cannot write {output}: {error}") from error
    return DecodeResult(output, header, header.num_samples, header.sample_rate, stats["clipped"], stream,
                        stats["compute"], stats.get("timings"))


def _decode_offline(codec: nn.Module, reader: BitstreamReader, sink: _AudioSink) -> float:
    codes = torch.from_numpy(reader.read_codes())[None].to(_device(codec))
    start = time.perf_counter()
    with torch.inference_mode():
        audio = codec.decode(codes, length=reader.header.num_samples)[0, 0].to("cpu", torch.float32).numpy()
    compute = time.perf_counter() - start
    if audio.shape[-1] != reader.header.num_samples:
        raise InferenceError(f"the model decoded {audio.shape[-1]} samples, the bitstream holds "
                             f"{reader.header.num_samples}")
    sink.write(audio)
    return compute


def _decode_streamed(codec: nn.Module, reader: BitstreamReader, sink: _AudioSink, chunk_seconds: float) -> ChunkTimings:
    header = reader.header
    chunk_frames = max(1, round(chunk_seconds * header.frame_rate))
    remaining = header.num_samples
    with StreamingDecoder(codec) as decoder:
        for block in reader.iter_codes(max(8, chunk_frames)):
            for start in range(0, block.shape[-1], chunk_frames):
                audio = decoder.feed(block[:, start : start + chunk_frames]).numpy()[:remaining]
                remaining -= len(audio)
                sink.write(audio)
    if remaining:
        raise InferenceError(f"the model decoded {header.num_samples - remaining} samples, the bitstream holds "
                             f"{header.num_samples}")
    return decoder.stopwatch.summary(chunk_frames / header.frame_rate)
