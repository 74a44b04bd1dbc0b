"""Chunk-by-chunk execution of causal modules with typed per-module state.

A :class:`StreamingModule` owns a state object (a dataclass of its own type) while a stream
is open. ``with model.streaming(batch_size):`` opens a stream on every streaming submodule,
``model.reset_streaming()`` starts a new stream without leaving the block, and leaving the
block drops all state. Outside a stream every module runs its ordinary offline forward.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Generic, TypeVar

from torch import Tensor, nn

S = TypeVar("S")


class StreamingModule(nn.Module, Generic[S]):
    """A module that can process a signal in chunks, carrying a state of type ``S`` between them."""

    def __init__(self) -> None:
        super().__init__()
        self._streaming_state: S | None = None
        self._streaming_batch_size: int | None = None

    def init_streaming_state(self, batch_size: int) -> S | None:
        """A fresh state for a new stream; containers without state of their own return None.

        Modules that cannot stream (e.g. non-causal convolutions) raise here, so that opening
        a stream fails before any audio is processed.
        """
        return None

    @property
    def is_streaming(self) -> bool:
        return self._streaming_batch_size is not None

    @property
    def streaming_batch_size(self) -> int:
        if self._streaming_batch_size is None:
            raise RuntimeError(f"{type(self).__name__} is not streaming; use `with module.streaming(batch_size):`")
        return self._streaming_batch_size

    @property
    def streaming_state(self) -> S:
        state = self._streaming_state
        if state is None:
            raise RuntimeError(
                f"{type(self).__name__} has no streaming state; use `with module.streaming(batch_size):`"
            )
        return state

    def check_streaming_batch(self, x: Tensor) -> None:
        """Raise if a chunk's batch size differs from the one the stream was opened with."""
        if x.shape[0] != self.streaming_batch_size:
            raise ValueError(
                f"{type(self).__name__}: chunk has batch size {x.shape[0]} but the stream was opened with "
                f"streaming(batch_size={self.streaming_batch_size})"
            )

    def _start_streaming(self, batch_size: int) -> None:
        self._streaming_batch_size = batch_size
        self._streaming_state = self.init_streaming_state(batch_size)

    def _stop_streaming(self) -> None:
        self._streaming_batch_size = None
        self._streaming_state = None

    def streaming(self, batch_size: int) -> AbstractContextManager[None]:
        """Context manager: open a stream of ``batch_size`` items on this module and all its submodules."""
        return streaming(self, batch_size)

    def reset_streaming(self) -> None:
        """Start a new stream (fresh state everywhere) without leaving the ``streaming`` block."""
        reset_streaming(self)


def streaming_modules(module: nn.Module) -> list[StreamingModule]:
    """Every :class:`StreamingModule` in ``module`` (itself included), in ``modules()`` order."""
    return [m for m in module.modules() if isinstance(m, StreamingModule)]


@contextmanager
def streaming(module: nn.Module, batch_size: int) -> Iterator[None]:
    """Open a stream on every streaming submodule of ``module``; all state is dropped on exit."""
    if batch_size < 1:
        raise ValueError(f"streaming batch_size must be >= 1, got {batch_size}")
    modules = streaming_modules(module)
    if any(m.is_streaming for m in modules):
        raise RuntimeError(f"{type(module).__name__} is already streaming; nested streaming() blocks are not allowed")
    try:
        for m in modules:
            m._start_streaming(batch_size)
        yield
    finally:
        for m in modules:
            m._stop_streaming()


def reset_streaming(module: nn.Module) -> None:
    """Give every streaming submodule a fresh state (a new stream); a no-op outside a stream."""
    for m in streaming_modules(module):
        if m.is_streaming:
            m._start_streaming(m.streaming_batch_size)
