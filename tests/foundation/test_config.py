from __future__ import annotations

import re
from pathlib import Path

import gin
import pytest

from codecbench.config import (
    RecipeError,
    bundled_recipes_dir,
    config_text_for_save,
    parse_config_text,
    parse_recipe,
    resolve_recipe,
)


@gin.configurable(module="codecbench_test_config")
def build(size: int = 1, name: str = "", parts: tuple = ()) -> tuple:
    return size, name, parts


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def recipe_dir(tmp_path: Path) -> Path:
    write(tmp_path / "base.gin", "SIZE = 4\ncodecbench_test_config.build.size = %SIZE\n")
    write(tmp_path / "mixins" / "named.gin", "codecbench_test_config.build.name = 'mixin'\n")
    write(tmp_path / "top.gin", "include 'base.gin'\ninclude 'mixins/named.gin'\n")
    return tmp_path


def test_include_and_macros(recipe_dir: Path) -> None:
    parse_recipe(recipe_dir / "top.gin")
    assert build() == (4, "mixin", ())


def test_overrides_apply_after_recipe_and_reach_macros(recipe_dir: Path) -> None:
    parse_recipe(recipe_dir / "top.gin", ["SIZE = 9", "codecbench_test_config.build.parts = (1, 2)"])
    assert build() == (9, "mixin", (1, 2))


def test_recipe_works_from_any_working_directory(recipe_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    parse_recipe(recipe_dir / "top.gin")
    assert build()[0] == 4


def test_error_names_file_and_line(recipe_dir: Path) -> None:
    write(recipe_dir / "broken.gin", "include 'base.gin'\n\ncodecbench_test_config.build.colour = 3\n")
    with pytest.raises(RecipeError) as error:
        parse_recipe(recipe_dir / "broken.gin")
    message = str(error.value)
    assert "broken.gin" in message and "line 3" in message and "colour" in message


def test_bad_override_is_named(recipe_dir: Path) -> None:
    with pytest.raises(RecipeError, match=re.escape("--gin 'codecbench_test_config.build.size = ('")):
        parse_recipe(recipe_dir / "top.gin", ["codecbench_test_config.build.size = ("])


def test_missing_recipe_lists_bundled() -> None:
    with pytest.raises(RecipeError, match=r"not found.*bundled recipes"):
        resolve_recipe("definitely_not_a_recipe")


def test_bundled_recipe_resolves_by_name() -> None:
    recipes = sorted(bundled_recipes_dir().glob("*.gin"))
    if not recipes:
        pytest.skip("no bundled recipes yet")
    assert resolve_recipe(recipes[0].stem) == recipes[0]
    assert resolve_recipe(f"recipes/{recipes[0].name}") == recipes[0].resolve()


def test_saved_config_round_trips(recipe_dir: Path) -> None:
    parse_recipe(recipe_dir / "top.gin", ["SIZE = 7"])
    saved = config_text_for_save()
    gin.clear_config()
    parse_config_text(saved, ["codecbench_test_config.build.name = 'override'"])
    assert build() == (7, "override", ())


def test_loudness_normaliser_is_configurable(tmp_path: Path) -> None:
    write(tmp_path / "loud.gin", "codecbench_test_config.build.name = @codecbench.audio.LoudnessNormalizer()\n"
                                 "codecbench.audio.LoudnessNormalizer.method = 'lufs'\n")
    parse_recipe(tmp_path / "loud.gin")
    normalizer = build()[1]
    assert normalizer.method == "lufs" and normalizer.target_db == -16.0
