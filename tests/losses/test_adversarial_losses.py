from __future__ import annotations

import pytest
import torch

from codecbench.losses import LOSSES, LossInputs
from codecbench.types import DiscriminatorOutput


def _out(logits: list[float], maps: list[list[float]]) -> DiscriminatorOutput:
    return DiscriminatorOutput(torch.tensor(logits), [torch.tensor(m) for m in maps])


AUDIO = torch.zeros(1, 1, 8)


def _inputs(real: list[DiscriminatorOutput] | None, fake: list[DiscriminatorOutput] | None) -> LossInputs:
    return LossInputs(reference=AUDIO, reconstruction=AUDIO, real=real, fake=fake)


FAKE = [_out([0.5, -1.0], [[1.0, 2.0], [0.0]]), _out([2.0], [[3.0]])]
REAL = [_out([1.0, 0.0], [[1.5, 1.0], [4.0]]), _out([-0.5], [[1.0]])]


def test_generator_adversarial_hand_computed() -> None:
    # least squares per sub-D: mean((1-l)^2): D0 = (0.25 + 4) / 2 = 2.125, D1 = 1.0
    ls = LOSSES.create("adversarial")(_inputs(None, FAKE)).item()
    assert ls == pytest.approx((2.125 + 1.0) / 2)
    assert LOSSES.create("adversarial", reduction="sum")(_inputs(None, FAKE)).item() == pytest.approx(3.125)
    # hinge: mean(relu(1-l)): D0 = (0.5 + 2) / 2 = 1.25, D1 = 0
    assert LOSSES.create("adversarial", kind="hinge")(_inputs(None, FAKE)).item() == pytest.approx(0.625)


def test_discriminator_loss_hand_computed() -> None:
    # least squares: D0 real mean((1-[1,0])^2)=0.5, fake mean([0.25,1])=0.625 ; D1 real 2.25, fake 4
    ls = LOSSES.create("discriminator")(_inputs(REAL, FAKE)).item()
    assert ls == pytest.approx(((0.5 + 0.625) + (2.25 + 4.0)) / 2)
    # hinge: D0 real mean(relu(1-[1,0]))=0.5, fake mean(relu(1+[0.5,-1]))=0.75 ; D1 real 1.5, fake 3
    hinge = LOSSES.create("discriminator", kind="hinge")(_inputs(REAL, FAKE)).item()
    assert hinge == pytest.approx(((0.5 + 0.75) + (1.5 + 3.0)) / 2)


def test_feature_matching_hand_computed() -> None:
    # D0 layers: L1([1,2],[1.5,1]) = 0.75, L1([0],[4]) = 4 -> mean 2.375; D1: L1([3],[1]) = 2
    plain = LOSSES.create("feature_matching")(_inputs(REAL, FAKE)).item()
    assert plain == pytest.approx((2.375 + 2.0) / 2)
    assert LOSSES.create("feature_matching", reduction="sum")(_inputs(REAL, FAKE)).item() == pytest.approx(
        0.75 + 4.0 + 2.0
    )
    # relative: each layer divided by mean|real|: 0.75/1.25 = 0.6, 4/4 = 1 -> 0.8; D1: 2/1 = 2
    relative = LOSSES.create("feature_matching", relative=True)(_inputs(REAL, FAKE)).item()
    assert relative == pytest.approx((0.8 + 2.0) / 2)


def test_zero_or_minimal_when_matched() -> None:
    same = [_out([1.0, 1.0], [[1.0, 2.0]])]
    assert LOSSES.create("feature_matching")(_inputs(same, same)).item() == 0.0
    assert LOSSES.create("adversarial")(_inputs(None, same)).item() == 0.0  # D says "real" everywhere
    assert LOSSES.create("adversarial", kind="hinge")(_inputs(None, same)).item() == 0.0


def test_gradients_reach_fake_not_real() -> None:
    fake_map = torch.tensor([1.0, 2.0], requires_grad=True)
    real_map = torch.tensor([0.0, 0.0], requires_grad=True)
    logits = torch.tensor([0.3], requires_grad=True)
    fake = [DiscriminatorOutput(logits, [fake_map])]
    real = [DiscriminatorOutput(torch.tensor([1.0]), [real_map])]
    total = LOSSES.create("feature_matching")(_inputs(real, fake)) + LOSSES.create("adversarial")(_inputs(real, fake))
    total.backward()
    assert torch.allclose(fake_map.grad, torch.tensor([0.5, 0.5]))  # d mean|x| / dx
    assert real_map.grad is None  # the real branch is a fixed target
    assert logits.grad.item() == pytest.approx(-2 * (1 - 0.3))


def test_flags_and_errors() -> None:
    for name in ("adversarial", "discriminator", "feature_matching"):
        loss = LOSSES.create(name)
        assert loss.needs_discriminator
        with pytest.raises(ValueError, match="needs_discriminator"):
            loss(_inputs(None, None))
    assert LOSSES.create("discriminator").trains_discriminator
    assert not LOSSES.create("discriminator").depends_on_output
    with pytest.raises(ValueError, match="kind"):
        LOSSES.create("adversarial", kind="wasserstein")
    with pytest.raises(ValueError, match="feature maps"):
        LOSSES.create("feature_matching")(_inputs([_out([1.0], [[1.0]])], [_out([1.0], [[1.0], [2.0]])]))
