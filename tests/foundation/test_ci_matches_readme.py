"""`.ci/run` must run exactly the README's test command (installation included)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("python3 -m venv .venv")]


def test_ci_runs_the_readme_test_command() -> None:
    readme = _commands((ROOT / "README.md").read_text())
    ci = _commands((ROOT / ".ci" / "run").read_text())
    test_commands = [c for c in readme if re.search(r"-m pytest$", c)]
    assert len(test_commands) == 1, readme
    assert test_commands[0] in ci


def test_readme_test_command_installs_every_tested_package() -> None:
    """Every package whose tests are collected must be installed by the test command."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    testpaths = re.search(r"testpaths\s*=\s*\[([^\]]*)\]", pyproject)
    assert testpaths is not None
    readme_test = next(c for c in _commands((ROOT / "README.md").read_text()) if c.endswith("-m pytest"))
    for path in re.findall(r'"([^"]+)"', testpaths.group(1)):
        package_root = path.removesuffix("/tests")
        if package_root.startswith("plugins/"):
            assert f"-e {package_root}" in readme_test, f"{package_root} tests run but the package is not installed"
