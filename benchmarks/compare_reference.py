"""codecbench vs Descript's DAC reference, side by side at identical configurations, on CPU.

Configurations (DAC's 16 kHz layout, rates 2,4,5,8, codebook_dim 8, quantizer dropout 0.5, latent = DAC's
default encoder_dim * 16):
  tiny    encoder dim 16, decoder dim 96, 8 codebooks of 1024
  dac16k  encoder dim 64, decoder dim 1536, 12 codebooks of 1024 (latent 1024), DAC's 16 kHz model
Operations (see ``compare_cases.py``): ``train`` - one GAN step at batch 8 x 6080 samples with DAC's own
discriminator (MPD periods 2,3,5,7,11 + MRD FFT 2048/1024/512, DAC widths, peak-normalised input) and losses
(mel 15 with DAC's 7-scale MelSpectrogramLoss and mag_weight 0, feature 2, adversarial 1, commitment 0.25,
codebook 1); ``encode`` / ``decode`` - batch 1 on ``--seconds`` of audio (real-time factor).

Every (implementation, configuration, operation, round) runs in a fresh subprocess (peak RSS = ru_maxrss of
that process). Rounds alternate which implementation goes first, so load drift on a shared machine hits both
alike; the reported time is the median over all timed iterations of all rounds, and the ratio is
reference / ours (> 1: ours is faster). The 1-minute load average is recorded around every case.

The reference is not a dependency: it is fetched at run time from ``--reference-repo`` and
``--audiotools-repo`` (git URLs or local git directories) into ``--scratch``; when that fails, the
reference column is skipped with a message. See ``reference_dac.py`` for the import-only stand-ins.

    python benchmarks/compare_reference.py --reference-repo PATH_OR_URL --audiotools-repo PATH_OR_URL
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_JSON = HERE / "results" / "compare_reference.json"
GOALS = {("tiny", "train"): 2.0, ("dac16k", "encode"): 3.0, ("dac16k", "decode"): 3.0}


def load_average() -> float:
    return os.getloadavg()[0]


def prepare_reference(args: argparse.Namespace) -> tuple[str, str] | None:
    """Fetch DAC and audiotools into the scratch folder; None (with a message) when unavailable."""
    sys.path.insert(0, str(HERE))
    from reference_dac import ReferenceUnavailable, obtain

    scratch = Path(args.scratch)
    try:
        dac_root = obtain(args.reference_repo, scratch / "dac")
        at_root = obtain(args.audiotools_repo, scratch / "audiotools")
    except ReferenceUnavailable as error:
        print(f"compare_reference: reference skipped: {error}", file=sys.stderr)
        return None
    return str(dac_root), str(at_root)


def run_subprocess(
    args: argparse.Namespace, impl: str, config: str, op: str, precision: str, ref_dirs: tuple[str, str] | None
) -> dict[str, Any] | None:
    case = {
        "impl": impl,
        "config": config,
        "operation": op,
        "precision": precision,
        "seconds": args.seconds,
        "threads": args.threads,
        "warmup": args.warmup,
        "reps": args.reps[op],
        "ref_dirs": ref_dirs,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": f"{REPO_ROOT}:{HERE}"}
    before = load_average()
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO_ROOT),
    )
    if proc.returncode != 0:
        print(f"  {impl} {config} {op} {precision} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(load_before=before, load_after=load_average())
    return result


def summarise(results: list[dict[str, Any]], audio_seconds: float) -> dict[str, Any]:
    times = [t for r in results for t in r["seconds"]]
    median = statistics.median(times)
    out = {
        "median_seconds": median,
        "min_seconds": min(times),
        "median_cpu_seconds": statistics.median([t for r in results for t in r["cpu_seconds"]]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "iterations": len(times),
        "load_average": [round(r["load_before"], 2) for r in results] + [round(results[-1]["load_after"], 2)],
        "first_iteration_seconds": max((r["warmup_seconds"] or [0.0])[0] for r in results),
    }
    if audio_seconds:
        out["x_realtime"] = audio_seconds / median
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-repo", default=None, help="DAC git URL or local git dir (default: GitHub)")
    parser.add_argument("--audiotools-repo", default=None, help="audiotools git URL or local git dir")
    parser.add_argument("--scratch", default=None, help="folder for the reference sources (default: a temp dir)")
    parser.add_argument("--configs", nargs="+", default=["tiny", "dac16k"], choices=["tiny", "dac16k"])
    parser.add_argument(
        "--operations", nargs="+", default=["train", "encode", "decode"], choices=["train", "encode", "decode"]
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "compile"],
        help="fp32; bf16 CPU autocast (both); compile: torch.compile for ours, the reference eager fp32",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (fresh processes each)")
    parser.add_argument("--train-reps", type=int, default=3, help="timed training steps per round")
    parser.add_argument("--infer-reps", type=int, default=2, help="timed encodes/decodes per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations per round")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length for encode/decode")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-reference", action="store_true", help="measure ours only")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.case:
        from compare_cases import run_case

        case = json.loads(args.case)
        result = run_case(case.pop("impl"), case.pop("config"), case.pop("operation"), **case)
        print(json.dumps(result))
        return 0

    from reference_dac import AUDIOTOOLS_URL, DAC_URL

    args.reference_repo = args.reference_repo or DAC_URL
    args.audiotools_repo = args.audiotools_repo or AUDIOTOOLS_URL
    args.reps = {"train": args.train_reps, "encode": args.infer_reps, "decode": args.infer_reps}
    with tempfile.TemporaryDirectory(prefix="codecbench_ref_") as tmp:
        args.scratch = args.scratch or tmp
        ref_dirs = None if args.no_reference else prepare_reference(args)
        impls = ["ours"] + (["reference"] if ref_dirs else [])  # with --precision compile the reference runs eager
        rows = []
        for config in args.configs:
            for op in args.operations:
                per_impl: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
                for r in range(args.rounds):
                    for impl in impls if r % 2 == 0 else impls[::-1]:
                        result = run_subprocess(args, impl, config, op, args.precision, ref_dirs)
                        if result is not None:
                            per_impl[impl].append(result)
                            median = statistics.median(result["seconds"])
                            print(
                                f"  round {r} {impl:9s} {config:6s} {op:6s} median {median:.3f} s "
                                f"load {result['load_before']:.2f}",
                                flush=True,
                            )
                audio_seconds = args.seconds if op != "train" else 0.0
                row: dict[str, Any] = {"config": config, "operation": op, "precision": args.precision}
                for impl, results in per_impl.items():
                    if results:
                        row[impl] = summarise(results, audio_seconds)
                if "ours" in row and "reference" in row:
                    row["speedup"] = row["reference"]["median_seconds"] / row["ours"]["median_seconds"]
                    row["rss_ratio"] = row["reference"]["peak_rss_mb"] / row["ours"]["peak_rss_mb"]
                    row["goal"] = GOALS.get((config, op))
                rows.append(row)
                print_row(row)
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"processor": platform.processor(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "threads": args.threads,
        "precision": args.precision,
        "batch_train": "8 x 6080",
        "seconds_inference": args.seconds,
        "reference_repo": args.reference_repo if ref_dirs else None,
        "rows": rows,
    }
    import torch

    report["machine"]["torch"] = torch.__version__
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


def print_row(row: dict[str, Any]) -> None:
    def cell(impl: str) -> str:
        if impl not in row:
            return "-"
        s = row[impl]
        rt = f" ({s['x_realtime']:.2f}x rt)" if "x_realtime" in s else ""
        return f"{s['median_seconds']:.3f} s{rt}, {s['peak_rss_mb']:.0f} MB"

    ratio = f"{row['speedup']:.2f}x" if "speedup" in row else "-"
    print(
        f"{row['config']:6s} {row['operation']:6s} {row['precision']:7s} ours {cell('ours')} | "
        f"reference {cell('reference')} | speedup {ratio}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
