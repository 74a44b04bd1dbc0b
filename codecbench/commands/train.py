"""Train a codec from a Gin recipe.

examples:
  codecbench train dac_style --data ~/speech/train --out runs/dac --max-steps 20000
  codecbench train my_recipe.gin --gin "codecbench.train.batch_size = 16" --max-minutes 30
  codecbench train dac_style --out runs/dac --resume          # continue from the latest checkpoint
  torchrun --nproc_per_node=2 -m codecbench train dac_style --data DIR --out runs/ddp

--data/--val-data/--max-steps/--wandb become Gin bindings of codecbench.train and are saved with
the run; --resume re-reads the run's saved config, then applies the overrides given now.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from codecbench.errors import CodecbenchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe file, or the name of a bundled recipe")
    parser.add_argument("--gin", action="append", default=[], metavar="BINDING",
                        help="Gin binding applied after the recipe, e.g. 'codecbench.train.batch_size = 16' "
                             "(repeatable)")
    parser.add_argument("--data", action="append", metavar="DIR",
                        help="training audio folder, manifest or file; replaces the recipe's data (repeatable)")
    parser.add_argument("--val-data", action="append", metavar="DIR",
                        help="held-out validation audio (repeatable); default: the validation split of the data")
    parser.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/<recipe>-<timestamp>)")
    parser.add_argument("--max-steps", type=int, metavar="N", help="total training steps")
    parser.add_argument("--max-minutes", type=float, metavar="M",
                        help="stop cleanly, with a checkpoint, after M minutes of wall-clock time")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    parser.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (offline without a key)")


def _absolute_dirs(paths: list[str] | None, flag: str) -> list[str] | None:
    if not paths:
        return None
    resolved = []
    for path in paths:
        target = Path(path).expanduser()
        if not target.exists():
            raise FileNotFoundError(f"{flag} {path}: no such file or folder")
        resolved.append(str(target.resolve()))
    return resolved


def override_bindings(args: argparse.Namespace) -> list[str]:
    """The command-line options that become ``codecbench.train`` bindings, then the ``--gin`` ones."""
    bindings = []
    data = _absolute_dirs(args.data, "--data")
    if data is not None:
        bindings.append(f"codecbench.train.data_paths = {data!r}")
    validation = _absolute_dirs(args.val_data, "--val-data")
    if validation is not None:
        bindings.append(f"codecbench.train.validation_paths = {validation!r}")
    if args.max_steps is not None:
        bindings.append(f"codecbench.train.max_steps = {int(args.max_steps)}")
    if args.wandb:
        bindings.append("codecbench.train.wandb = True")
    return bindings + list(args.gin)


def run(args: argparse.Namespace) -> int:
    from codecbench.config import parse_config_text, parse_recipe, resolve_recipe
    from codecbench.training.checkpoint import latest_checkpoint, load_checkpoint
    from codecbench.training.trainer import default_run_dir, train

    if args.resume and not args.out:
        raise CodecbenchError("--resume needs --out RUN_DIR: the run directory to continue")
    bindings = override_bindings(args)
    out = Path(args.out) if args.out else default_run_dir(Path(args.recipe).stem)
    latest = latest_checkpoint(out) if args.resume else None
    if latest is not None:
        saved = str(load_checkpoint(latest)["config"])
        parse_config_text(saved, bindings, finalize=True)
        print(f"resuming {out} from {latest.name} (saved config, then {len(bindings)} override(s))", flush=True)
    else:
        if args.resume:
            print(f"no checkpoint in {out}: starting a new run there", flush=True)
        resolve_recipe(args.recipe)
        parse_recipe(args.recipe, bindings)
    runtime: dict[str, object] = {}
    if args.device is not None:
        runtime["device"] = args.device
    if args.max_minutes is not None:
        runtime["max_minutes"] = args.max_minutes
    hint = f"codecbench train {args.recipe} --out {out} --resume"
    result = train(out, resume=args.resume, resume_command=hint, **runtime)
    if result.validation and int(os.environ.get("RANK", "0")) == 0:
        values = result.validation
        print(f"last validation: SNR {values.get('snr_db', float('nan')):.2f} dB, SI-SDR "
              f"{values.get('si_sdr_db', float('nan')):.2f} dB, amplitude {values.get('amplitude_pct', 0):.0f}%",
              flush=True)
    return 0
