"""Print the fully resolved configuration of a recipe (includes expanded, overrides applied).

Examples:
  codecbench show-config recipes/dac_style.gin
  codecbench show-config dac_style --gin 'SAMPLE_RATE = 24000'
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="path to a .gin recipe, or the name of a bundled recipe")
    parser.add_argument("--gin", action="append", default=[], metavar="BINDING",
                        help="extra binding, e.g. --gin 'codecbench.train.max_steps = 10' (repeatable)")


def run(args: argparse.Namespace) -> int:
    from codecbench.config import config_text_for_save, parse_recipe

    path = parse_recipe(args.recipe, args.gin, finalize=False)
    print(f"# recipe: {path}")
    for binding in args.gin:
        print(f"# override: {binding}")
    print(config_text_for_save())
    return 0
