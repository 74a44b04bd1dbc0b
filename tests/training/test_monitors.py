"""Training monitors and validation measures against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codecbench.metrics.si_sdr import SISDR
from codecbench.metrics.snr import SNR
from codecbench.metrics.spectral import mel_distance as reference_mel_distance
from codecbench.training.monitors import (
    LatentGradientProbe,
    codebook_monitors,
    count_nonfinite,
    discriminator_monitors,
    signal_monitors,
)
from codecbench.training.signal_metrics import amplitude_ratio_pct, mel_distance, rms_dbfs, si_sdr_db, snr_db
from codecbench.training.validation import codebook_usage
from codecbench.types import DiscriminatorOutput


def signals() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    reference = 0.3 * torch.randn(3, 1, 4000)
    estimate = 0.7 * reference + 0.05 * torch.randn(3, 1, 4000) + 0.01
    return reference, estimate


def test_snr_and_si_sdr_match_the_bench_metrics_and_are_sign_correct() -> None:
    reference, estimate = signals()
    for i in range(3):
        ref, est = reference[i, 0].double().numpy(), estimate[i, 0].double().numpy()
        assert float(snr_db(reference, estimate)[i]) == pytest.approx(SNR()(ref, est, 16000), abs=1e-3)
        assert float(si_sdr_db(reference, estimate)[i]) == pytest.approx(SISDR()(ref, est, 16000), abs=1e-3)
    better = 0.95 * reference
    assert (snr_db(reference, better) > snr_db(reference, estimate)).all()
    assert float(snr_db(reference, reference)[0]) == 100.0


def test_amplitude_rms_and_mel_distance() -> None:
    reference, estimate = signals()
    half = 0.5 * reference
    assert amplitude_ratio_pct(reference, half).tolist() == pytest.approx([50.0] * 3, rel=1e-5)
    full_scale_sine = torch.sin(torch.linspace(0, 200 * math.pi, 16000)).reshape(1, 1, -1)
    assert float(rms_dbfs(full_scale_sine)) == pytest.approx(-3.01, abs=0.01)
    ours = mel_distance(reference, estimate, 16000)
    for i in range(3):
        expected = reference_mel_distance(reference[i, 0].numpy(), estimate[i, 0].numpy(), 16000)
        assert float(ours[i]) == pytest.approx(expected, rel=1e-4)
    assert float(mel_distance(reference, reference, 16000).max()) == 0.0


def test_signal_monitors_report_level_and_fidelity() -> None:
    reference, _ = signals()
    values = signal_monitors(reference, 0.25 * reference)
    assert values["amplitude_pct"] == pytest.approx(25.0, rel=1e-5)
    assert values["snr_db"] == pytest.approx(10 * math.log10(1 / 0.75**2), abs=1e-3)
    assert values["si_sdr_db"] == 100.0  # a pure gain change is invisible to SI-SDR
    assert values["output_rms_dbfs"] - values["input_rms_dbfs"] == pytest.approx(20 * math.log10(0.25), abs=1e-3)


def test_latent_probe_splits_penalty_and_reconstruction_gradients() -> None:
    latent_source = torch.randn(2, 4, 5, requires_grad=True)
    latent = latent_source * 1.0
    penalty = 3.0 * latent.pow(2).sum()  # d/dlatent = 6 latent
    reconstruction = (latent * 2.0).sum()  # d/dlatent = 2
    probe = LatentGradientProbe(latent, penalty)
    (penalty + reconstruction).backward()
    values = probe.values()
    expected_penalty = float((6 * latent.detach()).norm())
    expected_reconstruction = float(torch.full_like(latent, 2.0).norm())
    assert values["encoder/penalty_grad_norm"] == pytest.approx(expected_penalty, rel=1e-5)
    assert values["encoder/reconstruction_grad_norm"] == pytest.approx(expected_reconstruction, rel=1e-5)
    share = expected_penalty / (expected_penalty + expected_reconstruction)
    assert values["encoder/penalty_share"] == pytest.approx(share, rel=1e-5)
    # the probe itself leaves the parameter gradients untouched
    torch.testing.assert_close(latent_source.grad, 6 * latent.detach() + 2)


def test_discriminator_monitors() -> None:
    real = [DiscriminatorOutput(torch.tensor([[1.0, 2.0, 0.0]]), [torch.ones(1, 2, 3)])]
    fake = [DiscriminatorOutput(torch.tensor([[0.0, 0.0, 1.0]]), [torch.zeros(1, 2, 3)])]
    values = discriminator_monitors(real, fake)
    assert values["disc/margin"] == pytest.approx(1.0 - 1.0 / 3.0)
    assert values["disc/accuracy"] == pytest.approx(2.0 / 3.0)
    assert values["disc/feature_distance"] == pytest.approx(1.0)
    assert values["disc/feature_relative"] == pytest.approx(1.0)


def test_codebook_monitors_and_usage() -> None:
    metrics = {"q0/perplexity": torch.tensor(3.0), "q0/dead": torch.tensor(4.0), "q1/dead": torch.tensor(2.0),
               "commitment": torch.tensor(0.5), "per_code": torch.ones(3)}
    values = codebook_monitors(metrics, [16, 8])
    assert values["codebook/q0/dead_fraction"] == 0.25 and values["codebook/q1/dead_fraction"] == 0.25
    assert values["codebook/commitment"] == 0.5 and "codebook/per_code" not in values
    histogram = torch.zeros(2, 4)
    histogram[0] = torch.tensor([5.0, 5.0, 0.0, 0.0])
    histogram[1] = torch.tensor([1.0, 1.0, 1.0, 1.0])
    usage = codebook_usage(histogram, [4, 4])
    assert usage["q0/usage"] == 0.5 and usage["q0/perplexity"] == pytest.approx(2.0)
    assert usage["q1/usage"] == 1.0 and usage["q1/perplexity"] == pytest.approx(4.0)


def test_count_nonfinite() -> None:
    assert count_nonfinite([torch.tensor(1.0), torch.tensor(float("nan")), torch.tensor([1.0, float("inf")])]) == 2
    assert count_nonfinite([]) == 0
    assert np.isfinite(count_nonfinite([torch.tensor(0.0)]))
