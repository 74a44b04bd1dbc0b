"""Causal codecs stream: chunked encode/decode equals the offline pass, and earlier output never changes."""

from __future__ import annotations

import pytest
import torch
from codec_doubles import RoundingQuantizer
from codec_streaming_helpers import check_streaming_equals_offline, make_causal_codec
from model_configs import LATENT, PAIRS, tiny_pair

from codecbench.models.codec import Codec


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("seed", [0, 1])
def test_causal_codec_streams_like_offline(name: str, seed: int) -> None:
    check_streaming_equals_offline(make_causal_codec(name), seed)


@pytest.mark.parametrize("name", PAIRS)
def test_encoder_output_prefix_is_final(name: str) -> None:
    """Encoding a prefix gives the first frames of encoding the whole (a later chunk changes nothing before it)."""
    codec = make_causal_codec(name)
    hop = codec.hop_length
    audio = torch.randn(1, 1, 9 * hop)
    with torch.no_grad():
        full = codec.encoder(audio)
        prefix = codec.encoder(audio[..., : 4 * hop])
    torch.testing.assert_close(prefix, full[..., :4], atol=1e-5, rtol=1e-5)


def test_streaming_refuses_non_causal_codec_and_length_argument() -> None:
    encoder, decoder = tiny_pair("dac", causal=False)
    codec = Codec(encoder, RoundingQuantizer(LATENT), decoder)
    with pytest.raises(RuntimeError, match="causal"), codec.streaming(1):
        pass
    codec = make_causal_codec("dac")
    with codec.streaming(1), pytest.raises(ValueError, match="length"):
        codec.decode(torch.zeros(1, LATENT, 2, dtype=torch.long), length=10)


def test_reset_streaming_restarts_the_stream() -> None:
    codec = make_causal_codec("seanet")
    audio = torch.randn(1, 1, 4 * codec.hop_length)
    with torch.no_grad(), codec.streaming(1):
        first = codec.encode(audio)
        codec.reset_streaming()
        again = codec.encode(audio)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
