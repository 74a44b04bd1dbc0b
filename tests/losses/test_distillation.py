from __future__ import annotations

import pytest
import torch

from codecbench.losses import LOSSES, LossInputs, SemanticDistillationLoss
from codecbench.losses.distillation import align_frames
from codecbench.teachers import RandomConvTeacher
from codecbench.teachers.resample import resample
from codecbench.types import CodecOutput


def _codec_output(semantic: torch.Tensor | None) -> CodecOutput:
    empty = torch.zeros(())
    return CodecOutput(
        audio=torch.zeros(2, 1, 16000), codes=torch.zeros(2, 1, 13, dtype=torch.long), penalty=empty, metrics={},
        latent=torch.zeros(2, 8, 13), quantized=torch.zeros(2, 8, 13), bits_per_second=0.0, semantic=semantic,
    )  # fmt: skip


def _teacher() -> RandomConvTeacher:
    return RandomConvTeacher(feature_dim=32, hidden_dim=32, n_layers=2, seed=3)


def test_distillation_decreases_when_optimising_the_projection() -> None:
    audio = 0.1 * torch.randn(2, 1, 8000)
    semantic = torch.randn(2, 8, 7)
    loss = LOSSES.create("distillation", teacher=_teacher(), semantic_dim=8)
    assert not loss.depends_on_output and not loss.needs_discriminator
    trainable = [p for p in loss.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in loss.projection.parameters()}
    inputs = LossInputs(reference=audio, reconstruction=audio, codec=_codec_output(semantic))
    values = []
    for _ in range(40):  # plain gradient descent on the projection
        value = loss(inputs)
        grads = torch.autograd.grad(value, trainable)
        with torch.no_grad():
            for parameter, grad in zip(trainable, grads):
                parameter -= 0.5 * grad
        values.append(value.item())
    assert 0.0 <= values[-1] < 0.6 * values[0]
    assert all(p.grad is None for p in loss.teacher.parameters())


def test_gradient_reaches_the_semantic_level() -> None:
    semantic = torch.randn(2, 8, 13, requires_grad=True)
    loss = SemanticDistillationLoss(_teacher(), semantic_dim=8)
    audio = 0.1 * torch.randn(2, 1, 16000)
    loss(LossInputs(reference=audio, reconstruction=audio, codec=_codec_output(semantic))).backward()
    assert semantic.grad is not None and semantic.grad.abs().sum() > 0


def test_value_matches_direct_cosine_and_resamples_to_teacher_rate() -> None:
    teacher = _teacher()
    loss = SemanticDistillationLoss(teacher, semantic_dim=8, sample_rate=24000)
    audio = 0.1 * torch.randn(2, 1, 24000)
    semantic = torch.randn(2, 8, 13)
    value = loss(LossInputs(reference=audio, reconstruction=audio, codec=_codec_output(semantic)))
    target = torch.nn.functional.adaptive_avg_pool1d(teacher(resample(audio, 24000, 16000)), 13)
    cosine = torch.nn.functional.cosine_similarity(loss.projection(semantic), target, dim=1)
    assert value.item() == pytest.approx((1 - cosine).mean().item(), rel=1e-5)


def test_lazy_projection_and_train_mode_keeps_teacher_frozen() -> None:
    loss = SemanticDistillationLoss(_teacher())
    audio = 0.1 * torch.randn(2, 1, 16000)
    loss(LossInputs(reference=audio, reconstruction=audio, codec=_codec_output(torch.randn(2, 5, 13))))
    assert loss.projection.weight.shape == (32, 5, 1)
    loss.train()
    assert loss.training and not loss.teacher.training


def test_missing_semantic_level_is_explained() -> None:
    loss = SemanticDistillationLoss(_teacher(), semantic_dim=8)
    audio = torch.zeros(2, 1, 16000)
    for codec in (None, _codec_output(None)):
        with pytest.raises(ValueError, match=r"distillation needs a quantizer with a semantic level, e\.g\. split_rvq"):
            loss(LossInputs(reference=audio, reconstruction=audio, codec=codec))
    with pytest.raises(ValueError, match="semantic_dim=8"):
        loss(LossInputs(reference=audio, reconstruction=audio, codec=_codec_output(torch.randn(2, 4, 13))))


def test_align_frames() -> None:
    features = torch.arange(8.0).reshape(1, 1, 8)
    assert torch.equal(align_frames(features, 8), features)
    assert torch.allclose(align_frames(features, 2), torch.tensor([[[1.5, 5.5]]]))
    grown = align_frames(features, 16)
    assert grown.shape == (1, 1, 16) and grown.min() >= 0 and grown.max() <= 7
