from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from codecbench.teachers import TEACHERS, CheckpointTeacher, RandomConvTeacher
from codecbench.teachers.resample import resample


def _small(seed: int = 0) -> RandomConvTeacher:
    return RandomConvTeacher(feature_dim=48, hidden_dim=32, n_layers=2, seed=seed)


def test_registered() -> None:
    assert {"random_conv", "checkpoint"} <= set(TEACHERS.names())


def test_random_conv_shapes_rate_and_determinism() -> None:
    audio = 0.1 * torch.randn(2, 1, 16000)
    default = TEACHERS.create("random_conv")
    assert (default.sample_rate, default.feature_dim, default.frame_rate) == (16000, 256, 50.0)
    assert default(audio).shape == (2, 256, 51)  # centred frames: T // hop + 1
    torch.manual_seed(123)
    a = _small(seed=7)
    state = torch.random.get_rng_state()
    b = _small(seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)  # building one leaves the global RNG alone
    assert torch.equal(a(audio), b(audio))
    assert not torch.allclose(a(audio), _small(seed=8)(audio))
    assert a(audio[:, 0]).shape == (2, 48, 51)  # [B, T] accepted too
    with pytest.raises(ValueError, match="whole number"):
        RandomConvTeacher(sample_rate=16000, frame_rate=48.0)


def test_random_conv_is_frozen_and_gain_invariant() -> None:
    teacher = _small()
    assert all(not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training
    audio = (0.1 * torch.randn(1, 1, 8000)).requires_grad_(True)
    features = teacher(audio)
    assert torch.allclose(features, teacher(audio * 4.0), atol=1e-4)
    features.sum().backward()  # gradients may pass through to the input, never into the teacher
    assert all(p.grad is None for p in teacher.parameters())


def test_checkpoint_round_trip_torchscript(tmp_path: Path) -> None:
    teacher = _small(seed=5)
    audio = 0.1 * torch.randn(2, 1, 16000)
    path = tmp_path / "teacher.ts"
    with pytest.warns(torch.jit.TracerWarning):
        torch.jit.trace(teacher, audio).save(str(path))
    loaded = TEACHERS.create("checkpoint", path=str(path))
    assert loaded.feature_dim == 48 and loaded.sample_rate == 16000
    assert torch.allclose(loaded(audio), teacher(audio), atol=1e-6)
    other = 0.1 * torch.randn(1, 1, 7000)  # the trace generalises to other lengths
    assert torch.allclose(loaded(other), teacher(other), atol=1e-6)
    assert all(not p.requires_grad for p in loaded.parameters()) and not loaded.training


@pytest.mark.slow  # torch.export tracing costs ~8 s on one core
def test_checkpoint_round_trip_torch_export(tmp_path: Path) -> None:
    teacher = _small(seed=6)
    audio = 0.1 * torch.randn(2, 1, 16000)
    auto = torch.export.Dim.AUTO
    program = torch.export.export(teacher, (audio,), dynamic_shapes={"audio": {0: auto, 2: auto}})
    path = tmp_path / "teacher.pt2"
    torch.export.save(program, str(path))
    loaded = CheckpointTeacher(str(path))
    other = 0.1 * torch.randn(3, 1, 7000)
    assert loaded.feature_dim == 48 and torch.allclose(loaded(other), teacher(other), atol=1e-6)
    loaded.train()
    assert not loaded.training


def test_checkpoint_static_export_is_explained(tmp_path: Path) -> None:
    static = tmp_path / "static.pt2"
    model = _HuggingFaceLike()
    torch.export.save(torch.export.export(model, (torch.randn(2, 3200),)), str(static))
    with pytest.raises(ValueError, match="dynamic batch and time"):
        CheckpointTeacher(str(static), input_layout="bt", output_layout="bfc")


class _HuggingFaceLike(nn.Module):
    """[B, T] -> ([B, frames, C],) like a Hugging Face encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv1d(1, 12, 320, stride=320)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.proj(audio[:, None]).transpose(1, 2),)


def test_checkpoint_layouts(tmp_path: Path) -> None:
    model = _HuggingFaceLike()
    path = tmp_path / "hf.pt"
    torch.jit.script(model).save(str(path))
    teacher = CheckpointTeacher(str(path), sample_rate=16000, input_layout="bt", output_layout="bfc")
    audio = torch.randn(2, 1, 3200)
    assert teacher.feature_dim == 12
    assert torch.allclose(teacher(audio), model(audio[:, 0])[0].transpose(1, 2))
    with pytest.raises(ValueError, match="12-dim"):
        CheckpointTeacher(str(path), input_layout="bt", output_layout="bfc", feature_dim=64)


def test_checkpoint_from_weights(tmp_path: Path) -> None:
    teacher = _small(seed=9)
    audio = 0.1 * torch.randn(1, 1, 8000)
    saved = teacher.save(tmp_path / "teacher_weights.pt")
    assert torch.equal(CheckpointTeacher(str(saved))(audio), teacher(audio))
    bare = tmp_path / "bare.pt"
    torch.save(teacher.state_dict(), bare)
    arch = {"feature_dim": 48, "hidden_dim": 32, "n_layers": 2}
    assert torch.equal(CheckpointTeacher(str(bare), architecture=arch)(audio), teacher(audio))
    with pytest.raises(ValueError, match="does not fit the random_conv architecture"):
        CheckpointTeacher(str(bare), architecture={"feature_dim": 48, "hidden_dim": 32, "n_layers": 3})
    with pytest.raises(ValueError, match="built for 16000 Hz"):
        CheckpointTeacher(str(saved), sample_rate=24000)


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no file at"):
        CheckpointTeacher(str(tmp_path / "missing.pt"))
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="neither a TorchScript file nor a weights-only state dict"):
        CheckpointTeacher(str(text))
    pickled = tmp_path / "module.pt"
    torch.save(_HuggingFaceLike(), pickled)  # a pickled module is refused, never unpickled
    with pytest.raises(ValueError, match=r"pickled nn\.Module objects are not loaded"):
        CheckpointTeacher(str(pickled))
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(ValueError, match="not a state dict of tensors"):
        CheckpointTeacher(str(listed))


@pytest.mark.parametrize(("orig", "new"), [(24000, 16000), (16000, 24000), (44100, 16000)])
def test_resample_matches_soxr_and_a_pure_tone(orig: int, new: int) -> None:
    soxr = pytest.importorskip("soxr")
    x = torch.sin(2 * math.pi * 440 * torch.arange(orig) / orig)
    y = resample(x[None, None], orig, new)[0, 0]
    assert y.shape == (new,)
    tone = torch.sin(2 * math.pi * 440 * torch.arange(new) / new)
    assert (y - tone)[200:-200].abs().max() < 1e-3
    np.testing.assert_allclose(y.numpy()[200:-200], soxr.resample(x.numpy(), orig, new)[200:-200], atol=1e-4)
