"""Every registered discriminator: output structure, shapes, gradients, batch independence, autocast."""

from __future__ import annotations

import pytest
import torch

from codecbench.discriminators import DISCRIMINATORS, Discriminator
from codecbench.types import DiscriminatorOutput
from tests.discriminators.conftest import make_tiny, sub_count, total_loss

NAMES = ["mpd", "msd", "msstft", "mrd", "combined"]
# Short, odd, prime, and not a multiple of any period (2, 3, 5, 7, 11) or STFT hop (128, 256, 512).
SHAPES = [(1, 4000), (3, 4000), (1, 6083), (3, 7919)]


def test_all_builtins_registered() -> None:
    assert set(NAMES) <= set(DISCRIMINATORS.names())
    for name in NAMES:
        assert issubclass(DISCRIMINATORS.get(name), Discriminator)
        assert DISCRIMINATORS.entry(name).description


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("batch", "length"), SHAPES)
def test_outputs_and_gradients(name: str, batch: int, length: int) -> None:
    disc = make_tiny(name)
    audio = (0.3 * torch.randn(batch, 1, length)).requires_grad_()
    outputs = disc(audio)
    assert isinstance(outputs, list) and len(outputs) == sub_count(name)
    for out in outputs:
        assert isinstance(out, DiscriminatorOutput)
        assert out.logits.shape[0] == batch and out.logits.shape[1] == 1
        assert torch.isfinite(out.logits).all()
        assert len(out.feature_maps) > 0
        for fmap in out.feature_maps:
            assert fmap.shape[0] == batch and fmap.numel() > 0
    total_loss(outputs).backward()
    assert audio.grad is not None and audio.grad.abs().sum() > 0
    for pname, param in disc.named_parameters():
        assert param.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, f"{name}: zero gradient at {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_items_are_judged_independently(name: str) -> None:
    disc = make_tiny(name, normalize_level=True) if name != "combined" else make_tiny(name)
    audio = torch.randn(3, 1, 4411) * torch.tensor([0.1, 1.0, 0.5]).view(3, 1, 1)
    batched = disc(audio)
    single = disc(audio[1:2])
    for b_out, s_out in zip(batched, single):
        torch.testing.assert_close(b_out.logits[1:2], s_out.logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_is_finite_and_convs_follow_it(name: str) -> None:
    disc = make_tiny(name)
    audio = (0.3 * torch.randn(2, 1, 5001)).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = disc(audio)
        loss = total_loss(outputs)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(o.logits.float()).all() for o in outputs)
    assert all(o.feature_maps[-1].dtype == torch.bfloat16 for o in outputs)
    assert torch.isfinite(audio.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in disc.parameters())


@pytest.mark.parametrize("name", ["msstft", "mrd", "combined"])
def test_stft_runs_in_fp32_without_autocast(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[torch.dtype, bool]] = []
    real_stft = torch.stft

    def spy(x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        seen.append((x.dtype, torch.is_autocast_enabled("cpu")))
        return real_stft(x, *args, **kwargs)

    monkeypatch.setattr(torch, "stft", spy)
    disc = make_tiny(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        disc(torch.randn(2, 1, 4000).to(torch.bfloat16))
    assert len(seen) == 3
    assert all(dtype == torch.float32 and not autocast for dtype, autocast in seen)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_seed(name: str) -> None:
    audio = torch.randn(2, 1, 4000)
    results = []
    for _ in range(2):
        torch.manual_seed(123)
        disc = make_tiny(name)
        results.append((disc.state_dict(), disc(audio)))
    (state_a, out_a), (state_b, out_b) = results
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        torch.testing.assert_close(state_a[key], state_b[key], rtol=0, atol=0)
    for a, b in zip(out_a, out_b):
        torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["mpd", "msd", "msstft", "mrd"])
def test_level_sensitivity_matches_flag(name: str) -> None:
    audio = 0.5 * torch.randn(2, 1, 4000)
    seeing = make_tiny(name)
    assert seeing.sees_absolute_level is True
    for a, b in zip(seeing(audio), seeing(0.1 * audio)):
        assert (a.logits - b.logits).abs().max() > 1e-5  # far above float32 noise on these ~0.05 logits
    blind = make_tiny(name, normalize_level=True)
    assert blind.sees_absolute_level is False
    for a, b in zip(blind(audio), blind(0.1 * audio)):
        torch.testing.assert_close(a.logits, b.logits, rtol=1e-4, atol=1e-6)
        for fa, fb in zip(a.feature_maps, b.feature_maps):
            torch.testing.assert_close(fa, fb, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["mpd", "msd", "msstft", "mrd"])
@pytest.mark.parametrize("shape", [(4000,), (2, 4000), (2, 2, 4000)])
def test_rejects_non_mono_batches(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        make_tiny(name)(torch.randn(*shape))


@pytest.mark.parametrize("name", ["mpd", "msd", "msstft", "mrd"])
def test_rejects_too_short_audio(name: str) -> None:
    with pytest.raises(ValueError, match="samples but needs at least"):
        make_tiny(name)(torch.randn(1, 1, 3))
