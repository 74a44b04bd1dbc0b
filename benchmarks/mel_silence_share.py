"""How much of a checkpoint's mel distance comes from frames where the reference is silent?

The bench ``mel`` metric (``codecbench.metrics.spectral``) clamps mel energies at 1e-5 before log10,
so in digital silence (the demo speech is 10-17 % exact zeros) any noise a codec adds costs up to
several log10 units per band. This splits each scale's mean into frames whose reference mel stays
within a factor of 10 of the clamp in every band ("silent") and the rest, and averages over files.

    python benchmarks/mel_silence_share.py --data DIR CHECKPOINT [CHECKPOINT ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from codecbench.audio.io import read_audio
from codecbench.bench.audio import find_audio_files
from codecbench.bench.systems import CheckpointSystem
from codecbench.metrics.spectral import CLAMP_EPS, MEL_WINDOWS, log_mel_scales

SILENCE_DECADES = 1.0  # a frame is silent when every band of the reference is below 10 x the clamp


@dataclass(frozen=True)
class MelSplit:
    """Mel distance of one checkpoint over the files, split into silent-frame and other-frame parts."""

    checkpoint: str
    files: int
    silent_part: float
    voiced_part: float
    silent_frame_fraction: float

    @property
    def total(self) -> float:
        return self.silent_part + self.voiced_part


def split_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> tuple[float, float, float]:
    """(silent part, other part, fraction of silent frames); the parts sum to the bench mel distance."""
    silent_part = voiced_part = silent_fraction = 0.0
    for log_ref, log_est in log_mel_scales(reference, estimate, sample_rate):
        diff = (log_ref - log_est).abs()  # [bands, frames]
        silent = log_ref.amax(dim=0) <= np.log10(CLAMP_EPS) + SILENCE_DECADES
        silent_part += float(diff[:, silent].sum()) / diff.numel()
        voiced_part += float(diff[:, ~silent].sum()) / diff.numel()
        silent_fraction += float(silent.float().mean()) / len(MEL_WINDOWS)
    return silent_part, voiced_part, silent_fraction


def measure(checkpoint: str, files: list[Path]) -> MelSplit:
    """Each file, mixed to mono at the codec's rate, through the codec as ``bench`` runs it."""
    system = CheckpointSystem.from_checkpoint(checkpoint)[0]
    parts = np.zeros(3)
    for path in files:
        audio, _ = read_audio(path, system.sample_rate)
        decoded, _ = system.process(audio)
        parts += split_distance(audio, decoded, system.sample_rate)
    silent, voiced, fraction = parts / len(files)
    return MelSplit(checkpoint, len(files), float(silent), float(voiced), float(fraction))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoint files or run directories")
    parser.add_argument("--data", required=True, help="folder of reference audio files (searched recursively)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    try:
        files = find_audio_files(args.data)
    except FileNotFoundError as error:
        parser.error(str(error))
    torch.manual_seed(0)
    results = [measure(checkpoint, files) for checkpoint in args.checkpoints]
    for r in results:
        print(f"{r.checkpoint}: mel {r.total:.2f} = silent frames {r.silent_part:.2f} + other frames "
              f"{r.voiced_part:.2f} ({100 * r.silent_frame_fraction:.0f} % of frames silent, {r.files} files)")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) | {"total": r.total} for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
