"""One measured case of ``compare_reference.py`` (one implementation, configuration and operation), in-process.

A case builds its model(s) from seed 0, runs ``warmup`` untimed and ``reps`` timed iterations and returns wall
and CPU seconds per iteration plus the process's peak RSS. The caller runs every case in a fresh subprocess,
so the peak RSS is the case's own.

* ``train``: one GAN training step, batch 8 x 6080 samples: codec forward, discriminator update, generator
  update (mel 15, feature matching 2, adversarial 1, commitment 0.25, codebook 1; AdamW lr 1e-4, betas
  (0.8, 0.99), ExponentialLR, gradient clipping 1000 / 10, as DAC's ``scripts/train.py`` and 16khz.yml).
  Ours runs ``codecbench.training.steps`` (what the trainer runs); the reference runs DAC's ``train_loop``
  minus the accelerator and minus its logging-only STFT and waveform losses.
* ``encode`` / ``decode``: batch 1, ``seconds`` of audio, under ``torch.inference_mode`` in eval mode.
  Ours: ``prepare_for_inference`` (weight norm folded), ``Codec.encode`` / ``Codec.decode``. The reference:
  ``DAC.encode`` (after ``preprocess``) / ``DAC.decode(quantizer.from_codes(codes))``, weight norm as shipped.
"""

from __future__ import annotations

import contextlib
import math
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

SAMPLE_RATE = 16000
TRAIN_BATCH = 8
TRAIN_SAMPLES = 6080
LAMBDAS = {"mel": 15.0, "feature": 2.0, "adversarial": 1.0, "commitment": 0.25, "codebook": 1.0}
CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {"encoder_dim": 16, "decoder_dim": 96, "strides": (2, 4, 5, 8), "n_q": 8},
    "dac16k": {"encoder_dim": 64, "decoder_dim": 1536, "strides": (2, 4, 5, 8), "n_q": 12},
}
for _cfg in CONFIGS.values():
    _cfg.update(codebook_size=1024, codebook_dim=8, quantizer_dropout=0.5)
    _cfg["latent_dim"] = _cfg["encoder_dim"] * 2 ** len(_cfg["strides"])  # DAC's default latent size


def test_audio(batch: int, samples: int, seed: int = 0) -> torch.Tensor:
    """Deterministic speech-like test signal [batch, 1, samples]: harmonics with vibrato plus noise, ~-16 dBFS."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples, dtype=torch.float64)[None] / SAMPLE_RATE
    f0 = 110.0 + 60.0 * torch.rand(batch, 1, generator=gen, dtype=torch.float64)
    phase = 2 * math.pi * (f0 * t + 3.0 * torch.sin(2 * math.pi * 4.0 * t))
    audio = sum(torch.sin(k * phase) / k for k in range(1, 9))
    audio = audio + 0.05 * torch.randn(batch, samples, generator=gen, dtype=torch.float64)
    audio = audio * (10 ** (-16 / 20) / audio.pow(2).mean(-1, keepdim=True).sqrt())
    return audio.float()[:, None]


# ----------------------------------------------------------------------------------------------- ours
def build_ours(config: str) -> torch.nn.Module:
    from codecbench.decoders.dac import DACDecoder
    from codecbench.encoders.dac import DACEncoder
    from codecbench.models.codec import Codec
    from codecbench.quantizers.factorized import FactorizedResidualVectorQuantizer

    cfg = CONFIGS[config]
    torch.manual_seed(0)
    return Codec(
        DACEncoder(SAMPLE_RATE, cfg["strides"], cfg["encoder_dim"], cfg["latent_dim"]),
        FactorizedResidualVectorQuantizer(
            dim=cfg["latent_dim"],
            n_q=cfg["n_q"],
            codebook_size=cfg["codebook_size"],
            codebook_dim=cfg["codebook_dim"],
            quantizer_dropout=cfg["quantizer_dropout"],
            commitment_weight=LAMBDAS["commitment"],
            codebook_weight=LAMBDAS["codebook"],
        ),
        DACDecoder(SAMPLE_RATE, cfg["strides"], cfg["decoder_dim"], cfg["latent_dim"]),
    )


def _scheduled_adamw(params: list[torch.nn.Parameter], clip: float) -> Any:
    from codecbench.training.schedules import WarmupScheduler
    from codecbench.training.steps import OptimizerParts

    optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.8, 0.99))
    inner = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.999996)
    return OptimizerParts(optimizer, WarmupScheduler(optimizer, 0, inner), params, clip=clip)


def ours_train_step(
    config: str, autocast: Callable[[], contextlib.AbstractContextManager[None]], compile: bool = False
) -> Callable[[], None]:
    from codecbench.balancers.weighted import WeightedBalancer
    from codecbench.discriminators.combined import CombinedDiscriminator
    from codecbench.discriminators.mpd import MultiPeriodDiscriminator
    from codecbench.discriminators.mrd import MultiResolutionDiscriminator
    from codecbench.losses.adversarial import AdversarialLoss, DiscriminatorLoss, FeatureMatchingLoss
    from codecbench.losses.spectral import MultiScaleMelLoss
    from codecbench.training.distributed import DistInfo
    from codecbench.training.steps import discriminator_step, forward_codec, generator_step, parameters_of

    codec = build_ours(config).train()
    disc = CombinedDiscriminator(
        [MultiPeriodDiscriminator(normalize_level=True), MultiResolutionDiscriminator(normalize_level=True)]
    ).train()
    terms = {
        "mel": MultiScaleMelLoss(SAMPLE_RATE, mag_weight=0.0),
        "adversarial": AdversarialLoss(reduction="sum"),
        "feature": FeatureMatchingLoss(reduction="sum"),
    }
    balancer = WeightedBalancer({k: LAMBDAS[k] for k in terms})
    d_loss = DiscriminatorLoss(reduction="sum")
    g_parts = _scheduled_adamw(parameters_of([codec]), 1000.0)
    d_parts = _scheduled_adamw(parameters_of([disc]), 10.0)
    audio = test_audio(TRAIN_BATCH, TRAIN_SAMPLES)
    info = DistInfo()
    codec_run, disc_run = (torch.compile(codec), torch.compile(disc)) if compile else (codec, disc)

    def step() -> None:
        output = forward_codec(codec_run, audio, autocast)
        discriminator_step(
            discriminator=disc_run,
            loss_term=d_loss,
            parts=d_parts,
            reference=audio,
            reconstruction=output.audio,
            autocast=autocast,
            info=info,
        )
        generator_step(
            output=output,
            reference=audio,
            loss_terms=terms,
            balancer=balancer,
            discriminator=disc,
            parts=g_parts,
            autocast=autocast,
            info=info,
        )

    return step


def ours_inference(config: str, operation: str, seconds: float, compile: bool = False) -> Callable[[], None]:
    from codecbench.inference import prepare_for_inference

    codec = prepare_for_inference(build_ours(config))
    if compile:
        codec.encoder = torch.compile(codec.encoder)
        codec.decoder = torch.compile(codec.decoder)
    audio = test_audio(1, int(seconds * SAMPLE_RATE))
    if operation == "encode":
        return lambda: codec.encode(audio)
    with torch.inference_mode():
        codes = codec.encode(audio)
    return lambda: codec.decode(codes)


# ----------------------------------------------------------------------------------------------- reference
def reference_train_step(ref: Any, config: str) -> Callable[[], None]:
    from reference_dac import build_generator, build_training

    torch.manual_seed(0)
    gen = build_generator(ref, CONFIGS[config], SAMPLE_RATE).train()
    disc, mel_loss, gan_loss = build_training(ref, SAMPLE_RATE)
    disc.train()
    opt_g = torch.optim.AdamW(gen.parameters(), lr=1e-4, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), lr=1e-4, betas=(0.8, 0.99))
    sched_g = torch.optim.lr_scheduler.ExponentialLR(opt_g, gamma=0.999996)
    sched_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, gamma=0.999996)
    audio = test_audio(TRAIN_BATCH, TRAIN_SAMPLES)
    signal_type = ref.audio_signal

    def step() -> None:
        out = gen(audio, SAMPLE_RATE)
        recons = signal_type(out["audio"], SAMPLE_RATE)
        signal = signal_type(audio[..., : out["audio"].shape[-1]], SAMPLE_RATE)  # DAC returns 8 samples short
        disc_loss = gan_loss.discriminator_loss(recons, signal)
        opt_d.zero_grad()
        disc_loss.backward()
        torch.nn.utils.clip_grad_norm_(disc.parameters(), 10.0)
        opt_d.step()
        sched_d.step()
        mel = mel_loss(recons, signal)
        adv, feat = gan_loss.generator_loss(recons, signal)
        loss = (
            LAMBDAS["mel"] * mel
            + LAMBDAS["feature"] * feat
            + LAMBDAS["adversarial"] * adv
            + LAMBDAS["commitment"] * out["vq/commitment_loss"]
            + LAMBDAS["codebook"] * out["vq/codebook_loss"]
        )
        opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gen.parameters(), 1e3)
        opt_g.step()
        sched_g.step()

    return step


def reference_inference(ref: Any, config: str, operation: str, seconds: float) -> Callable[[], None]:
    from reference_dac import build_generator

    torch.manual_seed(0)
    gen = build_generator(ref, CONFIGS[config], SAMPLE_RATE).eval()
    audio = test_audio(1, int(seconds * SAMPLE_RATE))

    def encode() -> torch.Tensor:
        return gen.encode(gen.preprocess(audio, SAMPLE_RATE))[1]

    if operation == "encode":
        return encode
    with torch.inference_mode():
        codes = encode()
    return lambda: gen.decode(gen.quantizer.from_codes(codes)[0])


# ----------------------------------------------------------------------------------------------- timing
@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def bf16_autocast() -> contextlib.AbstractContextManager[None]:
    return torch.autocast(device_type="cpu", dtype=torch.bfloat16)


def make_case(impl: str, config: str, operation: str, seconds: float, precision: str, ref_dirs: Any) -> Callable:
    """The callable one iteration of the case runs (building everything now)."""
    autocast = bf16_autocast if precision == "bf16" else _nothing
    if impl == "ours":
        compile = precision == "compile"
        if operation == "train":
            return ours_train_step(config, autocast, compile)
        run = ours_inference(config, operation, seconds, compile)
    else:
        from reference_dac import import_reference

        ref = import_reference(Path(ref_dirs[0]), Path(ref_dirs[1]))
        if operation == "train":
            step = reference_train_step(ref, config)
            return (lambda: _under(autocast, step)) if precision == "bf16" else step
        run = reference_inference(ref, config, operation, seconds)

    def infer() -> None:
        with torch.inference_mode(), autocast():
            run()

    return infer


def _under(autocast: Callable[[], contextlib.AbstractContextManager[None]], fn: Callable[[], None]) -> None:
    with autocast():
        fn()


def run_case(
    impl: str,
    config: str,
    operation: str,
    *,
    seconds: float,
    precision: str,
    threads: int,
    warmup: int,
    reps: int,
    ref_dirs: Any = None,
) -> dict[str, Any]:
    """Build and time one case in this process; returns a JSON-ready dict."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    fn = make_case(impl, config, operation, seconds, precision, ref_dirs)
    build_seconds = time.perf_counter() - started
    warmup_seconds = []
    for _ in range(warmup):
        t0 = time.perf_counter()
        fn()
        warmup_seconds.append(time.perf_counter() - t0)
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "impl": impl,
        "config": config,
        "operation": operation,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "seconds": wall,
        "cpu_seconds": cpu,
        "build_seconds": build_seconds,
        "warmup_seconds": warmup_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
