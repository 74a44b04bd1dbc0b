"""Mimi-style split RVQ: semantic output, code layout, bitrate, composition."""

from __future__ import annotations

import math

import pytest
import torch

from codecbench.quantizers import (
    FactorizedResidualVectorQuantizer,
    ResidualVectorQuantizer,
    SplitResidualVectorQuantizer,
)

# small test batches cannot reach the EnCodec dead-code threshold; the warning is tested in test_codebook.py
pytestmark = pytest.mark.filterwarnings("ignore:Codebook.*threshold_dead:UserWarning")


def trained_split(**kwargs: object) -> SplitResidualVectorQuantizer:
    q = SplitResidualVectorQuantizer(dim=16, n_q=4, codebook_size=32, codebook_dim=8, kmeans_iters=5, **kwargs)
    q.train()
    for _ in range(2):
        q(torch.randn(4, 16, 10), 12.5)
    return q.eval()


def test_composed_of_two_rvqs_with_mimi_layout() -> None:
    q = SplitResidualVectorQuantizer()
    assert isinstance(q.semantic, ResidualVectorQuantizer) and isinstance(q.acoustic, ResidualVectorQuantizer)
    assert q.semantic.num_levels == 1 and q.acoustic.num_levels == 7
    assert q.codebook_sizes == [2048] * 8
    assert q.semantic.levels[0].codebook.dim == 256 and q.dim == 512


def test_codes_layout_semantic_output_and_sum() -> None:
    q = trained_split()
    latent = torch.randn(2, 16, 9)
    with torch.no_grad():
        result = q(latent, 12.5)
        semantic = q.semantic(latent, 12.5)
        acoustic = q.acoustic(latent, 12.5)
    assert result.codes.shape == (2, 4, 9)
    assert torch.equal(result.codes[:, :1], semantic.codes)
    assert torch.equal(result.codes[:, 1:], acoustic.codes)
    assert torch.equal(result.semantic, semantic.quantized)
    assert torch.equal(result.quantized, semantic.quantized + acoustic.quantized)
    assert torch.equal(result.semantic, q.semantic.decode(result.codes[:, :1]))
    assert torch.equal(q.decode(result.codes), result.quantized)
    assert sorted(k for k in result.metrics if k.startswith("q")) == sorted(
        f"q{i}/{s}" for i in range(4) for s in ("perplexity", "usage", "dead")
    )
    assert torch.allclose(result.penalty, semantic.penalty + acoustic.penalty)
    assert torch.allclose(result.metrics["commitment"], semantic.metrics["commitment"] + acoustic.metrics["commitment"])
    assert torch.equal(result.metrics["semantic/commitment"], semantic.metrics["commitment"])


def test_bitrate_sums_both_parts() -> None:
    q = SplitResidualVectorQuantizer(
        dim=16, n_q=4, codebook_size=32, semantic_codebook_size=64, codebook_dim=8, kmeans_iters=0
    ).eval()
    result = q(torch.randn(1, 16, 3), 12.5)
    assert result.bits_per_second == pytest.approx((math.log2(64) + 3 * math.log2(32)) * 12.5)
    assert q.codebook_sizes == [64, 32, 32, 32]
    only_semantic = q(torch.randn(1, 16, 3), 12.5, n_q=1)
    assert only_semantic.codes.shape == (1, 1, 3)
    assert only_semantic.bits_per_second == pytest.approx(6 * 12.5)
    assert torch.equal(only_semantic.semantic, only_semantic.quantized)


def test_distillation_gradient_reaches_the_latent_through_the_semantic_output() -> None:
    q = trained_split().train()
    latent = torch.randn(2, 16, 9, requires_grad=True)
    result = q(latent, 12.5)
    teacher = torch.randn(2, 16, 9)
    (1 - torch.cosine_similarity(result.semantic, teacher, dim=1)).mean().backward()
    assert latent.grad.abs().sum() > 0
    assert q.semantic.in_proj.weight.grad.abs().sum() > 0
    assert q.acoustic.in_proj.weight.grad is None


def test_quantizer_dropout_applies_to_acoustic_levels_only() -> None:
    q = trained_split(quantizer_dropout=1.0).train()
    assert q.semantic.quantizer_dropout == 0.0 and q.acoustic.quantizer_dropout == 1.0


def test_injected_parts_are_used() -> None:
    semantic = ResidualVectorQuantizer(dim=16, n_q=1, codebook_size=8, kmeans_iters=0)
    acoustic = FactorizedResidualVectorQuantizer(dim=16, n_q=2, codebook_size=16, codebook_dim=4)
    q = SplitResidualVectorQuantizer(dim=16, semantic=semantic, acoustic=acoustic).eval()
    assert q.semantic is semantic and q.acoustic is acoustic
    assert q.codebook_sizes == [8, 16, 16]
    with torch.no_grad():
        result = q(torch.randn(1, 16, 5), 12.5)
    assert torch.equal(q.decode(result.codes), result.quantized)
    with pytest.raises(ValueError, match="expected 32"):
        SplitResidualVectorQuantizer(dim=32, semantic=semantic, acoustic=acoustic)
