"""STFT, magnitude and mel filterbank in torch, always computed in float32 (also under autocast).

No torchaudio: the mel filterbank is built here from the formulas librosa uses (Slaney mel
scale with Slaney area normalisation by default, HTK scale optional). Windows and
filterbanks are cached per (configuration, device, dtype), so calling these every training
step costs a dictionary lookup.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn

SPECTRAL_DTYPE = torch.float32


@contextmanager
def float32_spectral(x: Tensor) -> Iterator[Tensor]:
    """Yield ``x`` as float32 with autocast disabled for the block (spectral ops must not run in fp16/bf16)."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        yield x.to(SPECTRAL_DTYPE)


def _cacheable() -> bool:
    # Tensors made while torch.compile traces would be fake tensors: never cache them.
    return not torch.compiler.is_compiling()


@lru_cache(maxsize=128)
def _cached_hann(length: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    with torch.inference_mode(False), torch.no_grad():
        return torch.hann_window(length, periodic=True, device=device, dtype=dtype)


def hann_window(length: int, device: torch.device | str = "cpu", dtype: torch.dtype = SPECTRAL_DTYPE) -> Tensor:
    """Periodic Hann window (as torch, scipy ``get_window('hann')`` and librosa use), cached per device/dtype."""
    device = torch.device(device)
    if _cacheable():
        return _cached_hann(int(length), device, dtype)
    return torch.hann_window(int(length), periodic=True, device=device, dtype=dtype)


def stft(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
) -> Tensor:
    """Complex STFT of ``x`` [..., T] -> [..., n_fft // 2 + 1, frames], Hann window, float32.

    With ``center`` the signal is padded by ``n_fft // 2`` on both sides (``pad_mode``), so
    frame ``k`` is centred on sample ``k * hop_length`` and there are ``T // hop_length + 1``
    frames. Reflect padding needs ``T > n_fft // 2``; shorter inputs are zero-padded instead.
    Without ``center`` no padding is added and the input must hold at least ``n_fft`` samples.
    """
    win_length = n_fft if win_length is None else win_length
    if win_length > n_fft:
        raise ValueError(f"stft: win_length {win_length} exceeds n_fft {n_fft}")
    if x.shape[-1] < 1:
        raise ValueError(f"stft: empty signal of shape {tuple(x.shape)}")
    if not center and x.shape[-1] < n_fft:
        raise ValueError(f"stft: center=False needs at least n_fft={n_fft} samples, got {x.shape[-1]}")
    lead = x.shape[:-1]
    with float32_spectral(x) as signal:
        flat = signal.reshape(-1, signal.shape[-1])
        if center and pad_mode == "reflect" and flat.shape[-1] <= n_fft // 2:
            pad_mode = "constant"
        window = hann_window(win_length, flat.device, flat.dtype)
        spec = torch.stft(
            flat,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            center=center,
            pad_mode=pad_mode,
            return_complex=True,
        )
    return spec.reshape(*lead, *spec.shape[-2:])


def magnitude(spec: Tensor, eps: float = 1e-8) -> Tensor:
    """|spec| in float32, clamped below at ``eps`` so that silence gives finite values and zero gradients."""
    with torch.autocast(device_type=spec.device.type, enabled=False):
        spec = spec.to(torch.complex64) if spec.is_complex() else spec.to(SPECTRAL_DTYPE)
        return spec.abs().clamp_min(eps)


def stft_magnitude(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
    eps: float = 1e-8,
) -> Tensor:
    """Magnitude STFT [..., n_fft // 2 + 1, frames] in float32 (see :func:`stft`, :func:`magnitude`)."""
    return magnitude(stft(x, n_fft, hop_length, win_length, center=center, pad_mode=pad_mode), eps=eps)


# ----------------------------------------------------------------------------------------- mel scale
_SLANEY_F_SP = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(freqs: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Hz -> mel; Slaney scale (linear below 1 kHz, logarithmic above) or HTK ``2595 log10(1 + f/700)``."""
    f = np.asarray(freqs, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _SLANEY_F_SP
    log_region = f >= _SLANEY_MIN_LOG_HZ
    safe = np.where(log_region, f, _SLANEY_MIN_LOG_HZ)
    return np.where(log_region, _SLANEY_MIN_LOG_MEL + np.log(safe / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP, mels)


def mel_to_hz(mels: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _SLANEY_F_SP * m
    log_region = m >= _SLANEY_MIN_LOG_MEL
    return np.where(log_region, _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL)), freqs)


def mel_filterbank_numpy(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filterbank [n_mels, n_fft // 2 + 1] in float64 (librosa's ``filters.mel`` formulas).

    ``norm="slaney"`` divides each triangle by its width in Hz (constant energy per band);
    ``norm=None`` leaves peaks at 1. Bands narrower than the FFT bin spacing may be all zero:
    they then contribute zeros, never NaN.
    """
    if n_mels < 1 or n_fft < 2:
        raise ValueError(f"mel filterbank: need n_mels >= 1 and n_fft >= 2, got n_mels={n_mels}, n_fft={n_fft}")
    nyquist = sample_rate / 2.0
    f_max = nyquist if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= nyquist + 1e-9:
        raise ValueError(f"mel filterbank: need 0 <= f_min < f_max <= {nyquist} Hz, got f_min={f_min}, f_max={f_max}")
    if norm not in ("slaney", None):
        raise ValueError(f"mel filterbank: norm must be 'slaney' or None, got {norm!r}")
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_points = np.linspace(hz_to_mel(f_min, htk), hz_to_mel(f_max, htk), n_mels + 2)
    hz_points = mel_to_hz(mel_points, htk)
    widths = np.diff(hz_points)
    ramps = hz_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (hz_points[2:] - hz_points[:-2]))[:, None]
    return weights


@lru_cache(maxsize=128)
def _cached_mel(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float,
    f_max: float | None,
    htk: bool,
    norm: str | None,
    device: torch.device,
    dtype: torch.dtype,
) -> Tensor:
    weights = mel_filterbank_numpy(sample_rate, n_fft, n_mels, f_min, f_max, htk=htk, norm=norm)
    with torch.inference_mode(False), torch.no_grad():
        return torch.as_tensor(weights, dtype=dtype, device=device)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    *,
    htk: bool = False,
    norm: str | None = "slaney",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = SPECTRAL_DTYPE,
) -> Tensor:
    """Mel filterbank tensor [n_mels, n_fft // 2 + 1], cached per configuration, device and dtype."""
    device = torch.device(device)
    key = (int(sample_rate), int(n_fft), int(n_mels), float(f_min), None if f_max is None else float(f_max), htk, norm)
    if _cacheable():
        return _cached_mel(*key, device, dtype)
    weights = mel_filterbank_numpy(*key[:5], htk=htk, norm=norm)
    return torch.as_tensor(weights, dtype=dtype, device=device)


def mel_from_magnitude(mag: Tensor, filterbank: Tensor) -> Tensor:
    """Apply a filterbank [n_mels, F] to spectrogram frames [..., F, frames] -> [..., n_mels, frames]."""
    with torch.autocast(device_type=mag.device.type, enabled=False):
        return torch.matmul(filterbank, mag.to(SPECTRAL_DTYPE))


class MelSpectrogram(nn.Module):
    """Mel spectrogram of audio [..., T] -> [..., n_mels, frames] (float32, autocast-safe).

    ``power`` 1 uses the magnitude, 2 the power spectrum; ``log`` returns
    ``log10(clamp(mel, log_eps))``. Hann window of ``win_length`` (default ``n_fft``),
    centred frames with reflect padding. The filterbank is Slaney-normalised on the Slaney
    mel scale by default (librosa's default); ``htk=True`` switches the scale.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        power: float = 1.0,
        log: bool = False,
        *,
        win_length: int | None = None,
        center: bool = True,
        htk: bool = False,
        norm: str | None = "slaney",
        log_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if power <= 0:
            raise ValueError(f"MelSpectrogram: power must be > 0, got {power}")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = n_fft if win_length is None else win_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.power = power
        self.log = log
        self.center = center
        self.htk = htk
        self.norm = norm
        self.log_eps = log_eps
        # Validate the configuration now rather than on the first batch.
        mel_filterbank_numpy(sample_rate, n_fft, n_mels, f_min, f_max, htk=htk, norm=norm)

    def filterbank(self, device: torch.device | str = "cpu") -> Tensor:
        return mel_filterbank(
            self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max,
            htk=self.htk, norm=self.norm, device=device,
        )  # fmt: skip

    def forward(self, audio: Tensor) -> Tensor:
        mag = stft_magnitude(audio, self.n_fft, self.hop_length, self.win_length, center=self.center)
        with torch.autocast(device_type=mag.device.type, enabled=False):
            if self.power != 1.0:
                mag = mag.pow(self.power)
            mel = mel_from_magnitude(mag, self.filterbank(mag.device))
            if self.log:
                mel = mel.clamp_min(self.log_eps).log10()
        return mel

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
            f"n_mels={self.n_mels}, f_min={self.f_min}, f_max={self.f_max}, power={self.power}, log={self.log}"
        )
