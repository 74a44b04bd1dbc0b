"""``python -m codecbench`` runs the CLI."""

from codecbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
