"""Combined discriminator: concatenation order, level flag, Gin wiring."""

from __future__ import annotations

import gin
import pytest
import torch

from codecbench.discriminators import DISCRIMINATORS, CombinedDiscriminator
from tests.discriminators.conftest import make_tiny


def test_concatenates_member_outputs_in_order() -> None:
    mpd, mrd = make_tiny("mpd"), make_tiny("mrd")
    combined = CombinedDiscriminator([mpd, mrd])
    audio = torch.randn(2, 1, 4000)
    expected = mpd(audio) + mrd(audio)
    got = combined(audio)
    assert len(got) == len(expected) == 8
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.logits, b.logits)
    assert sum(p.numel() for p in combined.parameters()) == sum(p.numel() for m in (mpd, mrd) for p in m.parameters())


def test_sees_level_if_any_member_does() -> None:
    blind = make_tiny("mrd", normalize_level=True)
    assert CombinedDiscriminator([blind]).sees_absolute_level is False
    assert CombinedDiscriminator([blind, make_tiny("mpd")]).sees_absolute_level is True
    dac_like = CombinedDiscriminator([make_tiny("mpd", normalize_level=True), blind])
    assert dac_like.sees_absolute_level is False


def test_rejects_empty_and_non_discriminators() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CombinedDiscriminator([])
    with pytest.raises(TypeError, match="not a Discriminator"):
        CombinedDiscriminator([torch.nn.Linear(2, 2)])  # type: ignore[list-item]


def test_built_from_gin() -> None:
    gin.parse_config(
        """
        codecbench.discriminators.mpd.channels = (4, 8, 8, 8, 8)
        codecbench.discriminators.mpd.periods = (2, 3)
        codecbench.discriminators.mrd.channels = 4
        codecbench.discriminators.mrd.normalize_level = True
        codecbench.discriminators.combined.discriminators = [
            @codecbench.discriminators.mpd(),
            @codecbench.discriminators.mrd(),
        ]
        """
    )
    disc = gin.get_configurable("codecbench.discriminators.combined")()
    assert isinstance(disc, CombinedDiscriminator)
    names = [type(m).__name__ for m in disc.discriminators]
    assert names == ["MultiPeriodDiscriminator", "MultiResolutionDiscriminator"]
    assert disc.discriminators[0].periods == (2, 3)
    assert disc.discriminators[1].sees_absolute_level is False and disc.sees_absolute_level is True
    assert len(disc(torch.randn(1, 1, 4000))) == 5
    assert "combined" in DISCRIMINATORS
