"""Finite scalar quantization: grid, codes, exact decode, gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from codecbench.quantizers import FiniteScalarQuantizer


def test_codes_in_range_and_codebook_size() -> None:
    q = FiniteScalarQuantizer(dim=12, levels=(8, 5, 5, 5)).train()
    assert q.codebook_sizes == [1000] and q.num_levels == 1
    result = q(torch.randn(3, 12, 41) * 10, 50.0)
    assert result.codes.shape == (3, 1, 41) and result.codes.dtype == torch.int64
    assert int(result.codes.min()) >= 0 and int(result.codes.max()) < 1000
    assert result.bits_per_second == pytest.approx(math.log2(1000) * 50.0)
    assert result.penalty.item() == 0.0


def test_grid_values_and_index_mapping_are_a_bijection() -> None:
    levels = (4, 3, 5)
    q = FiniteScalarQuantizer(dim=3, levels=levels).eval()
    grid = torch.tensor(list(itertools.product(*[range(n) for n in levels])), dtype=torch.float32)
    rounded = grid - q.half_width  # integer grid values, e.g. {-2..1}, {-1..1}, {-2..2}
    indices = q._indices(rounded)
    assert sorted(indices.tolist()) == list(range(math.prod(levels)))
    digits = (indices[:, None] // q.basis) % q.level_sizes
    assert torch.equal(digits.float(), grid)


def test_bounded_rounding_reaches_every_level_value_and_no_more() -> None:
    q = FiniteScalarQuantizer(dim=4, levels=(8, 5, 2, 3)).eval()
    z = torch.linspace(-20, 20, 4001)[:, None].expand(-1, 4)
    values = q._round(z)
    for channel, n in enumerate((8, 5, 2, 3)):
        distinct = values[:, channel].unique()
        assert len(distinct) == n
        assert torch.equal(distinct, torch.arange(n, dtype=torch.float32) - n // 2)


def test_decode_of_encode_is_exact() -> None:
    q = FiniteScalarQuantizer(dim=8, levels=(7, 6, 5)).eval()
    latent = torch.randn(2, 8, 33) * 3
    with torch.no_grad():
        result = q(latent, 25.0)
    assert torch.equal(q.encode(latent), result.codes)
    assert torch.equal(q.decode(result.codes), result.quantized)


def test_gradient_flows_to_the_input_and_both_projections() -> None:
    q = FiniteScalarQuantizer(dim=8, levels=(8, 5, 5, 5)).train()
    latent = torch.randn(2, 8, 10, requires_grad=True)
    result = q(latent, 50.0)
    (result.quantized.pow(2).sum() + result.penalty).backward()
    assert latent.grad.abs().sum() > 0
    assert q.in_proj.weight.grad.abs().sum() > 0 and q.out_proj.weight.grad.abs().sum() > 0


def test_usage_statistics_track_codes_in_training_only() -> None:
    q = FiniteScalarQuantizer(dim=4, levels=(3, 3)).train()
    q(torch.randn(4, 4, 50), 50.0)
    assert q.cluster_size.sum() > 0
    before = q.cluster_size.clone()
    q.eval()
    result = q(torch.randn(4, 4, 50), 50.0)
    assert torch.equal(q.cluster_size, before)
    assert 1.0 <= result.metrics["q0/perplexity"].item() <= 9.0
    assert 0.0 < result.metrics["q0/usage"].item() <= 1.0


def test_bad_levels_are_rejected() -> None:
    with pytest.raises(ValueError, match="levels must be integers >= 2"):
        FiniteScalarQuantizer(dim=4, levels=(8, 1))
