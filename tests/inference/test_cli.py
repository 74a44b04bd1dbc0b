"""`codecbench encode` / `codecbench decode`: round trip, and every error path exits 2 leaving no output behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from inference_helpers import RATE, write_checkpoint, write_tone

from codecbench.cli import main
from codecbench.inference import NOT_CAUSAL
from codecbench.training.checkpoint import load_codec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    audio = root / "speech.wav"
    write_tone(audio, 1.2, rate=24000, channels=2)
    return {
        "audio": audio,
        "a": write_checkpoint(root / "a.pt", seed=0),
        "b": write_checkpoint(root / "b.pt", seed=1),
        "non_causal": write_checkpoint(root / "nc.pt", seed=0, causal=False),
    }


def _cli(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "codecbench", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300, check=False)


def _error(capsys: pytest.CaptureFixture, command: str, *args: object) -> str:
    assert main([command, *map(str, args)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"codecbench {command}: error: ")
    return captured.err


def test_round_trip_through_the_command_line(files: dict[str, Path], tmp_path: Path) -> None:
    """Real processes: streamed encode prints latency and chunk compute; decode finds the checkpoint by itself."""
    bitstream, decoded = tmp_path / "speech.cbc", tmp_path / "speech.wav"
    encode = _cli("encode", "--checkpoint", files["a"], "--stream", "--chunk-seconds", "0.25", files["audio"],
                  bitstream)
    assert encode.returncode == 0, encode.stderr
    assert "algorithmic latency 0.5 ms" in encode.stdout and "encoder compute per chunk mean" in encode.stdout
    assert "24000 Hz, 2 ch" in encode.stdout and "kbit/s" in encode.stdout
    decode = _cli("decode", bitstream, decoded)  # no --checkpoint: the path stored in the header
    assert decode.returncode == 0, decode.stderr
    assert f"mono at {RATE} Hz (the model's rate" in decode.stdout
    info = sf.info(str(decoded))
    assert (info.samplerate, info.channels, info.frames) == (RATE, 1, round(1.2 * RATE))
    bitstream.write_bytes(bitstream.read_bytes()[:-3])
    failed = _cli("decode", bitstream, tmp_path / "never.wav")
    assert failed.returncode == 2 and "codecbench decode: error:" in failed.stderr and "truncated" in failed.stderr
    assert "Traceback" not in failed.stderr and not (tmp_path / "never.wav").exists()


def test_damaged_files_and_wrong_checkpoint_fail_cleanly(files: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    good = tmp_path / "good.cbc"
    assert main(["encode", "--checkpoint", str(files["a"]), str(files["audio"]), str(good)]) == 0
    assert "nominal" in capsys.readouterr().out
    target = tmp_path / "out.wav"
    target.write_bytes(b"an earlier decode the user wants to keep")
    data = good.read_bytes()

    truncated = tmp_path / "truncated.cbc"
    truncated.write_bytes(data[: len(data) - 40])
    assert "truncated" in _error(capsys, "decode", truncated, target)

    corrupted = tmp_path / "corrupted.cbc"
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    corrupted.write_bytes(bytes(flipped))
    assert "checksum mismatch; the file is corrupted" in _error(capsys, "decode", corrupted, target)

    header_hit = bytearray(data)
    header_hit[12] ^= 0x01  # inside the header body
    corrupted.write_bytes(bytes(header_hit))
    assert "header checksum mismatch" in _error(capsys, "decode", corrupted, target)

    message = _error(capsys, "decode", "--checkpoint", files["b"], good, target)
    fingerprint_a, fingerprint_b = load_codec(files["a"]).fingerprint, load_codec(files["b"]).fingerprint
    assert fingerprint_a[:16] in message and fingerprint_b[:16] in message
    assert str(files["a"]) in message and str(files["b"]) in message

    assert "refusing to overwrite the input" in _error(capsys, "decode", good, good)
    assert "refusing to overwrite the input" in _error(capsys, "encode", "--checkpoint", files["a"], files["audio"],
                                                       files["audio"])
    assert "--n-q 7" in _error(capsys, "encode", "--checkpoint", files["a"], "--n-q", "7", files["audio"],
                               tmp_path / "x.cbc")
    assert target.read_bytes() == b"an earlier decode the user wants to keep"  # never clobbered
    assert good.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupted.cbc", "good.cbc", "out.wav", "truncated.cbc"]


def test_decode_without_checkpoint_needs_the_stored_path(files: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    moved = shutil.copy(files["a"], tmp_path / "moved.pt")
    bitstream = tmp_path / "x.cbc"
    assert main(["encode", "--checkpoint", str(moved), str(files["audio"]), str(bitstream)]) == 0
    Path(moved).unlink()
    message = _error(capsys, "decode", bitstream, tmp_path / "x.wav")
    assert str(moved) in message and "pass --checkpoint" in message
    assert main(["decode", "--checkpoint", str(files["a"]), str(bitstream), str(tmp_path / "x.wav")]) == 0
    assert sf.info(str(tmp_path / "x.wav")).samplerate == RATE


def test_stream_needs_a_causal_checkpoint(files: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    message = _error(capsys, "encode", "--checkpoint", files["non_causal"], "--stream", files["audio"],
                     tmp_path / "x.cbc")
    assert NOT_CAUSAL in message
    assert main(["encode", "--checkpoint", str(files["non_causal"]), str(files["audio"]), str(tmp_path / "x.cbc")]) == 0
    assert NOT_CAUSAL in _error(capsys, "decode", "--stream", tmp_path / "x.cbc", tmp_path / "x.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"not audio at all")
    assert "garbage.wav" in _error(capsys, "encode", "--checkpoint", files["a"], garbage, tmp_path / "y.cbc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.wav", "x.cbc"]
