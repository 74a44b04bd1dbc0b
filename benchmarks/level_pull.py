"""Which way does each generator loss pull the output level? ``d loss / d log(gain)`` at a checkpoint.

Loads a training checkpoint (codec, discriminator and the recipe's generator losses and weights),
reconstructs crops of the given audio, scales the reconstruction by a gain ``g`` and prints, for each
generator loss (times its weight in the recipe), the derivative with respect to ``log g`` at ``g = 1``.
Positive: a quieter output lowers the loss, so the loss pushes the level down; negative: it pulls the
level up. The mel loss is also split into its per-bin log, spectral-convergence and level terms
(unweighted). This is how docs/recipes.md explains why young codecs come out too quiet.

Example:

    python benchmarks/level_pull.py runs/dac/checkpoints/step_00000500.pt ../shared/data/speech/te_ulca/dev \\
        --gin "codecbench.losses.mel.level_pooling = 'broadband'"
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from codecbench.audio.io import load_audio
from codecbench.bench.audio import find_audio_files
from codecbench.config import apply_bindings
from codecbench.losses import LossInputs, MultiScaleMelLoss
from codecbench.training.checkpoint import load_checkpoint, load_codec, resolve_gin_binding

MEL_PARTS = ("log_weight", "sc_weight", "level_weight")


def crops(files: list[Path], sample_rate: int, seconds: float, skip_seconds: float) -> Tensor:
    """One crop per file (skipping its start, usually silence); files too short are left out."""
    start, length = int(skip_seconds * sample_rate), int(seconds * sample_rate)
    pieces = [audio[..., start : start + length] for audio in (load_audio(f, sample_rate) for f in files)]
    pieces = [piece.reshape(1, -1) for piece in pieces if piece.shape[-1] == length]
    if not pieces:
        raise SystemExit(f"no file is longer than {skip_seconds + seconds:.1f} s")
    return torch.stack(pieces)


def gain_slope(loss: nn.Module, reference: Tensor, reconstruction: Tensor, discriminator: nn.Module | None,
               codec_output: object) -> tuple[float, float]:
    """(loss value, d loss / d log gain at gain 1)."""
    log_gain = torch.zeros((), requires_grad=True)
    scaled = log_gain.exp() * reconstruction
    real = fake = None
    if discriminator is not None:
        with torch.no_grad():
            real = discriminator(reference)
        fake = discriminator(scaled)
    value = loss(LossInputs(reference=reference, reconstruction=scaled, codec=codec_output, real=real, fake=fake))
    (slope,) = torch.autograd.grad(value, log_gain)
    return float(value.detach()), float(slope)


def mel_parts(loss: MultiScaleMelLoss) -> dict[str, MultiScaleMelLoss]:
    """The mel loss's terms one at a time (weight 1, every other term off)."""
    parts = {}
    for part in MEL_PARTS:
        weights = {name: 0.0 for name in (*MEL_PARTS, "mag_weight")} | {part: 1.0}
        parts[part] = MultiScaleMelLoss(
            loss.sample_rate, [w for w, _, _ in loss.scales], [m for _, _, m in loss.scales],
            [h for _, h, _ in loss.scales], loss.f_min, loss.f_max, loss.clamp_eps, pow=loss.pow,
            level_pooling=loss.level_pooling, **weights,
        )  # fmt: skip
    return parts


def loss_weights() -> Mapping[str, float]:
    balancer = resolve_gin_binding("codecbench.train.balancer")
    return dict(getattr(balancer, "weights", {}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a training checkpoint (.pt) or run folder")
    parser.add_argument("data", help="audio folder to take crops from")
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--skip-seconds", type=float, default=0.5)
    parser.add_argument("--gin", action="append", default=[], help="binding applied to the saved config")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)

    loaded = load_codec(args.checkpoint, use_ema=True)  # leaves the checkpoint's config in Gin
    apply_bindings(args.gin)
    payload = load_checkpoint(args.checkpoint)
    codec = loaded.codec.eval()
    discriminator = resolve_gin_binding("codecbench.train.discriminator")
    if discriminator is not None:
        discriminator.load_state_dict(payload["discriminator"])
        discriminator.eval()
    losses = resolve_gin_binding("codecbench.train.generator_losses")
    weights = loss_weights()

    reference = crops(find_audio_files(args.data, args.files), loaded.sample_rate, args.seconds, args.skip_seconds)
    with torch.no_grad():
        output = codec(reference)
    reconstruction = output.audio.detach()
    amplitude = float((reconstruction.square().mean() / reference.square().mean()).sqrt())
    print(f"{args.checkpoint}: amplitude {100 * amplitude:.1f} % on {reference.shape[0]} crops")
    print("positive: the term pushes the level down; negative: it pulls the level up")
    rows: dict[str, dict[str, float]] = {}
    total = 0.0
    for name, loss in losses.items():
        if not getattr(loss, "depends_on_output", True):
            continue  # e.g. distillation: the gain of the output does not reach it
        value, slope = gain_slope(loss, reference, reconstruction, discriminator, output)
        weight = float(weights.get(name, 1.0))
        rows[name] = {"value": value, "weight": weight, "weighted_slope": weight * slope}
        total += weight * slope
        print(f"  {name:14s} value {value:9.4f}   weight x d/dlog g {weight * slope:+9.4f}")
        if isinstance(loss, MultiScaleMelLoss):
            for part, term in mel_parts(loss).items():
                part_value, part_slope = gain_slope(term, reference, reconstruction, None, output)
                rows[f"{name}.{part}"] = {"value": part_value, "slope": part_slope}
                print(f"    {part:12s} value {part_value:9.4f}   d/dlog g (unweighted) {part_slope:+9.4f}")
    print(f"  total (weighted) {total:+.4f}")
    if args.json:
        result = {"checkpoint": str(args.checkpoint), "amplitude": amplitude, "total": total, "terms": rows,
                  "bindings": list(args.gin)}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
