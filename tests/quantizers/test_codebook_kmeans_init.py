"""k-means initialisation edge cases: fewer samples than codes, and large codebooks."""

from __future__ import annotations

import torch

from codecbench.quantizers.codebook import kmeans


def test_fewer_samples_than_codes_uses_every_sample() -> None:
    torch.manual_seed(0)
    samples = torch.randn(10, 4)
    centroids, counts = kmeans(samples, 32, iters=50)
    assert centroids.shape == (32, 4)
    # every sample is its own centroid (distance zero), so quantizing the samples is exact
    distances = torch.cdist(samples, centroids).min(dim=1).values
    assert torch.all(distances == 0)
    assert counts.sum() == 10


def test_large_codebook_init_is_random_samples_then_lloyd() -> None:
    torch.manual_seed(0)
    centres = torch.randn(300, 3) * 10
    samples = (centres[torch.randint(300, (3000,))] + 0.01 * torch.randn(3000, 3))
    centroids, counts = kmeans(samples, 300, iters=20)
    assert counts.sum() == 3000
    error = torch.cdist(samples, centroids).min(dim=1).values.pow(2).mean()
    assert error < 0.02 * samples.var(0).sum()  # Lloyd from random samples: within 2 % of the data variance
