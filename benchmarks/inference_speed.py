"""CPU inference speed and peak memory of DAC-style codecs: encode and decode, 1 and 2 threads.

Each (config, threads, operation) case runs in its own subprocess so that its peak RSS is its own.
Models are built fresh, weight norm is folded (``remove_weight_norm``), and timing runs under
``torch.inference_mode`` on ``--seconds`` of audio at batch 1, in float32 and under bfloat16
CPU autocast (weights float32, convolutions in bfloat16). The quantizer is the registered
``factorized_rvq`` (DAC's), else ``rvq`` with 8-dim codes, else a rounding test double; the JSON
says which. Speed is reported as ``x_realtime`` (audio seconds per compute second, higher is
faster) and ``rtf`` (compute / audio). Timings depend on what else runs on the machine: the load
average before and after each case is recorded.

    python benchmarks/inference_speed.py [--json benchmarks/results/inference_speed.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIGS = {
    # DAC's own 16 kHz reference recipe runs ~1.5x real time on 2 cores of this machine, the tiny one ~30x.
    "tiny": {"encoder_dim": 16, "decoder_dim": 96, "strides": (2, 4, 5, 8), "n_q": 8, "codebook_size": 1024},
    "dac16k": {"encoder_dim": 64, "decoder_dim": 1536, "strides": (2, 4, 5, 8), "n_q": 12, "codebook_size": 1024},
}
REFERENCE_X_REALTIME_2_THREADS = {"tiny": 30.0, "dac16k": 1.5}
TARGET_SPEEDUP = 3.0
CODEBOOK_DIM = 8
SAMPLE_RATE = 16000
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class CaseResult:
    config: str
    operation: str
    threads: int
    dtype: str
    quantizer: str
    audio_seconds: float
    seconds: list[float]
    best_seconds: float
    median_seconds: float
    x_realtime: float
    rtf: float
    cpu_seconds: list[float]
    x_realtime_cpu: float
    peak_rss_mb: float
    rss_after_build_mb: float
    parameters_m: float
    load_average_before: float
    load_average_after: float


def build_codec(config: str):  # -> Codec (imports deferred so that the parent process stays light)
    import torch

    from codecbench.decoders.dac import DACDecoder
    from codecbench.encoders.dac import DACEncoder
    from codecbench.models.codec import Codec
    from codecbench.nn.weight_norm import remove_weight_norm

    cfg = CONFIGS[config]
    latent_dim = cfg["encoder_dim"] * 2 ** len(cfg["strides"])  # DAC: d_latent = encoder_dim * 2**len(rates)
    quantizer, qname = build_quantizer(latent_dim, cfg["n_q"], cfg["codebook_size"])
    torch.manual_seed(0)
    encoder = DACEncoder(SAMPLE_RATE, cfg["strides"], cfg["encoder_dim"], latent_dim)
    decoder = DACDecoder(SAMPLE_RATE, cfg["strides"], cfg["decoder_dim"], latent_dim)
    codec = Codec(encoder, quantizer, decoder).eval()
    remove_weight_norm(codec)
    for p in codec.parameters():
        p.requires_grad_(False)
    return codec, qname


def build_quantizer(dim: int, n_q: int, codebook_size: int):
    try:
        import codecbench.quantizers  # noqa: F401  (registers the built-ins)
        from codecbench.quantizers.base import QUANTIZERS

        if "factorized_rvq" in QUANTIZERS:
            kwargs = {"dim": dim, "n_q": n_q, "codebook_size": codebook_size, "codebook_dim": CODEBOOK_DIM}
            return QUANTIZERS.create("factorized_rvq", **kwargs), "factorized_rvq (real, DAC-style)"
        if "rvq" in QUANTIZERS:
            kwargs = {"dim": dim, "n_q": n_q, "codebook_size": codebook_size, "codebook_dim": CODEBOOK_DIM}
            return QUANTIZERS.create("rvq", **kwargs), "rvq (real, codebook_dim 8)"
    except ImportError:
        pass
    return _rounding_double(dim, n_q), "rounding test double (no real quantizer registered)"


def _rounding_double(dim: int, n_q: int):  # -> Quantizer; class defined lazily to keep imports deferred
    import torch

    from codecbench.quantizers.base import Quantizer
    from codecbench.types import QuantizedResult

    class RoundingDouble(Quantizer):
        def __init__(self) -> None:
            super().__init__()
            self.dim = dim

        @property
        def codebook_sizes(self) -> list[int]:
            return [256] * n_q

        def encode(self, latent, n_q_=None):
            return (latent[:, : n_q_ or n_q] * 4).round().clamp(-128, 127).long() + 128

        def decode(self, codes):
            return torch.nn.functional.pad((codes.float() - 128) / 4, (0, 0, 0, dim - codes.shape[1]))

        def forward(self, latent, frame_rate, n_q_=None):
            codes = self.encode(latent, n_q_)
            return QuantizedResult(self.decode(codes), codes, 8.0 * codes.shape[1] * frame_rate, latent.new_zeros(()))

    return RoundingDouble()


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_case(config: str, operation: str, threads: int, seconds: float, repeats: int, dtype: str) -> CaseResult:
    """Time one case in this process (called in the worker subprocess)."""
    import resource

    import torch

    torch.set_num_threads(threads)
    load_before = os.getloadavg()[0]
    codec, qname = build_codec(config)
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"--dtypes: unknown dtype {dtype!r}; use float32 or bfloat16")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")  # weights stay float32
    params = sum(p.numel() for p in codec.parameters()) / 1e6
    generator = torch.Generator().manual_seed(0)
    length = int(seconds * SAMPLE_RATE)
    audio = 0.1 * torch.randn(1, 1, length, generator=generator)
    frames = math.ceil(length / codec.hop_length)
    codes = torch.stack([torch.randint(0, size, (1, frames), generator=generator) for size in codec.codebook_sizes], 1)
    rss_after_build = _rss_mb()

    def step() -> None:
        if operation == "encode":
            codec.encode(audio)
        else:
            codec.decode(codes, length=length)

    times, cpu_times = [], []
    with torch.inference_mode(), autocast:
        step()  # warm-up: oneDNN primitive creation, allocator
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            step()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    best = min(times)
    median = sorted(times)[len(times) // 2]
    return CaseResult(
        config=config,
        operation=operation,
        threads=threads,
        dtype=dtype,
        quantizer=qname,
        audio_seconds=seconds,
        seconds=times,
        best_seconds=best,
        median_seconds=median,
        x_realtime=seconds / median,
        rtf=median / seconds,
        cpu_seconds=cpu_times,
        x_realtime_cpu=seconds / sorted(cpu_times)[len(cpu_times) // 2],
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        rss_after_build_mb=rss_after_build,
        parameters_m=params,
        load_average_before=load_before,
        load_average_after=os.getloadavg()[0],
    )


def spawn_case(config: str, operation: str, threads: int, args: argparse.Namespace, dtype: str) -> CaseResult:
    python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": python_path}
    cmd = [sys.executable, __file__, "--worker", config, operation, str(threads), dtype]
    cmd += ["--seconds", str(args.seconds), "--repeats", str(args.repeats)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {config}/{operation}/{threads} threads failed:\n{proc.stderr[-4000:]}")
    return CaseResult(**json.loads(proc.stdout.strip().splitlines()[-1]))


def summarise(results: list[CaseResult]) -> list[str]:
    lines = [
        f"{'config':8} {'op':7} {'dtype':8} {'thr':>3} {'x realtime':>10} {'rtf':>7} {'x rt (cpu)':>10} "
        f"{'peak RSS MB':>11} {'load':>5}",
    ]
    for r in results:
        lines.append(
            f"{r.config:8} {r.operation:7} {r.dtype:8} {r.threads:>3} {r.x_realtime:>10.2f} {r.rtf:>7.3f} "
            f"{r.x_realtime_cpu:>10.2f} {r.peak_rss_mb:>11.0f} {r.load_average_before:>5.1f}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "inference_speed.json")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length per call (default 10 s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per case (median reported)")
    parser.add_argument("--configs", default="tiny,dac16k", help=f"comma-separated, from {sorted(CONFIGS)}")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument(
        "--dtypes", default="float32,bfloat16", help="comma-separated: float32, bfloat16 (CPU autocast)"
    )
    parser.add_argument("--classic", action="store_true",
                        help="also time Opus and Codec2 against a tiny codecbench codec on the same audio "
                             "(benchmarks/classic_codecs_speed.py; needs opus-tools and codec2)")
    parser.add_argument("--classic-audio", type=Path, default=None,
                        help="audio file for --classic (default: a synthetic voiced signal)")
    parser.add_argument("--worker", nargs=4, metavar=("CONFIG", "OP", "THREADS", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        config, operation, threads, dtype = args.worker
        result = run_case(config, operation, int(threads), args.seconds, args.repeats, dtype)
        print(json.dumps(asdict(result)))
        return 0

    results = []
    for config in args.configs.split(","):
        for dtype in args.dtypes.split(","):
            for threads in (int(t) for t in args.threads.split(",")):
                for operation in ("encode", "decode"):
                    result = spawn_case(config, operation, threads, args, dtype)
                    print(summarise([result])[1], flush=True)
                    results.append(result)
    print("\n".join(summarise(results)))
    comparison = {}
    cpus = os.cpu_count() or 1
    for config, ref in REFERENCE_X_REALTIME_2_THREADS.items():
        two = {r.operation: r for r in results if r.config == config and r.threads == 2 and r.dtype == "float32"}
        if len(two) == 2:  # encode then decode, as one round trip
            round_trip = two["encode"].audio_seconds / (two["encode"].median_seconds + two["decode"].median_seconds)
            contended = max(r.load_average_before for r in two.values()) > cpus
            comparison[config] = {
                "round_trip_x_realtime_2_threads": round_trip,
                "reference_x_realtime_2_threads": ref,
                "speedup_vs_reference": round_trip / ref,
                "target_speedup": TARGET_SPEEDUP,
                "contended": contended,
            }
            warning = f" [load average above {cpus} CPUs: not comparable]" if contended else ""
            print(
                f"{config}: round trip {round_trip:.2f}x real time on 2 threads; reference ~{ref}x -> "
                f"{round_trip / ref:.2f}x the reference (target {TARGET_SPEEDUP}x){warning}"
            )
    classic = None
    if args.classic:
        from classic_codecs_speed import Settings, format_table, run_benchmark

        classic_result = run_benchmark(args.classic_audio, Settings(seconds=args.seconds))
        print(format_table(classic_result))
        classic = asdict(classic_result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "inference_speed",
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count()},
        "configs": {k: {**v, "strides": list(v["strides"])} for k, v in CONFIGS.items()},
        "notes": "batch 1, weight norm folded, torch.inference_mode; random codes for decode, noise for encode; "
        "x_realtime uses wall time (median of repeats); x_realtime_cpu uses process CPU time, which estimates "
        "the uncontended 1-thread speed when other processes share the CPU (see load_average_*)",
        "results": [asdict(r) for r in results],
        "comparison": comparison,
        "classic_codecs": classic,
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
