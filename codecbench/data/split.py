"""Deterministic train/validation split by file: a hash of each file's relative path, never its contents."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SPLITS = ("train", "validation", "all", "heldout")
"""``all`` and ``heldout`` take every file; ``heldout`` draws them as ``validation`` does (a separate folder)."""
FIXED_CROP_SPLITS = ("validation", "heldout")
"""Splits drawn with the same crops every epoch and no gain augmentation."""
WHOLE_FOLDER_SPLITS = ("all", "heldout")
"""Splits that take every file of their folder."""


def split_value(key: str) -> float:
    """Stable pseudo-uniform number in [0, 1) for a relative path (SHA-256, platform independent)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_validation(keys: Sequence[str], validation_fraction: float) -> list[bool]:
    """Which keys belong to validation: those hashing below ``validation_fraction``.

    With two or more keys and a positive fraction, validation gets at least one file (the lowest hash)
    and train keeps at least one (the highest hash). The same key set always gives the same answer.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    values = [split_value(key) for key in keys]
    chosen = [value < validation_fraction for value in values]
    if len(keys) >= 2 and validation_fraction > 0.0:
        if not any(chosen):
            chosen[min(range(len(values)), key=values.__getitem__)] = True
        if all(chosen):
            chosen[max(range(len(values)), key=values.__getitem__)] = False
    return chosen


def select_split(keys: Sequence[str], split: str, validation_fraction: float) -> list[int]:
    """Indices of ``keys`` in ``split`` (``train``, ``validation``, or every key for ``all`` / ``heldout``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split in WHOLE_FOLDER_SPLITS:
        return list(range(len(keys)))
    validation = assign_validation(keys, validation_fraction)
    wanted = split == "validation"
    return [index for index, is_validation in enumerate(validation) if is_validation == wanted]
