"""One discriminator update and one generator update, as plain functions over injected parts.

Order within a training step (as in EnCodec and DAC): the codec's forward pass, then (with the
update probability, after the adversary warm-up) a discriminator update on the detached
reconstruction, then the generator update through the freshly updated discriminator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.profiler import record_function

from codecbench.balancers.base import Balancer
from codecbench.losses.base import LossInputs, LossTerm
from codecbench.training.distributed import DistInfo, no_gradient_sync, sync_gradients
from codecbench.training.monitors import (
    LatentGradientProbe,
    count_nonfinite,
    count_nonfinite_grads,
    discriminator_monitors,
    logit_margin,
)
from codecbench.training.schedules import WarmupScheduler
from codecbench.types import CodecOutput, DiscriminatorOutput

# torch.profiler labels of a training step's phases (benchmarks/profile_cases.py reports them).
CODEC_FORWARD = "codec_forward"
DISCRIMINATOR_STEP = "discriminator_step"
GENERATOR_STEP = "generator_step"
GENERATOR_BACKWARD = "generator_backward"
OPTIMIZER_UPDATE = "optimizer_update"
PHASES = (CODEC_FORWARD, DISCRIMINATOR_STEP, GENERATOR_STEP, GENERATOR_BACKWARD, OPTIMIZER_UPDATE)

PENALTY = "penalty"
Autocast = Callable[[], AbstractContextManager[None]]


@dataclass
class OptimizerParts:
    """An optimiser with its (warm-up wrapped) scheduler, the parameters it owns and its clip norm."""

    optimizer: Optimizer
    scheduler: WarmupScheduler
    parameters: list[nn.Parameter]
    clip: float | None = None
    skip_nonfinite: bool = True


@dataclass
class UpdateResult:
    """What an optimiser update did: the pre-clip gradient norm and whether it was skipped."""

    grad_norm: Tensor
    skipped: bool
    nonfinite_grads: int = 0


@dataclass
class GeneratorStepResult:
    losses: dict[str, Tensor]  # detached, unweighted, including "penalty"
    total: Tensor  # the balancer's detached weighted total
    update: UpdateResult
    shares: dict[str, float] = field(default_factory=dict)
    balancer_metrics: dict[str, Tensor] = field(default_factory=dict)
    monitors: dict[str, float] = field(default_factory=dict)


@dataclass
class DiscriminatorStepResult:
    loss: Tensor  # detached
    update: UpdateResult
    margin: Tensor  # real-minus-fake logit margin before the update (detached; no host sync)
    monitors: dict[str, float] = field(default_factory=dict)


@contextmanager
def frozen(module: nn.Module | None) -> Iterator[None]:
    """Stop gradients flowing into ``module``'s parameters (the discriminator during the G update)."""
    if module is None:
        yield
        return
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@record_function(OPTIMIZER_UPDATE)
def apply_update(parts: OptimizerParts, info: DistInfo, count_bad: bool = False) -> UpdateResult:
    """All-reduce gradients, measure their norm, clip, step (unless non-finite) and advance the schedule."""
    sync_gradients(parts.parameters, info)
    grads = [p.grad for p in parts.parameters if p.grad is not None]
    device = parts.parameters[0].device if parts.parameters else torch.device("cpu")
    norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=device)
    finite = bool(torch.isfinite(norm))
    bad = count_nonfinite_grads(parts.parameters) if (count_bad or not finite) else 0
    skipped = parts.skip_nonfinite and not finite
    if skipped:
        parts.optimizer.zero_grad(set_to_none=True)
    else:
        if parts.clip is not None and grads:
            torch.nn.utils.clip_grads_with_norm_(parts.parameters, parts.clip, norm)
        parts.optimizer.step()
    parts.scheduler.step()
    return UpdateResult(grad_norm=norm.detach(), skipped=skipped, nonfinite_grads=bad)


@record_function(DISCRIMINATOR_STEP)
def discriminator_step(
    *,
    discriminator: nn.Module,
    loss_term: LossTerm,
    parts: OptimizerParts,
    reference: Tensor,
    reconstruction: Tensor,
    autocast: Autocast,
    info: DistInfo,
    measure: bool = False,
) -> DiscriminatorStepResult:
    """Update the discriminator on the reference and the detached reconstruction."""
    parts.optimizer.zero_grad(set_to_none=True)
    fake_audio = reconstruction.detach()
    with no_gradient_sync(discriminator):
        with autocast():
            real = discriminator(reference)
            fake = discriminator(fake_audio)
            loss = loss_term(LossInputs(reference=reference, reconstruction=fake_audio, real=real, fake=fake))
        loss = loss.float()
        loss.backward()
    update = apply_update(parts, info, count_bad=measure)
    monitors = discriminator_monitors(real, fake) if measure else {}
    return DiscriminatorStepResult(loss=loss.detach(), update=update, margin=logit_margin(real, fake),
                                   monitors=monitors)


def split_losses(
    values: Mapping[str, Tensor], terms: Mapping[str, LossTerm], output: CodecOutput
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(balanced at the decoder output, back-propagated directly); the quantizer penalty is direct."""
    at_output = {name: value for name, value in values.items() if terms[name].depends_on_output}
    direct = {name: value for name, value in values.items() if not terms[name].depends_on_output}
    if output.penalty.requires_grad:
        direct[PENALTY] = output.penalty.float()
    return at_output, direct


@record_function(GENERATOR_STEP)
def generator_step(
    *,
    output: CodecOutput,
    reference: Tensor,
    loss_terms: Mapping[str, LossTerm],
    balancer: Balancer,
    discriminator: nn.Module | None,
    parts: OptimizerParts,
    autocast: Autocast,
    info: DistInfo,
    measure: bool = False,
    adversary_scale: Tensor | None = None,
) -> GeneratorStepResult:
    """Compute the generator losses on ``output``, balance them, back-propagate and update.

    Loss terms with ``needs_discriminator`` are skipped when ``discriminator`` is None (no
    adversary yet); ``adversary_scale`` (the adversary gate, 0..1) multiplies their balancer
    weights. ``discriminator`` must be the bare module (not a DDP wrapper). Under DDP,
    call this (and the forward pass) inside :func:`no_gradient_sync` of the codec wrapper.
    """
    parts.optimizer.zero_grad(set_to_none=True)
    active = {n: t for n, t in loss_terms.items() if discriminator is not None or not t.needs_discriminator}
    real: list[DiscriminatorOutput] | None = None
    fake: list[DiscriminatorOutput] | None = None
    monitors: dict[str, float] = {}
    with frozen(discriminator):
        if discriminator is not None and any(t.needs_discriminator for t in active.values()):
            with torch.no_grad(), autocast():
                real = discriminator(reference)
            with autocast():
                fake = discriminator(output.audio)
            if measure:
                monitors.update(discriminator_monitors(real, fake))
        inputs = LossInputs(reference=reference, reconstruction=output.audio, codec=output, real=real, fake=fake)
        with autocast():
            values = {name: term(inputs).float() for name, term in active.items()}
    at_output, direct = split_losses(values, active, output)
    penalty_weight = float(getattr(balancer, "weights", {}).get(PENALTY, 1.0))  # balancers weight direct losses
    probe = LatentGradientProbe(output.latent, output.penalty, penalty_weight) if measure else None
    with record_function(GENERATOR_BACKWARD):
        gated = {} if adversary_scale is None else {"weight_scales": {
            name: adversary_scale for name in at_output if active[name].needs_discriminator}}
        result = balancer.backward(at_output, output.audio, direct, measure_shares=measure, **gated)
    update = apply_update(parts, info, count_bad=measure)
    logged = {name: value.detach() for name, value in values.items()}
    logged[PENALTY] = output.penalty.detach().float()
    if measure:
        if probe is not None:
            monitors.update(probe.values())
        monitors["nonfinite/losses"] = float(count_nonfinite(logged.values()))
        monitors["nonfinite/generator_grads"] = float(update.nonfinite_grads)
        monitors["grad_norm/generator"] = float(update.grad_norm)
        monitors.update({f"share/{name}": float(share) for name, share in result.shares.items()})
    return GeneratorStepResult(
        losses=logged,
        total=result.total.detach().float(),
        update=update,
        shares=dict(result.shares),
        balancer_metrics=dict(result.metrics),
        monitors=monitors,
    )


@record_function(CODEC_FORWARD)
def forward_codec(codec: nn.Module, audio: Tensor, autocast: Autocast) -> CodecOutput:
    """The codec's forward pass under ``autocast``, with the reconstruction cast back to float32."""
    with autocast():
        output: CodecOutput = codec(audio)
    if output.audio.shape != audio.shape:
        raise ValueError(f"codec returned audio of shape {tuple(output.audio.shape)} for input {tuple(audio.shape)}")
    output.audio = output.audio.float()
    return output


def parameters_of(modules: Sequence[nn.Module | None]) -> list[nn.Parameter]:
    """Trainable parameters of ``modules`` in a fixed order, without duplicates."""
    seen: set[int] = set()
    params: list[nn.Parameter] = []
    for module in modules:
        if module is None:
            continue
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params
