"""Gin glue: find recipes, parse them with their includes, apply overrides, save operative configs.

Recipes may ``include`` files relative to the including recipe's folder or to the bundled
``recipes/`` folder, so they work from any working directory and from an installed package.
Every built-in component family and every plugin is imported before a recipe is parsed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import gin

RECIPE_SUFFIX = ".gin"
BUILTIN_FAMILY_MODULES = (
    "codecbench.encoders",
    "codecbench.decoders",
    "codecbench.quantizers",
    "codecbench.discriminators",
    "codecbench.losses",
    "codecbench.balancers",
    "codecbench.teachers",
    "codecbench.data",
    "codecbench.metrics",
    "codecbench.models",
    "codecbench.training",
)


class RecipeError(ValueError):
    """A recipe could not be found or parsed; the message names the file and what to do."""


def bundled_recipes_dir() -> Path:
    """The ``recipes/`` folder shipped inside the package."""
    return Path(__file__).resolve().parent / "recipes"


def list_bundled_recipes() -> list[str]:
    root = bundled_recipes_dir()
    return sorted(path.stem for path in root.glob(f"*{RECIPE_SUFFIX}"))


def resolve_recipe(recipe: str | Path) -> Path:
    """A recipe path as given, or the name of a bundled recipe (``dac_style`` or ``dac_style.gin``)."""
    candidate = Path(recipe).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    name = candidate.name if candidate.suffix == RECIPE_SUFFIX else candidate.name + RECIPE_SUFFIX
    bundled = bundled_recipes_dir() / name
    if bundled.is_file() and (candidate.parent == Path(".") or candidate.parent.name == "recipes"):
        return bundled
    available = ", ".join(list_bundled_recipes()) or "(none)"
    raise RecipeError(f"recipe '{recipe}' not found (no such file, and no bundled recipe of that name); "
                      f"bundled recipes: {available}")


TORCH_CONFIGURABLES = (
    ("torch.optim", ("Adam", "AdamW", "SGD", "RMSprop")),
    ("torch.optim.lr_scheduler", ("ExponentialLR", "CosineAnnealingLR", "LambdaLR", "StepLR", "MultiStepLR",
                                  "OneCycleLR", "LinearLR", "ConstantLR", "SequentialLR")),
)


def register_torch_configurables() -> None:
    """Make ``@torch.optim.AdamW`` and friends referable from recipes (scoped, e.g. ``generator/``)."""
    for module_name, names in TORCH_CONFIGURABLES:
        module = importlib.import_module(module_name)
        for name in names:
            if not gin.config._REGISTRY.get(f"{module_name}.{name}"):
                gin.external_configurable(getattr(module, name), module=module_name)


def register_audio_configurables() -> None:
    """Make the loudness normaliser configurable, e.g. ``codecbench.datasets.folder.normalize =
    @codecbench.audio.LoudnessNormalizer()`` with ``codecbench.audio.LoudnessNormalizer.method = 'lufs'``."""
    from codecbench.audio.loudness import LoudnessNormalizer

    if not gin.config._REGISTRY.get("codecbench.audio.LoudnessNormalizer"):
        gin.external_configurable(LoudnessNormalizer, module="codecbench.audio")


def load_all_components() -> None:
    """Import every built-in family, the torch optimisers and schedulers, then the plugins."""
    register_torch_configurables()
    register_audio_configurables()
    for module in BUILTIN_FAMILY_MODULES:
        importlib.import_module(module)
    from codecbench.plugins import load_plugins

    load_plugins()


@contextmanager
def _search_paths(paths: Sequence[Path]) -> Iterator[None]:
    prefixes = gin.config._LOCATION_PREFIXES
    saved = list(prefixes)
    prefixes[:] = [str(path) for path in paths] + [prefix for prefix in saved if prefix not in map(str, paths)]
    try:
        yield
    finally:
        prefixes[:] = saved


def _raise_recipe_error(source: str, error: Exception) -> None:
    raise RecipeError(f"{source}: {error}") from error


def parse_recipe(recipe: str | Path, bindings: Sequence[str] = (), *, finalize: bool = True) -> Path:
    """Clear Gin, load components and plugins, parse ``recipe`` and ``bindings``; return the recipe path."""
    path = resolve_recipe(recipe)
    load_all_components()
    gin.clear_config()
    with _search_paths([path.parent, bundled_recipes_dir()]):
        try:
            gin.parse_config_file(str(path))
        except Exception as error:  # gin raises many types; all mean "this recipe is wrong"
            _raise_recipe_error(str(path), error)
    apply_bindings(bindings)
    if finalize:
        gin.finalize()
    return path


def parse_config_text(text: str, bindings: Sequence[str] = (), *, finalize: bool = False) -> None:
    """Parse a saved operative config (e.g. from a checkpoint), then user overrides."""
    load_all_components()
    gin.clear_config()
    with _search_paths([bundled_recipes_dir()]):
        try:
            gin.parse_config(text)
        except Exception as error:
            _raise_recipe_error("saved config", error)
    apply_bindings(bindings)
    if finalize:
        gin.finalize()


def apply_bindings(bindings: Sequence[str]) -> None:
    """Apply ``--gin`` overrides one at a time so an error names the offending binding."""
    for binding in bindings:
        try:
            gin.parse_config(binding)
        except Exception as error:
            _raise_recipe_error(f"--gin {binding!r}", error)


@contextmanager
def _full_selectors() -> Iterator[None]:
    """Make Gin print full names (``codecbench.discriminators.mpd``) instead of the shortest unique
    suffix, which becomes ambiguous as soon as a plugin registers a class of the same name."""
    manager = gin.config.ImportManager
    original = manager.minimal_selector

    def full_selector(self: object, configurable_: gin.config.Configurable) -> str:
        if getattr(self, "dynamic_registration", False):
            return original(self, configurable_)
        return configurable_.selector

    manager.minimal_selector = full_selector
    try:
        yield
    finally:
        manager.minimal_selector = original


def operative_config_text() -> str:
    """Only the bindings that were actually used by calls so far, with full names."""
    with _full_selectors():
        return gin.operative_config_str()


def config_text_for_save() -> str:
    """Every binding parsed so far, with full names: enough to rebuild the same objects later."""
    with _full_selectors():
        return gin.config_str()


def save_config(path: str | Path, text: str | None = None) -> Path:
    """Write ``text`` (default: the full current config) to ``path`` atomically."""
    from codecbench.utils.files import atomic_write_text

    target = Path(path)
    atomic_write_text(target, text if text is not None else config_text_for_save())
    return target
