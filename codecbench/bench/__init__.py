"""The benchmark suite: systems (checkpoints, classic codecs), the runner, statistics and reports.

Submodules are imported on use (``codecbench.bench.runner`` etc.) so that importing the package is cheap.
"""
