"""Where the time goes: torch.profiler over one case of ``compare_reference.py``, ours or the reference.

    python benchmarks/profile_cases.py --impl ours --config tiny --operation train
    python benchmarks/profile_cases.py --impl reference --config dac16k --operation decode \\
        --reference-dir /path/to/descript-audio-codec --audiotools-dir /path/to/audiotools

Prints the operators with the largest self CPU time and writes them (with the phase totals recorded
by ``codecbench.training.steps``' ``record_function`` labels, for ours) to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402
from compare_cases import make_case  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from codecbench.training.steps import PHASES  # noqa: E402


def profile_case(case: dict[str, Any], warmup: int, reps: int, top: int) -> dict[str, Any]:
    torch.set_num_threads(case["threads"])
    fn = make_case(
        case["impl"], case["config"], case["operation"], case["seconds"], case["precision"], case["ref_dirs"]
    )
    for _ in range(warmup):
        fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(reps):
            fn()
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    ops = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
    rows = [
        {
            "op": e.key,
            "self_cpu_ms_per_iter": e.self_cpu_time_total / 1e3 / reps,
            "share": e.self_cpu_time_total / max(total_us, 1),
            "calls_per_iter": e.count / reps,
        }
        for e in ops[:top]
        if e.key not in PHASES
    ]
    phases = {e.key: e.cpu_time_total / 1e3 / reps for e in events if e.key in PHASES}
    return {**case, "reps": reps, "total_self_cpu_ms_per_iter": total_us / 1e3 / reps, "phases_ms": phases, "top": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", choices=["ours", "reference"], default="ours")
    parser.add_argument("--config", choices=["tiny", "dac16k"], default="tiny")
    parser.add_argument("--operation", choices=["train", "encode", "decode"], default="train")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length for encode/decode")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--reference-dir", type=Path, help="a checkout of descript-audio-codec")
    parser.add_argument("--audiotools-dir", type=Path, help="a checkout of descript-audiotools")
    parser.add_argument("--json", type=Path, help="where to write the profile (default: results/profile_*.json)")
    args = parser.parse_args(argv)
    if args.impl == "reference" and not (args.reference_dir and args.audiotools_dir):
        parser.error("--impl reference needs --reference-dir and --audiotools-dir (compare_reference.py fetches them)")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    ref_dirs = (str(args.reference_dir), str(args.audiotools_dir)) if args.impl == "reference" else None
    case = {
        "impl": args.impl,
        "config": args.config,
        "operation": args.operation,
        "precision": args.precision,
        "seconds": args.seconds,
        "threads": args.threads,
        "ref_dirs": ref_dirs,
    }
    result = profile_case(case, args.warmup, args.reps, args.top)
    total_ms = result["total_self_cpu_ms_per_iter"]
    print(f"{args.impl} {args.config} {args.operation} {args.precision}: {total_ms:.0f} ms operator time per iteration")
    for name, ms in result["phases_ms"].items():
        print(f"  phase {name:<22} {ms:9.1f} ms")
    for row in result["top"]:
        share, calls = 100 * row["share"], row["calls_per_iter"]
        print(f"  {row['op']:<48} {row['self_cpu_ms_per_iter']:9.1f} ms {share:5.1f} %  x{calls:.0f}")
    out = args.json or HERE / "results" / f"profile_{args.impl}_{args.config}_{args.operation}_{args.precision}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
