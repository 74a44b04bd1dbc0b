"""Encode/decode real-time factor and peak RSS of a tiny codecbench codec against Opus and Codec2, in one run.

All systems process the same audio (default: 10 s of synthetic voiced signal at 16 kHz; ``--audio``
takes a real file, mixed to mono, resampled to 16 kHz, cut or looped to ``--seconds``).

* Opus (``opusenc``/``opusdec``, VBR at ``--opus-bitrate``) and Codec2 (``c2enc``/``c2dec`` in
  ``--codec2-mode``, on 8 kHz raw 16-bit input prepared beforehand, untimed) run as processes;
  their time is the process wall time (start-up included, a few ms).
* codecbench runs ``codecbench.inference.encode_file`` / ``decode_file`` (read, loudness
  normalisation, model, bit packing, atomic write) on a tiny causal DAC-style codec with a real
  RVQ, **randomly initialised** (speed does not depend on training), weight norm folded, in a
  Python worker process; its time is that of the calls after one warm-up call, without
  interpreter/torch start-up and model build (reported separately as ``startup_seconds`` and
  ``first_call_seconds``).

Each case runs in a fresh subprocess whose child does the work, so that
``resource.getrusage(RUSAGE_CHILDREN)`` there covers that case only. On Linux, though, a child's
``ru_maxrss`` also counts the image of the process it was exec'd from (a Python parent adds
~14 MB, more than opusenc's whole footprint), so the child is started through GNU ``time``
(a ~1 MB launcher that reports the child's own ``ru_maxrss`` from ``wait4``): that is
``peak_rss_mb``. The plain ``RUSAGE_CHILDREN`` figure and the launcher-free floor (``true`` run
the same way) are kept in ``extra``. For codecbench the peak includes the interpreter and torch.
RTF = compute time / audio duration (lower is faster); wall and CPU times are both recorded,
CPU time being the less sensitive to a busy machine. Ratios are codecbench / classic codec
(> 1: codecbench slower or larger).

    python benchmarks/classic_codecs_speed.py [--audio FILE] [--json benchmarks/results/classic_codecs_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "classic_codecs_speed.json"
SAMPLE_RATE = 16000
CODEC2_RATE = 8000
SYSTEMS = ("opus", "codec2", "codecbench")
OPERATIONS = ("encode", "decode")
TINY_CODEC = {"strides": (2, 4, 5, 8), "encoder_channels": 16, "decoder_channels": 96, "latent_dim": 64,
              "n_q": 8, "codebook_size": 1024, "codebook_dim": 8, "causal": True}
INSTALL_HINT = "install them with 'apt-get install -y opus-tools codec2'"
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None  # reports a child's own peak RSS


@dataclass
class Settings:
    seconds: float = 10.0
    repeats: int = 5
    threads: int = 1
    opus_bitrate: int = 6000
    codec2_mode: str = "3200"


@dataclass
class CaseResult:
    system: str
    operation: str
    audio_seconds: float
    wall_seconds: list[float]
    cpu_seconds: list[float]
    rtf: float  # median wall / audio
    rtf_cpu: float  # median CPU / audio
    peak_rss_mb: float
    bitrate: float  # bits per second of the encoded file
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchmarkResult:
    settings: Settings
    audio: dict[str, Any]
    machine: dict[str, Any]
    cases: list[CaseResult]
    ratios: dict[str, dict[str, float]]


# ------------------------------------------------------------------------------------------ inputs
def synthetic_voice(seconds: float, rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A voiced-speech-like test signal: gliding harmonics with syllable-rate envelope and breath noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 140 < rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.5
    audio = envelope * voiced + 0.02 * rng.standard_normal(t.size)
    return (0.1 * audio / np.sqrt(np.mean(audio**2))).astype(np.float32)


def load_audio_file(path: Path, seconds: float) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    frames = round(seconds * SAMPLE_RATE)
    if len(mono) == 0:
        raise ValueError(f"{path}: no samples")
    return np.resize(mono, frames).astype(np.float32)  # cut, or loop a short file


def prepare_inputs(workdir: Path, audio: np.ndarray) -> None:
    """``in.wav`` (16 kHz PCM 16) for Opus and codecbench, ``in8k.raw`` (8 kHz s16le) for Codec2."""
    sf.write(str(workdir / "in.wav"), audio, SAMPLE_RATE, subtype="PCM_16")
    narrow = soxr.resample(audio, SAMPLE_RATE, CODEC2_RATE)
    np.round(np.clip(narrow, -1, 1) * 32767).astype("<i2").tofile(workdir / "in8k.raw")


def check_tools() -> None:
    missing = [tool for tool in ("opusenc", "opusdec", "c2enc", "c2dec") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"classic_codecs_speed: {', '.join(missing)} not found; {INSTALL_HINT}")


# ------------------------------------------------------------------------------------------ classic codecs
def classic_command(system: str, operation: str, workdir: Path, settings: Settings) -> tuple[list[str], Path]:
    """The command line of one classic case and the file whose size gives the bitrate."""
    w = str(workdir)
    if system == "opus":
        packet = workdir / "out.opus"
        if operation == "encode":
            bitrate = f"{settings.opus_bitrate / 1000:g}"
            return ["opusenc", "--quiet", "--bitrate", bitrate, "--padding", "0", "--discard-comments",
                    f"{w}/in.wav", str(packet)], packet
        return ["opusdec", "--quiet", "--rate", str(SAMPLE_RATE), str(packet), f"{w}/opus_out.wav"], packet
    packet = workdir / "out.c2"
    if operation == "encode":
        return ["c2enc", settings.codec2_mode, f"{w}/in8k.raw", str(packet)], packet
    return ["c2dec", settings.codec2_mode, str(packet), f"{w}/c2_out.raw"], packet


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Launched:
    wall: float
    cpu: float
    peak_rss_mb: float | None  # the child's own ru_maxrss via GNU time; None without it
    stdout: str


def launch(command: list[str], env: dict[str, str] | None = None) -> Launched:
    """Run ``command`` (through GNU time when available) and measure it; raises with stderr on failure."""
    with tempfile.NamedTemporaryFile(prefix="codecbench-time-", suffix=".txt") as report:
        wrapped = [GNU_TIME, "-f", "%M", "-o", report.name, *command] if GNU_TIME else command
        cpu_before, start = _children_cpu(), time.perf_counter()
        done = subprocess.run(wrapped, capture_output=True, text=True, env=env, check=False)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        text = Path(report.name).read_text().split() if GNU_TIME else []
    return Launched(wall, cpu, int(text[-1]) / 1024 if text else None, done.stdout)


def _peak(launched: list[Launched]) -> tuple[float, dict[str, Any]]:
    """Peak RSS of the case, with the raw RUSAGE_CHILDREN figure and the method in ``extra``."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = [run.peak_rss_mb for run in launched if run.peak_rss_mb is not None]
    extra = {"rusage_children_mb": children,
             "rss_method": "GNU time %M (child's ru_maxrss)" if own else "RUSAGE_CHILDREN (includes the Python parent)"}
    return (max(own) if own else children), extra


def run_classic_case(system: str, operation: str, workdir: Path, settings: Settings) -> CaseResult:
    """Time the codec process ``repeats`` times (called in a fresh case process: RUSAGE_CHILDREN is its own)."""
    command, packet = classic_command(system, operation, workdir, settings)
    runs = [launch(command) for _ in range(settings.repeats)]
    peak, extra = _peak(runs)
    extra["command"] = " ".join(command[:2])
    return _result(system, operation, settings, [r.wall for r in runs], [r.cpu for r in runs], peak,
                   8 * packet.stat().st_size / settings.seconds, extra)


def _result(system: str, operation: str, settings: Settings, walls: list[float], cpus: list[float], peak: float,
            bitrate: float, extra: dict[str, Any]) -> CaseResult:
    return CaseResult(system, operation, settings.seconds, walls, cpus, statistics.median(walls) / settings.seconds,
                      statistics.median(cpus) / settings.seconds, peak, bitrate, extra)


# ------------------------------------------------------------------------------------------ codecbench
def build_tiny_codec(threads: int):  # -> Codec; imports deferred so that only the worker loads torch
    """The benchmark's codec: causal DAC-style encoder/decoder, 8 x 1024 RVQ (4 kbit/s), random init, seed 0."""
    import torch

    import codecbench.decoders
    import codecbench.encoders
    import codecbench.quantizers  # noqa: F401
    from codecbench.decoders.base import DECODERS
    from codecbench.encoders.base import ENCODERS
    from codecbench.inference import prepare_for_inference
    from codecbench.models.codec import Codec
    from codecbench.quantizers.base import QUANTIZERS

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = TINY_CODEC
    common = {"sample_rate": SAMPLE_RATE, "strides": c["strides"], "latent_dim": c["latent_dim"], "causal": c["causal"]}
    encoder = ENCODERS.create("dac", channels=c["encoder_channels"], **common)
    decoder = DECODERS.create("dac", channels=c["decoder_channels"], **common)
    quantizer = QUANTIZERS.create("rvq", dim=c["latent_dim"], n_q=c["n_q"], codebook_size=c["codebook_size"],
                                  codebook_dim=c["codebook_dim"], kmeans_iters=0)
    return prepare_for_inference(Codec(encoder, quantizer, decoder))


def codecbench_worker(operation: str, workdir: Path, settings: Settings) -> dict[str, Any]:
    """Runs in the worker process: build the codec, then time ``repeats`` calls of encode_file/decode_file."""
    started = time.perf_counter()
    from codecbench.inference import decode_file, encode_file

    codec = build_tiny_codec(settings.threads)
    parameters = sum(p.numel() for p in codec.parameters())
    startup = time.perf_counter() - started
    rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    walls, cpus, model = [], [], []
    for _ in range(settings.repeats + 1):  # the first call (warm-up: allocator, oneDNN primitives) is not counted
        cpu_before, start = time.process_time(), time.perf_counter()
        if operation == "encode":
            result = encode_file(codec, workdir / "in.wav", workdir / "out.cbc")
        else:
            result = decode_file(codec, workdir / "out.cbc", workdir / "cbc_out.wav")
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_before)
        model.append(result.compute_seconds)
    return {"wall": walls[1:], "cpu": cpus[1:], "model_seconds": model[1:], "first_call_seconds": walls[0],
            "startup_seconds": startup,
            "rss_after_setup_mb": rss_setup, "parameters": parameters,
            "bitrate": 8 * (workdir / "out.cbc").stat().st_size / settings.seconds}


def run_codecbench_case(operation: str, workdir: Path, settings: Settings) -> CaseResult:
    python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    threads = str(settings.threads)
    env = {**os.environ, "PYTHONPATH": python_path, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    command = [sys.executable, __file__, "--worker", operation, "--workdir", str(workdir), *_settings_args(settings)]
    run = launch(command, env)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    peak, extra = _peak([run])
    keys = ("model_seconds", "first_call_seconds", "startup_seconds", "rss_after_setup_mb", "parameters")
    extra.update({key: report[key] for key in keys})
    extra["process_wall_seconds"] = run.wall
    extra["codec"] = {**TINY_CODEC, "weights": "random init (seed 0)", "threads": settings.threads}
    return _result("codecbench", operation, settings, report["wall"], report["cpu"], peak, report["bitrate"], extra)


# ------------------------------------------------------------------------------------------ orchestration
def _settings_args(settings: Settings) -> list[str]:
    return ["--seconds", str(settings.seconds), "--repeats", str(settings.repeats), "--threads",
            str(settings.threads), "--opus-bitrate", str(settings.opus_bitrate), "--codec2-mode", settings.codec2_mode]


def run_case(system: str, operation: str, workdir: Path, settings: Settings) -> CaseResult:
    """One case in a fresh subprocess (so that RUSAGE_CHILDREN there covers this case only)."""
    command = [sys.executable, __file__, "--case", system, operation, "--workdir", str(workdir),
               *_settings_args(settings)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"case {system} {operation} failed:\n{done.stderr[-3000:]}")
    return CaseResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def compute_ratios(cases: list[CaseResult]) -> dict[str, dict[str, float]]:
    """codecbench / classic codec, per operation: RTF (wall and CPU) and peak RSS."""
    by_key = {(c.system, c.operation): c for c in cases}
    ratios: dict[str, dict[str, float]] = {}
    for baseline in ("opus", "codec2"):
        for operation in OPERATIONS:
            ours, theirs = by_key.get(("codecbench", operation)), by_key.get((baseline, operation))
            if ours is None or theirs is None:
                continue
            ratios[f"{operation}_vs_{baseline}"] = {
                "rtf_ratio": ours.rtf / theirs.rtf,
                "rtf_cpu_ratio": ours.rtf_cpu / theirs.rtf_cpu if theirs.rtf_cpu > 0 else float("inf"),
                "peak_rss_ratio": ours.peak_rss_mb / theirs.peak_rss_mb,
            }
    return ratios


def run_benchmark(audio_path: Path | None = None, settings: Settings | None = None) -> BenchmarkResult:
    """Prepare the audio, run every case (encode before decode), and compute the ratios."""
    settings = settings or Settings()
    check_tools()
    audio = synthetic_voice(settings.seconds) if audio_path is None else load_audio_file(audio_path, settings.seconds)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="codecbench-classic-") as tmp:
        workdir = Path(tmp)
        prepare_inputs(workdir, audio)
        cases = [run_case(system, operation, workdir, settings) for system in SYSTEMS for operation in OPERATIONS]
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
               "rss_floor_mb": launch(["true"]).peak_rss_mb, "gnu_time": GNU_TIME}
    source = {"source": str(audio_path) if audio_path else "synthetic voiced signal (seed 0)",
              "sample_rate": SAMPLE_RATE, "seconds": settings.seconds, "rms_dbfs": _rms_db(audio)}
    return BenchmarkResult(settings, source, machine, cases, compute_ratios(cases))


def _rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(audio.astype(np.float64))) + 1e-20))


def format_table(result: BenchmarkResult) -> str:
    lines = [f"{'system':11} {'op':7} {'kbit/s':>7} {'RTF wall':>9} {'RTF cpu':>8} {'x realtime':>10} "
             f"{'peak RSS MB':>11}"]
    for c in result.cases:
        lines.append(f"{c.system:11} {c.operation:7} {c.bitrate / 1000:>7.2f} {c.rtf:>9.4f} {c.rtf_cpu:>8.4f} "
                     f"{1 / c.rtf:>10.1f} {c.peak_rss_mb:>11.1f}")
    lines.append("ratios codecbench / classic (> 1: codecbench slower or larger):")
    for key, values in result.ratios.items():
        lines.append(f"  {key:18} RTF x{values['rtf_ratio']:.1f} (cpu x{values['rtf_cpu_ratio']:.1f}), "
                     f"peak RSS x{values['peak_rss_ratio']:.1f}")
    load = result.machine
    lines.append(f"load average {load['load_average_before']:.1f} -> {load['load_average_after']:.1f} on "
                 f"{load['cpus']} CPUs; codecbench: tiny causal codec, random init, "
                 f"{result.settings.threads} thread(s)")
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, default=None, help="audio file to use (default: synthetic)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"result file (default {DEFAULT_JSON})")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for codecbench (default 1)")
    parser.add_argument("--opus-bitrate", type=int, default=6000)
    parser.add_argument("--codec2-mode", default="3200")
    parser.add_argument("--case", nargs=2, metavar=("SYSTEM", "OP"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=OPERATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = Settings(args.seconds, args.repeats, args.threads, args.opus_bitrate, args.codec2_mode)
    if args.worker:
        print(json.dumps(codecbench_worker(args.worker, args.workdir, settings)))
        return 0
    if args.case:
        system, operation = args.case
        runner = run_codecbench_case if system == "codecbench" else None
        case = (runner(operation, args.workdir, settings) if runner
                else run_classic_case(system, operation, args.workdir, settings))
        print(json.dumps(asdict(case)))
        return 0
    result = run_benchmark(args.audio, settings)
    print(format_table(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
