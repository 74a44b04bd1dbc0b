"""codecbench decode (being built; see the issue tracker)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    from codecbench.errors import CodecbenchError

    raise CodecbenchError("'decode' is not available in this build yet")
