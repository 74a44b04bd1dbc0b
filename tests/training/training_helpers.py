"""Helpers shared by the trainer tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"
TINY = RECIPES / "tiny.gin"
TINY_GAN = RECIPES / "tiny_gan.gin"


def data_binding(folder: Path) -> str:
    return f"codecbench.train.data_paths = [{str(folder)!r}]"


def read_records(run_dir: Path, kind: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row for row in rows if kind is None or row["kind"] == kind]
