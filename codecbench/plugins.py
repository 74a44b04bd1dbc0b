"""Load third-party components from the entry-point group ``codecbench.plugins``.

Each entry point names a module (imported for its registrations) or a callable (called with
no arguments). Registrations made while loading are attributed to the entry point's
distribution. A plugin that fails to load produces one warning naming its distribution and
the error; everything else keeps working.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from codecbench.registry import providing_distribution

ENTRY_POINT_GROUP = "codecbench.plugins"


@dataclass(frozen=True)
class PluginFailure:
    distribution: str
    entry_point: str
    error: str


@dataclass
class PluginState:
    loaded: list[str]
    failures: list[PluginFailure]
    done: bool = False


_state = PluginState(loaded=[], failures=[])


class PluginLoadWarning(UserWarning):
    """A plugin distribution could not be loaded."""


def distribution_name(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else f"<unknown distribution of {entry_point.value}>"


def load_entry_point(entry_point: EntryPoint) -> None:
    """Import (and call, if callable) one entry point under its distribution's name."""
    with providing_distribution(distribution_name(entry_point)):
        target = entry_point.load()
        if callable(target):
            target()


def load_plugins(*, reload: bool = False) -> PluginState:
    """Load every ``codecbench.plugins`` entry point once; failures become warnings."""
    if _state.done and not reload:
        return _state
    _state.done = True
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        key = f"{distribution_name(entry_point)}:{entry_point.name}"
        if key in _state.loaded:
            continue
        try:
            load_entry_point(entry_point)
        except Exception as error:  # a broken plugin must not break codecbench
            reason = f"{type(error).__name__}: {error}"
            failure = PluginFailure(distribution_name(entry_point), entry_point.name, reason)
            _state.failures.append(failure)
            message = (f"codecbench plugin '{failure.entry_point}' from distribution '{failure.distribution}' "
                       f"failed to load and was skipped: {failure.error}")
            warnings.warn(message, PluginLoadWarning, stacklevel=2)
            continue
        _state.loaded.append(key)
    return _state
