"""List every registered component: family, name, providing distribution and a one-line description.

Examples:
  codecbench list
  codecbench list discriminator
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", nargs="?", help="only this family (e.g. discriminator, quantizer, loss)")


def normalise_family(name: str, families: list[str]) -> str:
    from codecbench.errors import CodecbenchError

    for candidate in (name, name.rstrip("s"), name[:-2] if name.endswith("es") else name):
        if candidate in families:
            return candidate
    raise CodecbenchError(f"unknown family '{name}'; families: {', '.join(families)}")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from codecbench.config import load_all_components
    from codecbench.registry import ALL_REGISTRIES

    load_all_components()
    families = sorted(ALL_REGISTRIES)
    selected = [normalise_family(args.family, families)] if args.family else families
    table = Table(title="codecbench components")
    for column in ("family", "name", "gin name", "distribution", "description"):
        table.add_column(column, overflow="fold")
    for family in selected:
        for entry in ALL_REGISTRIES[family].entries():
            table.add_row(entry.family, entry.name, f"@{entry.gin_name}()", entry.distribution, entry.description)
    Console(width=200).print(table)
    return 0
