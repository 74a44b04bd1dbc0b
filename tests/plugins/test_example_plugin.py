"""The example plugin (plugins/codecbench-cqt) loads through its entry point, without being installed.

The test puts the plugin's source folder and a hand-written ``codecbench_cqt-0.1.0.dist-info`` on
``sys.path``, so ``importlib.metadata`` sees the entry point exactly as pip would install it. Any
earlier load of the plugin in this process (it may also be installed) is set aside first and
restored afterwards, Gin's registration included.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import gin
import pytest
import torch

import codecbench.discriminators  # noqa: F401  (built-ins first, as load_all_components does)
from codecbench import plugins
from codecbench.discriminators.base import DISCRIMINATORS, Discriminator
from codecbench.registry import providing_distribution

PLUGIN_SOURCE = Path(__file__).resolve().parents[2] / "plugins" / "codecbench-cqt"
DISTRIBUTION = "codecbench-cqt"
MODULE = "codecbench_cqt"
GIN_NAME = "codecbench.discriminators.cqt"
FAKE_SUMMARY = "stand-in distribution written by tests/plugins/test_example_plugin.py"


def write_dist_info(site: Path) -> Path:
    """What ``pip install plugins/codecbench-cqt`` would write, reduced to what entry points need."""
    info = site / f"{MODULE}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.1.0\nSummary: {FAKE_SUMMARY}\n"
    )
    (info / "entry_points.txt").write_text(f"[{plugins.ENTRY_POINT_GROUP}]\ncqt = {MODULE}\n")
    return info


def plugin_modules() -> dict[str, ModuleType]:
    return {name: mod for name, mod in sys.modules.items() if name == MODULE or name.startswith(f"{MODULE}.")}


@pytest.fixture()
def fresh_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Forget any earlier load of the plugin, expose source + dist-info on sys.path; restore afterwards."""
    previous_entry = DISCRIMINATORS.entry("cqt") if "cqt" in DISCRIMINATORS else None
    previous_modules = plugin_modules()
    previous_gin = gin.config._REGISTRY.get(GIN_NAME)
    state = plugins._state  # the loader's record of what it has loaded (no public reset exists)
    previous_loaded, previous_failures, previous_done = list(state.loaded), list(state.failures), state.done

    DISCRIMINATORS.unregister("cqt")
    for name in previous_modules:
        del sys.modules[name]
    state.loaded[:] = [key for key in state.loaded if not key.startswith(f"{DISTRIBUTION}:")]
    site = tmp_path / "site-packages"
    write_dist_info(site)
    monkeypatch.syspath_prepend(str(PLUGIN_SOURCE))
    monkeypatch.syspath_prepend(str(site))  # first on sys.path: shadows an installed copy's metadata
    gin.enter_interactive_mode()  # a fresh import defines a new class under a Gin name that may exist
    try:
        yield site
    finally:
        DISCRIMINATORS.unregister("cqt")
        for name in plugin_modules():
            del sys.modules[name]
        sys.modules.update(previous_modules)
        if previous_entry is not None:
            with providing_distribution(previous_entry.distribution):
                DISCRIMINATORS.register("cqt", description=previous_entry.description)(previous_entry.target)
        if previous_gin is not None:
            gin.config._REGISTRY[GIN_NAME] = previous_gin
        elif gin.config._REGISTRY.get(GIN_NAME) is not None:
            gin.config._REGISTRY.pop(GIN_NAME)
        gin.exit_interactive_mode()
        state.loaded[:], state.failures[:], state.done = previous_loaded, previous_failures, previous_done


def test_entry_point_registers_cqt_under_its_distribution(fresh_plugin: Path) -> None:
    found = tuple(entry_points(group=plugins.ENTRY_POINT_GROUP, name="cqt"))
    assert [ep.value for ep in found] == [MODULE]
    assert found[0].dist is not None and found[0].dist.metadata["Summary"] == FAKE_SUMMARY
    assert "cqt" not in DISCRIMINATORS

    state = plugins.load_plugins(reload=True)

    assert f"{DISTRIBUTION}:cqt" in state.loaded
    assert not [f for f in state.failures if f.distribution == DISTRIBUTION]
    entry = DISCRIMINATORS.entry("cqt")
    assert entry.distribution == DISTRIBUTION
    assert entry.gin_name == GIN_NAME
    assert issubclass(entry.target, Discriminator)
    assert entry.description.startswith("Multi-scale sub-band constant-Q discriminator")
    module_file = Path(sys.modules[MODULE].__file__ or "").resolve()
    assert module_file == (PLUGIN_SOURCE / MODULE / "__init__.py").resolve()


def test_plugin_component_is_usable_by_name_and_from_gin(fresh_plugin: Path) -> None:
    plugins.load_plugins(reload=True)
    small = {"channels": 2, "hop_lengths": (320,), "bins_per_octave": (12,)}
    outputs = DISCRIMINATORS.create("cqt", **small)(torch.randn(2, 1, 3200) * 0.1)
    assert len(outputs) == 1 and outputs[0].logits.shape == (2, 1, 10, 12)

    gin.parse_config(
        """
        codecbench.discriminators.combined.discriminators = [@codecbench.discriminators.cqt()]
        codecbench.discriminators.cqt.channels = 2
        codecbench.discriminators.cqt.hop_lengths = (320,)
        codecbench.discriminators.cqt.bins_per_octave = (12,)
        """
    )
    combined = gin.get_configurable("codecbench.discriminators.combined")()
    (member,) = combined.discriminators
    assert type(member) is DISCRIMINATORS.get("cqt")
    assert combined.sees_absolute_level
    assert len(combined(torch.randn(1, 1, 3200) * 0.1)) == 1
