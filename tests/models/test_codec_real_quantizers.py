"""The codec with the real registered quantizers: forward/encode/decode agree and causal codecs stream."""

from __future__ import annotations

import pytest
import torch
from codec_streaming_helpers import check_streaming_equals_offline, make_causal_codec
from model_configs import LATENT, PAIRS, tiny_pair

from codecbench.models.codec import Codec
from codecbench.quantizers.base import QUANTIZERS

REAL = [
    ("rvq", {"dim": LATENT, "n_q": 3, "codebook_size": 16, "kmeans_iters": 3}),
    ("factorized_rvq", {"dim": LATENT, "n_q": 3, "codebook_size": 16, "codebook_dim": 4, "quantizer_dropout": 0.0}),
]


def _quantizer(name: str, kwargs: dict) -> torch.nn.Module:
    if name not in QUANTIZERS:
        pytest.skip(f"quantizer {name!r} is not registered")
    return QUANTIZERS.create(name, **kwargs)


def _warm_up(codec: Codec) -> Codec:
    """One training forward initialises the codebooks (k-means / EMA), then eval."""
    codec.train()
    codec(torch.randn(4, 1, 8 * codec.hop_length))
    return codec.eval()


@pytest.mark.parametrize(("qname", "qkwargs"), REAL)
def test_encode_decode_agree_with_forward(qname: str, qkwargs: dict) -> None:
    encoder, decoder = tiny_pair("dac")
    codec = _warm_up(Codec(encoder, _quantizer(qname, qkwargs), decoder))
    x = torch.randn(2, 1, 5 * codec.hop_length - 3)
    with torch.no_grad():
        out = codec(x)
        codes = codec.encode(x)
        audio = codec.decode(codes, length=x.shape[-1])
    assert codes.shape == (2, 3, 5) and codec.codebook_sizes == [16, 16, 16]
    torch.testing.assert_close(codes, out.codes, rtol=0, atol=0)
    torch.testing.assert_close(audio, out.audio, atol=1e-5, rtol=1e-5)
    assert codec.encode(x, n_q=2).shape[1] == 2
    assert out.bits_per_second == pytest.approx(3 * 4 * codec.frame_rate)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize(("qname", "qkwargs"), REAL)
def test_causal_codec_with_real_quantizer_streams_like_offline(name: str, qname: str, qkwargs: dict) -> None:
    codec = _warm_up(make_causal_codec(name, _quantizer(qname, qkwargs)))
    check_streaming_equals_offline(codec, seed=0, max_code_mismatch=0.03)
