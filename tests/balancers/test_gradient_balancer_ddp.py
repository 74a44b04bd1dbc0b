from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from codecbench.balancers import GradientBalancer


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        output = torch.full((2, 1, 16), float(rank + 1), requires_grad=True)
        losses = {"a": output.pow(2).sum() * (rank + 1), "b": output.abs().sum()}
        result = GradientBalancer({"a": 1.0, "b": 1.0}).backward(losses, output, {})
        payload = {k: v.item() for k, v in result.metrics.items() if "norm" in k}
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(payload))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_norms_are_averaged_across_processes(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for name in ("a", "b"):
        local = [r[f"grad_norm/{name}"] for r in ranks]
        assert local[0] != pytest.approx(local[1]) or name == "b"
        for r in ranks:  # every process uses the same, averaged norm
            assert r[f"ema_grad_norm/{name}"] == pytest.approx(sum(local) / 2, rel=1e-6)
