"""Training throughput of the shared trainer: steps/s, audio-seconds/s and peak RSS per configuration.

Configurations (all DAC-style GAN training through ``codecbench.train``, batch 8 x 6080 samples):
  tiny    the DAC reference's tiny model (encoder dim 16, decoder dim 96, rates 2,4,5,8, 8 x 1024 codes of
          dim 8; about 1.8 M generator parameters) with DAC's own discriminator (MPD periods 2,3,5,7,11 at
          DAC widths + MRD FFT 2048/1024/512), DAC's losses and optimiser. DAC's reference implementation
          takes about 4.4 s per step for this on 2 CPU cores.
  dac16k  DAC 16 kHz size (encoder 64, decoder 1536, 12 x 1024 codes), same discriminator and losses.
  ci      the trainer tests' narrow recipe (for orientation).
Each (config, device, precision) case runs in its own subprocess so that its peak RSS is its own. The
first ``--warmup`` steps are not timed; the reported rate is the median over the timed steps. The load
average before and after each case is recorded: the machine is shared, so compare with care.

    python benchmarks/train_throughput.py [--configs tiny,dac16k] [--precisions fp32,bf16] [--json OUT]
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

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 8
SAMPLES = 6080
SAMPLE_RATE = 16000
REFERENCE_SECONDS_PER_STEP = {"tiny": 4.4}  # DAC's reference implementation, 2 CPU cores

DAC_GAN = """
codecbench.train.model = @codecbench.Codec()
codecbench.Codec.encoder = @codecbench.encoders.dac()
codecbench.Codec.quantizer = @codecbench.quantizers.factorized_rvq()
codecbench.Codec.decoder = @codecbench.decoders.dac()
codecbench.encoders.dac.strides = (2, 4, 5, 8)
codecbench.encoders.dac.channels = {encoder_dim}
codecbench.encoders.dac.latent_dim = {latent}
codecbench.decoders.dac.strides = (2, 4, 5, 8)
codecbench.decoders.dac.channels = {decoder_dim}
codecbench.decoders.dac.latent_dim = {latent}
codecbench.quantizers.factorized_rvq.dim = {latent}
codecbench.quantizers.factorized_rvq.n_q = {n_q}
codecbench.quantizers.factorized_rvq.codebook_size = 1024
codecbench.quantizers.factorized_rvq.codebook_dim = 8
codecbench.train.discriminator = @codecbench.discriminators.combined()
codecbench.discriminators.combined.discriminators = [@codecbench.discriminators.mpd(), @codecbench.discriminators.mrd()]
codecbench.train.generator_losses = {{
    'mel': @codecbench.losses.mel(),
    'adversarial': @codecbench.losses.adversarial(),
    'feature': @codecbench.losses.feature_matching(),
}}
codecbench.losses.mel.mag_weight = 0.0
codecbench.losses.adversarial.reduction = 'sum'
codecbench.losses.feature_matching.reduction = 'sum'
codecbench.train.discriminator_loss = @codecbench.losses.discriminator()
codecbench.losses.discriminator.reduction = 'sum'
codecbench.train.balancer = @codecbench.balancers.weighted()
codecbench.balancers.weighted.weights = {{'mel': 15.0, 'adversarial': 1.0, 'feature': 2.0}}
codecbench.train.generator_optimizer = @generator/torch.optim.AdamW
generator/torch.optim.AdamW.lr = 1e-4
generator/torch.optim.AdamW.betas = (0.8, 0.99)
codecbench.train.discriminator_optimizer = @discriminator/torch.optim.AdamW
discriminator/torch.optim.AdamW.lr = 1e-4
discriminator/torch.optim.AdamW.betas = (0.8, 0.99)
codecbench.train.generator_scheduler = @generator/torch.optim.lr_scheduler.ExponentialLR
generator/torch.optim.lr_scheduler.ExponentialLR.gamma = 0.999996
codecbench.train.discriminator_scheduler = @discriminator/torch.optim.lr_scheduler.ExponentialLR
discriminator/torch.optim.lr_scheduler.ExponentialLR.gamma = 0.999996
codecbench.train.generator_grad_clip = 1000.0
codecbench.train.discriminator_grad_clip = 10.0
"""


def _ci_recipe() -> str:
    """The trainer tests' tiny GAN recipe, with its include inlined."""
    folder = REPO_ROOT / "tests" / "training" / "recipes"
    lines = (folder / "tiny_gan.gin").read_text().splitlines()
    gan = "\n".join(line for line in lines if not line.startswith("include"))
    return (folder / "tiny.gin").read_text() + "\n" + gan


COMMON = """
codecbench.train.dataset = @codecbench.datasets.folder
codecbench.datasets.folder.crop_seconds = {crop_seconds}
codecbench.datasets.folder.crops_per_epoch = {crops}
codecbench.train.batch_size = {batch}
codecbench.train.max_steps = {steps}
codecbench.train.log_every = 1
codecbench.train.monitor_every = 0
codecbench.train.validation_every = 0
codecbench.train.checkpoint_every = 0
codecbench.train.progress = False
"""

CONFIGS = {
    "tiny": DAC_GAN.format(encoder_dim=16, decoder_dim=96, latent=256, n_q=8),
    "dac16k": DAC_GAN.format(encoder_dim=64, decoder_dim=1536, latent=1024, n_q=12),
    "ci": _ci_recipe(),
}


def write_audio(folder: Path, files: int = 4, seconds: float = 4.0) -> None:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    for i in range(files):
        audio = 0.2 * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.03 * rng.standard_normal(t.size)
        sf.write(folder / f"f{i}.wav", audio.astype(np.float32), SAMPLE_RATE)


class _StepClock:
    """Trainer callback recording process CPU time at every train record (steadier than wall time here)."""

    def __init__(self) -> None:
        self.cpu: list[float] = []

    def on_start(self, context: object) -> None:
        self.cpu = [time.process_time()]

    def on_step(self, record: object) -> None:
        if getattr(record, "kind", "") == "train":
            self.cpu.append(time.process_time())

    def on_end(self, context: object) -> None:
        pass


def run_case(config: str, device: str, precision: str, steps: int, warmup: int, data: Path | None) -> dict:
    """Train ``warmup + steps`` steps in this process and measure."""
    import resource

    import torch

    from codecbench.config import parse_config_text
    from codecbench.training import train
    from codecbench.training.loggers import read_metrics

    with tempfile.TemporaryDirectory() as scratch:
        folder = data or Path(scratch) / "audio"
        if data is None:
            folder.mkdir()
            write_audio(folder)
        total = warmup + steps
        text = CONFIGS[config] + COMMON.format(crop_seconds=SAMPLES / SAMPLE_RATE, crops=BATCH * (total + 1),
                                               batch=BATCH, steps=total)
        bindings = [f"codecbench.train.data_paths = [{str(folder)!r}]", f"codecbench.train.precision = '{precision}'"]
        parse_config_text(text, bindings)
        started = time.monotonic()
        clock = _StepClock()
        result = train(Path(scratch) / "run", device=device, callbacks=[clock])
        wall = time.monotonic() - started
        rows = [row for row in read_metrics(Path(scratch) / "run") if row["kind"] == "train"]
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before loading anything else
        saved = torch.load(result.checkpoint, map_location="cpu", weights_only=True, mmap=True)
        generator_m = sum(v.numel() for k, v in saved["codec"].items() if v.is_floating_point()) / 1e6
        disc_m = sum(v.numel() for v in (saved["discriminator"] or {}).values() if v.is_floating_point()) / 1e6
        del saved
    rates = [row["steps_per_second"] for row in rows[warmup:] if row.get("steps_per_second")]
    rate = statistics.median(rates) if rates else float("nan")
    cpu_steps = [b - a for a, b in zip(clock.cpu[:-1], clock.cpu[1:])][warmup:]
    return {
        "config": config,
        "device": device,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "batch": BATCH,
        "samples": SAMPLES,
        "timed_steps": len(rates),
        "steps_per_second": rate,
        "seconds_per_step": 1.0 / rate if rate else float("nan"),
        "audio_seconds_per_second": rate * BATCH * SAMPLES / SAMPLE_RATE,
        "step_seconds": [1.0 / r for r in rates],
        "cpu_seconds_per_step": statistics.median(cpu_steps) if cpu_steps else float("nan"),  # all threads
        "peak_rss_mb": peak_kb / 1024.0,
        "peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
        "generator_parameters_m": generator_m,  # floating-point tensors of the state dict (buffers included)
        "discriminator_parameters_m": disc_m,
        "wall_seconds": wall,
        "final_step": result.step,
        "reference_seconds_per_step": REFERENCE_SECONDS_PER_STEP.get(config),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="tiny,dac16k", help=f"comma list of {sorted(CONFIGS)}")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma list of fp32,bf16")
    parser.add_argument("--devices", default=None, help="comma list; default cpu (+ cuda when available)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per case")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per case")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (OMP_NUM_THREADS) per case")
    parser.add_argument("--data", type=Path, default=None, help="audio folder (default: synthetic tones)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "train_throughput.json")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case and print its JSON
    args = parser.parse_args()

    if args.case:
        config, device, precision = args.case.split(":")
        print(json.dumps(run_case(config, device, precision, args.steps, args.warmup, args.data)))
        return 0

    import torch

    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for config in args.configs.split(","):
        for device in devices:
            for precision in args.precisions.split(","):
                env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO_ROOT)}
                command = [sys.executable, __file__, "--case", f"{config}:{device}:{precision}",
                           "--steps", str(args.steps), "--warmup", str(args.warmup)]
                if args.data is not None:
                    command += ["--data", str(args.data)]
                load_before = os.getloadavg()[0]
                done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO_ROOT)
                if done.returncode != 0:
                    print(f"{config} {device} {precision}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                    continue
                case = json.loads(done.stdout.strip().splitlines()[-1])
                case["load_average_before"], case["load_average_after"] = load_before, os.getloadavg()[0]
                results.append(case)
                print(f"{config:7s} {device:4s} {precision:4s}: {case['seconds_per_step']:.2f} s/step "
                      f"({case['cpu_seconds_per_step']:.1f} CPU-s/step), "
                      f"{case['audio_seconds_per_second']:.2f} audio-s/s, peak RSS {case['peak_rss_mb']:.0f} MB "
                      f"(G {case['generator_parameters_m']:.2f} M, D {case['discriminator_parameters_m']:.2f} M, "
                      f"load {load_before:.1f}->{case['load_average_after']:.1f})", flush=True)
    report = {
        "benchmark": "train_throughput",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "threads": args.threads,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
