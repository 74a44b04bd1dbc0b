"""Inference fast paths equal the plain path: chunked / in-place Snake, time-major convolutions, DAC units.

Tolerance: the fast paths change only memory layout and summation order, so float32 results agree with
the plain (autograd-mode, channel-major) path to within a few float32 ulps of the output scale; the
tests allow 1e-5 relative to the largest output value (observed: 5e-7 on a whole DAC 16 kHz decoder).
"""

from __future__ import annotations

import importlib

import pytest
import torch
import torch.nn.functional as F

from codecbench.decoders.dac import DACDecoder
from codecbench.encoders.dac import DACEncoder
from codecbench.nn.conv import Conv1d, ConvTranspose1d, conv1d_time_major, is_time_major, to_time_major
from codecbench.nn.residual import ResidualUnit, dac_residual_unit
from codecbench.nn.snake import snake, snake_, snake_reference
from codecbench.nn.weight_norm import remove_weight_norm

snake_module = importlib.import_module("codecbench.nn.snake")  # the package re-exports a function of that name
conv_module = importlib.import_module("codecbench.nn.conv")


def assert_close_scaled(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-5) -> None:
    scale = expected.abs().max().clamp_min(1.0)
    torch.testing.assert_close(actual, expected, rtol=0.0, atol=rel * float(scale))


def _time_major(batch: int, channels: int, length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(batch, length, channels, dtype=dtype).transpose(1, 2)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk Snake every 64 elements and fold dilations from 4 channels, so small tensors take the fast paths."""
    monkeypatch.setattr(snake_module, "CHUNK_ELEMENTS", 64)
    monkeypatch.setattr(conv_module, "FOLD_DILATION_MIN_CHANNELS", 4)


@pytest.mark.parametrize("layout", ["channel_major", "time_major", "cropped"])
def test_snake_no_grad_matches_formula_in_every_layout(small_chunks: None, layout: str) -> None:
    torch.manual_seed(0)
    x = 3 * (_time_major(2, 6, 50) if layout == "time_major" else torch.randn(2, 6, 50))
    if layout == "cropped":
        x = x[..., 3:-4]
    alpha = torch.rand(1, 6, 1) * 2 + 0.05
    expected = snake_reference(x.double(), alpha.double()).float()
    with torch.no_grad():
        out = snake(x, alpha)
        assert out.stride(1) == 1 if layout == "time_major" else out.is_contiguous()
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
        y = x.clone()
        assert snake_(y, alpha) is y
        torch.testing.assert_close(y, expected, rtol=1e-6, atol=1e-6)


def test_snake_chunked_is_bit_identical_to_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    x, alpha = torch.randn(2, 5, 300), torch.rand(1, 5, 1) + 0.5
    with torch.no_grad():
        whole = snake(x, alpha)
        monkeypatch.setattr(snake_module, "CHUNK_ELEMENTS", 37)
        assert torch.equal(snake(x, alpha), whole)


def test_in_place_snake_refuses_tensors_that_need_gradients() -> None:
    x = torch.randn(1, 2, 8, requires_grad=True)
    with pytest.raises(RuntimeError, match="inference"):
        snake_(x, torch.ones(1, 2, 1))


@pytest.mark.parametrize(
    ("stride", "dilation", "left", "right", "groups"),
    [(1, 1, 3, 3, 1), (1, 3, 9, 9, 1), (1, 9, 54, 0, 1), (1, 3, 6, 3, 2), (2, 1, 1, 1, 1), (5, 1, 3, 2, 1)],
)
def test_time_major_conv_matches_conv1d(
    small_chunks: None, stride: int, dilation: int, left: int, right: int, groups: int
) -> None:
    torch.manual_seed(1)
    kernel = 7 if stride == 1 else 2 * stride
    x = _time_major(2, 8, 61)
    weight, bias = torch.randn(6, 8 // groups, kernel), torch.randn(6)
    expected = F.conv1d(F.pad(x, (left, right)), weight, bias, stride, 0, dilation, groups)
    out = conv1d_time_major(x, weight, bias, stride, left, right, dilation, groups)
    assert is_time_major(out)
    assert_close_scaled(out, expected)


@pytest.mark.parametrize("causal", [False, True])
def test_conv_modules_keep_values_and_time_major_layout(small_chunks: None, causal: bool) -> None:
    torch.manual_seed(2)
    conv = Conv1d(8, 8, 7, dilation=3, causal=causal)
    down = Conv1d(8, 16, 10, stride=5, causal=causal)
    up = ConvTranspose1d(16, 8, 10, stride=5, causal=causal)
    x = _time_major(2, 8, 100)
    for module, inp in ((conv, x), (down, x), (up, _time_major(2, 16, 20))):
        expected = module(inp.contiguous())  # grad mode: the plain nn.Conv1d / nn.ConvTranspose1d path
        with torch.no_grad():
            out = module(inp)
        assert is_time_major(out)
        assert_close_scaled(out, expected.detach())


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("layout", ["channel_major", "time_major"])
def test_dac_residual_unit_inference_path_matches_plain_sum(small_chunks: None, causal: bool, layout: str) -> None:
    torch.manual_seed(3)
    unit = dac_residual_unit(8, 9, causal=causal)
    with torch.no_grad():
        for snake_layer in (unit.block[0], unit.block[2]):
            snake_layer.alpha.uniform_(0.3, 2.0)
    x = _time_major(2, 8, 90) if layout == "time_major" else torch.randn(2, 8, 90)
    expected = ResidualUnit.forward(unit, x)
    with torch.inference_mode():
        out = unit(x)
    assert_close_scaled(out, expected.detach())


def test_dac_residual_unit_under_bf16_autocast_keeps_the_float32_skip() -> None:
    torch.manual_seed(4)
    unit = dac_residual_unit(8, 3)
    x = torch.randn(1, 8, 64)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = unit(x)
        plain = ResidualUnit.forward(unit, x)
    assert out.dtype == plain.dtype == torch.float32
    torch.testing.assert_close(out, plain, rtol=0.0, atol=1e-6)
    torch.testing.assert_close(out, ResidualUnit.forward(unit, x).detach(), rtol=0.05, atol=0.05)


def test_to_time_major_keeps_values() -> None:
    x = torch.randn(2, 4, 9)
    y = to_time_major(x)
    assert is_time_major(y) and torch.equal(x, y)
    assert to_time_major(y) is y


@pytest.mark.parametrize("fold_weight_norm", [False, True])
def test_dac_encoder_decoder_inference_matches_training_path(small_chunks: None, fold_weight_norm: bool) -> None:
    torch.manual_seed(5)
    encoder = DACEncoder(16000, (2, 4), channels=4, latent_dim=16).eval()
    decoder = DACDecoder(16000, (2, 4), channels=16, latent_dim=16).eval()
    audio = torch.randn(2, 1, 400)
    latent_plain = encoder(audio)
    audio_plain = decoder(latent_plain)
    if fold_weight_norm:
        remove_weight_norm(encoder)
        remove_weight_norm(decoder)
    with torch.inference_mode():
        latent = encoder(audio)
        assert latent.is_contiguous()
        assert_close_scaled(latent, latent_plain.detach())
        assert_close_scaled(decoder(latent), audio_plain.detach())
        assert_close_scaled(decoder(latent.transpose(1, 2).contiguous().transpose(1, 2)), audio_plain.detach())
