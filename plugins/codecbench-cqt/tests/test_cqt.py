"""Tests for the plugin's constant-Q transform and the ``cqt`` discriminator built on it."""

from __future__ import annotations

import math
from pathlib import Path

import gin
import numpy as np
import pytest
import torch
from codecbench.discriminators.base import DISCRIMINATORS, Discriminator

from codecbench_cqt import ConstantQTransform, MultiScaleSubBandCQTDiscriminator, q_factor
from codecbench_cqt.cqt import halfband_lowpass, two_adic_valuation

SR = 16000
PLUGIN_ROOT = Path(__file__).resolve().parents[1]


def tiny(**kwargs: object) -> MultiScaleSubBandCQTDiscriminator:
    """A narrow discriminator so the tests stay fast on one core."""
    return MultiScaleSubBandCQTDiscriminator(**{"channels": 4, **kwargs})


def magnitude(spectrum: torch.Tensor) -> torch.Tensor:
    return spectrum.pow(2).sum(dim=1).sqrt()  # [B, frames, bins]


def direct_cqt(x: np.ndarray, sample_rate: int, hop: int, bins_per_octave: int, n_bins: int, fmin: float) -> np.ndarray:
    """Textbook CQT at the full rate: one unit-norm Hann-windowed complex exponential per bin, frames at j*hop."""
    q = 1.0 / (2.0 ** (1.0 / bins_per_octave) - 1.0)
    frames = -(-len(x) // hop)
    out = np.zeros((frames, n_bins), dtype=complex)
    for k in range(n_bins):
        f = fmin * 2.0 ** (k / bins_per_octave)
        span = q * sample_rate / f
        half = int(span // 2)
        t = np.arange(-half, half + 1)
        w = 0.5 + 0.5 * np.cos(2 * np.pi * t / span)
        kernel = w / np.sqrt(np.sum(w**2)) * np.exp(-2j * np.pi * f * t / sample_rate)
        padded = np.pad(x, (half, half + hop))
        index = np.arange(frames)[:, None] * hop + np.arange(2 * half + 1)[None, :]
        out[:, k] = padded[index] @ kernel
    return out


# --- the transform -------------------------------------------------------------------------------


@pytest.mark.parametrize(("hop", "bins_per_octave"), [(160, 24), (80, 48), (128, 36)])
def test_sine_at_centre_frequency_peaks_in_its_bin(hop: int, bins_per_octave: int) -> None:
    cqt = ConstantQTransform(SR, hop, 8, bins_per_octave, normalization="l1")
    seconds = 3.0
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    middle = cqt.num_frames(t.numel()) // 2
    bins = [0, 1, bins_per_octave - 1, bins_per_octave, 3 * bins_per_octave + 5, cqt.n_bins - 2, cqt.n_bins - 1]
    for k in bins:
        f = float(cqt.frequencies[k])
        sine = torch.cos(2 * math.pi * f * t).float().view(1, 1, -1)
        mag = magnitude(cqt(sine))[0, middle]
        assert int(mag.argmax()) == k, f"sine at {f:.2f} Hz peaked in bin {int(mag.argmax())}, expected {k}"
        # A unit sine gives 0.5 in its own bin; the neighbours (one bandwidth away) are ~6 dB down.
        assert mag[k].item() == pytest.approx(0.5, abs=2e-3)
        for neighbour in (k - 1, k + 1):
            if 0 <= neighbour < cqt.n_bins:
                assert mag[neighbour].item() < 0.3


def test_unit_norm_kernels_give_white_noise_equal_energy_per_bin() -> None:
    cqt = ConstantQTransform(SR, 160, 8, 24)
    sigma = 0.1
    noise = torch.randn(4, 1, 4 * SR) * sigma
    power = magnitude(cqt(noise)).square()
    frames = power.shape[1]
    per_bin = power[:, frames // 2 - 20 : frames // 2 + 20].mean(dim=(0, 1))  # windows inside the signal
    assert per_bin.mean().item() == pytest.approx(sigma**2, rel=0.05)
    octave_means = per_bin.view(8, 24).mean(dim=1) / sigma**2
    assert torch.allclose(octave_means, torch.ones(8), atol=0.25)


def test_frequencies_follow_constant_q_grid() -> None:
    cqt = ConstantQTransform(SR, 160, 8, 24)
    freqs = cqt.frequencies.double()
    assert freqs[0].item() == pytest.approx(31.25)
    assert torch.allclose(freqs[1:] / freqs[:-1], torch.full((cqt.n_bins - 1,), 2 ** (1 / 24), dtype=torch.float64))
    assert freqs[-1].item() < SR / 2
    assert q_factor(24) == pytest.approx(34.12, abs=0.01)


@pytest.mark.parametrize("hop", [160, 80, 128])
def test_multirate_matches_direct_full_rate_cqt(hop: int) -> None:
    bins_per_octave = 12
    cqt = ConstantQTransform(SR, hop, 8, bins_per_octave)
    x = np.random.default_rng(1).standard_normal(3 * SR) * 0.1
    ours = cqt(torch.tensor(x, dtype=torch.float32).view(1, 1, -1))[0].double().numpy()
    ours = ours[0] + 1j * ours[1]
    ref = direct_cqt(x, SR, hop, bins_per_octave, cqt.n_bins, cqt.fmin)
    assert ours.shape == ref.shape
    frames = ref.shape[0]
    for octave in range(8):
        band = slice(octave * bins_per_octave, (octave + 1) * bins_per_octave)
        scale = np.abs(ref[:, band]).max()
        interior = slice(frames // 2 - 10, frames // 2 + 10)  # windows entirely inside the signal
        assert np.abs(ours[interior, band] - ref[interior, band]).max() < 1e-3 * scale, f"octave {octave}"
        # At the edges the signal starts abruptly; decimation drops some of that click's high band.
        assert np.abs(ours[:, band] - ref[:, band]).max() < 5e-2 * scale, f"octave {octave} (edges)"


def test_halfband_lowpass_is_flat_then_stops() -> None:
    filt = halfband_lowpass().double().flatten()
    response = np.abs(np.fft.rfft(filt.numpy(), 8192))
    freqs = np.fft.rfftfreq(8192)  # cycles per sample
    assert np.abs(response[freqs <= 0.125] - 1).max() < 1e-4
    assert response[freqs >= 0.375].max() < 1e-4  # < -80 dB
    assert torch.allclose(filt, filt.flip(0))  # symmetric: zero phase about the centre tap


@pytest.mark.parametrize("hop", [1, 3, 80, 160, 256])
@pytest.mark.parametrize("length", [1, 79, 160, 1001, 4000])
def test_frame_count_and_layout(hop: int, length: int) -> None:
    cqt = ConstantQTransform(SR, hop, 8, 12)
    out = cqt(torch.randn(2, 1, length))
    assert out.shape == (2, 2, -(-length // hop), 96)
    assert out.dtype == torch.float32
    for plan in cqt.plans:
        assert plan.stage <= two_adic_valuation(hop)
        assert plan.stride * 2**plan.stage == hop


def test_transform_is_linear_and_level_aware() -> None:
    cqt = ConstantQTransform(SR, 160, 8, 24)
    x = torch.randn(2, 1, 8000)
    assert torch.allclose(cqt(0.25 * x), 0.25 * cqt(x), atol=1e-6)


def test_transform_stays_float32_under_bf16_autocast() -> None:
    cqt = ConstantQTransform(SR, 80, 8, 48)
    x = torch.randn(2, 1, 6000) * 0.1
    reference = cqt(x)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        inside = cqt(x)
        from_bf16_input = cqt(x.bfloat16())
    assert inside.dtype == torch.float32 and from_bf16_input.dtype == torch.float32
    assert torch.equal(inside, reference)


def test_invalid_settings_raise_specific_errors() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        ConstantQTransform(SR, 160, 8, 24, fmin=32.7)  # 32.7 * 2**8 = 8371 Hz > 8 kHz
    with pytest.raises(ValueError, match="positive"):
        ConstantQTransform(SR, 0, 8, 24)
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        ConstantQTransform(SR, 160, 8, 24)(torch.randn(2, 2, 100))
    with pytest.raises(ValueError, match="normalization"):
        ConstantQTransform(SR, 160, 8, 24, normalization="max")


# --- the discriminator ---------------------------------------------------------------------------


@pytest.mark.parametrize(("batch", "length"), [(1, 1600), (3, 4000), (2, 8001)])
def test_discriminator_output_shapes(batch: int, length: int) -> None:
    disc = tiny()
    outputs = disc(torch.randn(batch, 1, length) * 0.1)
    assert len(outputs) == 3
    for output, hop, bins in zip(outputs, (160, 80, 80), (24, 36, 48)):
        frames = -(-length // hop)
        assert output.logits.shape == (batch, 1, frames, bins)  # 8 octaves, frequency halved three times
        assert len(output.feature_maps) == 5
        assert output.feature_maps[0].shape == (batch, 4, frames, 8 * bins)
        assert output.feature_maps[-1].shape == (batch, 4, frames, bins)
        assert all(torch.isfinite(fm).all() for fm in output.feature_maps)


def test_gradients_reach_audio_and_every_parameter() -> None:
    disc = tiny()
    audio = (torch.randn(2, 1, 4000) * 0.1).requires_grad_()
    outputs = disc(audio)
    loss = sum(o.logits.square().mean() + sum(fm.abs().mean() for fm in o.feature_maps) for o in outputs)
    loss.backward()
    assert audio.grad is not None and torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0
    for name, param in disc.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_discriminator_under_bf16_autocast_is_finite_and_close() -> None:
    disc = tiny()
    audio = torch.randn(2, 1, 4000) * 0.1
    reference = disc(audio)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        outputs = disc(audio)
    for out, ref in zip(outputs, reference):
        assert torch.isfinite(out.logits.float()).all()
        scale = ref.logits.abs().max()
        assert (out.logits.float() - ref.logits).abs().max() < 0.1 * scale


def test_discriminator_sees_absolute_level() -> None:
    disc = tiny()
    assert disc.sees_absolute_level and MultiScaleSubBandCQTDiscriminator.sees_absolute_level
    audio = torch.randn(1, 1, 4000) * 0.1
    loud, quiet = disc(audio), disc(0.1 * audio)
    for a, b in zip(loud, quiet):
        first_a, first_b = a.feature_maps[0], b.feature_maps[0]
        assert (first_a - first_b).abs().mean() > 0.1 * first_a.abs().mean()
        assert (a.logits - b.logits).abs().max() > 1e-5  # a level-normalising input stage would give ~1e-7


def param_count(channels: int, sub_band: int = 2, octaves: int = 8, kernel: tuple[int, int] = (3, 9)) -> int:
    """Weight-normed conv: direction (out*in*kh*kw) + gain (out) + bias (out)."""

    def conv(cin: int, cout: int, kh: int, kw: int) -> int:
        return cout * cin * kh * kw + 2 * cout

    kh, kw = kernel
    per_scale = octaves * conv(2, sub_band, kh, kw) + conv(sub_band, channels, kh, kw)
    per_scale += 3 * conv(channels, channels, kh, kw) + conv(channels, channels, kh, kh) + conv(channels, 1, kh, kh)
    return 3 * per_scale


def test_parameter_count_of_defaults() -> None:
    count = sum(p.numel() for p in MultiScaleSubBandCQTDiscriminator().parameters())
    assert count == param_count(16) == 75_318
    wide = sum(p.numel() for p in MultiScaleSubBandCQTDiscriminator(channels=32).parameters())
    assert wide == param_count(32) == 286_182
    # The CQT kernels are fixed buffers, not parameters, and are not saved in checkpoints.
    assert not any("kernels" in key or "lowpass" in key for key in MultiScaleSubBandCQTDiscriminator().state_dict())


def test_channel_growth_and_cap() -> None:
    disc = tiny(channels=4, channel_growth=2, max_channels=16)
    widths = [fm.shape[1] for fm in disc(torch.randn(1, 1, 1600))[0].feature_maps]
    assert widths == [4, 8, 16, 16, 16]


def test_discriminator_rejects_bad_input_and_settings() -> None:
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        tiny()(torch.randn(2, 1600))
    with pytest.raises(ValueError, match="equal length"):
        tiny(hop_lengths=(160, 80), bins_per_octave=(24,))


# --- registration and recipes --------------------------------------------------------------------


def test_registered_as_cqt_and_configurable_from_gin() -> None:
    entry = DISCRIMINATORS.entry("cqt")
    assert entry.target is MultiScaleSubBandCQTDiscriminator
    assert issubclass(entry.target, Discriminator)
    assert entry.gin_name == "codecbench.discriminators.cqt"
    gin.parse_config(
        [
            "codecbench.discriminators.cqt.channels = 4",
            "codecbench.discriminators.cqt.hop_lengths = (320,)",
            "codecbench.discriminators.cqt.bins_per_octave = (12,)",
        ]
    )
    built = gin.get_configurable("codecbench.discriminators.cqt")()
    assert isinstance(built, MultiScaleSubBandCQTDiscriminator)
    assert built.hop_lengths == (320,) and built.bins_per_octave == (12,)
    assert built(torch.randn(1, 1, 3200))[0].feature_maps[0].shape[1] == 4


def test_example_recipe_swaps_in_the_cqt_discriminator() -> None:
    from codecbench.config import bundled_recipes_dir, parse_recipe

    if not (bundled_recipes_dir() / "dac_style.gin").is_file():
        pytest.skip("codecbench's bundled dac_style.gin recipe does not exist yet")
    parse_recipe(PLUGIN_ROOT / "recipes" / "dac_style_cqt.gin", finalize=False)
    combined = gin.get_configurable("codecbench.discriminators.combined")()
    kinds = [type(member).__name__ for member in combined.discriminators]
    assert kinds == ["MultiPeriodDiscriminator", "MultiScaleSubBandCQTDiscriminator"]
    assert combined.discriminators[1].discriminators[0].convs[0].weight.shape[0] == 32
