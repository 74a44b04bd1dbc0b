"""How fast could any implementation be? FLOPs of each ``compare_reference.py`` case against this machine's GEMM rate.

    python benchmarks/flop_bound.py [--reference-json benchmarks/results/compare_reference.json]

Counts the floating-point operations of our encode, decode and training-step cases with
``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matmuls and their backward passes: the
work both implementations must do at the same configuration), measures the machine's sustained fp32
and bf16 matrix-multiply rate at the threads used, and prints the time that work takes at that rate,
our measured time, and the largest speedup over the reference that the FLOPs allow. A training step
is also split into its discriminator and generator parts, counting the discriminator in units of one
forward pass ``F`` over a batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402
from compare_cases import TRAIN_BATCH, TRAIN_SAMPLES, make_case, test_audio  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def gemm_rate(dtype: torch.dtype, size: tuple[int, int, int] = (1024, 5120, 1024), reps: int = 7) -> float:
    """Sustained matmul rate in GFLOP/s for a GEMM shaped like the discriminator's widest convolution."""
    m, k, n = size
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * m * k * n / sorted(times)[reps // 2] / 1e9


def count_flops(fn: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def discriminator_forward_flops() -> int:
    """F: one forward pass of the compared MPD + MRD discriminator over one training batch."""
    from codecbench.discriminators.combined import CombinedDiscriminator
    from codecbench.discriminators.mpd import MultiPeriodDiscriminator
    from codecbench.discriminators.mrd import MultiResolutionDiscriminator

    disc = CombinedDiscriminator(
        [MultiPeriodDiscriminator(normalize_level=True), MultiResolutionDiscriminator(normalize_level=True)]
    )
    audio = test_audio(TRAIN_BATCH, TRAIN_SAMPLES)
    with torch.no_grad():
        return count_flops(lambda: disc(audio))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference-json", type=Path, default=HERE / "results" / "compare_reference.json")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "flop_bound.json")
    parser.add_argument("--reference-dir", type=Path, help="a checkout of descript-audio-codec: count its FLOPs too")
    parser.add_argument("--audiotools-dir", type=Path, help="a checkout of descript-audiotools")
    args = parser.parse_args(argv)
    ref_dirs = (
        (str(args.reference_dir), str(args.audiotools_dir)) if args.reference_dir and args.audiotools_dir else None
    )
    torch.set_num_threads(args.threads)

    measured: dict[tuple[str, str], dict[str, Any]] = {}
    if args.reference_json.exists():
        for row in json.loads(args.reference_json.read_text())["rows"]:
            if row["precision"] == "fp32":
                measured[(row["config"], row["operation"])] = row
    rates = {"fp32": gemm_rate(torch.float32), "bf16": gemm_rate(torch.bfloat16)}
    print(f"GEMM rate at {args.threads} threads: fp32 {rates['fp32']:.0f} GFLOP/s, bf16 {rates['bf16']:.0f} GFLOP/s")
    d_forward = discriminator_forward_flops()
    print(f"discriminator forward over one batch (F): {d_forward / 1e9:.1f} GFLOP")

    rows = []
    for config, operation in [
        ("tiny", "train"),
        ("tiny", "encode"),
        ("tiny", "decode"),
        ("dac16k", "train"),
        ("dac16k", "encode"),
        ("dac16k", "decode"),
    ]:
        fn = make_case("ours", config, operation, 10.0, "fp32", None)
        fn()  # first call builds lazily created state
        flops = count_flops(fn)
        bound = flops / 1e9 / rates["fp32"]
        row: dict[str, Any] = {
            "config": config,
            "operation": operation,
            "gflop": flops / 1e9,
            "seconds_at_gemm_rate": bound,
        }
        if operation == "train":
            row["in_discriminator_forwards"] = flops / d_forward
        if ref_dirs is not None:
            ref_fn = make_case("reference", config, operation, 10.0, "fp32", ref_dirs)
            ref_fn()
            row["reference_gflop"] = count_flops(ref_fn) / 1e9
        ref = measured.get((config, operation))
        if ref is not None:
            row["ours_seconds"] = ref["ours"]["median_seconds"]
            if ref.get("reference"):
                row["reference_seconds"] = ref["reference"]["median_seconds"]
                row["max_speedup_at_these_flops"] = row["reference_seconds"] / bound
        rows.append(row)
        line = f"{config:>6} {operation:<6} {flops / 1e9:8.1f} GFLOP -> {bound:6.2f} s at the GEMM rate"
        if "reference_gflop" in row:
            line += f" (reference {row['reference_gflop']:.1f} GFLOP)"
        if "ours_seconds" in row:
            line += f"; ours {row['ours_seconds']:.2f} s ({flops / 1e9 / row['ours_seconds']:.0f} GFLOP/s)"
        if "reference_seconds" in row:
            line += (
                f"; reference {row['reference_seconds']:.2f} s: at most "
                f"{row['max_speedup_at_these_flops']:.2f}x faster at these FLOPs"
            )
        print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "threads": args.threads,
                "gemm_gflops": rates,
                "discriminator_forward_gflop": d_forward / 1e9,
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
