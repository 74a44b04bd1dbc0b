"""Learning-rate warm-up around torch schedulers, and the weight EMA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codecbench.training.ema import WeightEMA
from codecbench.training.schedules import WarmupScheduler, warmup_factor


def optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)


def test_warmup_factor() -> None:
    assert [warmup_factor(i, 4) for i in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_warmup_multiplies_an_exponential_decay_without_distorting_it() -> None:
    opt = optimizer()
    schedule = WarmupScheduler(opt, 3, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5))
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert seen == pytest.approx([1 / 3, 2 / 3 * 0.5, 0.25, 0.125, 0.0625])


def test_warmup_state_round_trip() -> None:
    opt = optimizer()
    schedule = WarmupScheduler(opt, 4, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9))
    for _ in range(2):
        opt.step()
        schedule.step()
    state = schedule.state_dict()
    opt2 = optimizer()
    other = WarmupScheduler(opt2, 4, torch.optim.lr_scheduler.ExponentialLR(opt2, gamma=0.9))
    other.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    opt.step(), opt2.step()
    schedule.step(), other.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])


def test_ema_averages_parameters_copies_buffers_and_swaps_in() -> None:
    model = nn.BatchNorm1d(2)
    ema = WeightEMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(3.0)  # starts at 1
        model.running_mean.fill_(7.0)
    ema.update(model)
    assert ema.shadow["weight"].tolist() == [2.0, 2.0]
    assert ema.shadow["running_mean"].tolist() == [7.0, 7.0]
    with ema.applied(model):
        assert model.weight.tolist() == [2.0, 2.0]
    assert model.weight.tolist() == [3.0, 3.0]
    with pytest.raises(ValueError):
        WeightEMA(model, decay=1.0)
