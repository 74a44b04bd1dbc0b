"""Codec composition: compatibility checks, padding/trimming, encode/decode, forward, quantize_probability."""

from __future__ import annotations

import gin
import pytest
import torch
from codec_doubles import RoundingQuantizer
from model_configs import LATENT, PAIRS, tiny_pair

from codecbench.models.codec import Codec
from codecbench.types import CodecOutput


def _codec(name: str = "dac", causal: bool = False, **kwargs) -> Codec:
    encoder, decoder = tiny_pair(name, causal=causal)
    return Codec(encoder, RoundingQuantizer(LATENT), decoder, **kwargs)


@pytest.mark.parametrize("name", PAIRS)
def test_forward_pads_and_trims_to_input_length(name: str) -> None:
    codec = _codec(name)
    hop = codec.hop_length
    for length in (1, hop - 1, hop, 2 * hop + 5):
        out = codec(torch.randn(2, 1, length))
        assert isinstance(out, CodecOutput)
        frames = -(-length // hop)
        assert out.audio.shape == (2, 1, length)
        assert out.codes.shape == (2, LATENT, frames) and out.codes.dtype == torch.long
        assert out.latent.shape == out.quantized.shape == (2, LATENT, frames)
        assert out.bits_per_second == pytest.approx(LATENT * 8 * codec.frame_rate)
        assert out.penalty.dim() == 0 and "q/levels" in out.metrics


def test_encode_decode_roundtrip_matches_forward_in_eval() -> None:
    codec = _codec().eval()
    x = torch.randn(2, 1, 3 * codec.hop_length + 7)
    with torch.no_grad():
        codes = codec.encode(x)
        audio = codec.decode(codes, length=x.shape[-1])
        out = codec(x)
    torch.testing.assert_close(codes, out.codes, rtol=0, atol=0)
    torch.testing.assert_close(audio, out.audio)
    assert codec.decode(codes).shape[-1] == codes.shape[-1] * codec.hop_length


def test_n_q_reaches_the_quantizer() -> None:
    codec = _codec().eval()
    x = torch.randn(1, 1, 2 * codec.hop_length)
    assert codec.encode(x, n_q=3).shape[1] == 3
    assert codec(x, n_q=2).codes.shape[1] == 2
    assert codec.decode(codec.encode(x, n_q=3)).shape == (1, 1, 2 * codec.hop_length)


def test_properties_come_from_the_parts() -> None:
    codec = _codec("mimi", causal=True)
    assert codec.sample_rate == 16000 and codec.hop_length == 48 and codec.frame_rate == 16000 / 48
    assert codec.codebook_sizes == [256] * LATENT and codec.causal
    assert codec.num_frames(49) == 2


def test_quantize_probability_mixes_per_item_in_training_only() -> None:
    codec = _codec(quantize_probability=0.0).train()
    x = torch.randn(3, 1, 2 * codec.hop_length)
    out = codec(x)
    torch.testing.assert_close(out.quantized, out.latent)  # nothing quantized
    codec.eval()
    with torch.no_grad():
        out = codec(x)
    assert not torch.allclose(out.quantized, out.latent)
    codec = _codec(quantize_probability=0.5).train()
    torch.manual_seed(0)
    out = codec(torch.randn(16, 1, codec.hop_length))
    same = [torch.allclose(out.quantized[i], out.latent[i]) for i in range(16)]
    assert 0 < sum(same) < 16  # some items bypass the quantizer, some do not
    with pytest.raises(ValueError, match="quantize_probability"):
        _codec(quantize_probability=1.5)


def test_gradients_reach_encoder_and_decoder_through_the_quantizer() -> None:
    codec = _codec("seanet")
    out = codec(20 * torch.randn(2, 1, 2 * codec.hop_length))  # loud enough that codes are not all zero
    assert (out.codes != 128).any()
    (out.audio.square().mean() + out.penalty).backward()
    for pname, p in codec.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_incompatible_parts_are_rejected_with_clear_messages() -> None:
    enc, dec = tiny_pair("dac")
    with pytest.raises(ValueError, match="latent dimensions differ"):
        Codec(enc, RoundingQuantizer(LATENT + 1), dec)
    _, dec_other_hop = tiny_pair("dac", strides=(2, 2))
    with pytest.raises(ValueError, match="hop lengths differ"):
        Codec(enc, RoundingQuantizer(LATENT), dec_other_hop)
    dec.sample_rate = 24000
    with pytest.raises(ValueError, match="sample rates differ"):
        Codec(enc, RoundingQuantizer(LATENT), dec)
    codec = _codec()
    with pytest.raises(ValueError, match=r"\[batch, 1, samples\]"):
        codec.encode(torch.randn(2, 48))
    with pytest.raises(ValueError, match=r"\[batch, n_q, frames\]"):
        codec.decode(torch.zeros(2, 3, dtype=torch.long))


def test_registered_with_gin_as_codecbench_codec() -> None:
    enc, dec = tiny_pair("dac")
    quantizer = RoundingQuantizer(LATENT)

    @gin.configurable("make_codec_for_test")
    def make(codec: Codec) -> Codec:
        return codec

    gin.bind_parameter("codecbench.Codec.quantize_probability", 0.5)
    gin.bind_parameter("codecbench.Codec.encoder", enc)
    gin.bind_parameter("codecbench.Codec.quantizer", quantizer)
    gin.bind_parameter("codecbench.Codec.decoder", dec)
    gin.parse_config("make_codec_for_test.codec = @codecbench.Codec()")
    codec = make()
    assert isinstance(codec, Codec) and codec.quantize_probability == 0.5
