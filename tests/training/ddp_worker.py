"""Run ``codecbench train`` under torchrun and save every rank's final weights (used by test_distributed)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import codecbench.training.trainer as trainer_module
from codecbench.cli import main

_original_teardown = trainer_module.Trainer._teardown


def _dump_then_teardown(self: trainer_module.Trainer) -> None:
    if hasattr(self, "codec"):
        state = {"codec": self.codec.state_dict(), "step": self.step}
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
        torch.save(state, Path(self.run_dir) / f"rank{self.info.rank}.pt")
    _original_teardown(self)


if __name__ == "__main__":
    trainer_module.Trainer._teardown = _dump_then_teardown
    raise SystemExit(main(["train", *sys.argv[1:]]))
