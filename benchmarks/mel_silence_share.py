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
import soundfile as sf
import torch

from codecbench.audio.spectral import mel_filterbank, stft_magnitude
from codecbench.bench.systems import CheckpointSystem
from codecbench.metrics.spectral import CLAMP_EPS, MEL_BANDS, MEL_WINDOWS

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
    both = torch.from_numpy(np.stack([reference, estimate]).astype(np.float32))
    silent_part = voiced_part = silent_fraction = 0.0
    for window, n_mels in zip(MEL_WINDOWS, MEL_BANDS):
        mag = stft_magnitude(both, window, window // 4, center=True, pad_mode="reflect", eps=0.0)
        logs = (mel_filterbank(sample_rate, window, n_mels) @ mag).clamp_min(CLAMP_EPS).log10()
        diff = (logs[0] - logs[1]).abs()  # [bands, frames]
        silent = logs[0].amax(dim=0) <= np.log10(CLAMP_EPS) + SILENCE_DECADES
        silent_part += float(diff[:, silent].sum()) / diff.numel()
        voiced_part += float(diff[:, ~silent].sum()) / diff.numel()
        silent_fraction += float(silent.float().mean()) / len(MEL_WINDOWS)
    return silent_part, voiced_part, silent_fraction


def measure(checkpoint: str, files: list[Path]) -> MelSplit:
    system = CheckpointSystem.from_checkpoint(checkpoint)[0]
    parts = np.zeros(3)
    for path in files:
        audio, sample_rate = sf.read(path, dtype="float32", always_2d=False)
        if audio.ndim != 1:
            raise ValueError(f"{path}: expected mono audio, got {audio.shape[1]} channels")
        if sample_rate != system.sample_rate:
            raise ValueError(f"{path}: {sample_rate} Hz, but {checkpoint} is a {system.sample_rate} Hz codec")
        decoded, _ = system.process(audio)
        parts += split_distance(audio, decoded, sample_rate)
    silent, voiced, fraction = parts / len(files)
    return MelSplit(checkpoint, len(files), float(silent), float(voiced), float(fraction))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoint files or run directories")
    parser.add_argument("--data", required=True, help="folder of reference audio files (flac/wav)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    files = sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in {".flac", ".wav"})
    if not files:
        parser.error(f"{args.data}: no .flac or .wav files")
    torch.manual_seed(0)
    results = [measure(checkpoint, files) for checkpoint in args.checkpoints]
    for r in results:
        print(f"{r.checkpoint}: mel {r.total:.2f} = silent frames {r.silent_part:.2f} + other frames "
              f"{r.voiced_part:.2f} ({100 * r.silent_frame_fraction:.0f} % of frames silent, {r.files} files)")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) | {"total": r.total} for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
