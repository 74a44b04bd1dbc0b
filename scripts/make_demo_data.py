"""Regenerate the bundled demo speech in codecbench/data/demo/ (Telugu and English, espeak-ng, 16 kHz mono FLAC).

Usage (needs ``espeak-ng``: ``apt-get install -y espeak-ng``)::

    python scripts/make_demo_data.py            # rewrite codecbench/data/demo/*.flac and manifest.tsv
    python scripts/make_demo_data.py --check    # regenerate in a temp dir and compare with the shipped files

espeak-ng writes 22 050 Hz WAV; each utterance is trimmed of leading/trailing silence, resampled to 16 kHz with
soxr (HQ), normalised to -16 dBFS RMS over the whole file (clipping-guarded) and stored as 16-bit FLAC. The output
is bit-identical for the same espeak-ng version (made with 1.51) and soxr.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from codecbench.audio.loudness import LoudnessNormalizer
from codecbench.audio.resample import resample_numpy

SAMPLE_RATE = 16000
ESPEAK_RATE = 22050
TARGET_DB = -16.0
GAP_SECONDS = 0.35
DEMO_DIR = Path(__file__).resolve().parents[1] / "codecbench" / "data" / "demo"

TELUGU = (
    "నమస్కారం, మీరు ఎలా ఉన్నారు?",
    "ఈ రోజు వాతావరణం చాలా బాగుంది.",
    "నేను ప్రతి రోజు ఉదయం పుస్తకం చదువుతాను.",
    "హైదరాబాద్ తెలంగాణ రాష్ట్రానికి రాజధాని.",
    "మా ఊరిలో ఒక పెద్ద చెరువు ఉంది.",
    "పిల్లలు బడికి నడిచి వెళ్తున్నారు.",
    "దయచేసి కొంచెం నెమ్మదిగా మాట్లాడండి.",
    "రైలు పది నిమిషాలు ఆలస్యంగా వస్తుంది.",
    "అమ్మ వంటగదిలో అన్నం వండుతోంది.",
    "తెలుగు భాష చాలా తీయనైనది.",
    "గోదావరి నది ఒడ్డున అందమైన గుడి ఉంది.",
    "రేపు ఉదయం ఆరు గంటలకు మనం బయలుదేరుదాం.",
    "ఈ పుస్తకం ధర రెండు వందల రూపాయలు.",
    "వర్షం పడుతోంది, గొడుగు తీసుకెళ్ళండి.",
    "నా స్నేహితుడు బెంగళూరులో ఉద్యోగం చేస్తున్నాడు.",
    "మామిడి పండ్లు వేసవిలో దొరుకుతాయి.",
    "సంగీతం వింటే మనసుకు ప్రశాంతంగా ఉంటుంది.",
    "ఆ రైతు పొలంలో వరి నాటుతున్నాడు.",
    "సాయంత్రం పార్కులో చాలా మంది నడుస్తారు.",
    "ఒకటి, రెండు, మూడు, నాలుగు, ఐదు, ఆరు, ఏడు, ఎనిమిది.",
    "ఈ వార్త విని అందరూ సంతోషించారు.",
    "మా తాతగారు మాకు ఎన్నో కథలు చెప్పేవారు.",
)

ENGLISH = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A neural codec turns speech into a short sequence of discrete codes.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Twenty seven small boats sailed past the old lighthouse at dawn.",
    "Measure the bitrate first, then listen to every sample carefully.",
    "She sells sea shells by the sea shore on sunny afternoons.",
    "The train to the city leaves from platform nine at half past six.",
    "Loud music in the next room kept everyone awake until midnight.",
)


@dataclass(frozen=True)
class Utterance:
    """One demo file: sentences spoken by one espeak-ng voice."""

    name: str
    language: str
    voice: str
    pitch: int
    speed: int
    sentences: tuple[str, ...]


def plan() -> list[Utterance]:
    """The fixed list of demo files (voices, pitch and speed vary per file)."""
    te_voices = ("te", "te+f3", "te+m3", "te+klatt", "te+f2", "te+m1")
    en_voices = ("en-us", "en+f3", "en+m3", "en-gb", "en-us+f2", "en+klatt")
    pitches = (35, 50, 65, 42, 58, 70, 30)
    speeds = (150, 170, 135, 160, 145, 180)
    utterances: list[Utterance] = []
    for i, text in enumerate(TELUGU):
        utterances.append(Utterance(f"te_{i:02d}", "te", te_voices[i % 6], pitches[i % 7], speeds[i % 6], (text,)))
    for i, text in enumerate(ENGLISH):
        utterances.append(
            Utterance(f"en_{i:02d}", "en", en_voices[i % 6], pitches[(i + 3) % 7], speeds[(i + 2) % 6], (text,))
        )
    # A long file (~60 s) so that crops from long files are exercised.
    utterances.append(Utterance("te_long", "te", "te+m3", 45, 150, TELUGU))
    return utterances


def synthesize(sentence: str, voice: str, pitch: int, speed: int, workdir: Path) -> np.ndarray:
    """espeak-ng audio of one sentence at 22 050 Hz, float32, silence trimmed."""
    wav = workdir / "utterance.wav"
    command = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), sentence]
    subprocess.run(command, check=True, capture_output=True)
    audio, rate = sf.read(str(wav), dtype="float32")
    if rate != ESPEAK_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {ESPEAK_RATE}")
    voiced = np.flatnonzero(np.abs(audio) > 1e-3)
    if voiced.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for voice {voice}: {sentence!r}")
    pad = int(0.1 * ESPEAK_RATE)
    return audio[max(0, voiced[0] - pad) : voiced[-1] + pad]


def render(utterance: Utterance, workdir: Path) -> np.ndarray:
    """16 kHz, -16 dBFS RMS float32 audio of one demo file."""
    gap = np.zeros(int(GAP_SECONDS * ESPEAK_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for sentence in utterance.sentences:
        if pieces:
            pieces.append(gap)
        pieces.append(synthesize(sentence, utterance.voice, utterance.pitch, utterance.speed, workdir))
    audio = resample_numpy(np.concatenate(pieces), ESPEAK_RATE, SAMPLE_RATE)
    normalised = LoudnessNormalizer(target_db=TARGET_DB).normalize(audio)
    return np.asarray(normalised.audio, dtype=np.float32)


def generate(out_dir: Path) -> list[dict[str, str]]:
    """Write every demo FLAC and manifest.tsv into ``out_dir``; returns the manifest rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for utterance in plan():
            audio = render(utterance, Path(tmp))
            name = f"{utterance.name}.flac"
            sf.write(str(out_dir / name), audio, SAMPLE_RATE, subtype="PCM_16")
            rows.append(
                {
                    "file": name,
                    "language": utterance.language,
                    "voice": utterance.voice,
                    "pitch": str(utterance.pitch),
                    "speed": str(utterance.speed),
                    "seconds": f"{audio.shape[0] / SAMPLE_RATE:.2f}",
                    "text": " ".join(utterance.sentences),
                }
            )
    with open(out_dir / "manifest.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def check(reference: Path) -> int:
    """Regenerate into a temp dir and compare decoded samples and the manifest with ``reference``."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        rows = generate(fresh)
        problems = []
        if (fresh / "manifest.tsv").read_text(encoding="utf-8") != (reference / "manifest.tsv").read_text(
            encoding="utf-8"
        ):
            problems.append("manifest.tsv differs")
        for row in rows:
            shipped = reference / row["file"]
            if not shipped.is_file():
                problems.append(f"{row['file']} missing")
                continue
            a, _ = sf.read(str(fresh / row["file"]), dtype="int16")
            b, _ = sf.read(str(shipped), dtype="int16")
            if a.shape != b.shape or not np.array_equal(a, b):
                problems.append(f"{row['file']} differs")
    for problem in problems:
        print(problem)
    print("demo data reproduces exactly" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output folder (default: the package demo dir)")
    parser.add_argument("--check", action="store_true", help="verify the shipped files instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out)
    rows = generate(args.out)
    seconds = sum(float(row["seconds"]) for row in rows)
    size = sum((args.out / row["file"]).stat().st_size for row in rows)
    print(f"wrote {len(rows)} files, {seconds:.1f} s of audio, {size / 1e6:.2f} MB to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
