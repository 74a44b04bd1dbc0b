"""benchmarks/mel_silence_share.py: the two parts add up to the bench mel distance, and only noise in
the reference's silence lands in the silent part."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from codecbench.metrics.spectral import mel_distance

SAMPLE_RATE = 16000


@pytest.fixture(scope="module")
def share(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("mel_silence_share")


def speech_with_silence() -> np.ndarray:
    """0.5 s of a harmonic tone, 0.5 s of exact zeros, 0.5 s of tone."""
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6)) * 0.1
    return np.concatenate([tone, np.zeros_like(tone), tone]).astype(np.float32)


def test_parts_sum_to_the_bench_mel_distance(share: ModuleType) -> None:
    rng = np.random.default_rng(0)
    reference = speech_with_silence()
    estimate = (0.8 * reference + 0.01 * rng.standard_normal(reference.shape)).astype(np.float32)
    silent, voiced, fraction = share.split_distance(reference, estimate, SAMPLE_RATE)
    assert silent + voiced == pytest.approx(mel_distance(reference, estimate, SAMPLE_RATE), rel=1e-5)
    assert 0.2 < fraction < 0.34  # the middle third, less the frames whose windows reach the tone


def test_noise_only_in_silence_lands_in_the_silent_part(share: ModuleType) -> None:
    rng = np.random.default_rng(0)
    reference = speech_with_silence()
    noise = np.zeros_like(reference)
    third = len(reference) // 3
    noise[third + 2048 : 2 * third - 2048] = 0.003 * rng.standard_normal(third - 4096)
    silent, voiced, _ = share.split_distance(reference, reference + noise, SAMPLE_RATE)
    assert silent > 0.5 and voiced < 1e-6
