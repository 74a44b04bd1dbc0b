"""Codebook core: nearest-neighbour search, straight-through, k-means, EMA updates, dead-code restarts.

Pure algorithm (no Gin, no globals). Vectors are rows: ``x`` is [N, d], a codebook is [K, d].
Everything that touches distances or statistics runs in float32, also under ``torch.autocast``.
When ``torch.distributed`` is initialised, training-time statistics are summed over ranks and
random choices (k-means init, replacement samples) are taken from rank 0, so codebooks stay equal.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DEFAULT_MAX_ELEMENTS = 1 << 24  # distance-matrix entries computed at once (64 MiB in float32)


# ----------------------------------------------------------------------------- distributed helpers
def is_distributed() -> bool:
    """Whether a process group with more than one rank is active."""
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


def all_reduce_sum_(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over ranks in place (no-op without a process group)."""
    if is_distributed():
        torch.distributed.all_reduce(tensor)
    return tensor


def broadcast_(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``tensor`` with rank ``src``'s copy in place (no-op without a process group)."""
    if is_distributed():
        torch.distributed.broadcast(tensor, src)
    return tensor


# ----------------------------------------------------------------------------- search and straight-through
def _fp32(device: torch.device) -> torch.autocast:
    return torch.autocast(device_type=device.type, enabled=False)


def squared_distances(x: Tensor, codebook: Tensor) -> Tensor:
    """||x - c||^2 for every row pair, [N, K], via ||x||^2 - 2 x.c + ||c||^2 in float32."""
    with _fp32(x.device):
        x, codebook = x.float(), codebook.float()
        x2 = x.pow(2).sum(1, keepdim=True)
        return torch.addmm(x2 + codebook.pow(2).sum(1)[None], x, codebook.t(), alpha=-2.0).clamp_min_(0.0)


def nearest_code(x: Tensor, codebook: Tensor, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Tensor:
    """Index of the nearest codebook row for every row of ``x`` ([N] int64).

    Computes -2 x.c + ||c||^2 (||x||^2 does not change the argmin) with one ``addmm`` per chunk of
    rows, so at most ``max_elements`` distances exist at once. Ties go to the lower index.
    """
    if x.dim() != 2 or codebook.dim() != 2 or x.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"nearest_code: expected x [N, d] and codebook [K, d], got {tuple(x.shape)} and {tuple(codebook.shape)}"
        )
    with _fp32(x.device):
        x, codebook = x.float(), codebook.float()
        c2 = codebook.pow(2).sum(1)[None]
        ct = codebook.t()
        rows = max(1, max_elements // max(1, codebook.shape[0]))
        if x.shape[0] <= rows:
            return torch.addmm(c2, x, ct, alpha=-2.0).argmin(1)
        return torch.cat([torch.addmm(c2, chunk, ct, alpha=-2.0).argmin(1) for chunk in x.split(rows)])


def straight_through(x: Tensor, quantized: Tensor) -> Tensor:
    """Exactly the value of ``quantized``; gradient: identity to ``x``, none to ``quantized``.

    Written as ``sg(q) + (x - sg(x))`` rather than ``x + sg(q - x)``: the added term is exactly zero,
    so the forward value is bit-identical to ``quantized`` and ``decode(encode(x))`` matches it.
    """
    quantized = quantized.detach()
    if not x.requires_grad:
        return quantized
    return quantized + (x - x.detach())


# ----------------------------------------------------------------------------- statistics
def code_counts(indices: Tensor, size: int) -> Tensor:
    """How often each of ``size`` codes occurs in ``indices`` (float32 [size])."""
    return torch.bincount(indices.reshape(-1), minlength=size).float()


def laplace_smoothed(cluster_size: Tensor, epsilon: float) -> Tensor:
    """EnCodec's Laplace smoothing: (n_k + eps) / (n + K eps) * n, so no cluster size is zero."""
    total = cluster_size.sum()
    return (cluster_size + epsilon) / (total + cluster_size.numel() * epsilon) * total


def ema_(average: Tensor, value: Tensor, decay: float) -> Tensor:
    """average <- decay * average + (1 - decay) * value, in place."""
    return average.lerp_(value, 1.0 - decay)


def sample_rows(x: Tensor, count: int) -> Tensor:
    """``count`` random rows of ``x``: distinct when there are enough, with replacement otherwise."""
    n = x.shape[0]
    distinct = n >= count
    return x[torch.randperm(n, device=x.device)[:count] if distinct else torch.randint(n, (count,), device=x.device)]


def perplexity(counts: Tensor) -> Tensor:
    """exp(entropy) of the code distribution along the last dim (1 = one code, K = uniform)."""
    probs = counts / counts.sum(-1, keepdim=True).clamp_min(1e-12)
    return torch.exp(-(probs * probs.clamp_min(1e-12).log()).sum(-1))


def usage_metrics(counts: Tensor, cluster_size: Tensor, threshold_dead: float) -> dict[str, Tensor]:
    """Per-level statistics for stacked levels: counts and cluster sizes [L, K] -> three [L] tensors.

    ``perplexity`` and ``usage`` (fraction of codes used) describe this batch; ``dead`` counts codes
    whose EMA usage is below ``threshold_dead``.
    """
    counts, cluster_size = counts.detach().float(), cluster_size.detach().float()
    return {
        "perplexity": perplexity(counts),
        "usage": (counts > 0).float().mean(-1),
        "dead": (cluster_size < threshold_dead).float().sum(-1),
    }


# ----------------------------------------------------------------------------- k-means
def kmeans_plus_plus(samples: Tensor, num_clusters: int) -> Tensor:
    """Greedy k-means++ seeding (as scikit-learn): D^2 sampling, best of 2 + log K candidates per centroid.

    Runs without host synchronisation; falls back to uniform sampling when every D^2 is zero.
    """
    n = samples.shape[0]
    trials = 2 + int(math.log(num_clusters))
    centroids = samples.new_empty(num_clusters, samples.shape[1])
    centroids[0] = samples[torch.randint(n, (1,), device=samples.device)[0]]
    d2 = (samples - centroids[0]).pow(2).sum(1)
    for k in range(1, num_clusters):
        candidates = torch.multinomial(d2 + 1e-30, trials, replacement=True)
        trial_d2 = torch.minimum(d2[None], squared_distances(samples[candidates], samples))  # [trials, N]
        best = trial_d2.sum(1).argmin()
        centroids[k] = samples[candidates[best]]
        d2 = trial_d2[best]
    return centroids


KMEANS_PLUS_PLUS_MAX_CLUSTERS = 256


def kmeans(
    samples: Tensor, num_clusters: int, iters: int, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means: (centroids [K, d], cluster sizes [K]) in float32. Uses the global torch RNG.

    Seeding is k-means++ for up to 256 clusters; for larger codebooks its K sequential passes cost more
    than the Lloyd iterations, so centroids start from distinct random samples (as EnCodec). With no more
    samples than clusters, k-means is degenerate: every sample becomes a centroid, the remaining
    centroids are random samples, and no Lloyd iteration runs (dead-code restarts then spread them).
    An empty cluster keeps its previous centroid.
    """
    with _fp32(samples.device):
        samples = samples.detach().float()
        n = samples.shape[0]
        if n <= num_clusters:
            extra = torch.randint(n, (num_clusters - n,), device=samples.device)
            centroids = torch.cat([samples, samples[extra]])
            return centroids, code_counts(nearest_code(samples, centroids, max_elements), num_clusters)
        if num_clusters <= KMEANS_PLUS_PLUS_MAX_CLUSTERS:
            centroids = kmeans_plus_plus(samples, num_clusters)
        else:
            centroids = samples[torch.randperm(n, device=samples.device)[:num_clusters]]
        for _ in range(iters):
            index = nearest_code(samples, centroids, max_elements)
            counts = code_counts(index, num_clusters)
            sums = samples.new_zeros(num_clusters, samples.shape[1]).index_add_(0, index, samples)
            centroids = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1.0)[:, None], centroids)
        return centroids, code_counts(nearest_code(samples, centroids, max_elements), num_clusters)


# ----------------------------------------------------------------------------- the codebook module
class Codebook(nn.Module):
    """K vectors of size d with search, usage statistics and training-time updates.

    ``learnable=False`` (EnCodec): the vectors are a buffer updated by an EMA of the inputs assigned to
    them (``update``), with Laplace-smoothed cluster sizes. ``learnable=True`` (DAC): the vectors are a
    parameter trained by the quantizer's codebook loss; ``update`` only tracks usage. Either way
    ``update`` can initialise the codebook by k-means on the first training batch and replace codes
    whose EMA usage falls below ``threshold_dead`` with current inputs. ``normalize`` searches with
    L2-normalised inputs and codes (cosine similarity); lookups return the stored vectors.

    ``cluster_size`` (EMA usage) counts assignments per training step summed over ranks, so
    ``threshold_dead`` is absolute (EnCodec: 2). With N rows per step a code's mean usage is N / K: keep the
    threshold well below that (e.g. 0.1 N / K for small batches), or almost every code counts as dead.
    """

    def __init__(
        self,
        dim: int,
        size: int,
        *,
        learnable: bool = False,
        normalize: bool = False,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_iters: int = 50,
        threshold_dead: float = 2.0,
        restart_dead: bool = True,
        max_elements: int = DEFAULT_MAX_ELEMENTS,
    ) -> None:
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"Codebook: dim and size must be positive, got dim={dim}, size={size}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"Codebook: decay must be in [0, 1), got {decay}")
        if kmeans_iters < 0:
            raise ValueError(f"Codebook: kmeans_iters must be >= 0, got {kmeans_iters}")
        self.dim, self.size = dim, size
        self.learnable, self.normalize = learnable, normalize
        self.decay, self.epsilon = decay, epsilon
        self.kmeans_iters, self.threshold_dead, self.restart_dead = kmeans_iters, threshold_dead, restart_dead
        self.max_elements = max_elements
        init = torch.randn(size, dim)
        # EMA usage (assignments per training step, summed over ranks). Prior: every code starts exactly at
        # the dead threshold, alive until a step passes without enough use; embed_sum stays embed * size.
        prior = threshold_dead if threshold_dead > 0 else 1.0
        self.register_buffer("cluster_size", torch.full((size,), float(prior)))
        if learnable:
            self.weight = nn.Parameter(init)
        else:
            self.register_buffer("embed", init)
            self.register_buffer("embed_sum", init * prior)
        self.register_buffer("initialized", torch.tensor(kmeans_iters == 0))
        self._initialized = kmeans_iters == 0  # host mirror of the buffer: no device sync per forward
        self._warned = False

    def extra_repr(self) -> str:
        kind = "learnable" if self.learnable else f"ema decay={self.decay}"
        return f"{self.size} x {self.dim}, {kind}, normalize={self.normalize}, kmeans_iters={self.kmeans_iters}"

    @property
    def vectors(self) -> Tensor:
        """The codebook, [K, d]."""
        return self.weight if self.learnable else self.embed

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._initialized = bool(self.initialized)

    # -- inference ---------------------------------------------------------------------------
    def search_space(self, x: Tensor) -> Tensor:
        """``x`` as the search compares it (L2-normalised when ``normalize``)."""
        return F.normalize(x.float(), dim=-1) if self.normalize else x

    def assign(self, x: Tensor) -> Tensor:
        """Nearest code of every row of ``x`` [N, d] -> [N] int64."""
        codes = self.vectors.detach()
        if self.normalize:
            codes = F.normalize(codes.float(), dim=-1)
        return nearest_code(self.search_space(x.detach()), codes, self.max_elements)

    def lookup(self, indices: Tensor) -> Tensor:
        """Code vectors for ``indices`` [N] -> [N, d]."""
        return F.embedding(indices, self.vectors)

    # -- training ----------------------------------------------------------------------------
    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """k-means on ``x`` (rank 0's, broadcast) if not done yet; ``x`` are the rows this codebook quantizes."""
        if self._initialized:
            return
        with _fp32(x.device):
            if is_distributed() and torch.distributed.get_rank() != 0:  # rank 0 computes, the others receive
                centroids = x.new_empty(self.size, self.dim, dtype=torch.float32)
                counts = x.new_empty(self.size, dtype=torch.float32)
            else:
                centroids, counts = kmeans(
                    self.search_space(x.detach().float()), self.size, self.kmeans_iters, self.max_elements
                )
            broadcast_(centroids)
            broadcast_(counts)
            self.vectors.data.copy_(centroids)
            self.cluster_size.copy_(counts)
            if not self.learnable:
                self.embed_sum.copy_(centroids * counts[:, None])
        self.initialized.fill_(True)
        self._initialized = True

    @torch.no_grad()
    def update(self, x: Tensor, indices: Tensor) -> Tensor:
        """One training step's statistics from inputs ``x`` [N, d] assigned to ``indices`` [N].

        Updates EMA usage (and, when not learnable, the EMA codebook), then restarts dead codes.
        Returns this step's code counts summed over ranks, [K] float32.
        """
        with _fp32(x.device):
            x = x.detach().float()
            counts = code_counts(indices, self.size)
            if self.learnable:
                all_reduce_sum_(counts)
                ema_(self.cluster_size, counts, self.decay)
            else:
                sums = x.new_zeros(self.size, self.dim).index_add_(0, indices, x)
                if is_distributed():  # one collective for both statistics
                    stats = all_reduce_sum_(torch.cat([counts[:, None], sums], 1))
                    counts, sums = stats[:, 0], stats[:, 1:]
                ema_(self.cluster_size, counts, self.decay)
                ema_(self.embed_sum, sums, self.decay)
                torch.div(self.embed_sum, laplace_smoothed(self.cluster_size, self.epsilon)[:, None], out=self.embed)
            if self.restart_dead and self.threshold_dead > 0:
                self._warn_if_threshold_unreachable(x.shape[0])
                self._restart_dead(x)
        return counts

    def _warn_if_threshold_unreachable(self, rows: int) -> None:
        """Warn once when even uniform usage (rows / K per code) stays below the dead-code threshold."""
        world = torch.distributed.get_world_size() if is_distributed() else 1
        mean_usage = rows * world / self.size
        if self._warned or mean_usage >= self.threshold_dead:
            return
        self._warned = True
        warnings.warn(
            f"Codebook: {rows * world} rows per step over {self.size} codes is {mean_usage:.3g} uses per code, "
            f"below threshold_dead={self.threshold_dead}: nearly every code will be restarted at every step. "
            f"Lower threshold_dead (e.g. {0.1 * mean_usage:.2g}) or use larger batches.",
            stacklevel=2,
        )

    def _restart_dead(self, x: Tensor) -> None:
        """Replace every code whose EMA usage is below the threshold by a random current input (no host sync)."""
        dead = (self.cluster_size < self.threshold_dead)[:, None]
        samples = broadcast_(sample_rows(x, self.size).contiguous()).to(self.vectors.dtype)
        vectors = self.vectors.data
        torch.where(dead, samples, vectors, out=vectors)
        if not self.learnable:
            torch.where(dead, samples * self.threshold_dead, self.embed_sum, out=self.embed_sum)
        self.cluster_size.masked_fill_(dead[:, 0], self.threshold_dead)

    def counts(self, indices: Tensor) -> Tensor:
        """This batch's code counts (local, no statistics update), [K] float32."""
        return code_counts(indices, self.size)
