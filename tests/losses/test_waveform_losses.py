from __future__ import annotations

import pytest
import torch

from codecbench.losses import LOSSES, LossInputs
from codecbench.losses.waveform import si_sdr_db


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    reference = torch.randn(3, 1, 1000)
    return reference, reference + 0.1 * torch.randn(3, 1, 1000)


def test_l1_and_mse_values() -> None:
    reference, estimate = _pair()
    inputs = LossInputs(reference=reference, reconstruction=estimate)
    assert LOSSES.create("l1")(inputs).item() == pytest.approx((estimate - reference).abs().mean().item(), rel=1e-6)
    assert LOSSES.create("mse")(inputs).item() == pytest.approx((estimate - reference).pow(2).mean().item(), rel=1e-6)
    for name in ("l1", "mse"):
        assert LOSSES.create(name)(LossInputs(reference=reference, reconstruction=reference.clone())).item() == 0.0


def test_si_sdr_is_sign_correct_scale_invariant_and_matches_formula() -> None:
    reference, estimate = _pair()
    loss = LOSSES.create("si_sdr")
    noisy = loss(LossInputs(reference=reference, reconstruction=estimate)).item()
    clean = loss(LossInputs(reference=reference, reconstruction=reference.clone())).item()
    assert clean < -60.0 < noisy  # identical signals give the minimum (a large negative dB value)
    rescaled = loss(LossInputs(reference=reference, reconstruction=0.01 * estimate)).item()
    assert rescaled == pytest.approx(noisy, abs=1e-3)  # level-blind by design
    # Closed form on one item: estimate = a * reference + orthogonal noise.
    ref = torch.tensor([1.0, -1.0, 1.0, -1.0])
    noise = torch.tensor([1.0, 1.0, -1.0, -1.0]) * 0.5
    value = si_sdr_db((2 * ref + noise)[None, None], ref[None, None], zero_mean=False, eps=0.0)
    expected = 10 * torch.log10((2 * ref).pow(2).sum() / noise.pow(2).sum())
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    assert LOSSES.create("si_sdr", clip_min=-30.0)(LossInputs(reference, reference.clone())).item() == -30.0


@pytest.mark.parametrize("name", ["l1", "mse", "si_sdr"])
def test_gradients_flow(name: str) -> None:
    reference, estimate = _pair()
    estimate.requires_grad_(True)
    LOSSES.create(name)(LossInputs(reference=reference, reconstruction=estimate)).backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0


def test_shape_mismatch_is_explained() -> None:
    reference, estimate = _pair()
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        LOSSES.create("l1")(LossInputs(reference=reference, reconstruction=estimate[:, :, :10]))


def test_registry_names_and_gin_construction() -> None:
    import gin

    assert {"l1", "mse", "si_sdr", "mel", "stft", "adversarial", "discriminator", "feature_matching"} <= set(
        LOSSES.names()
    )
    assert "distillation" in LOSSES

    @gin.configurable("build_loss_for_test")
    def build(loss: object = None) -> object:
        return loss

    gin.parse_config(
        """
        build_loss_for_test.loss = @codecbench.losses.mel()
        codecbench.losses.mel.window_lengths = [64, 256]
        codecbench.losses.mel.n_mels = [10, 40]
        codecbench.losses.mel.mag_weight = 0.0
        """
    )
    loss = build()
    assert loss.scales == ((64, 16, 10), (256, 64, 40)) and loss.mag_weight == 0.0
