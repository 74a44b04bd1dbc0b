"""Time discriminator forward+backward (and the discriminator work of one GAN step) on CPU.

Configurations: DAC's MPD (periods 2,3,5,7,11; 41 M params), DAC's MRD (FFT 2048/1024/512, five bands), their
combination, suggested tiny CPU variants, and ``reference`` - a plain re-implementation of the computation DAC's
reference code performs for MPD + MRD (NCHW conv2d for every period, audiotools-style centred STFT with extra
padding and four dropped frames, whole-input peak normalisation), to show what our kernels buy.

Workloads:
  fwdbwd    one forward + backward at batch B (input requires grad; loss touches logits and feature maps)
  step-dac  the discriminator work of one DAC training step: D step runs D(fake.detach()) and D(real) and
            backpropagates; G step runs D(fake) and D(real) with D parameters still collecting gradients
  step-ours the same losses with our schedule: D step on one concatenated real+fake batch; G step with D
            parameters frozen (no weight gradients) and D(real) under no_grad

Prints a table and writes JSON (``--json``). Wall times are noisy on a shared machine: ``cpu_ms`` (process CPU
time, meaningful with one thread) is the steadier number. ``--profile`` prints the top operators.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from codecbench.discriminators import DISCRIMINATORS, Discriminator
from codecbench.discriminators.mrd import DAC_BANDS, band_edges
from codecbench.types import DiscriminatorOutput

DEFAULT_JSON = Path(__file__).parent / "results" / "discriminator_speed.json"
TINY_MPD = {"channels": (8, 16, 32, 64, 128)}
TINY_MRD = {"channels": 16}


# --- reference-style baseline (same architecture, straightforward code paths) ---------------------------------


def _wn2d(*args: object, **kwargs: object) -> nn.Conv2d:
    return weight_norm(nn.Conv2d(*args, **kwargs))


class _RefPeriod(nn.Module):
    def __init__(self, period: int) -> None:
        super().__init__()
        self.period = period
        widths = (1, 32, 128, 512, 1024, 1024)
        self.convs = nn.ModuleList(
            _wn2d(widths[i], widths[i + 1], (5, 1), (3 if i < 4 else 1, 1), padding=(2, 0)) for i in range(5)
        )
        self.post = _wn2d(1024, 1, (3, 1), padding=(1, 0))

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        x = F.pad(x, (0, self.period - x.shape[-1] % self.period), mode="reflect")  # always pads, as DAC does
        x = x.view(x.shape[0], 1, -1, self.period)
        maps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            maps.append(x)
        return DiscriminatorOutput(self.post(x), maps)


class _RefResolution(nn.Module):
    def __init__(self, n_fft: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.bands = band_edges(DAC_BANDS, n_fft // 2 + 1)
        layers = ((2, (3, 9), (1, 1), (1, 4)), *[(32, (3, 9), (1, 2), (1, 4))] * 3, (32, (3, 3), (1, 1), (1, 1)))
        self.stacks = nn.ModuleList(
            nn.ModuleList(_wn2d(c, 32, k, s, padding=p) for c, k, s, p in layers) for _ in self.bands
        )
        self.post = _wn2d(32, 1, (3, 3), padding=(1, 1))

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        hop = self.n_fft // 4
        length = x.shape[-1]
        side = (self.n_fft - hop) // 2
        x = F.pad(x, (side, side + math.ceil(length / hop) * hop - length), mode="reflect")
        window = torch.hann_window(self.n_fft, device=x.device).sqrt()
        spec = torch.stft(x.reshape(-1, x.shape[-1]), self.n_fft, hop, window=window, return_complex=True)
        spec = torch.view_as_real(spec[..., 2:-2]).permute(0, 3, 2, 1)
        maps, outs = [], []
        for (lo, hi), stack in zip(self.bands, self.stacks):
            band = spec[..., lo:hi]
            for conv in stack:
                band = F.leaky_relu(conv(band), 0.1)
                maps.append(band)
            outs.append(band)
        return DiscriminatorOutput(self.post(torch.cat(outs, dim=-1)), maps)


class ReferenceStyleDiscriminator(Discriminator):
    """DAC-reference-style MPD + MRD: the same maths written the plain way, fp32 STFT only by default dtype."""

    sees_absolute_level = False

    def __init__(self) -> None:
        super().__init__()
        subs: list[nn.Module] = [_RefPeriod(p) for p in (2, 3, 5, 7, 11)]
        subs += [_RefResolution(n) for n in (2048, 1024, 512)]
        self.subs = nn.ModuleList(subs)

    def forward(self, audio: Tensor) -> list[DiscriminatorOutput]:
        audio = audio - audio.mean(dim=-1, keepdim=True)
        audio = 0.8 * audio / (audio.abs().amax(dim=-1, keepdim=True) + 1e-9)
        return [sub(audio) for sub in self.subs]


# --- configurations and workloads ---------------------------------------------------------------------------


def build(config: str) -> nn.Module:
    if config == "reference":
        return ReferenceStyleDiscriminator()
    tiny = config.startswith("tiny_")
    name = config.removeprefix("tiny_")
    mpd_kw, mrd_kw = (TINY_MPD, TINY_MRD) if tiny else ({}, {})
    if name == "mpd":
        return DISCRIMINATORS.create("mpd", **mpd_kw)
    if name == "mrd":
        return DISCRIMINATORS.create("mrd", **mrd_kw)
    if name == "combined":
        members = [DISCRIMINATORS.create("mpd", **mpd_kw), DISCRIMINATORS.create("mrd", **mrd_kw)]
        return DISCRIMINATORS.create("combined", discriminators=members)
    raise SystemExit(f"unknown config '{config}'; use mpd, mrd, combined, tiny_mpd, tiny_mrd, tiny_combined, reference")


def d_loss(real: list[DiscriminatorOutput], fake: list[DiscriminatorOutput]) -> Tensor:
    """Least-squares discriminator loss."""
    return sum(((r.logits.float() - 1) ** 2).mean() + (f.logits.float() ** 2).mean() for r, f in zip(real, fake))


def g_loss(real: list[DiscriminatorOutput], fake: list[DiscriminatorOutput]) -> Tensor:
    """Least-squares adversarial loss + feature matching against detached real feature maps."""
    loss = sum(((f.logits.float() - 1) ** 2).mean() for f in fake)
    for r, f in zip(real, fake):
        for rm, fm in zip(r.feature_maps, f.feature_maps):
            loss = loss + F.l1_loss(fm.float(), rm.detach().float())
    return loss


def split(outputs: list[DiscriminatorOutput], n: int) -> tuple[list[DiscriminatorOutput], ...]:
    def part(sl: slice) -> list[DiscriminatorOutput]:
        return [DiscriminatorOutput(o.logits[sl], [m[sl] for m in o.feature_maps]) for o in outputs]

    return part(slice(0, n)), part(slice(n, None))


def workload(kind: str, disc: nn.Module, batch: int, length: int, autocast: torch.dtype | None) -> Callable[[], None]:
    real = 0.1 * torch.randn(batch, 1, length)
    fake_leaf = (0.1 * torch.randn(batch, 1, length)).requires_grad_()
    params = list(disc.parameters())

    def ctx() -> torch.autocast:
        return torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None)

    def fwdbwd() -> None:
        with ctx():
            outputs = disc(fake_leaf)
            loss = sum(
                o.logits.float().square().mean() + sum(m.float().abs().mean() for m in o.feature_maps) for o in outputs
            )
        loss.backward()

    def step_dac() -> None:
        fake = fake_leaf * 1.0  # stands in for the generator output
        with ctx():
            loss = d_loss(disc(real), disc(fake.detach()))
        loss.backward()
        with ctx():
            loss = g_loss(disc(real), disc(fake))
        loss.backward()

    def step_ours() -> None:
        fake = fake_leaf * 1.0
        with ctx():
            both = disc(torch.cat([real, fake.detach()]))
            loss = d_loss(*split(both, batch))
        loss.backward()
        for p in params:
            p.requires_grad_(False)
        try:
            with ctx():
                with torch.no_grad():
                    real_out = disc(real)
                loss = g_loss(real_out, disc(fake))
            loss.backward()
        finally:
            for p in params:
                p.requires_grad_(True)

    run = {"fwdbwd": fwdbwd, "step-dac": step_dac, "step-ours": step_ours}[kind]

    def once() -> None:
        disc.zero_grad(set_to_none=True)
        fake_leaf.grad = None
        run()

    return once


@dataclass
class Result:
    config: str
    params: int
    dtype: str
    workload: str
    wall_ms_min: float
    wall_ms_median: float
    cpu_ms_min: float
    reps: int


def measure(fn: Callable[[], None], reps: int) -> tuple[float, float, float]:
    fn()  # warm-up: oneDNN primitive creation, allocator
    walls, cpus = [], []
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w0) * 1e3)
        cpus.append((time.process_time() - c0) * 1e3)
    return min(walls), statistics.median(walls), min(cpus)


def profile(fn: Callable[[], None], title: str) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    fn()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    print(f"\n== profile: {title}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=6080)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--configs", nargs="+", default=["mpd", "mrd", "combined", "reference", "tiny_combined"])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--workloads", nargs="+", default=["fwdbwd"], choices=["fwdbwd", "step-dac", "step-ours"])
    parser.add_argument("--profile", action="store_true", help="print the top operators of each measurement")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    results: list[Result] = []
    print(f"batch {args.batch} x {args.length} samples, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"{'config':<15}{'params':>12} {'dtype':<5} {'workload':<10}{'wall min':>10}{'wall med':>10}{'cpu min':>10}")
    for config in args.configs:
        disc = build(config)
        n_params = sum(p.numel() for p in disc.parameters())
        for dtype in args.dtypes:
            autocast = torch.bfloat16 if dtype == "bf16" else None
            for kind in args.workloads:
                fn = workload(kind, disc, args.batch, args.length, autocast)
                if args.profile:
                    profile(fn, f"{config} {dtype} {kind}")
                wall_min, wall_med, cpu_min = measure(fn, args.reps)
                results.append(Result(config, n_params, dtype, kind, wall_min, wall_med, cpu_min, args.reps))
                times = f"{wall_min:>10.0f}{wall_med:>10.0f}{cpu_min:>10.0f}"
                print(f"{config:<15}{n_params:>12,} {dtype:<5} {kind:<10}{times}", flush=True)

    payload = {
        "benchmark": "discriminator_speed",
        "batch": args.batch,
        "length": args.length,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "note": "times in ms; cpu_ms is process CPU time (steadier than wall time on a shared machine)",
        "results": [asdict(r) for r in results],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
