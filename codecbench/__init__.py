"""codecbench: train, diagnose and benchmark neural audio codecs."""

__version__ = "0.1.0"
