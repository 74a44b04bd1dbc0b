"""Multi-process training helpers (``torchrun --nproc_per_node=N -m codecbench train ...``).

Models are wrapped in ``DistributedDataParallel`` (rank 0's initial weights and buffers are
broadcast to every rank), but gradients are all-reduced explicitly, in one flat bucket, after the
balancer's backward: a balancer may call backward more than once, and some parameters
(codebooks trained only by the quantizer penalty, projections inside loss terms) are reached
outside one forward. Doing it explicitly sidesteps DDP's "mark a variable ready only once" and
"unused parameters" failures. gloo on CPU, nccl on CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_world_size() -> int:
    """WORLD_SIZE set by torchrun, 1 when run directly."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; under torchrun each process takes GPU ``LOCAL_RANK``."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    kind = requested.split(":")[0]
    if kind not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {requested!r}")
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but torch.cuda.is_available() is False; use --device cpu")
    index = int(requested.split(":")[1]) if ":" in requested else local_rank
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group if launched by torchrun with WORLD_SIZE > 1."""
    if launched_world_size() <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        backend=str(dist.get_backend()),
    )


def shutdown_distributed(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_module(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """DDP wrapper (broadcasts rank 0's parameters and buffers) when distributed, else the module."""
    if not info.enabled or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)  # buffers follow rank 0 by default


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP or torch.compile wrapper."""
    while True:
        if isinstance(module, nn.parallel.DistributedDataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


@contextmanager
def no_gradient_sync(module: nn.Module) -> Iterator[None]:
    """Disable DDP's own gradient reduction (we reduce explicitly with :func:`sync_gradients`)."""
    context = module.no_sync() if isinstance(module, nn.parallel.DistributedDataParallel) else nullcontext()
    with context:
        yield


def sync_gradients(parameters: Sequence[nn.Parameter], info: DistInfo) -> None:
    """Average gradients over ranks in one flat all-reduce; a gradient missing on every rank stays None."""
    if not info.enabled:
        return
    params = [p for p in parameters if p.requires_grad]
    if not params:
        return
    device = params[0].device
    grads = [p.grad.float() if p.grad is not None else torch.zeros_like(p, dtype=torch.float32) for p in params]
    present = torch.tensor([float(p.grad is not None) for p in params], device=device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [present])
    dist.all_reduce(flat)
    counts = flat[-len(params):]
    offset = 0
    for param, count in zip(params, counts.tolist()):
        numel = param.numel()
        if count > 0:
            averaged = flat[offset : offset + numel].view_as(param).div_(info.world_size).to(param.dtype)
            if param.grad is None:
                param.grad = averaged.clone()
            else:
                param.grad.copy_(averaged)
        offset += numel


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank if ``flag`` is True on any rank (stop requests must agree)."""
    if not info.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum over ranks (in place) when distributed."""
    if info.enabled:
        dist.all_reduce(tensor)
    return tensor


def gather_objects(obj: object, info: DistInfo) -> list[object]:
    """Every rank's ``obj`` on every rank (small objects only: RNG states, flags)."""
    if not info.enabled:
        return [obj]
    gathered: list[object] = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered
