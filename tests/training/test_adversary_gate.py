"""The adversary gate: a bias-corrected EMA of the discriminator margin, scaled and clamped to [0, 1]."""

from __future__ import annotations

import math

import pytest
import torch

from codecbench.training.adversary_gate import MarginGate


def reference_gate(margins: list[float], full_margin: float, decay: float) -> float:
    """The same average written out: sum_k decay^(n-k) m_k / sum_k decay^(n-k), finite margins only."""
    finite = [m for m in margins if math.isfinite(m)]
    n = len(finite)
    weights = [decay ** (n - 1 - k) for k in range(n)]
    average = sum(w * m for w, m in zip(weights, finite)) / sum(weights)
    return min(max(average / full_margin, 0.0), 1.0)


def test_gate_is_closed_before_the_discriminator_has_stepped() -> None:
    assert MarginGate(0.5).value.item() == 0.0


@pytest.mark.parametrize("margins", [[0.1, 0.2, 0.05], [0.9, 1.4, 2.0], [-0.3, 0.1], [0.2, math.nan, 0.3, math.inf]])
def test_gate_follows_the_running_margin(margins: list[float]) -> None:
    gate = MarginGate(full_margin=0.5, decay=0.8)
    for margin in margins:
        gate.update(torch.tensor(margin))
    assert gate.value.item() == pytest.approx(reference_gate(margins, 0.5, 0.8), rel=1e-6)
    assert 0.0 <= gate.value.item() <= 1.0


def test_constant_margin_gives_its_ratio_from_the_first_update() -> None:
    gate = MarginGate(full_margin=1.0, decay=0.99)
    gate.update(torch.tensor(0.3))
    assert gate.value.item() == pytest.approx(0.3)  # bias-corrected: no ramp from zero


def test_state_round_trips() -> None:
    gate = MarginGate(0.5)
    for margin in (0.1, 0.4):
        gate.update(torch.tensor(margin))
    restored = MarginGate(0.5)
    restored.load_state_dict(gate.state_dict())
    gate.update(torch.tensor(0.2))
    restored.update(torch.tensor(0.2))
    assert restored.value.item() == pytest.approx(gate.value.item())


@pytest.mark.parametrize(("full_margin", "decay"), [(0.0, 0.9), (-1.0, 0.9), (0.5, 1.0), (0.5, -0.1)])
def test_invalid_settings_are_refused(full_margin: float, decay: float) -> None:
    with pytest.raises(ValueError, match="adversary gate"):
        MarginGate(full_margin, decay)
