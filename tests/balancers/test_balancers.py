from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from codecbench.balancers import BALANCERS, GradientBalancer, WeightedBalancer
from codecbench.balancers.common import gradient_norm


class Toy(nn.Module):
    """Encoder -> decoder, plus a 'discriminator' used only inside a loss."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Conv1d(1, 4, 5, padding=2)
        self.decoder = nn.Conv1d(4, 1, 5, padding=2)
        self.discriminator = nn.Conv1d(1, 2, 3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        latent = self.encoder(x)
        return self.decoder(torch.tanh(latent)), latent


def _toy_pair(seed: int = 0) -> tuple[Toy, Toy]:
    torch.manual_seed(seed)
    a = Toy()
    b = Toy()
    b.load_state_dict(a.state_dict())
    return a, b


AUDIO = torch.randn(3, 1, 64, generator=torch.Generator().manual_seed(1))


def _losses(model: Toy, scale_b: float = 1.0) -> tuple[dict[str, Tensor], Tensor, dict[str, Tensor]]:
    output, latent = model(AUDIO)
    losses = {
        "l1": (output - AUDIO).abs().mean(),
        "mse": scale_b * (output - AUDIO).pow(2).mean(),
        "adv": (1 - model.discriminator(output)).pow(2).mean(),
    }
    direct = {"penalty": latent.pow(2).mean()}
    return losses, output, direct


def _grads(model: nn.Module) -> dict[str, Tensor | None]:
    return {name: None if p.grad is None else p.grad.clone() for name, p in model.named_parameters()}


def _assert_same_generator_grads(a: dict[str, Tensor | None], b: dict[str, Tensor | None]) -> None:
    for name in a:
        if name.startswith("discriminator"):
            continue
        assert a[name] is not None and b[name] is not None, name
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-7)


WEIGHTS = {"l1": 1.0, "mse": 3.0, "adv": 0.5, "penalty": 0.25}


@pytest.mark.parametrize("measure_shares", [False, True])
def test_weighted_equals_manual_weighted_sum(measure_shares: bool) -> None:
    model, manual = _toy_pair()
    losses, output, direct = _losses(model)
    result = WeightedBalancer(WEIGHTS).backward(losses, output, direct, measure_shares=measure_shares)
    m_losses, _, m_direct = _losses(manual)
    expected_total = sum(WEIGHTS[k] * v for k, v in {**m_losses, **m_direct}.items())
    expected_total.backward()
    _assert_same_generator_grads(_grads(model), _grads(manual))
    # The balancer works at the output: discriminator parameters get nothing from the generator losses.
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert result.total.item() == pytest.approx(expected_total.item(), rel=1e-6)
    assert set(result.metrics) >= {"l1", "mse", "adv", "penalty"}
    assert result.metrics["mse"].item() == pytest.approx(m_losses["mse"].item(), rel=1e-6)
    assert bool(result.shares) == measure_shares


def test_weighted_shares_are_weighted_gradient_norms() -> None:
    model, _ = _toy_pair()
    losses, output, direct = _losses(model)
    norms = {}
    for name, loss in losses.items():
        (grad,) = torch.autograd.grad(loss, output, retain_graph=True)
        norms[name] = WEIGHTS[name] * gradient_norm(grad, per_batch_item=True)
    total = sum(norms.values())
    result = BALANCERS.create("weighted", weights=WEIGHTS).backward(losses, output, direct, measure_shares=True)
    for name in losses:
        assert result.shares[name] == pytest.approx((norms[name] / total).item(), rel=1e-5)
    assert sum(result.shares.values()) == pytest.approx(1.0)


def test_weighted_missing_weight_lists_names() -> None:
    model, _ = _toy_pair()
    losses, output, direct = _losses(model)
    with pytest.raises(KeyError, match=r"no weight for loss\(es\) \['adv'\].*configured weights: \['l1', 'mse'\]"):
        WeightedBalancer({"l1": 1.0, "mse": 1.0}).backward(losses, output, direct)
    # Direct losses default to weight 1.
    WeightedBalancer({"l1": 1.0, "mse": 1.0, "adv": 1.0}).backward(losses, output, direct)


BALANCE_WEIGHTS = {"l1": 1.0, "mse": 2.0, "adv": 1.0}


@pytest.mark.parametrize("scale_b", [1.0, 1000.0, 1e-3])
def test_gradient_balancer_shares_follow_weights_whatever_the_scale(scale_b: float) -> None:
    model, _ = _toy_pair()
    losses, output, direct = _losses(model, scale_b=scale_b)
    result = GradientBalancer(BALANCE_WEIGHTS).backward(losses, output, direct)
    for name, weight in BALANCE_WEIGHTS.items():
        assert result.shares[name] == pytest.approx(weight / 4.0, abs=1e-5)


def _measured_shares(scale_b: float) -> dict[str, float]:
    """Shares measured from what the balancer actually delivered to the decoder's parameters.

    The decoder gradient is ``sum_i c_i J^T g_i``; solve for the coefficients by least squares on
    per-loss decoder gradients computed on an identical twin, then
    share_i = c_i ||g_i|| / sum_j c_j ||g_j|| (g_i: the loss's own gradient at the output).
    """
    model, twin = _toy_pair()
    losses, output, direct = _losses(model, scale_b=scale_b)
    GradientBalancer(BALANCE_WEIGHTS).backward(losses, output, direct)
    delivered = torch.cat([p.grad.flatten() for p in model.decoder.parameters()]).double()
    t_losses, t_output, _ = _losses(twin, scale_b=scale_b)
    basis, norms = [], {}
    for name, loss in t_losses.items():
        grads = torch.autograd.grad(loss, [t_output, *twin.decoder.parameters()], retain_graph=True)
        norms[name] = gradient_norm(grads[0], True).item()
        basis.append(torch.cat([g.flatten() for g in grads[1:]]).double())
    coefficients = torch.linalg.lstsq(torch.stack(basis, dim=1), delivered[:, None]).solution[:, 0]
    contributions = {name: c.item() * norms[name] for name, c in zip(t_losses, coefficients)}
    total = sum(contributions.values())
    return {name: value / total for name, value in contributions.items()}


def test_measured_output_gradient_shares_match_weights_and_ignore_raw_scale() -> None:
    plain, scaled = _measured_shares(1.0), _measured_shares(1000.0)
    for name, weight in BALANCE_WEIGHTS.items():
        assert plain[name] == pytest.approx(weight / 4.0, abs=1e-4)
        assert scaled[name] == pytest.approx(plain[name], abs=1e-4)


def test_gradient_balancer_parameter_grads_match_manual() -> None:
    model, manual = _toy_pair()
    losses, output, direct = _losses(model, scale_b=1000.0)
    GradientBalancer(BALANCE_WEIGHTS, total_norm=2.0).backward(losses, output, direct)
    # Manual EnCodec rule on the first step (EMA == current norm): c_i = total * w_i / sum(w) / ||g_i||.
    m_losses, m_output, m_direct = _losses(manual, scale_b=1000.0)
    combined = torch.zeros(())
    for name, loss in m_losses.items():
        (grad,) = torch.autograd.grad(loss, m_output, retain_graph=True)
        coefficient = 2.0 * BALANCE_WEIGHTS[name] / 4.0 / (1e-12 + gradient_norm(grad, True))
        combined = combined + coefficient * loss
    (combined + m_direct["penalty"]).backward()
    _assert_same_generator_grads(_grads(model), _grads(manual))
    assert all(p.grad is None for p in model.discriminator.parameters())


def test_gradient_balancer_output_gradient_norm_and_metrics() -> None:
    model, _ = _toy_pair()
    losses, output, direct = _losses(model)
    output.retain_grad()
    result = GradientBalancer({"l1": 1.0, "mse": 1.0, "adv": 2.0}, total_norm=1.0).backward(losses, output, direct)
    for name in ("l1", "mse", "adv"):
        assert {f"grad_norm/{name}", f"ema_grad_norm/{name}", f"scale/{name}", name} <= set(result.metrics)
    # Each rescaled gradient has norm total_norm * w_i / sum(w); they sum to at most total_norm.
    assert gradient_norm(output.grad, True).item() <= 1.0 + 1e-5
    assert result.total.requires_grad is False


def test_gradient_balancer_ema_and_nonfinite_steps() -> None:
    balancer = GradientBalancer(BALANCE_WEIGHTS, ema_decay=0.5)
    model, _ = _toy_pair()
    losses, output, direct = _losses(model)
    first = balancer.backward(losses, output, direct).metrics["ema_grad_norm/mse"].item()
    losses, output, direct = _losses(model, scale_b=3.0)
    second = balancer.backward(losses, output, direct)
    raw = second.metrics["grad_norm/mse"].item()
    # Bias-corrected EMA: (0.5 * n1 + n2) / (0.5 + 1).
    assert second.metrics["ema_grad_norm/mse"].item() == pytest.approx((0.5 * first + raw) / 1.5, rel=1e-5)
    state = balancer.state_dict()
    losses, output, direct = _losses(model)
    losses["mse"] = losses["mse"] * float("nan")
    balancer.backward(losses, output, direct)
    assert balancer.state_dict()["ema_sum"]["mse"] == pytest.approx(state["ema_sum"]["mse"])
    restored = GradientBalancer(BALANCE_WEIGHTS)
    restored.load_state_dict(state)
    assert restored.state_dict() == state


def test_only_direct_losses_and_unreached_losses() -> None:
    model, manual = _toy_pair()
    _, output, direct = _losses(model)
    result = GradientBalancer({}).backward({}, output, direct)
    assert result.shares == {} and model.encoder.weight.grad is not None
    _, _, m_direct = _losses(manual)
    m_direct["penalty"].backward()
    _assert_same_generator_grads(
        {k: v for k, v in _grads(model).items() if k.startswith("encoder")},
        {k: v for k, v in _grads(manual).items() if k.startswith("encoder")},
    )
    losses, output, direct = _losses(_toy_pair()[0])
    losses["constant"] = torch.tensor(1.0)  # does not reach the output: zero gradient, no crash
    weights = {**BALANCE_WEIGHTS, "constant": 1.0}
    result = GradientBalancer(weights).backward(losses, output, direct)
    assert result.shares["constant"] == 0.0


def test_registry_and_bad_weights() -> None:
    assert {"weighted", "gradient"} <= set(BALANCERS.names())
    model, _ = _toy_pair()
    losses, output, direct = _losses(model)
    with pytest.raises(KeyError, match="gradient balancer: no weight"):
        BALANCERS.create("gradient", weights={"l1": 1.0}).backward(losses, output, direct)
    with pytest.raises(ValueError, match=">= 0"):
        BALANCERS.create("gradient", weights={"l1": -1.0, "mse": 1.0, "adv": 1.0}).backward(losses, output, direct)
    with pytest.raises(ValueError, match="ema_decay"):
        GradientBalancer({}, ema_decay=1.0)


@pytest.mark.parametrize("scale", [0.0, 0.25, 1.0])
def test_gradient_balancer_weight_scales_set_the_gated_share(scale: float) -> None:
    model, _ = _toy_pair()
    losses, output, direct = _losses(model)
    result = GradientBalancer(BALANCE_WEIGHTS).backward(
        losses, output, direct, weight_scales={"adv": torch.tensor(scale)})
    scaled = {**BALANCE_WEIGHTS, "adv": BALANCE_WEIGHTS["adv"] * scale}
    for name, weight in scaled.items():
        assert result.shares[name] == pytest.approx(weight / sum(scaled.values()), abs=1e-5), name


def test_gradient_balancer_with_every_balanced_weight_gated_to_zero_sends_no_gradient() -> None:
    model, _ = _toy_pair()
    losses, output, _ = _losses(model)
    result = GradientBalancer(BALANCE_WEIGHTS).backward(losses, output, {}, weight_scales=dict.fromkeys(losses, 0.0))
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in model.parameters())
    assert torch.isfinite(result.total) and result.total.item() == 0.0


def test_weighted_balancer_weight_scales_equal_scaled_weights() -> None:
    model, manual = _toy_pair()
    losses, output, direct = _losses(model)
    result = WeightedBalancer(WEIGHTS).backward(losses, output, direct, weight_scales={"adv": torch.tensor(0.5)})
    expected = WeightedBalancer({**WEIGHTS, "adv": WEIGHTS["adv"] * 0.5})
    m_losses, m_output, m_direct = _losses(manual)
    expected_result = expected.backward(m_losses, m_output, m_direct)
    _assert_same_generator_grads(_grads(model), _grads(manual))
    assert result.total.item() == pytest.approx(expected_result.total.item(), rel=1e-6)
