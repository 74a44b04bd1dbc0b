from __future__ import annotations

import numpy as np
import pytest
import torch

from codecbench.audio.spectral import (
    MelSpectrogram,
    hann_window,
    magnitude,
    mel_filterbank,
    mel_filterbank_numpy,
    stft,
    stft_magnitude,
)

MEL_CONFIGS = [
    # sample_rate, n_fft, n_mels, f_min, f_max, htk
    (16000, 32, 5, 0.0, None, False),
    (16000, 512, 80, 0.0, None, False),
    (16000, 2048, 320, 0.0, None, False),
    (22050, 1024, 128, 30.0, 8000.0, False),
    (44100, 2048, 160, 0.0, None, True),
    (24000, 256, 40, 50.0, 11000.0, True),
]


@pytest.mark.parametrize(("sr", "n_fft", "n_mels", "fmin", "fmax", "htk"), MEL_CONFIGS)
def test_filterbank_matches_librosa(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None, htk: bool
) -> None:
    librosa = pytest.importorskip("librosa")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about empty bands in the dense configs
        expected = librosa.filters.mel(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, dtype=np.float64
        )
    ours = mel_filterbank_numpy(sr, n_fft, n_mels, fmin, fmax, htk=htk)
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)
    tensor = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk)
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(tensor.numpy(), expected, atol=1e-6, rtol=0)


def test_filterbank_unnormalised_peaks_and_validation() -> None:
    fb = mel_filterbank_numpy(16000, 1024, 40, norm=None)
    assert fb.max() <= 1.0 + 1e-12 and fb.max() > 0.9
    with pytest.raises(ValueError, match="f_max"):
        mel_filterbank_numpy(16000, 1024, 40, f_max=9000.0)
    with pytest.raises(ValueError, match="norm"):
        mel_filterbank_numpy(16000, 1024, 40, norm="l2")


def test_caches_return_same_object() -> None:
    assert hann_window(64) is hann_window(64)
    assert mel_filterbank(16000, 64, 10) is mel_filterbank(16000, 64, 10)
    with torch.inference_mode():
        w = hann_window(96)
    # A window first created under inference_mode must still be usable with autograd.
    x = torch.randn(96, requires_grad=True)
    (x * w).sum().backward()
    assert not w.is_inference()


def _numpy_stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Independent reference: reflect pad, frame, periodic Hann, rfft."""
    padded = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(padded) - n_fft) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([padded[i * hop : i * hop + n_fft] * window for i in range(n_frames)], axis=1)
    return np.abs(np.fft.rfft(frames, axis=0))


@pytest.mark.parametrize(("n_fft", "hop"), [(64, 16), (512, 128), (400, 160)])
def test_stft_magnitude_matches_numpy(n_fft: int, hop: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000)
    ours = stft_magnitude(torch.tensor(x, dtype=torch.float32)[None, None], n_fft, hop)
    assert ours.shape == (1, 1, n_fft // 2 + 1, 4000 // hop + 1)
    expected = _numpy_stft_magnitude(x, n_fft, hop)
    np.testing.assert_allclose(ours[0, 0].numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_stft_short_input_and_no_center() -> None:
    short = torch.randn(2, 1, 100)
    spec = stft(short, 512, 128)  # shorter than the reflect pad: falls back to zero padding
    assert spec.shape == (2, 1, 257, 1) and torch.isfinite(torch.view_as_real(spec)).all()
    assert stft(torch.randn(1, 1000), 256, 64, center=False).shape == (1, 129, 1 + (1000 - 256) // 64)
    with pytest.raises(ValueError, match="center=False"):
        stft(torch.randn(1, 100), 256, 64, center=False)


def test_silence_gives_finite_values_and_gradients() -> None:
    silence = torch.zeros(2, 1, 2048, requires_grad=True)
    mel = MelSpectrogram(16000, 512, 128, 80, log=True)(silence)
    assert torch.isfinite(mel).all()
    assert torch.allclose(mel, torch.full_like(mel, -5.0))
    mag = magnitude(stft(silence, 256, 64))
    (mel.sum() + mag.sum()).backward()
    assert torch.isfinite(silence.grad).all()


def test_mel_spectrogram_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(2)
    x = rng.standard_normal(8000).astype(np.float32) * 0.1
    for power in (1.0, 2.0):
        module = MelSpectrogram(16000, 1024, 256, 64, f_min=20.0, f_max=7600.0, power=power)
        ours = module(torch.from_numpy(x)[None, None])[0, 0].numpy()
        expected = librosa.feature.melspectrogram(
            y=x.astype(np.float64), sr=16000, n_fft=1024, hop_length=256, window="hann", center=True,
            pad_mode="reflect", power=power, n_mels=64, fmin=20.0, fmax=7600.0,
        )  # fmt: skip
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * expected.max())


def test_autocast_bf16_gives_fp32_identical_output() -> None:
    x = torch.randn(2, 1, 4000)
    module = MelSpectrogram(16000, 512, 128, 80, log=True)
    reference = module(x)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        under_autocast = module(x)
        from_bf16_input = module(x.to(torch.bfloat16))
    assert under_autocast.dtype == torch.float32 and from_bf16_input.dtype == torch.float32
    assert torch.equal(under_autocast, reference)
    assert torch.equal(from_bf16_input, module(x.to(torch.bfloat16).float()))
    assert stft(x.to(torch.bfloat16), 256, 64).dtype == torch.complex64


def test_leading_dims_preserved() -> None:
    module = MelSpectrogram(16000, 256, 64, 40)
    assert module(torch.randn(3, 1, 1000)).shape == (3, 1, 40, 1000 // 64 + 1)
    assert module(torch.randn(3, 1000)).shape == (3, 40, 1000 // 64 + 1)
