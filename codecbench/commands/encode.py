"""Compress an audio file into a .cbc bitstream with a trained codec.

The input (any sample rate, any channel count) is mixed to mono, resampled to the model's rate
and normalised to the training loudness target (-16 dBFS RMS); the gain is stored so that
`codecbench decode` restores the original level. The bitstream records the model fingerprint
and the checkpoint path, and is written atomically.

  codecbench encode --checkpoint runs/x/checkpoints/step_00010000.pt speech.flac speech.cbc
  codecbench encode --checkpoint runs/x --n-q 4 --stream long.wav long.cbc

--stream (causal recipes only) reads, encodes and writes chunk by chunk with bounded memory,
and prints the algorithmic latency and the measured per-chunk compute time.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codecbench.inference import EncodeResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN_AUDIO", help="audio file to encode (wav, flac, ogg, ...)")
    parser.add_argument("output", metavar="OUT.cbc", help="bitstream to write")
    parser.add_argument("--checkpoint", required=True, metavar="CKPT",
                        help="checkpoint file, or a run directory (its latest checkpoint)")
    parser.add_argument("--n-q", type=int, default=None, metavar="K",
                        help="codebook levels to keep (lower bitrate); default: all")
    parser.add_argument("--stream", action="store_true",
                        help="encode chunk by chunk with bounded memory (causal recipes only)")
    parser.add_argument("--chunk-seconds", type=float, default=1.0, metavar="S",
                        help="audio per chunk when streaming (default 1.0)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    from codecbench import inference
    from codecbench.training.checkpoint import load_codec, resolve_checkpoint

    inference.check_output_path(args.input, args.output, audio=False)
    checkpoint = resolve_checkpoint(args.checkpoint).resolve()
    loaded = load_codec(checkpoint, args.device)
    if args.stream:
        inference.check_streamable(loaded.codec)
    codec = inference.prepare_for_inference(loaded.codec)
    result = inference.encode_file(
        codec, args.input, args.output, fingerprint=loaded.fingerprint, checkpoint_hint=str(checkpoint),
        n_q=args.n_q, stream=args.stream, chunk_seconds=args.chunk_seconds,
    )
    print(format_encode_result(args.input, result))
    return 0


def format_encode_result(source: str, result: EncodeResult) -> str:
    """Human-readable summary of an ``EncodeResult``."""
    header = result.header
    lines = [
        f"encoded {source} ({result.input_sample_rate} Hz, {result.input_channels} ch, "
        f"{result.duration_seconds:.2f} s) -> {result.output}",
        f"  model {header.sample_rate} Hz, {header.frame_rate:g} frames/s, {len(header.codebook_sizes)} levels "
        f"({header.bits_per_frame} bits/frame); input mixed to mono and resampled to the model rate",
        f"  nominal {result.nominal_bitrate / 1000:.3f} kbit/s; file {result.file_bytes} bytes = "
        f"{result.file_bitrate / 1000:.3f} kbit/s ({result.overhead_bytes} bytes header + checksums)",
        f"  loudness gain {header.gain_db:+.2f} dB to the training target (undone by decode)",
    ]
    if result.latency is not None and result.timings is not None:
        timings = result.timings
        lines.append(
            f"  streaming: algorithmic latency {result.latency.ms:.1f} ms (frame "
            f"{1000 * result.latency.frame_samples / result.latency.sample_rate:.1f} ms + look-ahead "
            f"{1000 * result.latency.encoder_lookahead_samples / result.latency.sample_rate:.1f} ms); "
            f"{timings.chunks} chunks of {1000 * timings.chunk_seconds:.0f} ms: encoder compute per chunk "
            f"mean {timings.mean_ms:.1f} ms (CPU {timings.cpu_mean_ms:.1f} ms), max {timings.max_ms:.1f} ms "
            f"(real-time factor {timings.real_time_factor:.3f})"
        )
    else:
        lines.append(f"  encoder compute {1000 * result.compute_seconds:.1f} ms "
                     f"(real-time factor {result.compute_seconds / max(result.duration_seconds, 1e-9):.3f})")
    return "\n".join(lines)
