"""The codec: encoder -> quantizer -> decoder, composed by injection."""

from __future__ import annotations

import math

import gin
import torch
import torch.nn.functional as F
from torch import Tensor

from codecbench.decoders.base import Decoder
from codecbench.encoders.base import Encoder
from codecbench.quantizers.base import Quantizer
from codecbench.streaming import StreamingModule
from codecbench.types import CodecOutput


def check_compatible(encoder: Encoder, quantizer: Quantizer, decoder: Decoder) -> None:
    """Raise a ValueError naming the mismatch if the three parts cannot be chained."""
    enc, dec = type(encoder).__name__, type(decoder).__name__
    q_dim = getattr(quantizer, "dim", None)
    if not (encoder.latent_dim == q_dim == decoder.latent_dim):
        raise ValueError(
            f"Codec: latent dimensions differ: encoder {enc} latent_dim={encoder.latent_dim}, "
            f"quantizer {type(quantizer).__name__} dim={q_dim}, decoder {dec} latent_dim={decoder.latent_dim}; "
            "set all three to the same value (e.g. one LATENT_DIM macro in the recipe)"
        )
    if encoder.hop_length != decoder.hop_length:
        raise ValueError(
            f"Codec: hop lengths differ: encoder {enc} hop_length={encoder.hop_length}, decoder {dec} "
            f"hop_length={decoder.hop_length}; give both the same strides"
        )
    if encoder.sample_rate != decoder.sample_rate:
        raise ValueError(
            f"Codec: sample rates differ: encoder {enc} {encoder.sample_rate} Hz, decoder {dec} "
            f"{decoder.sample_rate} Hz; give both the same sample_rate"
        )


class Codec(StreamingModule[None]):
    """A neural audio codec: ``encoder`` -> ``quantizer`` -> ``decoder``.

    Offline, inputs of any length are zero-padded to a multiple of ``hop_length`` and outputs
    trimmed back. Inside ``with codec.streaming(batch_size):`` (causal encoder and decoder),
    ``encode`` takes successive audio chunks (a multiple of ``hop_length`` each, or any length:
    codes are emitted as frames complete) and ``decode`` takes successive code chunks of any
    number of frames; the concatenated results equal the offline pass.

    ``quantize_probability < 1`` (Mimi): in training, each item is quantized with that
    probability; the others pass the unquantized latent to the decoder.
    """

    def __init__(
        self, encoder: Encoder, quantizer: Quantizer, decoder: Decoder, quantize_probability: float = 1.0
    ) -> None:
        super().__init__()
        check_compatible(encoder, quantizer, decoder)
        if not 0.0 <= quantize_probability <= 1.0:
            raise ValueError(f"Codec: quantize_probability must be in [0, 1], got {quantize_probability}")
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.quantize_probability = float(quantize_probability)

    @property
    def sample_rate(self) -> int:
        return self.encoder.sample_rate

    @property
    def hop_length(self) -> int:
        return self.encoder.hop_length

    @property
    def frame_rate(self) -> float:
        return self.encoder.frame_rate

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.quantizer.codebook_sizes)

    @property
    def causal(self) -> bool:
        return bool(self.encoder.causal and self.decoder.causal)

    def num_frames(self, length: int) -> int:
        """Frames produced for ``length`` samples (offline)."""
        return math.ceil(length / self.hop_length)

    def pad(self, audio: Tensor) -> Tensor:
        """Zero-pad [B, 1, T] on the right to a multiple of ``hop_length``."""
        _check_audio(audio)
        missing = -audio.shape[-1] % self.hop_length
        return F.pad(audio, (0, missing)) if missing else audio

    def encode(self, audio: Tensor, n_q: int | None = None) -> Tensor:
        """Integer codes [B, n_q, frames] of ``audio`` [B, 1, T]."""
        _check_audio(audio)
        latent = self.encoder(audio if self.is_streaming else self.pad(audio))
        if latent.shape[-1] == 0:
            levels = n_q or self.quantizer.num_levels
            return torch.zeros(latent.shape[0], levels, 0, dtype=torch.long, device=latent.device)
        return self.quantizer.encode(latent, n_q=n_q)

    def decode(self, codes: Tensor, length: int | None = None) -> Tensor:
        """Audio [B, 1, frames * hop_length] from codes [B, n_q, frames], trimmed to ``length`` if given."""
        if codes.dim() != 3:
            raise ValueError(f"Codec.decode: expected codes of shape [batch, n_q, frames], got {tuple(codes.shape)}")
        if self.is_streaming and length is not None:
            raise ValueError("Codec.decode: `length` cannot be used while streaming; trim the joined output instead")
        if codes.shape[-1] == 0:
            return torch.zeros(codes.shape[0], 1, 0, device=codes.device)
        audio = self.decoder(self.quantizer.decode(codes))
        return audio if length is None else audio[..., :length]

    def forward(self, audio: Tensor, n_q: int | None = None) -> CodecOutput:
        """Reconstruct ``audio`` [B, 1, T] through the quantizer (straight-through in training)."""
        length = audio.shape[-1]
        latent = self.encoder(self.pad(audio))
        result = self.quantizer(latent, frame_rate=self.frame_rate, n_q=n_q)
        quantized = result.quantized
        if self.training and self.quantize_probability < 1.0:
            keep = torch.rand(latent.shape[0], 1, 1, device=latent.device) < self.quantize_probability
            quantized = torch.where(keep, quantized, latent)
        reconstruction = self.decoder(quantized)[..., :length]
        return CodecOutput(
            audio=reconstruction,
            codes=result.codes,
            penalty=result.penalty,
            metrics=result.metrics,
            latent=latent,
            quantized=quantized,
            bits_per_second=result.bits_per_second,
            semantic=result.semantic,
        )


def _check_audio(audio: Tensor) -> None:
    if audio.dim() != 3 or audio.shape[1] != 1:
        raise ValueError(f"Codec: expected mono audio of shape [batch, 1, samples], got {tuple(audio.shape)}")


gin.register("Codec", module="codecbench")(Codec)
