"""Contract over every registered quantizer: shapes, modes, batch 1, odd lengths, exact decode, state dicts."""

from __future__ import annotations

import copy
import inspect

import gin
import pytest
import torch

import codecbench.quantizers  # noqa: F401  (registers everything)
from codecbench.quantizers.base import QUANTIZERS, Quantizer

# small test batches cannot reach the EnCodec dead-code threshold; the warning is tested in test_codebook.py
pytestmark = pytest.mark.filterwarnings("ignore:Codebook.*threshold_dead:UserWarning")

DIM = 16
SMALL: dict[str, dict] = {
    "vq": {"dim": DIM, "codebook_size": 32, "kmeans_iters": 5},
    "rvq": {"dim": DIM, "n_q": 3, "codebook_size": 32, "codebook_dim": 8, "kmeans_iters": 5, "quantizer_dropout": 0.5},
    "factorized_rvq": {"dim": DIM, "n_q": 3, "codebook_size": 32, "codebook_dim": 4, "restart_dead": True},
    "split_rvq": {
        "dim": DIM,
        "n_q": 3,
        "codebook_size": 32,
        "codebook_dim": 8,
        "kmeans_iters": 5,
        "quantizer_dropout": 0.5,
    },
    "fsq": {"dim": DIM, "levels": (4, 3, 5)},
}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def make(name: str, device: str = "cpu") -> Quantizer:
    return QUANTIZERS.create(name, **SMALL[name]).to(device)


def test_every_registered_quantizer_is_covered() -> None:
    assert set(QUANTIZERS.names()) >= set(SMALL)
    assert set(SMALL) >= {"vq", "rvq", "factorized_rvq", "split_rvq", "fsq"}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_constructor_defaults_are_gin_friendly_and_default_construction_works(name: str) -> None:
    cls = QUANTIZERS.get(name)
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.default is not inspect.Parameter.empty:
            assert param.default is None or isinstance(param.default, (int, float, bool, str, tuple)), param
    assert isinstance(cls(), Quantizer)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("frames", [1, 7])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_in_train_and_eval(name: str, batch: int, frames: int, device: str) -> None:
    q = make(name, device)
    for training in (True, False):
        q.train(training)
        latent = torch.randn(batch, DIM, frames, device=device, requires_grad=True)
        result = q(latent, 12.5)
        n_q = q.num_levels
        assert result.quantized.shape == latent.shape and result.quantized.dtype == torch.float32
        assert result.codes.shape == (batch, n_q, frames) and result.codes.dtype == torch.int64
        assert result.codes.device == latent.device
        for i, size in enumerate(q.codebook_sizes):
            assert int(result.codes[:, i].min()) >= 0 and int(result.codes[:, i].max()) < size
        assert result.bits_per_second == pytest.approx(q.bits_per_frame(n_q) * 12.5)
        assert result.penalty.dim() == 0 and torch.isfinite(result.penalty)
        for i in range(n_q):
            for stat in ("perplexity", "usage", "dead"):
                value = result.metrics[f"q{i}/{stat}"]
                assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad
        assert all(not v.requires_grad for v in result.metrics.values())
        (result.quantized.square().mean() + result.penalty).backward()
        assert latent.grad is not None and torch.isfinite(latent.grad).all()
        assert latent.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(SMALL))
def test_decode_of_encode_equals_quantized_exactly_in_eval(name: str) -> None:
    q = make(name)
    q.train()
    for _ in range(3):
        q(torch.randn(4, DIM, 9), 50.0)
    q.eval()
    latent = torch.randn(2, DIM, 11)
    for n_q in range(1, q.num_levels + 1):
        with torch.no_grad():
            result = q(latent, 50.0, n_q)
        codes = q.encode(latent, n_q)
        assert torch.equal(codes, result.codes)
        assert torch.equal(q.decode(codes), result.quantized)
    # also when the forward records gradients (straight-through adds an exact zero)
    result = q(latent.clone().requires_grad_(True), 50.0)
    assert torch.equal(q.decode(result.codes), result.quantized)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_state_dict_round_trip_restores_behaviour(name: str) -> None:
    q = make(name)
    q.train()
    for _ in range(3):
        q(torch.randn(4, DIM, 9), 50.0)
    clone = QUANTIZERS.create(name, **SMALL[name])
    clone.load_state_dict(q.state_dict())
    latent = torch.randn(4, DIM, 9)
    for training in (False, True):
        q.train(training)
        clone.train(training)
        torch.manual_seed(11)
        a = q(latent, 50.0)
        torch.manual_seed(11)
        b = clone(latent, 50.0)
        assert torch.equal(a.codes, b.codes) and torch.equal(a.quantized, b.quantized)
        assert torch.equal(a.penalty, b.penalty)
    for key, value in q.state_dict().items():  # the training step above updated both identically
        assert torch.equal(value, clone.state_dict()[key]), key
    assert any(key.endswith("cluster_size") for key in q.state_dict())


def test_initialised_flag_is_restored_from_the_state_dict() -> None:
    q = make("rvq").train()
    q(torch.randn(2, DIM, 30), 50.0)
    clone = QUANTIZERS.create("rvq", **SMALL["rvq"])
    clone.load_state_dict(q.state_dict())
    clone.train()
    books = [level.codebook.embed.clone() for level in clone.levels]
    far = torch.randn(2, DIM, 30) + 1000.0
    clone.levels[0].codebook.decay = 1.0 - 1e-9  # freeze the EMA and restarts: only a (wrong)
    clone.levels[0].codebook.restart_dead = False  # re-initialisation by k-means could move the codes
    clone(far, 50.0)
    assert torch.allclose(clone.levels[0].codebook.embed, books[0], atol=1e-3)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_all_tensors_are_registered_so_to_device_moves_them(name: str) -> None:
    q = make(name)
    q.train()
    q(torch.randn(2, DIM, 5), 50.0)
    q = q.to(torch.float64)
    for module in q.modules():
        for attr, value in vars(module).items():
            assert not isinstance(value, torch.Tensor), f"{type(module).__name__}.{attr} is an unregistered tensor"
    floats = [t for t in (*q.parameters(), *q.buffers()) if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float64 for t in floats)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_autocast_keeps_the_quantizer_in_float32(name: str) -> None:
    q = make(name).eval()
    latent = torch.randn(2, DIM, 9)
    with torch.no_grad():
        expected = q(latent, 50.0)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            got = q(latent, 50.0)
    assert got.quantized.dtype == torch.float32
    assert torch.equal(got.codes, expected.codes)
    assert torch.equal(got.quantized, expected.quantized)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bad_inputs_get_specific_errors(name: str) -> None:
    q = make(name)
    with pytest.raises(ValueError, match="latent of shape"):
        q(torch.randn(2, DIM + 1, 5), 50.0)
    with pytest.raises(ValueError, match="n_q"):
        q(torch.randn(2, DIM, 5), 50.0, n_q=q.num_levels + 1)
    with pytest.raises(ValueError, match="codes"):
        q.decode(torch.zeros(2, q.num_levels + 1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="integer codes"):
        q.decode(torch.zeros(2, 1, 5))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_no_statistics_change_in_eval_and_deepcopy_is_independent(name: str) -> None:
    q = make(name)
    q.train()
    q(torch.randn(2, DIM, 5), 50.0)
    q.eval()
    copied = copy.deepcopy(q)
    q(torch.randn(2, DIM, 5) * 10, 50.0)
    for key, value in q.state_dict().items():
        assert torch.equal(value, copied.state_dict()[key]), key


def test_gin_bindings_configure_registered_quantizers() -> None:
    gin.parse_config(
        """
        codecbench.quantizers.factorized_rvq.n_q = 9
        codecbench.quantizers.fsq.levels = (7, 5, 5)
        codecbench.quantizers.split_rvq.semantic_codebook_size = 64
        """
    )
    assert gin.get_configurable("codecbench.quantizers.factorized_rvq")(dim=16).codebook_sizes == [1024] * 9
    assert gin.get_configurable("codecbench.quantizers.fsq")(dim=16).codebook_sizes == [175]
    split = gin.get_configurable("codecbench.quantizers.split_rvq")(dim=16, n_q=3, codebook_size=32, codebook_dim=8)
    assert split.codebook_sizes == [64, 32, 32]
