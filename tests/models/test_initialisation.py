"""DAC-style, SEANet and Mimi parts start with zero biases, a time-varying latent and well-spread first codes."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from codecbench.decoders.dac import DACDecoder
from codecbench.decoders.mimi import MimiDecoder
from codecbench.decoders.seanet import SEANetDecoder
from codecbench.encoders.dac import DACEncoder
from codecbench.encoders.mimi import MimiEncoder
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


MIMI_TINY = {"channels": 16, "latent_dim": 128, "transformer_layers": 2, "num_heads": 4, "dim_feedforward": 256}


def seanet_stack(part: nn.Module) -> nn.Module:
    """The SEANet convolutions of a SEANet or Mimi part (Mimi's transformer keeps PyTorch's initialisation)."""
    return part.seanet if isinstance(part, (MimiEncoder, MimiDecoder)) else part


def biases(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [(name, p) for name, p in module.named_parameters() if "bias" in name.rsplit(".", 1)[-1]]


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: SEANetEncoder(channels=8, latent_dim=32, lstm_layers=1, **kw),
        lambda **kw: SEANetDecoder(channels=8, latent_dim=32, lstm_layers=1, **kw),
        lambda **kw: MimiEncoder(**MIMI_TINY, **kw),
        lambda **kw: MimiDecoder(**MIMI_TINY, **kw),
    ],
    ids=["seanet-encoder", "seanet-decoder", "mimi-encoder", "mimi-decoder"],
)
def test_seanet_stacks_start_with_zero_biases(build: Callable[..., nn.Module]) -> None:
    torch.manual_seed(0)
    zeroed = biases(seanet_stack(build()))
    assert zeroed, "expected biased convolutions"
    for name, p in zeroed:
        assert torch.count_nonzero(p) == 0, name
    kept = biases(seanet_stack(build(zero_bias_init=False)))
    assert any(torch.count_nonzero(p) > 0 for _, p in kept)


def test_seanet_lstm_gate_biases_start_at_zero() -> None:
    names = [name for name, _ in biases(SEANetEncoder(channels=8, latent_dim=32, lstm_layers=1))]
    assert any("bias_ih" in name for name in names) and any("bias_hh" in name for name in names), names


@pytest.mark.parametrize(
    ("build", "samples"),
    [
        (lambda zero: SEANetEncoder(channels=16, latent_dim=128, lstm_layers=1, zero_bias_init=zero), 6080),
        (lambda zero: MimiEncoder(**MIMI_TINY, zero_bias_init=zero), 20480),
    ],
    ids=["seanet", "mimi"],
)
def test_seanet_initial_latent_varies_in_time(build: Callable[[bool], nn.Module], samples: int) -> None:
    """With PyTorch's random biases the tiny SEANet latent was a constant plus a small signal (time std /
    |mean| ~0.17 for SEANet, ~0.39 for Mimi): a few Adam steps then moved every frame together, further
    than they spread, and EMA codebook levels fell to one or two codes (benchmarks/latent_spread.py)."""
    audio = speech_like(samples=samples)
    spreads = {}
    for zero in (False, True):
        torch.manual_seed(0)
        encoder = build(zero)
        with torch.no_grad():
            latent = encoder(audio)
        spreads[zero] = float(latent.std(-1).mean() / latent.mean(-1).abs().mean())
    assert spreads[True] > 1.5 > 0.5 > spreads[False], spreads
