"""Does the encoder's latent vary in time, and does it keep the first codebook level spread while it trains?

For each recipe's tiny codec (and any ``--variant`` of Gin bindings), trains encoder, quantizer and
decoder for ``--steps`` Adam steps on crops from the recipe's own training dataset (the bundled demo
speech by default, loudness-normalised as in training) with an L1 waveform loss plus the quantizer's
penalty, and prints at steps 0, 1, 2, 5, 10, ... : the latent's time spread (mean distance of a frame
from the batch mean) over the length of that mean, the drift of the mean since step 0 over the
spread, and the level-0 / level-1 codebook perplexity of the training batch. A spread well below the
mean's length means the latent is mostly a constant: the frames then move together as the model
trains, farther than they spread, and an EMA codebook sends them all to one or two codes.

Example (SEANet and Mimi with PyTorch's random biases against the zero biases they start with now;
the stored results, ``--steps 40``):

    python benchmarks/latent_spread.py --recipes encodec_style,mimi_style,l1_vq_baseline --steps 40 \\
        --variant "codecbench.encoders.seanet.zero_bias_init = False" \\
        --variant "codecbench.decoders.seanet.zero_bias_init = False" \\
        --variant "codecbench.encoders.mimi.zero_bias_init = False" \\
        --variant "codecbench.decoders.mimi.zero_bias_init = False"
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gin
import torch
from torch import Tensor

from codecbench.config import parse_recipe

RECORDED_STEPS = (0, 1, 2, 5, 10, 20, 40, 60, 80, 100, 150, 200)


@dataclass
class SpreadRecord:
    step: int
    spread_over_mean: float  # frames' spread around the batch mean / |batch mean|
    drift_over_spread: float  # |batch mean - step-0 batch mean| / spread
    perplexity_q0: float
    perplexity_q1: float


@dataclass
class SpreadRun:
    recipe: str
    bindings: list[str]
    records: list[SpreadRecord] = field(default_factory=list)


def recipe_batches(batch: int, seed: int) -> Iterator[Tensor]:
    """Successive batches [batch, 1, crop samples] from the parsed recipe's training dataset, seeded."""
    dataset = gin.query_parameter("codecbench.train.dataset").scoped_configurable_fn(split="train", seed=seed)
    for start in itertools.count(0, batch):
        yield torch.stack([dataset[index % len(dataset)] for index in range(start, start + batch)])


def latent_statistics(latent: Tensor) -> tuple[Tensor, float]:
    """(batch mean over frames [D], mean distance of a frame from it) for a latent [B, D, T]."""
    rows = latent.detach().transpose(1, 2).reshape(-1, latent.shape[1])
    mean = rows.mean(0)
    return mean, float((rows - mean).norm(dim=1).mean())


def measure(recipe: str, bindings: list[str], args: argparse.Namespace) -> SpreadRun:
    gin.clear_config()
    parse_recipe(Path(args.recipes_dir) / f"{recipe}_tiny.gin", bindings)
    torch.manual_seed(args.seed)
    codec = gin.get_configurable("codecbench.Codec")().train()
    optimizer = torch.optim.Adam(codec.parameters(), lr=args.lr)
    run = SpreadRun(recipe, bindings)
    first_mean: Tensor | None = None
    for step, batch in zip(range(args.steps + 1), recipe_batches(args.batch, args.seed)):
        output = codec(batch)
        mean, spread = latent_statistics(output.latent)
        first_mean = mean if first_mean is None else first_mean
        if step in RECORDED_STEPS or step == args.steps:
            record = SpreadRecord(
                step, spread / float(mean.norm().clamp_min(1e-12)), float((mean - first_mean).norm()) / spread,
                float(output.metrics.get("q0/perplexity", torch.tensor(float("nan")))),
                float(output.metrics.get("q1/perplexity", torch.tensor(float("nan")))),
            )  # fmt: skip
            run.records.append(record)
            print(f"  step {step:4d}  spread/|mean| {record.spread_over_mean:7.2f}  "
                  f"drift/spread {record.drift_over_spread:7.2f}  "
                  f"perplexity q0 {record.perplexity_q0:7.1f}  q1 {record.perplexity_q1:7.1f}")
        if step == args.steps:
            break
        loss = (output.audio - batch).abs().mean() + output.penalty
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="l1_vq_baseline,dac_style,mimi_style,encodec_style")
    parser.add_argument("--variant", action="append", default=[],
                        help="a Gin binding for a second run of every recipe (repeat to combine bindings)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipes-dir", default=str(Path(__file__).resolve().parents[1] / "recipes"))
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "latent_spread.json"))
    args = parser.parse_args()

    runs = []
    for recipe in [name.strip() for name in args.recipes.split(",") if name.strip()]:
        for bindings in ([], args.variant) if args.variant else ([],):
            print(f"{recipe} {' '.join(bindings) or '(recipe as is)'}")
            runs.append(measure(recipe, list(bindings), args))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"steps": args.steps, "batch": args.batch,
                                           "lr": args.lr, "runs": [asdict(run) for run in runs]}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
