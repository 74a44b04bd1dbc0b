"""Registered encoder/decoder pairs: shapes, mirroring, gradients, determinism, weight-norm folding."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from model_configs import PAIRS, tiny_pair

from codecbench.decoders.base import DECODERS
from codecbench.encoders.base import ENCODERS
from codecbench.nn.conv import Conv1d, ConvTranspose1d
from codecbench.nn.weight_norm import remove_weight_norm

STRIDE_SETS = [(2, 3, 4), (4,), (2, 2), (5, 2, 3)]


def test_every_pair_is_registered_with_matching_argument_names() -> None:
    for name in PAIRS:
        assert name in ENCODERS and name in DECODERS
        enc = inspect.signature(ENCODERS.get(name)).parameters
        dec = inspect.signature(DECODERS.get(name)).parameters
        for arg in ("sample_rate", "strides", "channels", "latent_dim", "causal"):
            assert arg in enc and arg in dec, (name, arg)
        for params in (enc, dec):
            for p in params.values():
                assert not isinstance(p.default, list | dict | set), (name, p.name)


def test_defaults_are_16khz_speech_codecs() -> None:
    dac_enc, dac_dec = ENCODERS.get("dac")(), DECODERS.get("dac")()
    assert (dac_enc.sample_rate, dac_enc.hop_length, dac_enc.frame_rate) == (16000, 320, 50.0)
    assert dac_dec.hop_length == 320 and dac_dec.latent_dim == dac_enc.latent_dim == 64
    assert dac_dec.layers[0].conv.out_channels == 1536
    mimi = ENCODERS.get("mimi")()
    assert mimi.causal and mimi.frame_rate == 12.5 and mimi.sample_rate == 16000


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("strides", STRIDE_SETS)
@pytest.mark.parametrize("causal", [False, True])
def test_shapes_over_lengths(name: str, strides: tuple[int, ...], causal: bool) -> None:
    encoder, decoder = tiny_pair(name, strides, causal)
    hop = math.prod(strides) * (2 if name == "mimi" else 1)
    assert encoder.hop_length == decoder.hop_length == hop
    assert encoder.causal == decoder.causal == causal
    with torch.no_grad():
        for length in (1, hop - 1, hop, 3 * hop + 1, 5 * hop):
            latent = encoder(torch.randn(2, 1, length))
            assert latent.shape == (2, 8, math.ceil(length / hop))
            assert decoder(latent).shape == (2, 1, latent.shape[-1] * hop)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("causal", [False, True])
def test_gradients_reach_every_parameter(name: str, causal: bool) -> None:
    encoder, decoder = tiny_pair(name, causal=causal)
    x = torch.randn(2, 1, 4 * encoder.hop_length)
    decoder(encoder(x)).square().mean().backward()
    for module in (encoder, decoder):
        for pname, p in module.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", PAIRS)
def test_deterministic_under_a_seed(name: str) -> None:
    torch.manual_seed(123)
    enc_a, dec_a = tiny_pair(name)
    torch.manual_seed(123)
    enc_b, dec_b = tiny_pair(name)
    x = torch.randn(1, 1, 2 * enc_a.hop_length)
    for a, b in ((enc_a, enc_b), (dec_a, dec_b)):
        for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert na == nb and torch.equal(pa, pb)
    torch.testing.assert_close(dec_a(enc_a(x)), dec_b(enc_b(x)), rtol=0, atol=0)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("causal", [False, True])
def test_remove_weight_norm_preserves_outputs(name: str, causal: bool) -> None:
    encoder, decoder = tiny_pair(name, causal=causal)
    with torch.no_grad():
        for p in [*encoder.parameters(), *decoder.parameters()]:
            p.mul_(1 + 0.1 * torch.randn_like(p))
    x = torch.randn(2, 1, 3 * encoder.hop_length)
    with torch.no_grad():
        latent = encoder(x)
        audio = decoder(latent)
        remove_weight_norm(encoder)
        remove_weight_norm(decoder)
        torch.testing.assert_close(encoder(x), latent, atol=1e-5, rtol=0)
        torch.testing.assert_close(decoder(latent), audio, atol=1e-5, rtol=0)


def test_dac_widths_double_in_encoder_and_halve_in_decoder() -> None:
    encoder, decoder = tiny_pair("dac", (2, 3, 4))
    enc_convs = [m for m in encoder.modules() if isinstance(m, Conv1d) and m.stride > 1]
    assert [c.out_channels for c in enc_convs] == [8, 16, 32]
    dec_tr = [m for m in decoder.modules() if isinstance(m, ConvTranspose1d)]
    assert [(c.out_channels, c.stride) for c in dec_tr] == [(16, 4), (8, 3), (4, 2)]


def test_bad_arguments_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="strides"):
        ENCODERS.create("dac", strides=(2, 0))
    with pytest.raises(ValueError, match="divisible"):
        DECODERS.create("dac", strides=(2, 4, 5, 8), channels=100)
    encoder, decoder = tiny_pair("dac")
    with pytest.raises(ValueError, match=r"\[batch, 1, samples\]"):
        encoder(torch.randn(2, 2, 48))
    with pytest.raises(ValueError, match=r"\[batch, 8, frames\]"):
        decoder(torch.randn(2, 7, 4))
