"""Small discriminator configurations shared by the discriminator tests."""

from __future__ import annotations

from typing import Any

import torch

from codecbench.discriminators import DISCRIMINATORS, Discriminator
from codecbench.types import DiscriminatorOutput

TINY_KWARGS: dict[str, dict[str, Any]] = {
    "mpd": {"channels": (4, 8, 16, 16, 16)},
    "msd": {"channels": (8, 8, 16, 16, 16, 16, 16), "groups": (1, 4, 4, 4, 4, 4, 1)},
    "msstft": {"filters": 4},
    "mrd": {"channels": 4},
}
SUB_COUNTS = {"mpd": 5, "msd": 3, "msstft": 3, "mrd": 3}


def make_tiny(name: str, **overrides: Any) -> Discriminator:
    """A narrow instance of a registered discriminator (``combined`` = tiny mpd + tiny mrd)."""
    if name == "combined":
        members = [make_tiny("mpd", **overrides), make_tiny("mrd", **overrides)]
        return DISCRIMINATORS.create("combined", discriminators=members)
    return DISCRIMINATORS.create(name, **{**TINY_KWARGS[name], **overrides})


def sub_count(name: str) -> int:
    return SUB_COUNTS["mpd"] + SUB_COUNTS["mrd"] if name == "combined" else SUB_COUNTS[name]


def total_loss(outputs: list[DiscriminatorOutput]) -> torch.Tensor:
    """A smooth scalar touching logits and every feature map."""
    loss = torch.zeros(())
    for out in outputs:
        loss = loss + out.logits.float().square().mean()
        for fmap in out.feature_maps:
            loss = loss + fmap.float().square().mean()
    return loss
