"""Shared helpers for codec streaming tests: chunked encode/decode and the streaming == offline check."""

from __future__ import annotations

import torch
from codec_doubles import RoundingQuantizer
from model_configs import LATENT, tiny_pair

from codecbench.models.codec import Codec


def _chunks(total: int, unit: int, max_units: int, seed: int, allow_zero: bool = True) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    sizes: list[int] = []
    low = 0 if allow_zero else 1
    while sum(sizes) < total:
        units = int(torch.randint(low, max_units + 1, (1,), generator=generator))
        sizes.append(min(units * unit, total - sum(sizes)))
    return sizes


def _stream_encode(codec: Codec, audio: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    out, start = [], 0
    with codec.streaming(audio.shape[0]):
        for size in sizes:
            out.append(codec.encode(audio[..., start : start + size]))
            start += size
    return out


def _stream_decode(codec: Codec, codes: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    out, start = [], 0
    with codec.streaming(codes.shape[0]):
        for size in sizes:
            out.append(codec.decode(codes[..., start : start + size]))
            start += size
    return out


def make_causal_codec(name: str, quantizer: torch.nn.Module | None = None) -> Codec:
    encoder, decoder = tiny_pair(name, causal=True)
    codec = Codec(encoder, quantizer or RoundingQuantizer(LATENT), decoder).eval()
    with torch.no_grad():  # non-trivial LayerScale so that the transformers matter
        for pname, p in codec.named_parameters():
            if pname.endswith("scale"):
                p.fill_(0.5)
    return codec


def _stream_latent(codec: Codec, audio: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    out, start = [], 0
    with codec.streaming(audio.shape[0]):
        for size in sizes:
            out.append(codec.encoder(audio[..., start : start + size]))
            start += size
    return torch.cat(out, -1)


def check_streaming_equals_offline(codec: Codec, seed: int, max_code_mismatch: float = 0.0) -> None:
    """Chunked encode/decode == offline: latents and audio to 1e-5, codes exactly.

    ``max_code_mismatch`` allows a fraction of codes to differ: with a nearest-neighbour quantizer a
    1e-7 latent difference can flip a near-tie (seen once in ~100 residual-VQ codes).
    """
    hop = codec.hop_length
    audio = 0.5 * torch.randn(2, 1, 17 * hop)
    with torch.no_grad():
        latent = codec.encoder(audio)
        codes = codec.encode(audio)
        decoded = codec.decode(codes)
        for sizes in (_chunks(audio.shape[-1], hop, 3, seed), _chunks(audio.shape[-1], 1, 2 * hop, seed)):
            torch.testing.assert_close(_stream_latent(codec, audio, sizes), latent, atol=1e-5, rtol=1e-5)
            chunked = torch.cat(_stream_encode(codec, audio, sizes), -1)
            assert chunked.shape == codes.shape
            mismatch = (chunked != codes).float().mean().item()
            assert mismatch <= max_code_mismatch, f"{mismatch:.3%} of streamed codes differ from offline"
        sizes = _chunks(codes.shape[-1], 1, 4, seed)
        pieces = _stream_decode(codec, codes, sizes)
        torch.testing.assert_close(torch.cat(pieces, -1), decoded, atol=1e-5, rtol=1e-5)
        # each chunk's output is final: it equals the offline output of the same span
        start = 0
        for size, piece in zip(sizes, pieces):
            assert piece.shape[-1] == size * hop
            torch.testing.assert_close(piece, decoded[..., start * hop : (start + size) * hop], atol=1e-5, rtol=1e-5)
            start += size
