"""Codebook core: search, straight-through, k-means, EMA statistics, dead-code restarts."""

from __future__ import annotations

import pytest
import torch

from codecbench.quantizers.codebook import (
    Codebook,
    kmeans,
    laplace_smoothed,
    nearest_code,
    perplexity,
    squared_distances,
    straight_through,
)


def test_nearest_code_matches_brute_force_with_and_without_chunks() -> None:
    x, codebook = torch.randn(1000, 6), torch.randn(37, 6)
    expected = torch.cdist(x.double(), codebook.double()).argmin(1)
    assert torch.equal(nearest_code(x, codebook), expected)
    assert torch.equal(nearest_code(x, codebook, max_elements=37 * 7), expected)  # 143 chunks of 7 rows
    assert torch.equal(nearest_code(x, codebook, max_elements=1), expected)  # one row at a time


def test_nearest_code_runs_in_float32_under_autocast() -> None:
    x, codebook = torch.randn(500, 8) * 30, torch.randn(64, 8) * 30
    expected = nearest_code(x, codebook)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = nearest_code(x, codebook)
        assert squared_distances(x, codebook).dtype == torch.float32
    assert torch.equal(got, expected)
    assert torch.equal(nearest_code(x.bfloat16(), codebook), nearest_code(x.bfloat16().float(), codebook))


def test_nearest_code_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="nearest_code"):
        nearest_code(torch.randn(4, 3), torch.randn(5, 2))


def test_squared_distances_match_cdist() -> None:
    x, codebook = torch.randn(50, 5), torch.randn(9, 5)
    assert torch.allclose(squared_distances(x, codebook), torch.cdist(x, codebook).pow(2), atol=1e-4)


def test_straight_through_value_is_exact_and_gradient_is_identity() -> None:
    x = torch.randn(7, 3, requires_grad=True)
    q = torch.round(x * 3) / 3
    q_leaf = q.detach().requires_grad_(True)
    out = straight_through(x, q_leaf)
    assert torch.equal(out, q)
    weights = torch.randn(7, 3)
    (out * weights).sum().backward()
    assert torch.equal(x.grad, weights)
    assert q_leaf.grad is None
    assert not straight_through(x.detach(), q_leaf).requires_grad


def test_kmeans_recovers_separated_clusters() -> None:
    centers = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0], [0.0, -5.0], [5.0, 5.0]])
    x = centers[torch.randint(5, (600,))] + 0.1 * torch.randn(600, 2)
    centroids, sizes = kmeans(x, 5, iters=20)
    assert torch.cdist(centroids, centers).min(1).values.max() < 0.05
    assert sizes.sum() == 600
    assert torch.cdist(centers, centroids).min(1).values.max() < 0.05  # every cluster has its centroid


def test_kmeans_with_fewer_samples_than_clusters() -> None:
    x = torch.randn(3, 4)
    centroids, sizes = kmeans(x, 8, iters=5)
    assert centroids.shape == (8, 4) and torch.isfinite(centroids).all()
    assert sizes.sum() == 3


def test_laplace_smoothing_keeps_total_and_removes_zeros() -> None:
    sizes = torch.tensor([0.0, 5.0, 0.0, 10.0])
    smoothed = laplace_smoothed(sizes, 1e-5)
    assert torch.allclose(smoothed.sum(), sizes.sum())
    assert (smoothed > 0).all()


def test_perplexity_bounds() -> None:
    assert torch.allclose(perplexity(torch.ones(16)), torch.tensor(16.0))
    assert torch.allclose(perplexity(torch.tensor([0.0, 9.0, 0.0])), torch.tensor(1.0))


def test_ema_update_matches_formula_and_moves_codes_toward_their_inputs() -> None:
    decay, eps = 0.8, 1e-5
    book = Codebook(2, 3, decay=decay, epsilon=eps, kmeans_iters=0, restart_dead=False)
    book.embed.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]))
    book.embed_sum.copy_(book.embed * book.cluster_size[:, None])
    assert torch.equal(book.cluster_size, torch.full((3,), 2.0))  # prior: the dead-code threshold
    x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [9.0, 2.0], [11.0, 2.0], [0.0, 12.0]])
    indices = book.assign(x)
    assert indices.tolist() == [0, 0, 1, 1, 2]
    before, size_before = book.embed.clone(), book.cluster_size.clone()
    counts = book.update(x, indices)
    assert counts.tolist() == [2.0, 2.0, 1.0]
    # independent recomputation of the EMA with Laplace smoothing
    size = decay * size_before + (1 - decay) * torch.tensor([2.0, 2.0, 1.0])
    sums = decay * before * size_before[:, None] + (1 - decay) * torch.stack([x[:2].sum(0), x[2:4].sum(0), x[4]])
    smoothed = (size + eps) / (size.sum() + 3 * eps) * size.sum()
    assert torch.allclose(book.cluster_size, size)
    assert torch.allclose(book.embed, sums / smoothed[:, None], atol=1e-5)
    means = torch.stack([x[:2].mean(0), x[2:4].mean(0), x[4]])
    assert ((book.embed - means).norm(dim=1) < (before - means).norm(dim=1)).all()


def test_ema_converges_to_assigned_means() -> None:
    book = Codebook(2, 2, decay=0.5, kmeans_iters=0, restart_dead=False)
    book.embed.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    book.embed_sum.copy_(book.embed * book.cluster_size[:, None])
    x = torch.tensor([[-3.0, 1.0], [-2.0, 1.0], [2.0, -1.0], [4.0, -1.0]])
    for _ in range(40):
        book.update(x, book.assign(x))
    assert torch.allclose(book.embed, torch.tensor([[-2.5, 1.0], [3.0, -1.0]]), atol=1e-3)


def test_dead_codes_are_replaced_by_current_inputs_only_when_dead() -> None:
    book = Codebook(3, 6, decay=0.9, kmeans_iters=0, threshold_dead=2.0, restart_dead=True)
    book.cluster_size.copy_(torch.tensor([50.0, 50.0, 50.0, 0.5, 0.5, 0.5]))
    book.embed_sum.copy_(book.embed * book.cluster_size[:, None])
    x = torch.randn(40, 3) + 100.0  # far from every code; all rows go to code 0, codes 3-5 are dead
    indices = torch.zeros(40, dtype=torch.long)
    book.update(x, indices)
    revived = book.embed[3:]
    # each revived code is one of the current inputs
    assert (torch.cdist(revived, x).min(1).values < 1e-5).all()
    assert torch.allclose(book.cluster_size[3:], torch.full((3,), 2.0))
    assert torch.allclose(book.embed_sum[3:], revived * 2.0)
    assert (book.embed[1:3].abs() < 20).all()  # live, unassigned codes stayed away from the new data


def test_restart_disabled_keeps_dead_codes() -> None:
    book = Codebook(3, 4, kmeans_iters=0, restart_dead=False)
    book.cluster_size.fill_(0.1)
    book.embed_sum.copy_(book.embed * 0.1)
    x = torch.randn(10, 3) + 100.0
    before = book.embed[1:].clone()
    book.update(x, torch.zeros(10, dtype=torch.long))
    assert torch.cdist(book.embed[1:], x).min() > 50
    assert torch.allclose(book.embed[1:], before, atol=1e-3)


def test_kmeans_initialisation_happens_once_and_survives_state_dict() -> None:
    centers = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0], [0.0, -4.0]])
    x = centers[torch.randint(4, (400,))] + 0.05 * torch.randn(400, 2)
    book = Codebook(2, 4, kmeans_iters=10)
    assert not bool(book.initialized)
    book.initialize(x)
    assert bool(book.initialized)
    assert torch.cdist(book.embed, centers).min(1).values.max() < 0.05
    assert torch.allclose(book.embed_sum, book.embed * book.cluster_size[:, None])
    after = book.embed.clone()
    book.initialize(x + 100)  # no second initialisation
    assert torch.equal(book.embed, after)
    fresh = Codebook(2, 4, kmeans_iters=10)
    fresh.load_state_dict(book.state_dict())
    fresh.initialize(x + 100)
    assert torch.equal(fresh.embed, after)


def test_learnable_codebook_is_a_parameter_and_normalised_search_is_cosine() -> None:
    book = Codebook(4, 16, learnable=True, normalize=True, kmeans_iters=0)
    assert isinstance(book.weight, torch.nn.Parameter)
    assert "embed" not in dict(book.named_buffers())
    x = torch.randn(100, 4)
    cosine = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(book.weight, dim=1).T
    assert torch.equal(book.assign(x), cosine.argmax(1))
    assert torch.equal(book.assign(x * 7.5), book.assign(x))  # scale-invariant


def test_unreachable_dead_threshold_warns_once() -> None:
    book = Codebook(2, 64, kmeans_iters=0, threshold_dead=2.0)
    x = torch.randn(10, 2)
    with pytest.warns(UserWarning, match=r"0.156 uses per code, below threshold_dead=2.0"):
        book.update(x, book.assign(x))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        book.update(x, book.assign(x))  # only once per codebook
        Codebook(2, 4, kmeans_iters=0, threshold_dead=2.0).update(torch.randn(40, 2), torch.zeros(40, dtype=torch.long))
