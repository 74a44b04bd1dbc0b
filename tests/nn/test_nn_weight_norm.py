"""remove_weight_norm folds parametrizations in place without changing outputs."""

from __future__ import annotations

import copy

import torch

from codecbench.nn.conv import Conv1d, ConvTranspose1d
from codecbench.nn.dac_blocks import build_dac_decoder, build_dac_encoder
from codecbench.nn.weight_norm import has_weight_norm, remove_weight_norm


def _perturb(module: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))


def test_remove_weight_norm_preserves_encoder_and_decoder_outputs() -> None:
    encoder = build_dac_encoder(4, (2, 3), 8).eval()
    decoder = build_dac_decoder(16, (2, 3), 8).eval()
    _perturb(encoder)
    _perturb(decoder)
    x = torch.randn(2, 1, 60)
    with torch.no_grad():
        before_z = encoder(x)
        before_y = decoder(before_z)
        assert has_weight_norm(encoder)
        remove_weight_norm(encoder)
        remove_weight_norm(decoder)
        assert not has_weight_norm(encoder) and not has_weight_norm(decoder)
        torch.testing.assert_close(encoder(x), before_z, atol=1e-5, rtol=0)
        torch.testing.assert_close(decoder(before_z), before_y, atol=1e-5, rtol=0)
    names = {name for name, _ in encoder.named_parameters()}
    assert not any("parametrizations" in name for name in names)
    assert all(p.requires_grad for p in encoder.parameters())


def test_remove_on_a_deepcopy_leaves_the_original_working() -> None:
    conv = Conv1d(3, 5, 4, stride=2)
    convtr = ConvTranspose1d(5, 3, 4, stride=2)
    original = torch.nn.Sequential(conv, convtr)
    x = torch.randn(1, 3, 20)
    expected = original(x)
    folded = remove_weight_norm(copy.deepcopy(original))
    torch.testing.assert_close(folded(x), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(original(x), expected)
    assert has_weight_norm(original)
    state = original.state_dict()
    assert any(k.endswith("original0") for k in state)


def test_folded_weights_load_into_fresh_model() -> None:
    trained = build_dac_encoder(4, (2,), 8)
    _perturb(trained)
    fresh = build_dac_encoder(4, (2,), 8)
    fresh.load_state_dict(trained.state_dict())
    remove_weight_norm(fresh)
    x = torch.randn(1, 1, 32)
    torch.testing.assert_close(fresh(x), trained(x), atol=1e-5, rtol=0)
