"""Snake: the fast forms match the plain formula, values and gradients, and save less for backward."""

from __future__ import annotations

import torch

from codecbench.nn.snake import Snake, snake, snake_reference


def _inputs(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    x = (3 * torch.randn(2, 5, 37, dtype=dtype)).requires_grad_()
    alpha = (torch.rand(1, 5, 1, dtype=dtype) * 2 + 0.05).requires_grad_()
    return x, alpha


def test_forward_matches_reference_with_and_without_grad() -> None:
    x, alpha = _inputs()
    expected = snake_reference(x, alpha)
    torch.testing.assert_close(snake(x, alpha), expected)
    with torch.no_grad():
        torch.testing.assert_close(snake(x, alpha), expected)
    with torch.inference_mode():
        torch.testing.assert_close(snake(x.detach(), alpha.detach()), expected.detach())


def test_gradients_match_reference() -> None:
    x, alpha = _inputs()
    upstream = torch.randn(2, 5, 37, dtype=torch.float64)
    gx, ga = torch.autograd.grad((snake(x, alpha) * upstream).sum(), (x, alpha))
    rx, ra = torch.autograd.grad((snake_reference(x, alpha) * upstream).sum(), (x, alpha))
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(ga, ra)
    assert torch.autograd.gradcheck(snake, (x, alpha))


def test_float32_gradients_close_to_float64_reference() -> None:
    x, alpha = _inputs(torch.float32)
    gx, ga = torch.autograd.grad(snake(x, alpha).square().sum(), (x, alpha))
    x64, a64 = x.detach().double().requires_grad_(), alpha.detach().double().requires_grad_()
    rx, ra = torch.autograd.grad(snake_reference(x64, a64).square().sum(), (x64, a64))
    torch.testing.assert_close(gx, rx.float(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ga, ra.float(), rtol=1e-4, atol=1e-3)


def test_only_input_grad_or_only_alpha_grad() -> None:
    x, alpha = _inputs()
    (gx,) = torch.autograd.grad(snake(x, alpha.detach()).sum(), (x,))
    (rx,) = torch.autograd.grad(snake_reference(x, alpha.detach()).sum(), (x,))
    torch.testing.assert_close(gx, rx)
    (ga,) = torch.autograd.grad(snake(x.detach(), alpha).sum(), (alpha,))
    (ra,) = torch.autograd.grad(snake_reference(x.detach(), alpha).sum(), (alpha,))
    torch.testing.assert_close(ga, ra)


def test_alpha_near_zero_is_finite() -> None:
    x = torch.randn(1, 3, 16, requires_grad=True)
    alpha = torch.zeros(1, 3, 1, requires_grad=True)
    y = snake(x, alpha)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all() and torch.isfinite(alpha.grad).all()
    torch.testing.assert_close(y, x)  # sin(0)^2 / eps == 0


def _saved_elements(fn, x: torch.Tensor, alpha: torch.Tensor) -> int:
    count = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal count
        count += t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x, alpha)
    return count


def test_saves_less_memory_than_plain_formula() -> None:
    x = torch.randn(2, 8, 1000, requires_grad=True)
    alpha = torch.ones(1, 8, 1, requires_grad=True)
    fast, plain = _saved_elements(snake, x, alpha), _saved_elements(snake_reference, x, alpha)
    assert fast <= x.numel() + alpha.numel()
    assert plain >= 2 * x.numel()


def test_module_has_per_channel_alpha_and_bf16_input() -> None:
    module = Snake(6)
    assert module.alpha.shape == (1, 6, 1)
    x = torch.randn(2, 6, 10)
    torch.testing.assert_close(module(x), snake_reference(x, module.alpha))
    y = module(x.bfloat16())
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert module.alpha.grad is not None and module.alpha.grad.dtype == torch.float32
