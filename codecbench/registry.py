"""Named component registries, one per family, each entry also registered with Gin.

A class registered as ``@DISCRIMINATORS.register("mpd")`` becomes creatable by name
(``DISCRIMINATORS.create("mpd", ...)``) and referable from a recipe as
``@codecbench.discriminators.mpd()``. ``gin.register`` leaves the class itself untouched:
constructing it directly from Python never picks up Gin bindings.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import gin

T = TypeVar("T")

BUILTIN_DISTRIBUTION = "codecbench"
_current_distribution: list[str] = [BUILTIN_DISTRIBUTION]


class RegistryError(KeyError):
    """A registry lookup or registration failed; the message says what to do."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RegistryEntry:
    """One registered component."""

    family: str
    name: str
    target: Any
    gin_name: str
    distribution: str
    description: str


def first_docstring_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def closest_name(name: str, candidates: list[str]) -> str | None:
    """The candidate nearest to ``name`` (edit distance, then similarity), if it is plausibly a typo."""
    if not candidates:
        return None
    best = min(candidates, key=lambda c: (edit_distance(name, c), -difflib.SequenceMatcher(None, name, c).ratio()))
    limit = max(1, len(name) // 2)
    return best if edit_distance(name, best) <= limit or best.startswith(name) else None


@contextmanager
def providing_distribution(name: str) -> Iterator[None]:
    """Attribute every registration inside the block to distribution ``name`` (used by plugin loading)."""
    _current_distribution.append(name)
    try:
        yield
    finally:
        _current_distribution.pop()


class Registry(Generic[T]):
    """A named collection of components of one family, e.g. every discriminator."""

    def __init__(self, family: str, gin_module: str, base: type | None = None) -> None:
        self.family = family
        self.gin_module = gin_module
        self.base = base
        self._entries: dict[str, RegistryEntry] = {}
        ALL_REGISTRIES[family] = self

    def register(self, name: str, *, description: str | None = None) -> Callable[[type[T]], type[T]]:
        """Class decorator: register under ``name`` and with Gin as ``<gin_module>.<name>``."""

        def decorate(target: type[T]) -> type[T]:
            if name in self._entries:
                existing = self._entries[name]
                raise RegistryError(
                    f"{self.family} '{name}' is already registered by {existing.distribution} "
                    f"({existing.target.__module__}.{existing.target.__qualname__}); choose another name"
                )
            if self.base is not None and not (inspect.isclass(target) and issubclass(target, self.base)):
                raise TypeError(
                    f"{self.family} '{name}': {target!r} must subclass {self.base.__module__}.{self.base.__qualname__}"
                )
            gin.register(name, module=self.gin_module)(target)
            self._entries[name] = RegistryEntry(
                family=self.family,
                name=name,
                target=target,
                gin_name=f"{self.gin_module}.{name}",
                distribution=_current_distribution[-1],
                description=description or first_docstring_line(target),
            )
            return target

        return decorate

    def entry(self, name: str) -> RegistryEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(self.unknown_name_message(name)) from None

    def get(self, name: str) -> type[T]:
        return self.entry(name).target

    def create(self, name: str, **kwargs: Any) -> T:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[RegistryEntry]:
        return [self._entries[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and plugin reloads only); Gin keeps its own record."""
        self._entries.pop(name, None)

    def unknown_name_message(self, name: str) -> str:
        names = self.names()
        close = closest_name(name, names)
        hint = f"; did you mean '{close}'?" if close else ""
        listed = ", ".join(names) if names else "(none)"
        return f"unknown {self.family} '{name}'{hint} registered: {listed}"


ALL_REGISTRIES: dict[str, Registry[Any]] = {}
