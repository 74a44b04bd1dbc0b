"""Typed results passed between components."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class QuantizedResult:
    """What a quantizer returns for a latent of shape [B, D, T].

    ``penalty`` is the quantizer's own, already weighted training loss (commitment and
    codebook terms); it is zero for EMA or FSQ quantizers that need none. ``metrics`` holds
    detached scalar tensors such as ``q0/perplexity``, ``q0/usage`` (fraction of codes used)
    and ``q0/dead`` (number of dead codes), one set per level.
    """

    quantized: Tensor  # [B, D, T], straight-through in training
    codes: Tensor  # [B, n_q, T], int64
    bits_per_second: float
    penalty: Tensor  # scalar
    metrics: dict[str, Tensor] = field(default_factory=dict)
    semantic: Tensor | None = None  # [B, D, T] output of a semantic level (split RVQ), for distillation


@dataclass
class DiscriminatorOutput:
    """One sub-discriminator's verdict: logits and the intermediate feature maps."""

    logits: Tensor
    feature_maps: list[Tensor]


@dataclass
class CodecOutput:
    """Result of ``Codec.forward``: reconstruction plus everything the losses and the doctor read."""

    audio: Tensor  # [B, 1, T], trimmed to the input length
    codes: Tensor  # [B, n_q, T_frames]
    penalty: Tensor  # scalar, already weighted quantizer loss
    metrics: dict[str, Tensor]
    latent: Tensor  # encoder output before quantization, [B, D, T_frames]
    quantized: Tensor  # quantizer output fed to the decoder, [B, D, T_frames]
    bits_per_second: float
    semantic: Tensor | None = None
