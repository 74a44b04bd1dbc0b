"""DAC multi-band multi-resolution STFT discriminator: STFT framing, bands, level option, sizes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from codecbench.discriminators import DISCRIMINATORS
from codecbench.discriminators.mrd import DAC_BANDS, band_edges


def audiotools_style_stft(audio: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Independent reference of DAC's MRD input: audiotools ``match_stride`` STFT with a sqrt-Hann window.

    Pad (n_fft - hop) // 2 each side plus a right pad to a multiple of the hop, run a *centred* STFT, drop two
    frames at each end; return [B, 2, frames, bins] (real, imag).
    """
    hop = n_fft // 4
    length = audio.shape[-1]
    right = math.ceil(length / hop) * hop - length
    side = (n_fft - hop) // 2
    x = F.pad(audio, (side, side + right), mode="reflect").squeeze(1)
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64).sqrt()
    spec = torch.stft(x.double(), n_fft, hop, window=window, center=True, return_complex=True)[..., 2:-2]
    return torch.view_as_real(spec).permute(0, 3, 2, 1)


@pytest.mark.parametrize("length", [4000, 6080, 6083])
@pytest.mark.parametrize("n_fft", [2048, 1024, 512])
def test_spectrogram_matches_audiotools_framing(length: int, n_fft: int) -> None:
    sub = DISCRIMINATORS.create("mrd", fft_sizes=(n_fft,), channels=2).discriminators[0]
    audio = torch.randn(2, 1, length)
    spec = sub.spectrogram(audio)
    reference = audiotools_style_stft(audio, n_fft)
    assert spec.dtype == torch.float32
    assert spec.shape == (2, 2, math.ceil(length / (n_fft // 4)), n_fft // 2 + 1) == reference.shape
    torch.testing.assert_close(spec.double(), reference, rtol=1e-4, atol=1e-4)


def test_band_edges_follow_dac_rounding() -> None:
    assert band_edges(DAC_BANDS, 1025) == ((0, 102), (102, 256), (256, 512), (512, 768), (768, 1025))
    with pytest.raises(ValueError, match="0 <= lo < hi <= 1"):
        band_edges(((0.5, 0.2),), 1025)
    with pytest.raises(ValueError, match="empty"):
        band_edges(((0.0, 0.001),), 257)


def test_bands_are_concatenated_along_frequency() -> None:
    disc = DISCRIMINATORS.create("mrd", channels=3)
    outputs = disc(torch.randn(1, 1, 6080))
    for out, n_fft in zip(outputs, (2048, 1024, 512)):
        edges = band_edges(DAC_BANDS, n_fft // 2 + 1)
        widths = []
        for lo, hi in edges:
            w = hi - lo
            for _ in range(3):  # three stride-2 convs, kernel 9, padding 4
                w = (w - 1) // 2 + 1
            widths.append(w)
        assert out.logits.shape == (1, 1, math.ceil(6080 / (n_fft // 4)), sum(widths))
        assert len(out.feature_maps) == 5 * len(edges)


def test_dac_default_parameter_count() -> None:
    disc = DISCRIMINATORS.create("mrd")
    per_band = (2 * 32 * 27 + 32 * 2) + 3 * (32 * 32 * 27 + 32 * 2) + (32 * 32 * 9 + 32 * 2)
    post = 32 * 9 + 1 + 1
    assert sum(p.numel() for p in disc.parameters()) == 3 * (5 * per_band + post) == 1_413_990


def test_default_sees_level_and_normalised_does_not() -> None:
    audio = 0.3 * torch.randn(2, 1, 4000)
    seeing = DISCRIMINATORS.create("mrd")
    blind = DISCRIMINATORS.create("mrd", normalize_level=True)
    blind.load_state_dict(seeing.state_dict())
    assert seeing.sees_absolute_level and not blind.sees_absolute_level
    for a, b in zip(blind(audio), blind(0.1 * audio)):
        torch.testing.assert_close(a.logits, b.logits, rtol=1e-4, atol=1e-6)
    for a, b in zip(seeing(audio), seeing(0.1 * audio)):
        assert (a.logits - b.logits).abs().max() > 1e-3


def test_spectrogram_stays_fp32_under_autocast() -> None:
    sub = DISCRIMINATORS.create("mrd", channels=2).discriminators[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert sub.spectrogram(torch.randn(1, 1, 4000)).dtype == torch.float32


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="fft_sizes"):
        DISCRIMINATORS.create("mrd", fft_sizes=())
    with pytest.raises(ValueError, match="channels"):
        DISCRIMINATORS.create("mrd", channels=0)
    with pytest.raises(ValueError, match="window"):
        DISCRIMINATORS.create("mrd", window="kaiser")
