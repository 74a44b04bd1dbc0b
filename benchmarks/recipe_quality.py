"""Does each recipe learn? Train every recipe's tiny variant for a wall-clock budget, then benchmark it.

For each recipe: train ``recipes/<name>_tiny.gin`` for ``--minutes`` on ``--train`` (validated on
``--val``), save an untrained checkpoint of the same recipe and seed, and run ``codecbench bench``
on both over the validation files. The requirements (issue 7) are checked and printed:

* no non-finite values during training,
* amplitude ratio between 85 % and 115 % at the end,
* mel distance at the end at most 60 % of the untrained model's,
* positive SNR for the L1+VQ baseline.

Results go to ``--json`` (default ``benchmarks/results/recipe_quality_<dataset>.json``) and a Markdown
table is printed. Runs execute ``--parallel`` at a time, each with ``--threads`` torch threads.

Example (real Telugu speech, 20 minutes per recipe, two runs at once on a 2-core machine):

    python benchmarks/recipe_quality.py --train ../shared/data/speech/te_ulca/train \\
        --val ../shared/data/speech/te_ulca/dev --dataset-name te_ulca --minutes 20 --parallel 2 --threads 1

Without ``--train`` it uses the bundled demo speech (the trainer's own split for validation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from codecbench.training.doctor_report import logged_diagnoses

RECIPES = ("l1_vq_baseline", "dac_style", "mimi_style", "encodec_style")
METRICS = "snr,si_sdr,amplitude,mel,pesq,stoi,bitrate,codebook"
REPORTED = ("snr", "si_sdr", "amplitude", "mel", "pesq", "stoi", "kbps", "perplexity")


@dataclass
class RecipeOutcome:
    recipe: str
    dataset: str
    minutes: float
    threads: int | None = None  # torch threads of this run
    steps: int = 0
    nonfinite: int = 0
    trained: dict[str, float | None] = field(default_factory=dict)
    untrained: dict[str, float | None] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    diagnoses: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.checks.values())


def codecbench(*args: str, threads: int, log: Path) -> None:
    """Run ``python -m codecbench ARGS`` with a fixed thread count, appending output to ``log``."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with open(log, "a") as handle:
        handle.write(f"$ codecbench {' '.join(args)}\n")
        handle.flush()
        completed = subprocess.run([sys.executable, "-m", "codecbench", *args], stdout=handle,
                                   stderr=subprocess.STDOUT, env=env, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"codecbench {args[0]} failed (exit {completed.returncode}); see {log}")


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a partially written last line
    return records


def count_nonfinite(records: list[dict[str, Any]]) -> int:
    """Non-finite losses logged, plus the trainer's own counts of skipped non-finite steps."""
    total = 0
    for record in records:
        for key, value in record.items():
            if (isinstance(value, float) and not math.isfinite(value)) or (value is None and key.startswith("loss/")):
                total += 1
            elif key.startswith(("skipped/", "nonfinite")) and isinstance(value, (int, float)) and value > 0:
                total += int(value)
    return total


def summary_means(bench_json: Path) -> dict[str, dict[str, float | None]]:
    data = json.loads(bench_json.read_text())
    means: dict[str, dict[str, float | None]] = {}
    for system in data["systems"]:
        values = {key: (value or {}).get("mean") for key, value in system["summary"].items()}
        values.update(system.get("set_values", {}))
        means[system["name"]] = {key: values.get(key) for key in REPORTED}
    return means


def run_recipe(recipe: str, args: argparse.Namespace, out_root: Path) -> RecipeOutcome:
    outcome = RecipeOutcome(recipe, args.dataset_name, args.minutes, threads=args.threads)
    run_dir = out_root / recipe
    untrained_dir = out_root / f"{recipe}-untrained"
    log = out_root / f"{recipe}.log"
    recipe_path = Path(args.recipes_dir) / f"{recipe}_tiny.gin"
    data_args = [arg for path in ([args.train] if args.train else []) for arg in ("--data", path)]
    data_args += [arg for path in ([args.val] if args.val else []) for arg in ("--val-data", path)]
    common = [str(recipe_path), *data_args, "--gin", "codecbench.train.progress = False"]
    try:
        codecbench("train", *common, "--max-steps", "0", "--out", str(untrained_dir), threads=args.threads, log=log)
        codecbench("train", *common, "--max-steps", str(args.max_steps), "--max-minutes", str(args.minutes),
                   "--out", str(run_dir), threads=args.threads, log=log)
        records = read_records(run_dir)
        outcome.steps = max((int(r.get("step", 0)) for r in records), default=0)
        outcome.nonfinite = count_nonfinite(records)
        outcome.diagnoses = sorted({name for _, name, fired in logged_diagnoses(records) if fired})
        bench_json = out_root / f"{recipe}-bench.json"
        val_data = args.val or args.train or str(demo_validation_folder(out_root))
        codecbench("bench", "--checkpoint", str(run_dir), "--checkpoint", str(untrained_dir), "--data", val_data,
                   "--max-files", str(args.max_files), "--metric", METRICS, "--json", str(bench_json),
                   threads=args.threads, log=log)
        means = summary_means(bench_json)
        trained_name, untrained_name = list(means)[:2]
        outcome.trained, outcome.untrained = means[trained_name], means[untrained_name]
    except Exception as error:  # one failing recipe must not hide the others' results
        outcome.error = str(error)
        return outcome
    amplitude = outcome.trained.get("amplitude")
    mel, mel_untrained = outcome.trained.get("mel"), outcome.untrained.get("mel")
    outcome.checks = {
        "finite": outcome.nonfinite == 0,
        "amplitude_85_115": amplitude is not None and 85.0 <= amplitude <= 115.0,
        "mel_le_60pct_untrained": mel is not None and mel_untrained is not None and mel <= 0.6 * mel_untrained,
    }
    if recipe == "l1_vq_baseline":
        snr = outcome.trained.get("snr")
        outcome.checks["positive_snr"] = snr is not None and snr > 0.0
    return outcome


def demo_validation_folder(out_root: Path) -> Path:
    """The demo files the trainer holds out for validation, linked into one folder for ``bench``."""
    from codecbench.data import demo_data_dir
    from codecbench.data.split import assign_validation

    folder = out_root / "demo-validation"
    folder.mkdir(parents=True, exist_ok=True)
    root = demo_data_dir()
    paths = sorted(root.glob("*.flac"))
    chosen = assign_validation([path.relative_to(root).as_posix() for path in paths], 0.1)
    for path, is_validation in zip(paths, chosen):
        if is_validation and not (folder / path.name).exists():
            (folder / path.name).symlink_to(path)
    return folder


def carried_outcomes(json_path: Path, rerun: list[str]) -> list[RecipeOutcome]:
    """Outcomes in an earlier results file for recipes not in ``rerun`` (kept with their own minutes and threads)."""
    if not json_path.exists():
        return []
    names = {f.name for f in fields(RecipeOutcome)}
    previous = json.loads(json_path.read_text())
    run_setting = {"threads": previous.get("threads")}  # for files written before the per-run field
    return [RecipeOutcome(**(run_setting | {k: v for k, v in item.items() if k in names}))
            for item in previous.get("outcomes", []) if item["recipe"] not in rerun]


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(outcomes: list[RecipeOutcome]) -> str:
    header = ("| recipe | data | steps | SNR dB | SI-SDR dB | amplitude % | mel (untrained) | PESQ | STOI | kbps "
              "| perplexity | non-finite | checks |")
    lines = [header, "|" + "---|" * 13]
    for o in outcomes:
        t, u = o.trained, o.untrained
        checks = "error: " + (o.error or "") if o.error else ", ".join(
            f"{name} {'ok' if ok else 'FAIL'}" for name, ok in o.checks.items())
        lines.append(f"| {o.recipe} | {o.dataset} | {o.steps} | {fmt(t.get('snr'))} | {fmt(t.get('si_sdr'))} | "
                     f"{fmt(t.get('amplitude'), 1)} | {fmt(t.get('mel'))} ({fmt(u.get('mel'))}) | "
                     f"{fmt(t.get('pesq'))} | {fmt(t.get('stoi'), 3)} | {fmt(t.get('kbps'))} | "
                     f"{fmt(t.get('perplexity'), 1)} | {o.nonfinite} | {checks} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated recipe names")
    parser.add_argument("--train", default=None, help="training folder (default: bundled demo speech)")
    parser.add_argument("--val", default=None, help="validation folder (default: the trainer's held-out split)")
    parser.add_argument("--dataset-name", default="demo")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock training budget per recipe")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--max-files", type=int, default=30, help="validation files to benchmark")
    parser.add_argument("--parallel", type=int, default=1, help="recipes trained at once")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2)), help="torch threads per run")
    parser.add_argument("--recipes-dir", default=str(Path(__file__).resolve().parents[1] / "recipes"))
    parser.add_argument("--out", default=None, help="run folder (default: a temporary folder)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--keep-others", action="store_true",
                        help="carry over from --json the outcomes of recipes not run now (their recipes unchanged)")
    args = parser.parse_args()

    out_root = Path(args.out or tempfile.mkdtemp(prefix="codecbench-quality-"))
    out_root.mkdir(parents=True, exist_ok=True)
    recipes = [name.strip() for name in args.recipes.split(",") if name.strip()]
    started = time.time()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        outcomes = list(pool.map(lambda recipe: run_recipe(recipe, args, out_root), recipes))
    json_path = Path(args.json or Path(__file__).parent / "results" / f"recipe_quality_{args.dataset_name}.json")
    carried = carried_outcomes(json_path, recipes) if args.keep_others else []
    order = {name: index for index, name in enumerate(RECIPES)}
    outcomes = sorted([*outcomes, *carried], key=lambda o: order.get(o.recipe, len(RECIPES)))
    table = markdown_table(outcomes)
    print(table)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({
        "dataset": args.dataset_name, "train": args.train, "val": args.val, "minutes": args.minutes,
        "parallel": args.parallel, "threads": args.threads, "wall_seconds": round(time.time() - started, 1),
        "runs": str(out_root), "carried_over": [o.recipe for o in carried],
        "outcomes": [asdict(o) | {"passed": o.passed} for o in outcomes], "table": table,
    }, indent=2))
    print(f"\nwrote {json_path}; runs in {out_root}")
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
