"""EnCodec MS-STFT discriminator: spectrogram vs a numpy reference, layer geometry, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codecbench.discriminators import DISCRIMINATORS


def numpy_stft(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Non-centred Hann STFT normalised by the window's L2 norm, as [2, frames, bins]."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = 1 + (len(audio) - n_fft) // hop
    stack = np.stack([audio[i * hop : i * hop + n_fft] * window for i in range(frames)])
    spec = np.fft.rfft(stack, axis=-1) / np.sqrt((window**2).sum())
    return np.stack([spec.real, spec.imag])


@pytest.mark.parametrize("n_fft", [512, 1024, 2048])
def test_spectrogram_matches_numpy(n_fft: int) -> None:
    disc = DISCRIMINATORS.create("msstft", filters=2, n_ffts=(n_fft,))
    audio = torch.randn(1, 1, 5003)
    spec = disc.discriminators[0].spectrogram(audio)[0].double().numpy()
    np.testing.assert_allclose(spec, numpy_stft(audio[0, 0].double().numpy(), n_fft, n_fft // 4), atol=1e-4)


def test_defaults_and_geometry() -> None:
    disc = DISCRIMINATORS.create("msstft")
    assert disc.n_ffts == (1024, 2048, 512)
    first = disc.discriminators[0]
    assert [c.dilation for c in first.convs] == [(1, 1), (1, 1), (2, 1), (4, 1), (1, 1)]
    assert [c.stride for c in first.convs] == [(1, 1), (1, 2), (1, 2), (1, 2), (1, 1)]
    assert [c.out_channels for c in first.convs] == [32] * 5
    out = disc(torch.randn(1, 1, 8192))
    # frames = 1 + (T - n_fft) // hop (time kept), bins halved three times
    assert [tuple(o.logits.shape) for o in out] == [(1, 1, 29, 65), (1, 1, 13, 129), (1, 1, 61, 33)]


def test_filters_scale_grows_until_max() -> None:
    disc = DISCRIMINATORS.create("msstft", filters=4, filters_scale=2, max_filters=16, n_ffts=(512,))
    assert [c.out_channels for c in disc.discriminators[0].convs] == [4, 8, 16, 16, 16]


def test_win_length_shorter_than_fft() -> None:
    disc = DISCRIMINATORS.create("msstft", filters=2, n_ffts=(512,), hop_lengths=(100,), win_lengths=(400,))
    out = disc(torch.randn(1, 1, 4000))
    assert out[0].logits.shape[2] == 1 + (4000 - 512) // 100


def test_rejects_mismatched_scales() -> None:
    with pytest.raises(ValueError, match="equally long"):
        DISCRIMINATORS.create("msstft", n_ffts=(512, 1024), hop_lengths=(128,))
