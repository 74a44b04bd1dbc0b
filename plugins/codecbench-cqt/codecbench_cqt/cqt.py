"""Constant-Q transform in plain torch (no torchaudio, no nnAudio), always computed in float32.

Bin ``k`` has centre frequency ``fmin * 2 ** (k / bins_per_octave)`` and a Hann-windowed complex
exponential kernel of ``Q * rate / f_k`` samples, ``Q = 1 / (2 ** (1 / bins_per_octave) - 1)``. Kernels
have unit L2 norm by default (white noise gives the same expected energy in every bin); with
``normalization="l1"`` a unit-amplitude sine at ``f_k`` reads 0.5 in bin ``k`` whatever the kernel length.
Octave by octave, the kernels are applied with a strided ``conv1d`` to the signal low-passed and
decimated by 2 as far as the octave allows (multirate CQT, as in Schörkhuber & Klapuri 2010): each
octave runs at the lowest rate that is still four times its upper edge (the top octaves at the input
rate), decimated at most by the largest power of two that divides the hop, so every octave yields
exactly ``ceil(T / hop_length)`` frames centred on ``0, hop, 2 hop, ...``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HALFBAND_TAPS = 31
HALFBAND_ATTENUATION_DB = 100.0
NORMALIZATIONS = ("l2", "l1")


def q_factor(bins_per_octave: int) -> float:
    """Quality factor (centre frequency / bandwidth) of a CQT with ``bins_per_octave`` bins."""
    return 1.0 / (2.0 ** (1.0 / bins_per_octave) - 1.0)


def cqt_frequencies(fmin: float, n_bins: int, bins_per_octave: int) -> Tensor:
    """Centre frequencies in Hz (float64), ascending: ``fmin * 2 ** (k / bins_per_octave)``."""
    return fmin * 2.0 ** (torch.arange(n_bins, dtype=torch.float64) / bins_per_octave)


def kernel_length(q: float, sample_rate: float, frequency: float) -> int:
    """Odd number of taps that holds a Hann window of ``q * sample_rate / frequency`` samples."""
    return 2 * math.floor(q * sample_rate / frequency / 2) + 1


def constant_q_kernels(
    frequencies: Sequence[float],
    sample_rate: float,
    q: float,
    length: int,
    normalization: str = "l2",
    decimation: int = 1,
) -> Tensor:
    """Complex CQT kernels as a conv1d weight ``[2 * n, 1, length]``: n real parts, then n imaginary parts.

    The kernels apply to a signal at ``rate = sample_rate / decimation``. Kernel ``k`` is
    ``w(t) exp(-2 pi i f_k t / rate)`` for ``t`` centred on tap ``length // 2``, with ``w`` a Hann window
    spanning ``q * rate / f_k`` samples (zero outside), divided by ``sum(w)`` (``"l1"``) or by
    ``sqrt(sum(w ** 2) / decimation)`` (``"l2"``: the same response as the unit-norm kernel at ``sample_rate``).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"constant_q_kernels: normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if length % 2 != 1:
        raise ValueError(f"constant_q_kernels: length must be odd so kernels have a centre tap, got {length}")
    rate = sample_rate / decimation
    freqs = torch.as_tensor(frequencies, dtype=torch.float64).reshape(-1, 1)
    t = torch.arange(length, dtype=torch.float64) - length // 2
    span = q * rate / freqs  # window length in samples, per bin
    if bool((2 * torch.floor(span / 2) + 1 > length).any()):
        raise ValueError(f"constant_q_kernels: length {length} is shorter than the longest window {span.max():.1f}")
    window = torch.where(t.abs() < span / 2, 0.5 + 0.5 * torch.cos(2 * math.pi * t / span), torch.zeros(()))
    if normalization == "l1":
        window = window / window.sum(dim=1, keepdim=True)
    else:
        window = window / (window.square().sum(dim=1, keepdim=True) / decimation).sqrt()
    phase = 2 * math.pi * freqs * t / rate
    kernels = torch.cat([window * torch.cos(phase), -window * torch.sin(phase)], dim=0)
    return kernels.unsqueeze(1).float()


def halfband_lowpass(taps: int = HALFBAND_TAPS, attenuation_db: float = HALFBAND_ATTENUATION_DB) -> Tensor:
    """Kaiser-windowed sinc with cutoff at a quarter of the sample rate, unit DC gain, shape ``[1, 1, taps]``.

    Passes [0, rate / 8] flat and stops [3 rate / 8, rate / 2], which is what decimation by 2 needs
    when the band of interest after decimation ends at a quarter of the new rate.
    """
    if taps % 2 != 1:
        raise ValueError(f"halfband_lowpass: taps must be odd (symmetric, zero-phase), got {taps}")
    beta = 0.1102 * (attenuation_db - 8.7)
    t = torch.arange(taps, dtype=torch.float64) - taps // 2
    filt = 0.5 * torch.sinc(0.5 * t) * torch.kaiser_window(taps, periodic=False, beta=beta, dtype=torch.float64)
    return (filt / filt.sum()).reshape(1, 1, taps).float()


def two_adic_valuation(value: int) -> int:
    """Largest ``v`` with ``2 ** v`` dividing ``value`` (``value`` > 0)."""
    return (value & -value).bit_length() - 1


@dataclass(frozen=True)
class OctavePlan:
    """How one octave is computed: at ``rate = sample_rate / 2 ** stage`` with stride ``hop / 2 ** stage``."""

    octave: int  # 0 = lowest
    first_bin: int
    n_bins: int
    stage: int
    stride: int
    kernel_length: int


def plan_octaves(
    sample_rate: float, hop_length: int, n_octaves: int, bins_per_octave: int, fmin: float
) -> tuple[OctavePlan, ...]:
    """Decimation stage, stride and kernel length for every octave, lowest octave first."""
    q = q_factor(bins_per_octave)
    max_stage = two_adic_valuation(hop_length)
    plans = []
    for octave in range(n_octaves):
        upper_edge = fmin * 2.0 ** (octave + 1)
        wanted = math.floor(math.log2(sample_rate / (4 * upper_edge)) + 1e-9)
        stage = min(max(wanted, 0), max_stage)
        rate = sample_rate / 2**stage
        lowest = fmin * 2.0**octave
        plans.append(
            OctavePlan(
                octave=octave,
                first_bin=octave * bins_per_octave,
                n_bins=bins_per_octave,
                stage=stage,
                stride=hop_length // 2**stage,
                kernel_length=kernel_length(q, rate, lowest),
            )
        )
    return tuple(plans)


class ConstantQTransform(nn.Module):
    """Complex CQT of [B, 1, T] audio as float32 ``[B, 2, ceil(T / hop_length), n_octaves * bins_per_octave]``.

    Channel 0 is the real part, channel 1 the imaginary part; bins ascend in frequency. Zero padding
    at the edges; differentiable; fp32 even inside ``torch.autocast``. ``fmin`` defaults to the value
    that puts the top octave's upper edge at the Nyquist frequency. ``normalization`` is ``"l2"``
    (unit-norm kernels) or ``"l1"`` (a unit sine at a bin's centre frequency reads 0.5 there).
    Any hop works; hops divisible by a high power of two let more octaves run decimated (cheaper).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        hop_length: int = 128,
        n_octaves: int = 8,
        bins_per_octave: int = 24,
        fmin: float | None = None,
        normalization: str = "l2",
    ) -> None:
        super().__init__()
        if sample_rate <= 0 or hop_length < 1 or n_octaves < 1 or bins_per_octave < 1:
            raise ValueError(
                "ConstantQTransform: sample_rate, hop_length, n_octaves and bins_per_octave must be positive, got "
                f"{sample_rate}, {hop_length}, {n_octaves}, {bins_per_octave}"
            )
        nyquist = sample_rate / 2
        fmin = nyquist / 2**n_octaves if fmin is None else float(fmin)
        if fmin <= 0 or fmin * 2**n_octaves > nyquist * (1 + 1e-9):
            raise ValueError(
                f"ConstantQTransform: {n_octaves} octaves from fmin={fmin} Hz reach {fmin * 2**n_octaves:.1f} Hz, "
                f"above the Nyquist frequency {nyquist} Hz of sample_rate={sample_rate}; lower fmin or n_octaves"
            )
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.n_octaves = n_octaves
        self.bins_per_octave = bins_per_octave
        self.fmin = fmin
        self.normalization = normalization
        self.n_bins = n_octaves * bins_per_octave
        self.plans = plan_octaves(sample_rate, hop_length, n_octaves, bins_per_octave, fmin)
        freqs = cqt_frequencies(fmin, self.n_bins, bins_per_octave)
        self.register_buffer("frequencies", freqs.float(), persistent=False)
        self.register_buffer("lowpass", halfband_lowpass(), persistent=False)
        q = q_factor(bins_per_octave)
        for plan in self.plans:
            band = freqs[plan.first_bin : plan.first_bin + plan.n_bins].tolist()
            weight = constant_q_kernels(band, sample_rate, q, plan.kernel_length, normalization, 2**plan.stage)
            self.register_buffer(f"kernels_{plan.octave}", weight, persistent=False)

    def num_frames(self, length: int) -> int:
        return -(-length // self.hop_length)

    def decimate(self, signal: Tensor) -> Tensor:
        """Low-pass (zero-phase) and keep every second sample: [B, 1, T] -> [B, 1, ceil(T / 2)]."""
        pad = self.lowpass.shape[-1] // 2
        return F.conv1d(F.pad(signal, (pad, pad)), self.lowpass.float(), stride=2)

    def forward(self, audio: Tensor) -> Tensor:
        if audio.dim() == 2:
            audio = audio.unsqueeze(1)
        if audio.dim() != 3 or audio.shape[1] != 1:
            raise ValueError(f"ConstantQTransform: expected mono audio [B, 1, T] or [B, T], got {tuple(audio.shape)}")
        batch = audio.shape[0]
        with torch.autocast(device_type=audio.device.type, enabled=False):
            signal = audio.float()
            stage = 0
            octaves: list[tuple[int, Tensor]] = []
            for plan in sorted(self.plans, key=lambda p: p.stage):
                while stage < plan.stage:
                    signal = self.decimate(signal)
                    stage += 1
                kernels = getattr(self, f"kernels_{plan.octave}").float()
                pad = plan.kernel_length // 2
                out = F.conv1d(F.pad(signal, (pad, pad)), kernels, stride=plan.stride)  # [B, 2n, frames]
                octaves.append((plan.octave, out.view(batch, 2, plan.n_bins, -1)))
            ordered = [out for _, out in sorted(octaves, key=lambda item: item[0])]
            return torch.cat(ordered, dim=2).transpose(2, 3)  # [B, 2, frames, bins]
