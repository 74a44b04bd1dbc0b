"""Multi-period discriminator: DAC sizes, folding, backends, width options."""

from __future__ import annotations

import pytest
import torch

from codecbench.discriminators import DISCRIMINATORS, MultiPeriodDiscriminator
from tests.discriminators.conftest import total_loss


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dac_period_params(channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)) -> int:
    """Independent count: (5, 1) convs + (3, 1) post conv, each weight-normed (direction + one gain per output)."""
    total, in_ch = 0, 1
    for out_ch in channels:
        total += out_ch * in_ch * 5 + out_ch + out_ch  # direction, bias, gain
        in_ch = out_ch
    return total + in_ch * 3 + 1 + 1


def test_dac_default_has_41m_parameters() -> None:
    disc = DISCRIMINATORS.create("mpd")
    assert disc.periods == (2, 3, 5, 7, 11)
    assert n_params(disc) == 5 * dac_period_params()
    assert 40.5e6 < n_params(disc) < 41.5e6  # DESIGN: "a HiFi-GAN-width MPD (41 M params)"


def test_width_multiplier_and_explicit_channels() -> None:
    assert DISCRIMINATORS.create("mpd", width_multiplier=0.125).channels == (4, 16, 64, 128, 128)
    tiny = DISCRIMINATORS.create("mpd", channels=(8, 16, 32, 64, 64))
    assert n_params(tiny) == 5 * dac_period_params((8, 16, 32, 64, 64))
    with pytest.raises(ValueError, match="channels"):
        DISCRIMINATORS.create("mpd", channels=())
    with pytest.raises(ValueError, match="width_multiplier"):
        DISCRIMINATORS.create("mpd", width_multiplier=0.0)
    with pytest.raises(ValueError, match="backend"):
        DISCRIMINATORS.create("mpd", backend="cuda-magic")


@pytest.mark.parametrize("length", [4000, 4001, 6083])
def test_fold_reflect_pads_to_whole_periods(length: int) -> None:
    disc = DISCRIMINATORS.create("mpd", channels=(2, 2, 2, 2, 2))
    audio = torch.randn(2, 1, length)
    for sub in disc.discriminators:
        folded = sub.fold(audio)
        p = sub.period
        rows = -(-length // p)
        assert folded.shape == (2, 1, rows, p)
        flat = folded.reshape(2, 1, -1)
        torch.testing.assert_close(flat[..., :length], audio)
        pad = rows * p - length
        if pad:
            mirrored = audio[..., length - 1 - pad : length - 1].flip(-1)  # reflect: x[T-2], x[T-3], ...
            torch.testing.assert_close(flat[..., length:], mirrored)


def test_layer_shapes_follow_kernel_5_stride_3() -> None:
    disc = DISCRIMINATORS.create("mpd", channels=(2, 3, 4, 5, 6), periods=(7,))
    out = disc(torch.randn(1, 1, 7 * 100))[0]
    rows = [34, 12, 4, 2, 2]  # floor((L - 1) / 3) + 1 for the strided convs, then stride 1
    assert [tuple(f.shape) for f in out.feature_maps] == [(1, c, r, 7) for c, r in zip((2, 3, 4, 5, 6), rows)]
    assert out.logits.shape == (1, 1, 2, 7)


def test_matmul_backend_equals_conv_backend_in_float64() -> None:
    conv = DISCRIMINATORS.create("mpd", channels=(4, 8, 8, 8, 8), backend="conv").double()
    matmul = DISCRIMINATORS.create("mpd", channels=(4, 8, 8, 8, 8), backend="matmul").double()
    matmul.load_state_dict(conv.state_dict())
    audio = torch.randn(3, 1, 4001, dtype=torch.float64)
    grads = []
    for disc in (conv, matmul):
        x = audio.clone().requires_grad_()
        outputs = disc(x)
        grads.append(torch.autograd.grad(total_loss(outputs), [x, *disc.parameters()]))
        grads[-1] = (outputs, grads[-1])
    (out_a, grad_a), (out_b, grad_b) = grads
    for a, b in zip(out_a, out_b):
        torch.testing.assert_close(a.logits, b.logits, rtol=1e-10, atol=1e-12)
        for fa, fb in zip(a.feature_maps, b.feature_maps):
            assert fa.shape == fb.shape
            torch.testing.assert_close(fa, fb, rtol=1e-10, atol=1e-12)
    for ga, gb in zip(grad_a, grad_b):
        torch.testing.assert_close(ga, gb, rtol=1e-9, atol=1e-12)


def test_auto_backend_uses_matmul_only_under_cpu_low_precision_autocast() -> None:
    sub = DISCRIMINATORS.create("mpd", channels=(2, 2, 2, 2, 2)).discriminators[0]
    audio = torch.randn(1, 1, 100)
    assert not sub.uses_matmul(audio)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert sub.uses_matmul(audio)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
        assert not sub.uses_matmul(audio)


def test_bf16_autocast_close_to_fp32() -> None:
    disc = MultiPeriodDiscriminator(channels=(8, 16, 32, 32, 32))
    audio = 0.3 * torch.randn(2, 1, 4000)
    reference = disc(audio)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = disc(audio)
    for a, b in zip(reference, low):
        scale = a.logits.abs().max()
        assert (a.logits - b.logits.float()).abs().max() < 0.05 * scale


def test_normalize_level_matches_dac_preprocessing() -> None:
    blind = DISCRIMINATORS.create("mpd", channels=(4, 4, 4, 4, 4), normalize_level=True)
    seeing = DISCRIMINATORS.create("mpd", channels=(4, 4, 4, 4, 4))
    seeing.load_state_dict(blind.state_dict())
    audio = 0.2 * torch.randn(2, 1, 4000) + 0.05
    centred = audio - audio.mean(-1, keepdim=True)
    dac = 0.8 * centred / (centred.abs().amax(-1, keepdim=True) + 1e-9)
    for a, b in zip(blind(audio), seeing(dac)):
        torch.testing.assert_close(a.logits, b.logits)


def test_zero_input_stays_finite_when_normalised() -> None:
    blind = DISCRIMINATORS.create("mpd", channels=(4, 4, 4, 4, 4), normalize_level=True)
    outputs = blind(torch.zeros(1, 1, 4000))
    assert all(torch.isfinite(o.logits).all() for o in outputs)


def test_unpadded_input_keeps_its_length() -> None:
    audio = torch.randn(1, 1, 330)
    sub = DISCRIMINATORS.create("mpd", channels=(2, 2, 2, 2, 2), periods=(11,)).discriminators[0]
    assert sub.fold(audio).shape == (1, 1, 30, 11)
    assert torch.equal(sub.fold(audio).reshape(1, 1, -1), audio)


@pytest.mark.slow
def test_dac_size_training_batch_under_bf16_autocast() -> None:
    """DAC-size MPD at batch 8 x 6080: the bf16 matmul path is finite and tracks the fp32 conv path."""
    disc = MultiPeriodDiscriminator()
    audio = (0.1 * torch.randn(8, 1, 6080)).requires_grad_()
    reference = disc(audio)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = disc(audio)
        loss = total_loss(low)
    loss.backward()
    assert torch.isfinite(audio.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in disc.parameters())
    for a, b in zip(reference, low):
        assert (a.logits - b.logits.float()).abs().max() < 0.05 * a.logits.abs().max()
