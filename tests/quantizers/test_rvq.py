"""Residual VQ (EMA and factorised): distortion per level, quantizer dropout, bitrate, DAC recipe."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from codecbench.quantizers import FactorizedResidualVectorQuantizer, ResidualVectorQuantizer
from codecbench.quantizers.residual import ResidualQuantizer

# small test batches cannot reach the EnCodec dead-code threshold; the warning is tested in test_codebook.py
pytestmark = pytest.mark.filterwarnings("ignore:Codebook.*threshold_dead:UserWarning")

FRAME_RATE = 50.0


def distortions(q: ResidualQuantizer, latent: torch.Tensor) -> list[float]:
    q.eval()
    with torch.no_grad():
        return [(q(latent, FRAME_RATE, n).quantized - latent).pow(2).mean().item() for n in range(1, q.num_levels + 1)]


def test_rvq_distortion_falls_monotonically_with_n_q() -> None:
    q = ResidualVectorQuantizer(dim=8, n_q=6, codebook_size=16, kmeans_iters=20, decay=0.9).train()
    for _ in range(30):
        q(torch.randn(4, 8, 64), FRAME_RATE)
    values = distortions(q, torch.randn(8, 8, 64))
    assert all(b < a for a, b in itertools.pairwise(values)), values
    assert values[-1] < 0.5 * values[0]


def test_factorized_rvq_distortion_falls_with_n_q_after_training() -> None:
    q = FactorizedResidualVectorQuantizer(dim=8, n_q=4, codebook_size=32, codebook_dim=4, quantizer_dropout=0.5)
    optimizer = torch.optim.Adam(q.parameters(), lr=1e-2)
    q.train()
    for _ in range(40):
        latent = torch.randn(4, 8, 16)
        result = q(latent, FRAME_RATE)
        loss = (result.quantized - latent).pow(2).mean() + result.penalty
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    values = distortions(q, torch.randn(8, 8, 64))
    assert all(b < a for a, b in itertools.pairwise(values)), values


def per_item_levels(q: ResidualQuantizer, latent: torch.Tensor) -> list[int]:
    """Run one training forward; find for each item the number of levels its output used."""
    q(latent, FRAME_RATE)  # k-means initialisation happens here
    before = copy.deepcopy(q).eval()  # decode with the codebooks the forward used (EMA updates them)
    result = q(latent, FRAME_RATE)
    levels = []
    for b in range(latent.shape[0]):
        matches = [
            n
            for n in range(1, q.num_levels + 1)
            if torch.allclose(before.decode(result.codes[b : b + 1, :n]), result.quantized[b : b + 1], atol=1e-5)
        ]
        assert len(matches) >= 1
        levels.append(matches[0])
    return levels


@pytest.mark.parametrize("kind", ["rvq", "factorized_rvq"])
def test_quantizer_dropout_varies_levels_per_item_in_training_only(kind: str) -> None:
    if kind == "rvq":
        q = ResidualVectorQuantizer(dim=4, n_q=4, codebook_size=16, kmeans_iters=3, quantizer_dropout=0.5)
    else:
        q = FactorizedResidualVectorQuantizer(dim=4, n_q=4, codebook_size=16, codebook_dim=2, quantizer_dropout=0.5)
    latent = torch.randn(32, 4, 5) * 3
    q.train()
    levels = per_item_levels(q, latent)
    assert len(set(levels)) >= 3
    assert levels.count(4) >= 8  # about (1 - p) + p / 4 of the items keep every level
    result = q(latent, FRAME_RATE)
    assert result.codes.shape == (32, 4, 5)
    assert 1.0 <= result.metrics["active_levels"] < 4.0
    q.eval()
    with torch.no_grad():
        result = q(latent, FRAME_RATE)
        assert torch.equal(result.quantized, q.decode(result.codes))
    assert "active_levels" not in result.metrics


def test_dropout_samples_within_the_requested_n_q_and_batch_one() -> None:
    q = ResidualVectorQuantizer(dim=4, n_q=6, codebook_size=8, kmeans_iters=0, quantizer_dropout=1.0).train()
    counts = [q.sample_active_levels(1, 3, torch.device("cpu")).item() for _ in range(200)]
    assert set(counts) == {1, 2, 3}
    assert q(torch.randn(1, 4, 3), FRAME_RATE, n_q=3).codes.shape == (1, 3, 3)


def test_no_dropout_when_probability_is_zero() -> None:
    q = ResidualVectorQuantizer(dim=4, n_q=3, codebook_size=8, kmeans_iters=2).train()
    assert q.sample_active_levels(16, 3, torch.device("cpu")) is None
    assert set(per_item_levels(q, torch.randn(8, 4, 5) * 3)) == {3}


def test_bitrate_for_each_n_q() -> None:
    q = ResidualVectorQuantizer(dim=4, n_q=5, codebook_size=1024, kmeans_iters=0).eval()
    for n in range(1, 6):
        result = q(torch.randn(1, 4, 3), 75.0, n)
        assert result.bits_per_second == pytest.approx(n * 10 * 75.0)
        assert result.codes.shape == (1, n, 3)
        assert sorted(k for k in result.metrics if k.startswith("q")) == sorted(
            f"q{i}/{s}" for i in range(n) for s in ("perplexity", "usage", "dead")
        )
    assert q.bits_per_frame() == 50.0


def test_n_q_out_of_range_is_rejected() -> None:
    q = ResidualVectorQuantizer(dim=4, n_q=2, codebook_size=8, kmeans_iters=0)
    with pytest.raises(ValueError, match=r"n_q must be in \[1, 2\]"):
        q(torch.randn(1, 4, 3), FRAME_RATE, n_q=3)
    with pytest.raises(ValueError, match=r"latent of shape \[batch, 4, frames\]"):
        q(torch.randn(1, 5, 3), FRAME_RATE)
    with pytest.raises(ValueError, match="codes out of range"):
        q.decode(torch.full((1, 2, 3), 8))


def test_dac_recipe_shapes_and_penalty_formula() -> None:
    q = FactorizedResidualVectorQuantizer(dim=32)
    assert q.codebook_sizes == [1024] * 12
    assert q.quantizer_dropout == 0.5 and q.commitment_weight == 0.25 and q.codebook_weight == 1.0
    assert all(level.codebook.weight.shape == (1024, 8) for level in q.levels)
    assert q.bits_per_frame() == 120.0
    q.eval()
    latent = torch.randn(2, 32, 11)
    result = q(latent, 50.0, n_q=1)
    level = q.levels[0]
    rows = latent.transpose(1, 2).reshape(-1, 32)
    z_e = level.in_proj(rows)
    cosine = F.normalize(z_e, dim=1) @ F.normalize(level.codebook.weight, dim=1).T
    indices = cosine.argmax(1)
    assert torch.equal(result.codes.reshape(-1), indices)
    z_q = level.codebook.weight[indices]
    mse = (z_e - z_q).pow(2).mean()
    assert torch.allclose(result.penalty, 0.25 * mse + 1.0 * mse, rtol=1e-5)
    assert torch.allclose(result.quantized, level.out_proj(z_q).view(2, 11, 32).transpose(1, 2), atol=1e-6)
    assert result.bits_per_second == pytest.approx(math.log2(1024) * 50)


def test_factorized_penalty_sums_levels_and_rvq_penalty_averages_them() -> None:
    latent = torch.randn(2, 8, 9)
    fact = FactorizedResidualVectorQuantizer(dim=8, n_q=3, codebook_size=16, codebook_dim=4).eval()
    result = fact(latent, FRAME_RATE)
    expected = 0.25 * result.metrics["commitment"] + 1.0 * result.metrics["codebook"]
    assert torch.allclose(result.penalty, expected, rtol=1e-5)
    rvq = ResidualVectorQuantizer(dim=8, n_q=3, codebook_size=16, kmeans_iters=0, commitment_weight=2.0).eval()
    result = rvq(latent, FRAME_RATE)
    assert torch.allclose(result.penalty, 2.0 * result.metrics["commitment"] / 3, rtol=1e-5)


def test_rvq_with_codebook_projection_learns_through_it() -> None:
    q = ResidualVectorQuantizer(dim=16, n_q=2, codebook_size=8, codebook_dim=4, kmeans_iters=2).train()
    latent = torch.randn(2, 16, 6, requires_grad=True)
    result = q(latent, FRAME_RATE)
    assert q.levels[0].codebook.embed.shape == (8, 4)
    (result.quantized.pow(2).sum() + result.penalty).backward()
    assert q.in_proj.weight.grad.abs().sum() > 0 and q.out_proj.weight.grad.abs().sum() > 0
    assert latent.grad.abs().sum() > 0
