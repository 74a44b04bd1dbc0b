"""DAC-style and SEANet parts start with zero biases, a time-varying latent and well-spread first codes."""

from __future__ import annotations

import math

import torch

from codecbench.decoders.dac import DACDecoder
from codecbench.decoders.seanet import SEANetDecoder
from codecbench.encoders.dac import DACEncoder
from codecbench.encoders.seanet import SEANetEncoder
from codecbench.quantizers.factorized import FactorizedResidualVectorQuantizer


def speech_like(batch: int = 8, samples: int = 6080, sample_rate: int = 16000) -> torch.Tensor:
    """Harmonics with vibrato and noise at -16 dBFS RMS, seeded."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(samples, dtype=torch.float64)[None] / sample_rate
    f0 = 100.0 + 100.0 * torch.rand(batch, 1, generator=gen, dtype=torch.float64)
    phase = 2 * math.pi * (f0 * t + 3.0 * torch.sin(2 * math.pi * 4.0 * t))
    audio = sum(torch.sin(k * phase) / k for k in range(1, 9)) + 0.05 * torch.randn(batch, samples, generator=gen)
    audio = audio * (10 ** (-16 / 20) / audio.pow(2).mean(-1, keepdim=True).sqrt())
    return audio.float()[:, None]


def perplexity(codes: torch.Tensor, size: int) -> float:
    p = torch.bincount(codes.flatten(), minlength=size).float()
    p = p[p > 0] / p.sum()
    return float(torch.exp(-(p * p.log()).sum()))


def test_dac_parts_start_with_zero_biases() -> None:
    torch.manual_seed(0)
    parts = [DACEncoder(channels=16, latent_dim=64), DACDecoder(channels=96, latent_dim=64),
             FactorizedResidualVectorQuantizer(dim=64, n_q=2, codebook_size=64, codebook_dim=8)]
    biases = [(name, p) for part in parts for name, p in part.named_parameters() if name.endswith("bias")]
    assert biases, "expected biased convolutions"
    for name, p in biases:
        assert torch.count_nonzero(p) == 0, name


def test_initial_latent_varies_in_time_and_spreads_the_first_codebook() -> None:
    """With PyTorch's random biases the latent was mostly a constant (time std / |mean| ~0.4) and level 0
    used 2-5 of 1024 codes, so training started with almost no information through the quantizer."""
    torch.manual_seed(0)
    encoder = DACEncoder(channels=16, latent_dim=256)
    quantizer = FactorizedResidualVectorQuantizer(dim=256, n_q=2, codebook_size=1024, codebook_dim=8).eval()
    with torch.no_grad():
        latent = encoder(speech_like())
        codes = quantizer(latent, encoder.frame_rate).codes
    assert latent.std(-1).mean() > 1.5 * latent.mean(-1).abs().mean()
    assert perplexity(codes[:, 0], 1024) > 50.0


def test_seanet_parts_start_with_zero_biases_lstm_gates_included() -> None:
    torch.manual_seed(0)
    parts = [SEANetEncoder(channels=8, latent_dim=32, lstm_layers=1), SEANetDecoder(channels=8, latent_dim=32)]
    biases = [(name, p) for part in parts for name, p in part.named_parameters() if "bias" in name.rsplit(".", 1)[-1]]
    assert any("bias_ih" in name for name, _ in biases), "expected the LSTM's gate biases"
    for name, p in biases:
        assert torch.count_nonzero(p) == 0, name
    kept = SEANetEncoder(channels=8, latent_dim=32, lstm_layers=1, zero_bias_init=False)
    assert any(torch.count_nonzero(p) > 0 for name, p in kept.named_parameters() if name.endswith("bias"))


def test_seanet_initial_latent_varies_in_time() -> None:
    """With PyTorch's random biases the tiny SEANet latent was a constant plus a small signal (time std /
    |mean| ~0.17): a few Adam steps then moved every frame together, further than they spread, and EMA
    codebook levels fell to one or two codes (benchmarks/latent_spread.py)."""
    audio = speech_like()
    spreads = {}
    for zero in (False, True):
        torch.manual_seed(0)
        encoder = SEANetEncoder(channels=16, latent_dim=128, lstm_layers=1, zero_bias_init=zero)
        with torch.no_grad():
            latent = encoder(audio)
        spreads[zero] = float(latent.std(-1).mean() / latent.mean(-1).abs().mean())
    assert spreads[True] > 1.5 > 0.5 > spreads[False], spreads
