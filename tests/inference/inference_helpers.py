"""Tiny codecs, audio files and checkpoints for the inference tests (imported by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

import codecbench.decoders
import codecbench.encoders
import codecbench.quantizers  # noqa: F401  (registers the built-ins)
from codecbench.decoders.base import DECODERS, Decoder
from codecbench.encoders.base import ENCODERS, Encoder
from codecbench.models.codec import Codec
from codecbench.quantizers.base import QUANTIZERS, Quantizer
from codecbench.types import QuantizedResult

RATE = 16000
LATENT = 8


def tiny_causal_codec(name: str = "dac", strides: tuple[int, ...] = (2, 4), n_q: int = 3, codebook_size: int = 64,
                      seed: int = 0, causal: bool = True) -> Codec:
    """A registered encoder/decoder pair (small channels) with a real RVQ (random codebooks, no k-means) in eval."""
    torch.manual_seed(seed)
    common = {"sample_rate": RATE, "strides": strides, "latent_dim": LATENT, "causal": causal}
    if name == "dac":
        encoder = ENCODERS.create("dac", channels=4, **common)
        decoder = DECODERS.create("dac", channels=4 * 2 ** len(strides), **common)
    else:
        encoder = ENCODERS.create(name, channels=4, lstm_layers=1, **common)
        decoder = DECODERS.create(name, channels=4, lstm_layers=1, **common)
    quantizer = QUANTIZERS.create("rvq", dim=LATENT, n_q=n_q, codebook_size=codebook_size, kmeans_iters=0)
    return Codec(encoder, quantizer, decoder).eval()


def config_text(causal: bool = True, strides: tuple[int, ...] = (2, 4)) -> str:
    """A saved-config text that builds ``tiny_causal_codec``'s architecture through the trainer's model binding."""
    return "\n".join([
        "codecbench.train.model = @codecbench.Codec()",
        "codecbench.Codec.encoder = @codecbench.encoders.dac()",
        "codecbench.Codec.quantizer = @codecbench.quantizers.rvq()",
        "codecbench.Codec.decoder = @codecbench.decoders.dac()",
        *(f"codecbench.{family}.dac.{key} = {value}" for family, channels in (("encoders", 4), ("decoders", 16))
          for key, value in (("sample_rate", RATE), ("strides", strides), ("channels", channels),
                             ("latent_dim", LATENT), ("causal", causal))),
        f"codecbench.quantizers.rvq.dim = {LATENT}",
        "codecbench.quantizers.rvq.n_q = 3",
        "codecbench.quantizers.rvq.codebook_size = 64",
        "codecbench.quantizers.rvq.kmeans_iters = 0",
        "",
    ])


def write_checkpoint(path: Path, *, seed: int = 0, causal: bool = True) -> Path:
    """A checkpoint as ``codecbench.training.checkpoint`` documents it (format marker, config text, weights)."""
    from codecbench.training import checkpoint as ckpt

    text = config_text(causal)
    torch.manual_seed(seed)
    codec = ckpt.build_codec_from_config(text)
    payload = {"format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION, "step": 1, "config": text,
               "sample_rate": RATE, "codec": codec.state_dict()}
    return ckpt.atomic_torch_save(payload, path)


def write_tone(path: Path, seconds: float, rate: int = RATE, channels: int = 1, level: float = 0.1,
               seed: int = 0) -> np.ndarray:
    """Harmonics with a little noise (seeded); returns the written [frames, channels] float32 data."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    tone = np.sin(2 * np.pi * 190 * t) + 0.4 * np.sin(2 * np.pi * 570 * t + 0.3) + 0.05 * rng.standard_normal(t.size)
    data = np.stack([tone * (1.0 - 0.3 * c) for c in range(channels)], axis=1)
    data = (level * data / np.sqrt(np.mean(data**2))).astype(np.float32)
    sf.write(str(path), data, rate, subtype="FLOAT" if path.suffix == ".wav" else None)
    return data


# ------------------------------------------------------------------ a transparent codec (16-bit PCM as codes)
class _Identity(Encoder):
    """Audio as a one-dimensional latent at the sample rate (hop 1)."""

    sample_rate, hop_length, latent_dim, causal = RATE, 1, 1, True

    def forward(self, audio: Tensor) -> Tensor:
        return audio


class _IdentityDecoder(Decoder):
    sample_rate, hop_length, latent_dim, causal = RATE, 1, 1, True

    def forward(self, latent: Tensor) -> Tensor:
        return latent


class _PCM16(Quantizer):
    """Uniform 16-bit quantizer on [-1, 1]: one level of 65536 codes."""

    dim = 1

    @property
    def codebook_sizes(self) -> list[int]:
        return [65536]

    def encode(self, latent: Tensor, n_q: int | None = None) -> Tensor:
        return torch.round((latent.clamp(-1, 1) + 1) * 32767.5).long()

    def decode(self, codes: Tensor) -> Tensor:
        return codes.float() / 32767.5 - 1

    def forward(self, latent: Tensor, frame_rate: float, n_q: int | None = None) -> QuantizedResult:
        codes = self.encode(latent)
        return QuantizedResult(self.decode(codes), codes, 16 * frame_rate, latent.new_zeros(()))


def pcm_codec() -> Codec:
    """Encode -> decode reproduces the (normalised) input to 16-bit precision: checks levels end to end."""
    return Codec(_Identity(), _PCM16(), _IdentityDecoder()).eval()
