"""Two gloo ranks with different data keep identical codebooks (EMA stats all-reduced, k-means broadcast)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from codecbench.quantizers import FactorizedResidualVectorQuantizer, ResidualVectorQuantizer

# small test batches cannot reach the EnCodec dead-code threshold; the warning is tested in test_codebook.py
pytestmark = pytest.mark.filterwarnings("ignore:Codebook.*threshold_dead:UserWarning")

WORLD = 2


def rank_data(rank: int, steps: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(100 + rank)
    return [torch.randn(2, 4, 24, generator=generator) * (1 + rank) + 3 * rank for _ in range(steps)]


def make_models() -> tuple[ResidualVectorQuantizer, ResidualVectorQuantizer, FactorizedResidualVectorQuantizer]:
    torch.manual_seed(0)  # identical initial weights on every rank
    full = ResidualVectorQuantizer(
        dim=4, n_q=2, codebook_size=16, decay=0.9, kmeans_iters=5, threshold_dead=2.0, quantizer_dropout=0.5
    )
    plain = ResidualVectorQuantizer(dim=4, n_q=2, codebook_size=16, decay=0.9, kmeans_iters=0, restart_dead=False)
    fact = FactorizedResidualVectorQuantizer(
        dim=4, n_q=2, codebook_size=16, codebook_dim=2, restart_dead=True, kmeans_iters=3
    )
    return full, plain, fact


def worker(rank: int, init_file: str, out_dir: str) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        models = make_models()
        torch.manual_seed(1000 + rank)  # ranks draw different random numbers (dropout, restart samples)
        for model in models:
            model.train()
            for latent in rank_data(rank, 3):
                model(latent, 50.0)
        torch.save([m.state_dict() for m in models], Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_codebooks_agree_across_ranks_and_equal_single_process_statistics(tmp_path: Path) -> None:
    # fork (where available) skips re-importing torch in the children: ~1 s instead of 10-20 s with spawn
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(
        worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=WORLD, join=True, start_method=method
    )
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    for model_index in range(3):
        a, b = states[0][model_index], states[1][model_index]
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (model_index, key)
    # the k-means-free, restart-free model equals one process seeing both ranks' data
    single = make_models()[1].train()
    for step in range(3):
        both = torch.cat([rank_data(0, 3)[step], rank_data(1, 3)[step]])
        single(both, 50.0)
    for key, value in single.state_dict().items():
        assert torch.allclose(states[0][1][key], value, atol=1e-5), key
    # and the ranks' data really differed: a single rank alone would have given other codebooks
    alone = make_models()[1].train()
    for latent in rank_data(0, 3):
        alone(latent, 50.0)
    assert not torch.allclose(
        alone.state_dict()["levels.0.codebook.embed"], states[0][1]["levels.0.codebook.embed"], atol=1e-3
    )
