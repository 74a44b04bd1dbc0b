"""Cosine distillation of the quantizer's semantic level into a frozen teacher's features (Mimi)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecbench.losses.base import LOSSES, LossInputs, LossTerm
from codecbench.teachers.base import Teacher
from codecbench.teachers.resample import resample


def align_frames(features: Tensor, frames: int) -> Tensor:
    """Bring teacher features [B, C, F] to ``frames`` steps: average-pool when shrinking, linear when growing."""
    if features.shape[-1] == frames:
        return features
    if features.shape[-1] > frames:
        return F.adaptive_avg_pool1d(features, frames)
    return F.interpolate(features, size=frames, mode="linear", align_corners=False)


@LOSSES.register("distillation")
class SemanticDistillationLoss(LossTerm):
    """Mean over time of ``1 - cos(P s_t, f_t)`` between the projected semantic level and teacher features.

    ``s`` is ``codec.semantic`` [B, D, T]; ``P`` a learnable 1x1 convolution D -> teacher
    feature size (``semantic_dim`` gives D; ``None`` sizes it on the first batch, in which
    case run one forward before building the optimiser); ``f`` the teacher's features of the
    reference audio, computed under ``no_grad`` after resampling from ``sample_rate`` to the
    teacher's rate, and pooled/interpolated to T frames. Reaches the model through the
    quantizer, not the decoder output, so it is a ``direct`` loss for the balancer. The
    projection's parameters must be trained with the generator and saved with it.
    Blind to absolute level when the teacher is (``random_conv`` is).
    """

    depends_on_output = False

    def __init__(self, teacher: Teacher, semantic_dim: int | None = None, sample_rate: int = 16000) -> None:
        super().__init__()
        self.teacher = teacher
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        teacher.eval()
        self.sample_rate = int(sample_rate)
        self.semantic_dim = semantic_dim
        if semantic_dim is None:
            self.projection: nn.Module = nn.LazyConv1d(teacher.feature_dim, 1)
        else:
            self.projection = nn.Conv1d(int(semantic_dim), teacher.feature_dim, 1)

    def train(self, mode: bool = True) -> SemanticDistillationLoss:
        super().train(mode)
        self.teacher.eval()
        return self

    def teacher_features(self, reference: Tensor) -> Tensor:
        """Frozen teacher features of ``reference`` [B, 1, T] at the teacher's rate, float32 [B, C, F]."""
        with torch.no_grad():
            audio = resample(reference.detach().float(), self.sample_rate, self.teacher.sample_rate)
            features = self.teacher(audio).float()
        if features.dim() != 3 or features.shape[1] != self.teacher.feature_dim:
            raise ValueError(
                f"distillation loss: teacher returned {tuple(features.shape)}, "
                f"expected [B, {self.teacher.feature_dim}, frames]"
            )
        return features

    def forward(self, inputs: LossInputs) -> Tensor:
        semantic = inputs.codec.semantic if inputs.codec is not None else None
        if semantic is None:
            raise ValueError(
                "distillation needs a quantizer with a semantic level, e.g. split_rvq "
                "(CodecOutput.semantic is None for this model)"
            )
        if semantic.dim() != 3:
            raise ValueError(f"distillation loss: codec.semantic must be [B, D, T], got {tuple(semantic.shape)}")
        if self.semantic_dim is not None and semantic.shape[1] != self.semantic_dim:
            raise ValueError(
                f"distillation loss: codec.semantic has {semantic.shape[1]} channels "
                f"but semantic_dim={self.semantic_dim}"
            )
        target = align_frames(self.teacher_features(inputs.reference), semantic.shape[-1])
        predicted = self.projection(semantic).float()
        cosine = F.cosine_similarity(predicted, target, dim=1, eps=1e-8)
        return (1.0 - cosine).mean()
