"""Decode a .cbc bitstream back to audio.

The bitstream is checked (format, length, checksum, model fingerprint) before any audio is
produced, and the output is written atomically: a failed decode never leaves a partial or
clobbered OUT.wav. The audio comes out mono, at the model's sample rate (the input was
resampled to it on encode), at the original loudness.

  codecbench decode speech.cbc speech.wav                  # checkpoint path stored in the file
  codecbench decode --checkpoint runs/x speech.cbc speech.wav --stream
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.cbc", help="bitstream written by 'codecbench encode'")
    parser.add_argument("output", metavar="OUT.wav", help="audio file to write (.wav or .flac)")
    parser.add_argument("--checkpoint", default=None, metavar="CKPT",
                        help="checkpoint that encoded the file (default: the path stored in the bitstream)")
    parser.add_argument("--stream", action="store_true",
                        help="decode chunk by chunk with bounded memory (causal recipes only)")
    parser.add_argument("--chunk-seconds", type=float, default=1.0, metavar="S",
                        help="audio per chunk when streaming (default 1.0)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codecbench import inference
    from codecbench.training.checkpoint import load_codec, resolve_checkpoint

    reader = inference.open_bitstream(args.input)  # header, length and checksum verified here
    inference.check_output_path(reader.path, args.output, audio=True)
    checkpoint = args.checkpoint
    hint = reader.header.checkpoint_hint
    if checkpoint is None:
        if not hint:
            raise inference.InferenceError(f"{args.input} does not record which checkpoint encoded it; "
                                           "pass --checkpoint CKPT")
        if not Path(hint).exists():
            raise inference.InferenceError(f"{args.input} was encoded with checkpoint {hint}, which does not exist "
                                           "here; pass --checkpoint CKPT")
        checkpoint = hint
    path = resolve_checkpoint(checkpoint)
    loaded = load_codec(path, args.device)
    if args.stream:
        inference.check_streamable(loaded.codec)
    codec = inference.prepare_for_inference(loaded.codec)
    result = inference.decode_file(codec, reader, args.output, fingerprint=loaded.fingerprint,
                                   model_name=f"checkpoint {path}", stream=args.stream,
                                   chunk_seconds=args.chunk_seconds)
    seconds = result.num_samples / result.sample_rate
    print(f"decoded {reader.path} -> {result.output}: {result.num_samples} samples, {seconds:.2f} s, mono at "
          f"{result.sample_rate} Hz (the model's rate; the input was resampled to it on encode), "
          f"level restored ({-result.header.gain_db:+.2f} dB)")
    if result.clipped_samples:
        print(f"  warning: {result.clipped_samples} samples above full scale were clipped")
    if result.timings is not None:
        t = result.timings
        print(f"  streaming: {t.chunks} chunks of {1000 * t.chunk_seconds:.0f} ms: decoder compute per chunk mean "
              f"{t.mean_ms:.1f} ms (CPU {t.cpu_mean_ms:.1f} ms), max {t.max_ms:.1f} ms "
              f"(real-time factor {t.real_time_factor:.3f})")
    else:
        print(f"  decoder compute {1000 * result.compute_seconds:.1f} ms "
              f"(real-time factor {result.compute_seconds / max(seconds, 1e-9):.3f})")
    return 0
