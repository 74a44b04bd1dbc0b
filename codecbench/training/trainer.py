"""The shared trainer: ``codecbench.train``, the one Gin-configurable root of every recipe.

A recipe binds the parts (``codecbench.train.model = @codecbench.Codec()``, losses, balancer,
discriminator, dataset, optimiser factories) and the settings; ``train(out_dir)`` runs the loop.
The pieces live next door: :mod:`.steps` (G and D updates), :mod:`.checkpoint` (file I/O),
:mod:`.validation`, :mod:`.monitors`, :mod:`.loggers`, :mod:`.distributed`, :mod:`.signals`.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import gin
import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.data import Dataset

from codecbench import __version__
from codecbench.balancers.base import Balancer
from codecbench.errors import CodecbenchError
from codecbench.losses.base import LossInputs, LossTerm
from codecbench.training import checkpoint as ckpt
from codecbench.training.adversary_gate import MarginGate
from codecbench.training.batches import BatchStream
from codecbench.training.callbacks import RunContext, StepRecord, StopRequest, TrainerCallback
from codecbench.training.distributed import (
    DistInfo,
    all_reduce_sum,
    any_rank,
    gather_objects,
    init_distributed,
    no_gradient_sync,
    resolve_device,
    shutdown_distributed,
    wrap_module,
)
from codecbench.training.ema import WeightEMA
from codecbench.training.errors import TrainingConfigError
from codecbench.training.loggers import METRICS_FILE, JsonlLogger, LoggerGroup, ProgressDisplay, WandbLogger
from codecbench.training.monitors import (
    codebook_monitors,
    loudness_spread_monitors,
    parameter_norm,
    signal_monitors,
)
from codecbench.training.schedules import WarmupScheduler
from codecbench.training.signals import StopSignal
from codecbench.training.steps import (
    PENALTY,
    DiscriminatorStepResult,
    GeneratorStepResult,
    OptimizerParts,
    discriminator_step,
    forward_codec,
    generator_step,
    parameters_of,
)
from codecbench.training.validation import Validator

ROOT = "codecbench.train"
PRECISIONS = ("auto", "fp32", "bf16")
OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
SchedulerFactory = Callable[[Optimizer], Any]


# ------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class TrainSettings:
    """Every scalar setting of a run (see :func:`train` for their meaning)."""

    max_steps: int = 1000
    max_minutes: float | None = None
    batch_size: int = 8
    num_workers: int = 0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    ema_decay: float | None = None
    generator_lr_warmup_steps: int = 0
    discriminator_lr_warmup_steps: int = 0
    generator_grad_clip: float | None = None
    discriminator_grad_clip: float | None = None
    discriminator_update_probability: float = 1.0
    adversary_warmup_steps: int = 0
    discriminator_warmup_steps: int | None = None
    adversary_full_margin: float | None = None
    skip_nonfinite: bool = True
    log_every: int = 10
    monitor_every: int = 50
    validation_every: int = 500
    validation_items: int = 16
    validation_batch_size: int | None = None
    validation_examples: int = 2
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    progress: bool = True
    wandb: bool = False
    wandb_project: str = "codecbench"

    @property
    def discriminator_start(self) -> int:
        """Steps before the first discriminator update."""
        if self.discriminator_warmup_steps is None:
            return self.adversary_warmup_steps
        return self.discriminator_warmup_steps

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise TrainingConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.discriminator_update_probability <= 1.0:
            raise TrainingConfigError(
                f"discriminator_update_probability must be in [0, 1], got {self.discriminator_update_probability}"
            )
        if self.discriminator_warmup_steps is not None and self.discriminator_warmup_steps < 0:
            raise TrainingConfigError(
                f"discriminator_warmup_steps must be >= 0 (or None), got {self.discriminator_warmup_steps}"
            )
        if self.adversary_full_margin is not None and not self.adversary_full_margin > 0:
            raise TrainingConfigError(f"adversary_full_margin must be > 0 (or None), got {self.adversary_full_margin}")
        if self.max_steps < 0 or self.batch_size < 1:
            raise TrainingConfigError(
                f"need max_steps >= 0 and batch_size >= 1, got {self.max_steps} and {self.batch_size}"
            )


@dataclass
class TrainParts:
    """The injected components of a run."""

    model: nn.Module
    dataset: Callable[..., Dataset]
    generator_losses: Mapping[str, LossTerm]
    balancer: Balancer
    discriminator: nn.Module | None = None
    discriminator_loss: LossTerm | None = None
    generator_optimizer: OptimizerFactory | None = None
    discriminator_optimizer: OptimizerFactory | None = None
    generator_scheduler: SchedulerFactory | None = None
    discriminator_scheduler: SchedulerFactory | None = None
    data_paths: Sequence[str] | None = None
    validation_paths: Sequence[str] | None = None
    callbacks: Sequence[TrainerCallback] = ()


@dataclass
class TrainResult:
    """How a run ended."""

    run_dir: Path
    step: int
    checkpoint: Path | None
    stop_reason: str
    train: dict[str, float] = field(default_factory=dict)
    validation: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ helpers
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configured_seed() -> int:
    """``codecbench.train.seed`` as bound in the current Gin config, else its default (0)."""
    try:
        value = gin.query_parameter(f"{ROOT}.seed")
    except ValueError:
        return 0
    return int(copy.deepcopy(value))  # deepcopy evaluates a macro such as %SEED


def default_run_dir(name: str = "train") -> Path:
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _default_optimizer(params: Iterable[nn.Parameter]) -> Optimizer:
    return torch.optim.AdamW(params, lr=1e-4, betas=(0.8, 0.99))


def make_dataset(factory: Callable[..., Dataset], split: str, paths: Sequence[str] | None, seed: int) -> Dataset:
    """Call the dataset factory as ``factory(split=..., seed=..., [paths=...])``.

    That is the contract for ``codecbench.train.dataset`` (FolderDataset meets it): the trainer's
    seed replaces the dataset's own, and ``paths`` is passed only when given (``--data``).
    """
    if isinstance(factory, Dataset):
        raise TrainingConfigError(
            "codecbench.train.dataset must be a dataset factory, e.g. @codecbench.datasets.folder "
            "(without parentheses), so that the trainer can build the train and validation splits"
        )
    kwargs: dict[str, Any] = {"split": split, "seed": seed}
    if paths is not None:
        for path in paths:
            if not Path(path).exists():
                raise FileNotFoundError(f"data folder {path} does not exist (given by --data/--val-data or "
                                        f"codecbench.train.data_paths); check the path")
        kwargs["paths"] = list(paths)
    return factory(**kwargs)


def _precision_is_bf16(precision: str, device: torch.device) -> bool:
    if precision == "bf16":
        return True
    if precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return False


def _discriminator_draw(seed: int, step: int) -> float:
    """A uniform number fixed by (seed, step): identical on every rank and after a resume."""
    return random.Random(seed * 1_000_003 + step).random()


def _check_parts(parts: TrainParts) -> None:
    for name, term in parts.generator_losses.items():
        if "." in name or name == PENALTY or not name:
            raise TrainingConfigError(
                f"generator loss name {name!r} is not allowed (no dots, not '{PENALTY}', not empty)"
            )
        if not isinstance(term, LossTerm):
            raise TrainingConfigError(
                f"generator loss {name!r} is {type(term).__name__}, not a LossTerm; in a recipe write "
                "@codecbench.losses.<name>() with the parentheses"
            )
        if getattr(term, "trains_discriminator", False):
            raise TrainingConfigError(
                f"generator loss {name!r} trains the discriminator; bind it as codecbench.train.discriminator_loss"
            )
    needs_d = [name for name, term in parts.generator_losses.items() if term.needs_discriminator]
    if needs_d and parts.discriminator is None:
        raise TrainingConfigError(
            f"generator losses {needs_d} need a discriminator, but codecbench.train.discriminator is None"
        )
    if parts.discriminator is not None and parts.discriminator_loss is None:
        raise TrainingConfigError(
            "codecbench.train.discriminator is set but discriminator_loss is not; bind e.g. "
            "codecbench.train.discriminator_loss = @codecbench.losses.discriminator()"
        )


# ------------------------------------------------------------------------------------ the trainer
class Trainer:
    """Runs one training job; build it through :func:`train`."""

    def __init__(
        self,
        settings: TrainSettings,
        parts: TrainParts,
        run_dir: Path,
        *,
        resume: bool = False,
        resume_command: str | None = None,
        config_text: str | None = None,
    ) -> None:
        _check_parts(parts)
        self.settings = settings
        self.parts = parts
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.resume_command = resume_command or f"codecbench train <recipe> --out {self.run_dir} --resume"
        self.config_text = config_text if config_text is not None else gin.config_str()
        self.step = 0
        self.started = time.monotonic()
        self.last_saved_step = -1
        self.elapsed_before = 0.0
        self.last_checkpoint: Path | None = None
        self.last_train: dict[str, float] = {}
        self.last_validation: dict[str, float] = {}
        self._stop: str | None = None
        self._window: dict[str, Tensor | float] = {}
        self._window_counts: dict[str, int] = {}
        self._window_start = (time.monotonic(), 0)

    # -- setup ------------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        s, p = self.settings, self.parts
        self.device = resolve_device(s.device)
        self.info: DistInfo = init_distributed(self.device)
        self.bf16 = _precision_is_bf16(s.precision, self.device)
        existing = ckpt.latest_checkpoint(self.run_dir)
        if existing is not None and not self.resume:
            raise CodecbenchError(f"{self.run_dir} already holds checkpoints ({existing.name}); pass --resume to "
                                  "continue that run, or choose another --out")
        seed_everything(s.seed + self.info.rank)
        self.codec = p.model.to(self.device).train()
        self.sample_rate = int(self.codec.sample_rate)
        self.codebook_sizes = [int(size) for size in self.codec.codebook_sizes]
        # sorted: parameter order (and so optimiser state) must not depend on how the dict was written
        self.losses = nn.ModuleDict(dict(sorted(p.generator_losses.items()))).to(self.device).train()
        self.discriminator = p.discriminator.to(self.device).train() if p.discriminator is not None else None
        self.discriminator_loss = p.discriminator_loss.to(self.device) if p.discriminator_loss is not None else None
        self._build_data()
        self._materialize_lazy_parameters()
        self.generator = self._optimizer_parts(
            [self.codec, self.losses], p.generator_optimizer, p.generator_scheduler,
            s.generator_lr_warmup_steps, s.generator_grad_clip,
        )  # fmt: skip
        self.discriminator_parts = None
        if self.discriminator is not None:
            self.discriminator_parts = self._optimizer_parts(
                [self.discriminator, self.discriminator_loss], p.discriminator_optimizer, p.discriminator_scheduler,
                s.discriminator_lr_warmup_steps, s.discriminator_grad_clip,
            )  # fmt: skip
        self.ema = WeightEMA(self.codec, s.ema_decay) if s.ema_decay else None
        self.gate = (
            MarginGate(s.adversary_full_margin) if s.adversary_full_margin and self.discriminator is not None else None
        )
        if self.resume and existing is not None:
            self._restore(existing)
        self.codec_train = self._wrap(self.codec)
        self.discriminator_train = self._wrap(self.discriminator) if self.discriminator is not None else None
        self.discriminator_plain = (
            self._compile(self.discriminator) if s.compile and self.discriminator is not None else self.discriminator
        )
        self._setup_logging(resumed=existing is not None and self.resume)

    def _build_data(self) -> None:
        s, p = self.settings, self.parts
        train_set = make_dataset(p.dataset, "train", p.data_paths, s.seed)
        rate = getattr(train_set, "sample_rate", None)
        if rate is not None and int(rate) != self.sample_rate:
            raise TrainingConfigError(
                f"the dataset yields {rate} Hz audio but the codec runs at {self.sample_rate} Hz; "
                "bind the same SAMPLE_RATE macro to both"
            )
        self.stream = BatchStream(train_set, s.batch_size, seed=s.seed, info=self.info, num_workers=s.num_workers,
                                  pin_memory=self.device.type == "cuda")
        self.validator: Validator | None = None
        if s.validation_every > 0:
            split, paths = ("heldout", p.validation_paths) if p.validation_paths else ("validation", p.data_paths)
            val_set = make_dataset(p.dataset, split, paths, s.seed)
            self.validator = Validator(
                val_set, sample_rate=self.sample_rate, codebook_sizes=self.codebook_sizes,
                batch_size=s.validation_batch_size or s.batch_size, max_items=s.validation_items,
                num_examples=s.validation_examples, samples_dir=self.run_dir / "samples", info=self.info,
                device=self.device,
            )  # fmt: skip

    def _materialize_lazy_parameters(self) -> None:
        """Run one no-grad pass so lazily sized modules (e.g. a distillation projection) get their weights."""
        modules = [self.codec, self.losses]
        if not any(isinstance(p, nn.parameter.UninitializedParameter) for m in modules for p in m.parameters()):
            return
        rng = torch.get_rng_state()
        dataset = self.stream.dataset
        audio = torch.stack([torch.as_tensor(dataset[i]) for i in range(self.settings.batch_size)])
        audio = audio.reshape(audio.shape[0], 1, -1).float().to(self.device)
        self.codec.eval()
        with torch.no_grad():
            output = self.codec(audio)
            inputs = LossInputs(reference=audio, reconstruction=output.audio, codec=output)
            for term in self.losses.values():
                if not term.needs_discriminator:
                    term(inputs)
        self.codec.train()
        torch.set_rng_state(rng)

    def _optimizer_parts(
        self,
        modules: Sequence[nn.Module | None],
        factory: OptimizerFactory | None,
        scheduler_factory: SchedulerFactory | None,
        warmup: int,
        clip: float | None,
    ) -> OptimizerParts:
        params = parameters_of(modules)
        if not params:
            names = [type(m).__name__ for m in modules if m is not None]
            raise TrainingConfigError(f"no trainable parameters in {names}")
        optimizer = (factory or _default_optimizer)(params)
        inner = scheduler_factory(optimizer) if scheduler_factory is not None else None
        return OptimizerParts(optimizer, WarmupScheduler(optimizer, warmup, inner), params, clip,
                              self.settings.skip_nonfinite)

    def _wrap(self, module: nn.Module) -> nn.Module:
        """DDP when distributed, then torch.compile when asked."""
        wrapped = wrap_module(module, self.info, self.device)
        return self._compile(wrapped) if self.settings.compile else wrapped

    @staticmethod
    def _compile(module: nn.Module) -> nn.Module:
        # the balancer and the monitors take gradients with retain_graph, which donated buffers forbid
        import torch._functorch.config as functorch_config

        functorch_config.donated_buffer = False
        return torch.compile(module)  # type: ignore[return-value]

    def _setup_logging(self, resumed: bool) -> None:
        s = self.settings
        self.progress = ProgressDisplay(s.max_steps, self.step, enabled=s.progress and self.info.is_main)
        loggers: list[Any] = []
        if self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if not resumed:
                (self.run_dir / METRICS_FILE).unlink(missing_ok=True)
            loggers.append(JsonlLogger(self.run_dir / METRICS_FILE, self.step if resumed else None))
            if s.wandb:
                loggers.append(WandbLogger(self.run_dir, s.wandb_project, self.config_text, resumed))
            self._write_configs()
        self.loggers = LoggerGroup(loggers)
        self.context = RunContext(
            run_dir=self.run_dir, max_steps=s.max_steps, start_step=self.step, sample_rate=self.sample_rate,
            codebook_sizes=list(self.codebook_sizes), emit=self.loggers.log,
        )  # fmt: skip
        if self.info.is_main:
            for callback in self.parts.callbacks:
                callback.on_start(self.context)

    def _write_configs(self) -> None:
        from codecbench.utils.files import atomic_write_text

        atomic_write_text(self.run_dir / "config.gin", gin.operative_config_str())
        atomic_write_text(self.run_dir / "config_full.gin", self.config_text)

    # -- the loop ---------------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        try:
            self._setup()
            hint = f"Resume with: {self.resume_command}"
            with StopSignal(message=hint) as signals:
                self._window_start = (time.monotonic(), self.step)
                while self.step < self.settings.max_steps:
                    self._train_step(next(self.stream).to(self.device, non_blocking=True))
                    reason = self._stop_reason(signals)
                    if reason is not None:
                        self._stop = reason
                        break
                self._finish()
        finally:
            self._teardown()
        return TrainResult(
            run_dir=self.run_dir, step=self.step, checkpoint=self.last_checkpoint,
            stop_reason=self._stop or "max_steps", train=self.last_train, validation=self.last_validation,
        )  # fmt: skip

    def _autocast(self) -> AbstractContextManager[None]:
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def _train_step(self, batch: Tensor) -> None:
        s = self.settings
        step = self.step + 1
        measure = s.monitor_every > 0 and step % s.monitor_every == 0
        adversary = self.discriminator is not None and step > s.adversary_warmup_steps
        update_d = (self.discriminator is not None and step > s.discriminator_start
                    and _discriminator_draw(s.seed, step) < s.discriminator_update_probability)
        d_result: DiscriminatorStepResult | None = None
        self._add("lr/generator", float(self.generator.optimizer.param_groups[0]["lr"]))  # the rate this step uses
        if update_d and self.discriminator_parts is not None:
            self._add("lr/discriminator", float(self.discriminator_parts.optimizer.param_groups[0]["lr"]))
        with no_gradient_sync(self.codec_train):
            output = forward_codec(self.codec_train, batch, self._autocast)
            if update_d:
                assert self.discriminator_train is not None and self.discriminator_parts is not None
                assert self.discriminator_loss is not None
                d_result = discriminator_step(
                    discriminator=self.discriminator_train, loss_term=self.discriminator_loss,
                    parts=self.discriminator_parts, reference=batch, reconstruction=output.audio,
                    autocast=self._autocast, info=self.info, measure=measure,
                )  # fmt: skip
            if d_result is not None and self.gate is not None:
                self.gate.update(all_reduce_sum(d_result.margin.clone(), self.info) / self.info.world_size)
            gate = self.gate.value if self.gate is not None and adversary else None
            g_result = generator_step(
                output=output, reference=batch, loss_terms=self.losses, balancer=self.parts.balancer,
                discriminator=self.discriminator_plain if adversary else None, parts=self.generator,
                autocast=self._autocast, info=self.info, measure=measure, adversary_scale=gate,
            )  # fmt: skip
            if gate is not None:
                self._add("adversary_gate", gate)
        if self.ema is not None:
            self.ema.update(self.codec)
        self.step = step
        self._accumulate(g_result, d_result, update_d)
        if s.log_every > 0 and step % s.log_every == 0:
            self._emit(StepRecord(step, "train", self._flush_window(batch)))
        if measure:
            self._emit(StepRecord(step, "monitor", self._monitor_values(batch, output, g_result, d_result, adversary)))
        if self.validator is not None and step % s.validation_every == 0:
            self._validate()
        if s.checkpoint_every > 0 and step % s.checkpoint_every == 0:
            self._save()
        self.progress.update(step)

    # -- records ----------------------------------------------------------------------------------------------
    def _add(self, key: str, value: Tensor | float) -> None:
        """Sum a value into the current logging window (tensors stay on their device: no sync per step)."""
        if isinstance(value, Tensor):
            value = value.detach().float()
        self._window[key] = self._window.get(key, 0.0) + value
        self._window_counts[key] = self._window_counts.get(key, 0) + 1

    def _accumulate(
        self, g: GeneratorStepResult, d: DiscriminatorStepResult | None, updated_d: bool
    ) -> None:
        for name, value in g.losses.items():
            self._add(f"loss/{name}", value)
        self._add("loss/total", g.total)
        self._add("grad_norm/generator", g.update.grad_norm)
        self._add("skipped/generator", float(g.update.skipped))
        self._add("discriminator_updates", float(updated_d))
        if d is not None:
            self._add("loss/discriminator", d.loss)
            self._add("grad_norm/discriminator", d.update.grad_norm)
            self._add("skipped/discriminator", float(d.update.skipped))

    def _flush_window(self, batch: Tensor) -> dict[str, float]:
        values = {key: float(total) / self._window_counts[key] for key, total in self._window.items()}
        started, first_step = self._window_start
        now = time.monotonic()
        steps = self.step - first_step
        if steps > 0 and now > started:
            rate = steps / (now - started)
            values["steps_per_second"] = rate
            values["audio_seconds_per_second"] = rate * batch.shape[0] * batch.shape[-1] / self.sample_rate * (
                self.info.world_size)
        values["epoch"] = float(self.stream.epoch)
        self._window, self._window_counts = {}, {}
        self._window_start = (now, self.step)
        self.last_train = values
        return values

    def _monitor_values(
        self,
        batch: Tensor,
        output: Any,
        g: GeneratorStepResult,
        d: DiscriminatorStepResult | None,
        adversary: bool,
    ) -> dict[str, float]:
        values = signal_monitors(batch, output.audio)
        values.update(loudness_spread_monitors(batch))
        values["param_norm/generator"] = parameter_norm(self.codec)
        if self.discriminator is not None:
            values["param_norm/discriminator"] = parameter_norm(self.discriminator)
        values.update(codebook_monitors(output.metrics, self.codebook_sizes))
        values.update(g.monitors)
        values["adversary_active"] = float(adversary)
        if self.gate is not None:
            values["adversary_gate"] = float(self.gate.value) if adversary else 0.0
            values["adversary_gate/margin"] = float(self.gate.margin)
        values["bits_per_second"] = float(output.bits_per_second)
        for name, value in g.losses.items():
            values[f"loss/{name}"] = float(value)
        for key, value in g.balancer_metrics.items():
            if key.startswith(("grad_norm/", "scale/", "ema_grad_norm/")):
                values[f"balancer/{key}"] = float(value)
        if d is not None:
            values["loss/discriminator"] = float(d.loss)
            values["grad_norm/discriminator"] = float(d.update.grad_norm)
            values["nonfinite/discriminator_grads"] = float(d.update.nonfinite_grads)
            values["nonfinite/losses"] = values.get("nonfinite/losses", 0.0) + float(not math.isfinite(float(d.loss)))
            for key, value in d.monitors.items():
                values.setdefault(key, value)
        return values

    def _emit(self, record: StepRecord) -> None:
        if not self.info.is_main:
            return
        self.loggers.log(record)
        self.progress.update(record.step, record)
        for callback in self.parts.callbacks:
            request = callback.on_step(record)
            if isinstance(request, StopRequest) and self._stop is None:
                self._stop = f"callback: {request.reason}"

    # -- validation and checkpoints ---------------------------------------------------------------------------
    def _validate(self) -> None:
        assert self.validator is not None
        if self.ema is not None:
            with self.ema.applied(self.codec):
                result = self.validator.run(self.codec, self.step)
        else:
            result = self.validator.run(self.codec, self.step)
        self.last_validation = result.values
        self._emit(StepRecord(self.step, "validation", result.values))

    def _payload(self) -> dict[str, Any]:
        p = self.parts
        rng_states = gather_objects(ckpt.capture_rng_state(), self.info)
        balancer_state = p.balancer.state_dict() if hasattr(p.balancer, "state_dict") else None
        d_parts = self.discriminator_parts
        return {
            "format": ckpt.FORMAT,
            "format_version": ckpt.FORMAT_VERSION,
            "codecbench_version": __version__,
            "torch_version": str(torch.__version__),
            "step": self.step,
            "config": self.config_text,
            "operative_config": gin.operative_config_str(),
            "sample_rate": self.sample_rate,
            "codebook_sizes": list(self.codebook_sizes),
            "codec": self.codec.state_dict(),
            "codec_ema": self.ema.state_dict() if self.ema is not None else None,
            "generator_losses": {name: term.state_dict() for name, term in self.losses.items()},
            "discriminator": self.discriminator.state_dict() if self.discriminator is not None else None,
            "discriminator_loss": (
                self.discriminator_loss.state_dict() if self.discriminator_loss is not None else None
            ),
            "generator_optimizer": self.generator.optimizer.state_dict(),
            "generator_scheduler": self.generator.scheduler.state_dict(),
            "discriminator_optimizer": d_parts.optimizer.state_dict() if d_parts else None,
            "discriminator_scheduler": d_parts.scheduler.state_dict() if d_parts else None,
            "balancer": balancer_state,
            "adversary_gate": self.gate.state_dict() if self.gate is not None else None,
            "rng": rng_states,
            "data": self.stream.state_dict(),
            "world_size": self.info.world_size,
            "elapsed_seconds": self.elapsed_before + time.monotonic() - self.started,
        }

    def _save(self) -> None:
        if self.step == self.last_saved_step:
            return
        payload = self._payload()  # collective (RNG gather): every rank builds it
        if self.info.is_main:
            keep = self.settings.keep_checkpoints
            self.last_checkpoint = ckpt.save_checkpoint(self.run_dir, self.step, payload, keep)
            self._write_configs()
        self.last_saved_step = self.step

    def _restore(self, path: Path) -> None:
        payload = ckpt.load_checkpoint(path)
        try:
            self.codec.load_state_dict(payload["codec"])
            for name, term in self.losses.items():
                term.load_state_dict(payload["generator_losses"].get(name, {}))
            self.generator.optimizer.load_state_dict(payload["generator_optimizer"])
            self.generator.scheduler.load_state_dict(payload["generator_scheduler"])
            if self.discriminator is not None and self.discriminator_parts is not None:
                if payload.get("discriminator") is None:
                    raise CodecbenchError(f"{path} has no discriminator state but this run has a discriminator")
                self.discriminator.load_state_dict(payload["discriminator"])
                if self.discriminator_loss is not None and payload.get("discriminator_loss") is not None:
                    self.discriminator_loss.load_state_dict(payload["discriminator_loss"])
                self.discriminator_parts.optimizer.load_state_dict(payload["discriminator_optimizer"])
                self.discriminator_parts.scheduler.load_state_dict(payload["discriminator_scheduler"])
            if self.ema is not None and payload.get("codec_ema") is not None:
                self.ema.load_state_dict(payload["codec_ema"])
            if self.gate is not None and payload.get("adversary_gate") is not None:
                self.gate.load_state_dict(payload["adversary_gate"])
            if payload.get("balancer") is not None and hasattr(self.parts.balancer, "load_state_dict"):
                self.parts.balancer.load_state_dict(payload["balancer"])
        except (RuntimeError, KeyError, ValueError) as error:
            raise ckpt.CheckpointError(f"cannot resume from {path}: {str(error).splitlines()[0]}") from error
        self.stream.load_state_dict(payload["data"])
        states = payload["rng"]
        ckpt.restore_rng_state(states[self.info.rank] if self.info.rank < len(states) else states[0])
        self.step = int(payload["step"])
        self.last_saved_step = self.step
        self.last_checkpoint = path
        self.elapsed_before = float(payload.get("elapsed_seconds", 0.0))

    # -- stopping ---------------------------------------------------------------------------------------------
    def _stop_reason(self, signals: StopSignal) -> str | None:
        s = self.settings
        local = self._stop or signals.requested
        if local is None and s.max_minutes is not None and time.monotonic() - self.started >= 60.0 * s.max_minutes:
            local = "max_minutes"
        if self.info.enabled:
            stop = any_rank(local is not None, self.info, self.device)
            return (local or "stop requested on another rank") if stop else None
        return local

    def _finish(self) -> None:
        validated = self.step % max(self.settings.validation_every, 1) == 0
        if self.validator is not None and self._stop is None and self.step > 0 and not validated:
            self._validate()
        self._save()
        if self.info.is_main:
            self.progress.close()
            where = f"checkpoint {self.last_checkpoint}" if self.last_checkpoint else "no checkpoint"
            if self._stop is not None:
                print(f"training stopped at step {self.step} ({self._stop}); {where}. "
                      f"Resume with: {self.resume_command}", flush=True)
            else:
                print(f"training finished at step {self.step}; {where}", flush=True)
            for callback in self.parts.callbacks:
                callback.on_end(self.context)

    def _teardown(self) -> None:
        progress = getattr(self, "progress", None)
        if progress is not None:
            progress.close()
        loggers = getattr(self, "loggers", None)
        if loggers is not None:
            loggers.close()
        info = getattr(self, "info", None)
        if info is not None:
            shutdown_distributed(info)


# ------------------------------------------------------------------------------------ the Gin root
@gin.configurable("train", module="codecbench", denylist=["out_dir", "resume", "resume_command"])
def _configured_train(
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    resume_command: str | None = None,
    model: nn.Module | Callable[[], nn.Module] = gin.REQUIRED,
    dataset: Callable[..., Dataset] = gin.REQUIRED,
    generator_losses: Mapping[str, LossTerm] = gin.REQUIRED,
    balancer: Balancer = gin.REQUIRED,
    discriminator: nn.Module | None = None,
    discriminator_loss: LossTerm | None = None,
    generator_optimizer: OptimizerFactory | None = None,
    discriminator_optimizer: OptimizerFactory | None = None,
    generator_scheduler: SchedulerFactory | None = None,
    discriminator_scheduler: SchedulerFactory | None = None,
    generator_lr_warmup_steps: int = 0,
    discriminator_lr_warmup_steps: int = 0,
    generator_grad_clip: float | None = None,
    discriminator_grad_clip: float | None = None,
    discriminator_update_probability: float = 1.0,
    adversary_warmup_steps: int = 0,
    discriminator_warmup_steps: int | None = None,
    adversary_full_margin: float | None = None,
    data_paths: Sequence[str] | None = None,
    validation_paths: Sequence[str] | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    max_steps: int = 1000,
    max_minutes: float | None = None,
    seed: int = 0,
    device: str = "auto",
    precision: str = "auto",
    compile: bool = False,
    ema_decay: float | None = None,
    skip_nonfinite: bool = True,
    log_every: int = 10,
    monitor_every: int = 50,
    validation_every: int = 500,
    validation_items: int = 16,
    validation_batch_size: int | None = None,
    validation_examples: int = 2,
    checkpoint_every: int = 1000,
    keep_checkpoints: int = 3,
    progress: bool = True,
    wandb: bool = False,
    wandb_project: str = "codecbench",
    callbacks: Sequence[TrainerCallback] = (),
) -> TrainResult:
    """Train a codec. Gin name ``codecbench.train``; every keyword below is a binding.

    Parts (injected):
      model: the codec, ``@codecbench.Codec()`` (or a zero-argument factory, ``@codecbench.Codec``).
      dataset: a dataset *factory* without parentheses, ``@codecbench.datasets.folder``; called with
        ``split="train"`` / ``"validation"`` (``"heldout"``: every file of ``validation_paths``, drawn as
        validation), ``seed`` and ``paths``.
      generator_losses: dict name -> LossTerm, e.g. ``{'mel': @codecbench.losses.mel(), ...}``; names are
        the balancer's weight keys. Losses with ``depends_on_output=False`` and the quantizer penalty
        (key ``'penalty'``, weight 1 unless the balancer's weights say otherwise) are ``direct`` losses.
      balancer: ``@codecbench.balancers.weighted()`` / ``@codecbench.balancers.gradient()``.
      discriminator: ``@codecbench.discriminators.<name>()`` or None (no adversary).
      discriminator_loss: ``@codecbench.losses.discriminator()``; required with a discriminator.
      generator_optimizer / discriminator_optimizer: optimiser factories called with the parameters,
        e.g. ``@generator/torch.optim.AdamW`` (default AdamW lr 1e-4, betas (0.8, 0.99)). Loss-term
        parameters (a distillation projection) are trained by the generator optimiser.
      generator_scheduler / discriminator_scheduler: factories called with the optimiser, e.g.
        ``@generator/torch.optim.lr_scheduler.ExponentialLR``; None = constant. Stepped once per update
        of their optimiser (the discriminator's only when it updates).
      callbacks: TrainerCallback instances (the doctor), called on rank 0 with every record.
    Settings:
      generator_lr_warmup_steps, discriminator_lr_warmup_steps: linear LR warm-up over that many updates.
      generator_grad_clip, discriminator_grad_clip: max total gradient norm (None = no clipping).
      discriminator_update_probability: chance of a D update per step (EnCodec 2/3).
      adversary_warmup_steps: steps trained without the adversarial losses (and, by default, without D updates).
      discriminator_warmup_steps: steps before the first D update (None = adversary_warmup_steps); fewer lets
        the discriminator learn against the reconstruction-only generator before its gradients reach it.
      adversary_full_margin: gate the adversarial terms (those that need the discriminator): their balancer
        weights are scaled by clamp(m / adversary_full_margin, 0, 1), m a running average of the discriminator's
        real-minus-fake logit margin (training/adversary_gate.py). None = no gate.
      data_paths, validation_paths: override the dataset's paths (``--data``, ``--val-data``).
      batch_size, num_workers, max_steps, max_minutes (wall-clock budget of this invocation), seed.
      device: auto | cpu | cuda. precision: auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 (autocast,
        also on CPU; spectral ops stay float32). compile: torch.compile the codec and discriminator.
      ema_decay: keep an EMA of the codec weights (Mimi 0.99); validation and load_codec use it.
      skip_nonfinite: skip an optimiser update whose gradient norm is NaN/Inf (counted and logged).
      log_every, monitor_every, validation_every, checkpoint_every (0 = never; a final checkpoint is
        always written), validation_items, validation_batch_size, validation_examples (WAVs written),
        keep_checkpoints (0 = keep all), progress (rich bar), wandb, wandb_project.
    Runtime only (not Gin): ``out_dir`` (default runs/train-<timestamp>), ``resume``, ``resume_command``.
    """
    settings = TrainSettings(
        max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size, num_workers=num_workers, seed=seed,
        device=device, precision=precision, compile=compile, ema_decay=ema_decay,
        generator_lr_warmup_steps=generator_lr_warmup_steps,
        discriminator_lr_warmup_steps=discriminator_lr_warmup_steps,
        generator_grad_clip=generator_grad_clip, discriminator_grad_clip=discriminator_grad_clip,
        discriminator_update_probability=discriminator_update_probability,
        adversary_warmup_steps=adversary_warmup_steps, discriminator_warmup_steps=discriminator_warmup_steps,
        adversary_full_margin=adversary_full_margin,
        skip_nonfinite=skip_nonfinite, log_every=log_every,
        monitor_every=monitor_every, validation_every=validation_every, validation_items=validation_items,
        validation_batch_size=validation_batch_size, validation_examples=validation_examples,
        checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, progress=progress, wandb=wandb,
        wandb_project=wandb_project,
    )  # fmt: skip
    built = model if isinstance(model, nn.Module) else model()
    parts = TrainParts(
        model=built, dataset=dataset, generator_losses=dict(generator_losses), balancer=balancer,
        discriminator=discriminator, discriminator_loss=discriminator_loss,
        generator_optimizer=generator_optimizer, discriminator_optimizer=discriminator_optimizer,
        generator_scheduler=generator_scheduler, discriminator_scheduler=discriminator_scheduler,
        data_paths=list(data_paths) if data_paths is not None else None,
        validation_paths=list(validation_paths) if validation_paths is not None else None,
        callbacks=tuple(callbacks),
    )  # fmt: skip
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir()
    trainer = Trainer(settings, parts, run_dir, resume=resume, resume_command=resume_command)
    return trainer.run()


def train(out_dir: str | Path | None = None, **overrides: Any) -> TrainResult:
    """Train with the current Gin config (``codecbench.train.*`` bindings); keyword arguments override them.

    Seeds every RNG with the configured seed *before* Gin builds the model, discriminator and
    losses, so the same recipe and seed give the same initial weights.
    """
    seed_everything(int(overrides.get("seed", configured_seed())))
    return _configured_train(out_dir, **overrides)
