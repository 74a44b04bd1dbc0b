"""Multi-scale waveform discriminator: pooling between scales, grouped widths, HiFi-GAN sizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from codecbench.discriminators import DISCRIMINATORS


def test_scales_see_average_pooled_audio() -> None:
    disc = DISCRIMINATORS.create("msd", channels=(4, 4, 4, 4, 4, 4, 4), groups=(1, 1, 1, 1, 1, 1, 1))
    audio = torch.randn(2, 1, 4001)
    outputs = disc(audio)
    pooled = F.avg_pool1d(audio, 4, 2, padding=2)
    manual = disc.discriminators[1](pooled)
    torch.testing.assert_close(outputs[1].logits, manual.logits)
    total_stride = 2 * 2 * 4 * 4
    lengths = [o.logits.shape[-1] for o in outputs]
    assert lengths[0] == -(-4001 // total_stride)
    assert lengths[0] > lengths[1] > lengths[2]


def test_hifigan_default_size_and_groups() -> None:
    disc = DISCRIMINATORS.create("msd")
    assert [c.groups for c in disc.discriminators[0].convs] == [1, 4, 16, 16, 16, 16, 1]
    assert 29e6 < sum(p.numel() for p in disc.parameters()) < 30e6


def test_width_multiplier_keeps_group_divisibility() -> None:
    disc = DISCRIMINATORS.create("msd", width_multiplier=0.05)
    for sub in disc.discriminators:
        for conv in sub.convs:
            assert conv.in_channels % conv.groups == 0 and conv.out_channels % conv.groups == 0
    assert disc.channels == (8, 16, 16, 32, 48, 48, 51)
    disc(torch.randn(1, 1, 4000))


def test_rejects_inconsistent_layers() -> None:
    with pytest.raises(ValueError, match="one entry per layer"):
        DISCRIMINATORS.create("msd", channels=(8, 8), kernel_sizes=(3,), strides=(1, 1), groups=(1, 1))
    with pytest.raises(ValueError, match="divisible"):
        DISCRIMINATORS.create("msd", channels=(8, 10), kernel_sizes=(3, 3), strides=(1, 1), groups=(1, 4))
    with pytest.raises(ValueError, match="scales"):
        DISCRIMINATORS.create("msd", scales=0)
