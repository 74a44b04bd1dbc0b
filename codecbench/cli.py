"""The ``codecbench`` command line: one subcommand per module in ``codecbench.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from codecbench import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train a codec from a Gin recipe"),
    "bench": ("bench", "benchmark checkpoints and classic codecs on a folder of audio"),
    "encode": ("encode", "compress an audio file into a .cbc bitstream"),
    "decode": ("decode", "decode a .cbc bitstream back to audio"),
    "list": ("list_components", "list every registered component, built-in or plugin"),
    "show-config": ("show_config", "print the fully resolved configuration of a recipe"),
    "doctor": ("doctor", "diagnose a live or finished training run"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codecbench",
        description="Train, diagnose and benchmark neural audio codecs built from registered components.",
    )
    parser.add_argument("--version", action="version", version=f"codecbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, summary) in SUBCOMMANDS.items():
        module = importlib.import_module(f"codecbench.commands.{module_name}")
        doc = (module.__doc__ or summary).strip()
        sub = subparsers.add_parser(name, help=summary, description=doc,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from codecbench.errors import UserFacingError

    try:
        return int(args.handler(args) or 0)
    except UserFacingError as error:
        print(f"codecbench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"codecbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
