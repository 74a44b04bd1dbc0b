"""An endless, resumable stream of training batches.

Each epoch draws a permutation with ``DistributedSampler`` (seed + epoch; one shard per rank)
and calls ``dataset.set_epoch(epoch)`` when the dataset has it, so crops are a function of
(seed, epoch, index). The stream's position (epoch, batches taken) is saved in checkpoints;
resuming skips the taken indices without loading them. The DataLoader gets its own generator,
so building a loader never consumes the global torch RNG.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from codecbench.training.distributed import DistInfo
from codecbench.training.errors import TrainingConfigError


class _SkippingSampler(Sampler[int]):
    """Yields the indices of ``sampler`` after the first ``skip``."""

    def __init__(self, sampler: DistributedSampler, skip: int) -> None:
        self.sampler = sampler
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        indices = list(self.sampler)
        return iter(indices[self.skip :])

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


class BatchStream:
    """``next(stream)`` gives the next [B, 1, T] batch, moving to a new epoch when one ends."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        seed: int,
        info: DistInfo,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if not isinstance(dataset, Sized):
            raise TrainingConfigError(f"the training dataset {type(dataset).__name__} must define __len__")
        per_rank = len(dataset) // info.world_size
        if per_rank < batch_size:
            raise TrainingConfigError(
                f"the training dataset has {len(dataset)} items, fewer than batch_size {batch_size} x "
                f"{info.world_size} process(es): add audio or raise the dataset's crops_per_epoch"
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.info = info
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.epoch = 0
        self.batches_taken = 0  # in the current epoch
        self._iterator: Iterator[Any] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return (len(self.dataset) // self.info.world_size) // self.batch_size  # type: ignore[arg-type]

    def _start_epoch(self) -> None:
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self.epoch)
        sampler = DistributedSampler(
            self.dataset, num_replicas=self.info.world_size, rank=self.info.rank, shuffle=True, seed=self.seed
        )
        sampler.set_epoch(self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=_SkippingSampler(sampler, self.batches_taken * self.batch_size),
            num_workers=self.num_workers,
            drop_last=True,
            pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(self.seed + self.epoch),
        )
        self._iterator = iter(loader)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Tensor:
        if self._iterator is None:
            self._start_epoch()
        assert self._iterator is not None
        try:
            batch = next(self._iterator)
        except StopIteration:
            self.epoch += 1
            self.batches_taken = 0
            self._start_epoch()
            batch = next(self._iterator)
        self.batches_taken += 1
        if not isinstance(batch, Tensor):
            raise TypeError(f"datasets must yield audio tensors [1, T]; got batches of {type(batch).__name__}")
        if batch.dim() == 2:
            batch = batch.unsqueeze(1)
        return batch.float()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batches_taken": self.batches_taken, "world_size": self.info.world_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.batches_taken = int(state["batches_taken"])
        if int(state.get("world_size", self.info.world_size)) != self.info.world_size:
            self.epoch += 1  # shards differ: restart at a fresh epoch rather than repeat or skip items
            self.batches_taken = 0
        self._iterator = None
