from __future__ import annotations

import gin
import pytest
from torch import nn

from codecbench.registry import Registry, RegistryError, providing_distribution


class Base(nn.Module):
    pass


@pytest.fixture()
def registry() -> Registry[Base]:
    # A unique gin module per test avoids clashes with Gin's process-wide registry.
    import uuid

    return Registry(f"widget_{uuid.uuid4().hex[:8]}", f"codecbench_test.w{uuid.uuid4().hex[:8]}", Base)


def test_register_create_and_describe(registry: Registry[Base]) -> None:
    @registry.register("mpd")
    class MultiPeriod(Base):
        """Judges periodic structure.

        More text."""

        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self.width = width

    entry = registry.entry("mpd")
    assert entry.description == "Judges periodic structure."
    assert entry.distribution == "codecbench"
    assert entry.gin_name == f"{registry.gin_module}.mpd"
    assert registry.create("mpd", width=7).width == 7
    assert "mpd" in registry and len(registry) == 1


def test_registered_class_is_gin_configurable_but_unchanged(registry: Registry[Base]) -> None:
    @registry.register("thing")
    class Thing(Base):
        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self.width = width

    gin.parse_config([f"{registry.gin_module}.thing.width = 11"])
    configured = gin.get_configurable(f"{registry.gin_module}.thing")
    assert configured().width == 11
    assert Thing().width == 4  # direct construction ignores bindings
    assert registry.get("thing") is Thing


def test_duplicate_name_raises(registry: Registry[Base]) -> None:
    @registry.register("a")
    class First(Base):
        pass

    with pytest.raises(RegistryError, match="already registered"):

        @registry.register("a")
        class Second(Base):
            pass


def test_unknown_name_suggests_closest(registry: Registry[Base]) -> None:
    for name in ("mpd", "msd", "mrd"):
        registry.register(name)(type(name.upper(), (Base,), {}))
    with pytest.raises(RegistryError) as error:
        registry.get("mdp")
    message = str(error.value)
    assert f"unknown {registry.family} 'mdp'" in message
    assert "did you mean 'mpd'?" in message
    assert "registered: mpd, mrd, msd" in message


def test_base_class_is_enforced(registry: Registry[Base]) -> None:
    with pytest.raises(TypeError, match="must subclass"):
        registry.register("bad")(type("NotAModule", (), {}))


def test_distribution_attribution(registry: Registry[Base]) -> None:
    with providing_distribution("my-plugin"):
        registry.register("p")(type("P", (Base,), {}))
    registry.register("q")(type("Q", (Base,), {}))
    assert registry.entry("p").distribution == "my-plugin"
    assert registry.entry("q").distribution == "codecbench"
