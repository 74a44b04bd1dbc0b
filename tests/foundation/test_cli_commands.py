from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codecbench", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.parametrize("command", ["train", "bench", "encode", "decode", "list", "show-config", "doctor"])
def test_every_subcommand_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: codecbench" in result.stdout


def test_list_shows_builtin_components() -> None:
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    assert "codecbench components" in result.stdout


def test_list_unknown_family_is_a_clear_error() -> None:
    result = run_cli("list", "discriminatorz")
    assert result.returncode == 2
    assert "unknown family 'discriminatorz'" in result.stderr


def test_show_config_prints_resolved_bindings(tmp_path: Path) -> None:
    (tmp_path / "base.gin").write_text("torch.optim.AdamW.lr = 0.001\n")
    (tmp_path / "top.gin").write_text("include 'base.gin'\ntorch.optim.AdamW.weight_decay = 0.5\n")
    result = run_cli("show-config", str(tmp_path / "top.gin"), "--gin", "torch.optim.AdamW.lr = 0.25")
    assert result.returncode == 0, result.stderr
    assert "torch.optim.AdamW.lr = 0.25" in result.stdout
    assert "torch.optim.AdamW.weight_decay = 0.5" in result.stdout


def test_show_config_unknown_recipe_exits_nonzero() -> None:
    result = run_cli("show-config", "no_such_recipe")
    assert result.returncode == 2
    assert "recipe 'no_such_recipe' not found" in result.stderr
