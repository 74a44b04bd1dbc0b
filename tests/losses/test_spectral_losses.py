from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from codecbench.losses import LOSSES, LossInputs, MultiResolutionSTFTLoss, MultiScaleMelLoss


def _signals(batch: int = 2, length: int = 6080, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 16000
    tone = 0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn(batch, 1, length, generator=g)
    noisy = tone + 0.02 * torch.randn(batch, 1, length, generator=g)
    return tone.float(), noisy.float()


def _numpy_mel_loss(
    x: np.ndarray,
    y: np.ndarray,
    sr: int,
    windows: tuple[int, ...],
    n_mels: tuple[int, ...],
    clamp_eps: float,
    mag_weight: float,
    log_weight: float,
    power: float,
    sc_weight: float = 0.0,
) -> float:
    """Independent DAC mel loss: librosa mel spectrograms (float64), numpy L1; plus mel spectral
    convergence (Frobenius norms over the whole batch)."""
    librosa = pytest.importorskip("librosa")
    total = 0.0
    for window, mels in zip(windows, n_mels):

        def mel(a: np.ndarray, window: int = window, mels: int = mels) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # empty mel bands at the dense scales
                return librosa.feature.melspectrogram(
                    y=a, sr=sr, n_fft=window, hop_length=window // 4, window="hann", center=True,
                    pad_mode="reflect", power=1.0, n_mels=mels, fmin=0.0, fmax=sr / 2,
                )  # fmt: skip

        mx, my = mel(x), mel(y)
        log_x = np.log10(np.maximum(mx, clamp_eps) ** power)
        log_y = np.log10(np.maximum(my, clamp_eps) ** power)
        total += log_weight * np.mean(np.abs(log_x - log_y)) + mag_weight * np.mean(np.abs(mx - my))
        total += sc_weight * np.linalg.norm(my - mx) / np.linalg.norm(my)
    return float(total)


@pytest.mark.parametrize(
    ("windows", "n_mels", "mag_weight", "power", "sr", "sc_weight"),
    [
        ((32, 64, 128, 256, 512, 1024, 2048), (5, 10, 20, 40, 80, 160, 320), 1.0, 1.0, 16000, 0.0),  # DAC at 16 kHz
        ((32, 64, 128, 256, 512, 1024, 2048), (5, 10, 20, 40, 80, 160, 320), 0.0, 1.0, 16000, 0.0),  # DAC's config
        ((32, 64, 128, 256, 512, 1024, 2048), (5, 10, 20, 40, 80, 160, 320), 0.0, 1.0, 16000, 1.0),  # tiny recipes
        ((256, 1024), (40, 80), 0.5, 2.0, 24000, 0.5),
    ],
)
def test_mel_loss_matches_librosa_reference(
    windows: tuple[int, ...], n_mels: tuple[int, ...], mag_weight: float, power: float, sr: int, sc_weight: float
) -> None:
    reference, reconstruction = _signals()
    loss = MultiScaleMelLoss(sr, windows, n_mels, mag_weight=mag_weight, pow=power, sc_weight=sc_weight)
    ours = loss(LossInputs(reference=reference, reconstruction=reconstruction)).item()
    expected = _numpy_mel_loss(
        reconstruction[:, 0].double().numpy(), reference[:, 0].double().numpy(), sr, windows, n_mels,
        1e-5, mag_weight, 1.0, power, sc_weight,
    )  # fmt: skip
    assert ours == pytest.approx(expected, rel=2e-4)


def test_mel_loss_defaults_are_dac_scales() -> None:
    loss = LOSSES.create("mel")
    assert loss.scales == tuple(
        zip((32, 64, 128, 256, 512, 1024, 2048), (8, 16, 32, 64, 128, 256, 512), (5, 10, 20, 40, 80, 160, 320))
    )
    assert (loss.mag_weight, loss.log_weight, loss.pow, loss.clamp_eps) == (1.0, 1.0, 1.0, 1e-5)
    assert (loss.sc_weight, loss.level_weight) == (0.0, 0.0)


@pytest.mark.parametrize("level", [1.0, 0.01])
def test_mel_spectral_convergence_sees_gain_alone_at_any_level(level: float) -> None:
    reference, _ = _signals()
    loss = MultiScaleMelLoss(mag_weight=0.0, log_weight=0.0, sc_weight=1.0)
    value = loss(LossInputs(reference=level * reference, reconstruction=0.5 * level * reference)).item()
    assert value == pytest.approx(0.5 * len(loss.scales), rel=1e-5)  # |1 - g| per scale, whatever the level


def test_mel_band_level_sees_gain_but_not_timing() -> None:
    reference, _ = _signals()
    loss = MultiScaleMelLoss(mag_weight=0.0, log_weight=0.0, level_weight=1.0)
    gain = loss(LossInputs(reference=reference, reconstruction=0.5 * reference)).item()
    assert gain == pytest.approx(len(loss.scales) * abs(np.log10(0.5)), rel=1e-4)  # |log10 g| per band and scale
    burst = torch.zeros_like(reference)
    burst[..., 1000:2500] = reference[..., 1000:2500]
    late = torch.roll(burst, 3000, dims=-1)  # the same sound 190 ms late: same long-term spectrum, wrong timing
    timing = loss(LossInputs(reference=burst, reconstruction=late)).item()
    per_bin = MultiScaleMelLoss(mag_weight=0.0)(LossInputs(reference=burst, reconstruction=late)).item()
    assert timing < 0.1 * gain and per_bin > 10 * timing


def _gain_slope(loss: MultiScaleMelLoss, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
    """d loss / d log(gain) of the reconstruction at gain 1."""
    log_gain = torch.zeros((), requires_grad=True)
    value = loss(LossInputs(reference=reference, reconstruction=log_gain.exp() * reconstruction))
    (slope,) = torch.autograd.grad(value, log_gain)
    return slope.item()


def test_mel_band_level_pooled_over_the_batch_weighs_loud_items() -> None:
    # A young codec compresses dynamics: the loud item comes out 6 dB too quiet, the quiet one 6 dB too loud.
    tone, _ = _signals()
    reference = torch.cat([tone[:1], 0.1 * tone[1:]])
    reconstruction = torch.cat([0.5 * reference[:1], 2.0 * reference[1:]])
    per_item = MultiScaleMelLoss(mag_weight=0.0, log_weight=0.0, level_weight=1.0)
    pooled = MultiScaleMelLoss(mag_weight=0.0, log_weight=0.0, level_weight=1.0, level_pooling="batch")
    assert abs(_gain_slope(per_item, reference, reconstruction)) < 1e-3  # the two errors cancel
    assert _gain_slope(pooled, reference, reconstruction) < -0.1  # the batch is too quiet overall: louder lowers it
    with pytest.raises(ValueError, match="level_pooling"):
        MultiScaleMelLoss(level_pooling="frame")


def test_mel_broadband_level_weighs_loud_bands() -> None:
    # The loud low tone comes out 6 dB too quiet, the weak high tone 6 dB too loud: the overall level is too low.
    t = torch.arange(6080) / 16000
    low, high = torch.sin(2 * torch.pi * 300 * t), torch.sin(2 * torch.pi * 5000 * t)
    reference = (0.3 * low + 0.01 * high).expand(2, 1, -1)
    reconstruction = (0.15 * low + 0.02 * high).expand(2, 1, -1)
    broadband = MultiScaleMelLoss(mag_weight=0.0, log_weight=0.0, level_weight=1.0, level_pooling="broadband")
    per_band = MultiScaleMelLoss(mag_weight=0.0, log_weight=0.0, level_weight=1.0, level_pooling="batch")
    full_pull = -len(broadband.scales) / np.log(10)  # every scale's one level below the reference's
    assert _gain_slope(broadband, reference, reconstruction) == pytest.approx(full_pull, rel=1e-3)
    assert _gain_slope(per_band, reference, reconstruction) > 0.7 * full_pull  # bands above and below partly cancel


@pytest.mark.parametrize("name", ["mel", "stft"])
def test_zero_for_identical_positive_otherwise_and_level_sensitive(name: str) -> None:
    reference, reconstruction = _signals()
    loss = LOSSES.create(name)
    assert loss(LossInputs(reference=reference, reconstruction=reference.clone())).item() == 0.0
    assert loss(LossInputs(reference=reference, reconstruction=reconstruction)).item() > 0.0
    # A pure gain error is seen (these losses are not level-blind).
    assert loss(LossInputs(reference=reference, reconstruction=0.5 * reference)).item() > 0.05


@pytest.mark.parametrize("name", ["mel", "stft"])
def test_gradients_flow_and_silence_is_finite(name: str) -> None:
    reference, reconstruction = _signals(length=4000)
    loss = LOSSES.create(name)
    estimate = reconstruction.clone().requires_grad_(True)
    loss(LossInputs(reference=reference, reconstruction=estimate)).backward()
    assert estimate.grad is not None and estimate.grad.abs().sum() > 0 and torch.isfinite(estimate.grad).all()
    silent = torch.zeros(2, 1, 4000, requires_grad=True)
    value = loss(LossInputs(reference=torch.zeros(2, 1, 4000), reconstruction=silent))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(silent.grad).all()
    value = loss(LossInputs(reference=reference, reconstruction=torch.zeros_like(reference)))
    assert torch.isfinite(value) and value > 0


def test_empty_mel_bands_are_harmless() -> None:
    from codecbench.audio.spectral import mel_filterbank_numpy

    assert (mel_filterbank_numpy(16000, 64, 40).sum(axis=1) == 0).sum() > 0  # this config has empty bands
    reference, reconstruction = _signals(length=4000)
    estimate = reconstruction.clone().requires_grad_(True)
    value = MultiScaleMelLoss(16000, (64,), (40,))(LossInputs(reference=reference, reconstruction=estimate))
    value.backward()
    assert torch.isfinite(value) and value > 0 and torch.isfinite(estimate.grad).all()


def test_reference_branch_gets_gradients_only_when_it_asks_for_them() -> None:
    reference, reconstruction = _signals(length=4000)
    target = reference.clone().requires_grad_(True)  # e.g. a loss between two model outputs
    MultiScaleMelLoss()(LossInputs(reference=target, reconstruction=reconstruction)).backward()
    assert target.grad is not None and target.grad.abs().sum() > 0


def test_spectral_losses_are_fp32_under_bf16_autocast() -> None:
    reference, reconstruction = _signals(length=4000)
    loss = MultiScaleMelLoss()
    fp32 = loss(LossInputs(reference=reference, reconstruction=reconstruction))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        mixed = loss(LossInputs(reference=reference, reconstruction=reconstruction))
        from_bf16 = loss(LossInputs(reference=reference.bfloat16(), reconstruction=reconstruction.bfloat16()))
    assert mixed.dtype == torch.float32 and torch.equal(mixed, fp32)
    assert from_bf16.dtype == torch.float32 and torch.isfinite(from_bf16)


def _numpy_stft_magnitude(x: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode="reflect")
    window = np.zeros(n_fft)
    offset = (n_fft - win) // 2
    window[offset : offset + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_frames = 1 + (padded.shape[-1] - n_fft) // hop
    frames = np.stack([padded[..., i * hop : i * hop + n_fft] * window for i in range(n_frames)], axis=-1)
    return np.abs(np.fft.rfft(frames, axis=-2))


def test_stft_loss_matches_numpy_reference() -> None:
    reference, reconstruction = _signals(length=5000)
    resolutions = ((512, 128, 512), (256, 64, 200))
    ours = MultiResolutionSTFTLoss(resolutions)(LossInputs(reference=reference, reconstruction=reconstruction))
    total = 0.0
    for n_fft, hop, win in resolutions:
        x = np.maximum(_numpy_stft_magnitude(reconstruction[:, 0].double().numpy(), n_fft, hop, win), 1e-5)
        y = np.maximum(_numpy_stft_magnitude(reference[:, 0].double().numpy(), n_fft, hop, win), 1e-5)
        total += np.linalg.norm(y - x) / np.linalg.norm(y) + np.mean(np.abs(np.log(y) - np.log(x)))
    assert ours.item() == pytest.approx(total / len(resolutions), rel=1e-4)


def test_bad_configuration_and_shapes_raise() -> None:
    with pytest.raises(ValueError, match="equal length"):
        MultiScaleMelLoss(window_lengths=(64, 128), n_mels=(10,))
    with pytest.raises(ValueError, match="f_max"):
        MultiScaleMelLoss(sample_rate=16000, f_max=12000.0)
    with pytest.raises(ValueError, match="win <= n_fft"):
        MultiResolutionSTFTLoss(((256, 64, 512),))
    reference, _ = _signals()
    with pytest.raises(ValueError, match="same shape"):
        MultiScaleMelLoss()(LossInputs(reference=reference, reconstruction=reference[..., :-1]))
