"""Loudness measurement (dBFS RMS, ITU-R BS.1770-4 LUFS) and one fixed-target normaliser for train and inference.

The normaliser never peak-normalises: it applies the single gain that brings an item to the target loudness,
reduced only as far as needed to keep the peak at or below ``peak_limit`` (clipping guard). The applied gain is
returned so that ``restore`` can put the original level back after decoding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

Audio = np.ndarray | torch.Tensor

BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LUFS_OFFSET = -0.691


@dataclass(frozen=True)
class Biquad:
    """Second-order IIR section, ``a[0] == 1``."""

    b: tuple[float, float, float]
    a: tuple[float, float, float]


def k_weighting(sample_rate: int) -> tuple[Biquad, Biquad]:
    """BS.1770 K-weighting (high shelf, then RLB high-pass) for any sample rate.

    Uses the analogue parameters that reproduce the standard's 48 kHz coefficients exactly
    (Brecht De Man's derivation, as in libebur128), bilinear-transformed with pre-warping.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    # Stage 1: high shelf (+4 dB above ~1.7 kHz, head acoustics).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = Biquad(
        b=((vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0),
        a=(1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0),
    )
    # Stage 2: revised low-frequency B-curve high-pass (~38 Hz).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    highpass = Biquad(b=(1.0, -2.0, 1.0), a=(1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0))
    return shelf, highpass


def _next_fast_length(n: int) -> int:
    """Smallest 2^i 3^j 5^k >= n (fast for numpy's pocketfft)."""
    best = 1 << max(0, (n - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


def _decay_length(biquads: Sequence[Biquad], tolerance: float = 1e-12) -> int:
    """Samples after which every section's impulse response has decayed below ``tolerance``."""
    longest = 1
    for section in biquads:
        radius = float(np.max(np.abs(np.roots(section.a))))
        if radius >= 1.0:
            raise ValueError(f"unstable biquad {section}")
        if radius > 0.0:
            # 3x covers the n * r^n envelope of a (near) double pole.
            longest = max(longest, 3 * math.ceil(math.log(tolerance) / math.log(radius)))
    return longest


def apply_biquads(audio: np.ndarray, biquads: Sequence[Biquad]) -> np.ndarray:
    """Filter [..., T] audio through cascaded biquads (zero initial state), in float64.

    Matches direct-form filtering to ~1e-10: the cascade's transfer function is evaluated on an FFT grid long
    enough for the impulse response to die out, so circular wrap-around is negligible. No per-sample loop.
    """
    signal = np.asarray(audio, dtype=np.float64)
    frames = signal.shape[-1]
    if frames == 0:
        return signal.copy()
    size = _next_fast_length(frames + _decay_length(biquads))
    z_inverse = np.exp(-2j * np.pi * np.fft.rfftfreq(size))
    response = np.ones_like(z_inverse)
    for section in biquads:
        b0, b1, b2 = section.b
        a0, a1, a2 = section.a
        response *= (b0 + z_inverse * (b1 + z_inverse * b2)) / (a0 + z_inverse * (a1 + z_inverse * a2))
    spectrum = np.fft.rfft(signal, n=size, axis=-1)
    return np.fft.irfft(spectrum * response, n=size, axis=-1)[..., :frames]


def _to_numpy64(audio: Audio) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        return audio.detach().to("cpu", torch.float64).numpy()
    return np.asarray(audio, dtype=np.float64)


def block_mean_squares(filtered: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square per channel of 400 ms blocks with 75 % overlap: [C, blocks].

    A signal shorter than one block gives one block covering the whole signal.
    """
    channels = np.atleast_2d(filtered)
    frames = channels.shape[-1]
    block = round(BLOCK_SECONDS * sample_rate)
    step = round(STEP_SECONDS * sample_rate)
    cumulative = np.concatenate([np.zeros((channels.shape[0], 1)), np.cumsum(channels * channels, axis=-1)], axis=-1)
    if frames < block:
        return cumulative[:, -1:] / max(frames, 1)
    starts = np.arange(0, frames - block + 1, step)
    return (cumulative[:, starts + block] - cumulative[:, starts]) / block


def integrated_loudness(audio: Audio, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS (BS.1770-4) of [T] or [C, T] audio; -inf when everything is gated.

    Channels are weighted equally (the standard's weights for mono and stereo).
    """
    signal = _to_numpy64(audio)
    if signal.ndim not in (1, 2):
        raise ValueError(f"integrated_loudness expects [T] or [C, T] audio, got shape {signal.shape}")
    if signal.shape[-1] == 0:
        return float("-inf")
    power = block_mean_squares(apply_biquads(signal, k_weighting(sample_rate)), sample_rate).sum(axis=0)
    with np.errstate(divide="ignore"):
        block_loudness = LUFS_OFFSET + 10.0 * np.log10(power)
    kept = block_loudness > ABSOLUTE_GATE_LUFS
    if not kept.any():
        return float("-inf")
    relative_gate = LUFS_OFFSET + 10.0 * math.log10(power[kept].mean()) + RELATIVE_GATE_LU
    kept &= block_loudness > relative_gate
    return float(LUFS_OFFSET + 10.0 * math.log10(power[kept].mean()))


def rms_db(audio: Audio) -> float:
    """Level in dBFS RMS over all samples (a full-scale sine is -3.01); -inf for digital silence."""
    if isinstance(audio, torch.Tensor):
        mean_square = float(audio.detach().float().square().mean()) if audio.numel() else 0.0
    else:
        array = np.asarray(audio, dtype=np.float64)
        mean_square = float(np.mean(np.square(array))) if array.size else 0.0
    if not math.isfinite(mean_square):
        raise ValueError("audio contains NaN or Inf; cannot measure its loudness")
    return 10.0 * math.log10(mean_square) if mean_square > 0.0 else float("-inf")


def peak(audio: Audio) -> float:
    """Largest absolute sample value."""
    if isinstance(audio, torch.Tensor):
        return float(audio.detach().abs().max()) if audio.numel() else 0.0
    array = np.asarray(audio)
    return float(np.abs(array).max()) if array.size else 0.0


def apply_gain(audio: Audio, gain_db: float) -> Audio:
    """Scale by ``gain_db`` decibels, keeping type, dtype and device."""
    scale = 10.0 ** (gain_db / 20.0)
    if isinstance(audio, torch.Tensor):
        return audio * scale
    array = np.asarray(audio)
    return (array * scale).astype(array.dtype if np.issubdtype(array.dtype, np.floating) else np.float32)


def restore(audio: Audio, gain_db: float | Sequence[float] | np.ndarray | torch.Tensor) -> Audio:
    """Undo a normalisation: apply ``-gain_db``. A per-item gain vector [B] scales batch items [B, ...]."""
    scalar = gain_db.ndim == 0 if isinstance(gain_db, torch.Tensor) else np.ndim(gain_db) == 0
    if scalar:
        return apply_gain(audio, -float(gain_db))
    gains = torch.as_tensor(gain_db, dtype=torch.float64) if not isinstance(gain_db, torch.Tensor) else gain_db
    gains = gains.detach().to("cpu", torch.float64).reshape(-1)
    if gains.numel() != audio.shape[0]:
        raise ValueError(f"restore: {gains.numel()} gains for a batch of {audio.shape[0]} items")
    scales = torch.pow(10.0, -gains / 20.0).reshape(-1, *([1] * (audio.ndim - 1)))
    if isinstance(audio, torch.Tensor):
        return audio * scales.to(device=audio.device, dtype=audio.dtype)
    array = np.asarray(audio)
    return (array * scales.numpy()).astype(array.dtype)


@dataclass(frozen=True)
class NormalizedAudio:
    """One normalised item and what was done to it."""

    audio: Audio
    gain_db: float  # applied gain; ``restore(audio, gain_db)`` undoes it
    loudness_db: float  # measured input loudness (dBFS RMS or LUFS), -inf for silence
    silent: bool  # below the silence threshold: left unchanged (gain 0 dB)
    limited: bool  # gain reduced by the clipping guard


@dataclass(frozen=True)
class NormalizedBatch:
    """A normalised batch [B, ...] with one gain per item."""

    audio: Audio
    gain_db: np.ndarray  # [B]
    loudness_db: np.ndarray  # [B]
    silent: np.ndarray  # [B] bool
    limited: np.ndarray  # [B] bool


def random_gain_db(rng: np.random.Generator, max_db: float) -> float:
    """Uniform gain offset in [-max_db, +max_db] dB for augmentation (0 when ``max_db`` is 0)."""
    if max_db < 0:
        raise ValueError(f"gain augmentation range must be >= 0 dB, got {max_db}")
    return float(rng.uniform(-max_db, max_db)) if max_db > 0 else 0.0


@dataclass(frozen=True)
class LoudnessNormalizer:
    """Bring every item to one fixed loudness (default -16 dBFS RMS, as DAC); silence-safe, clipping-guarded.

    ``method`` is ``"rms"`` (dBFS RMS over the item) or ``"lufs"`` (BS.1770-4 integrated loudness; needs the
    sample rate). Items quieter than ``silence_db`` are returned unchanged with gain 0 dB. With ``peak_limit``
    set, the gain is lowered just enough that no sample exceeds it (never raised: not peak normalisation).
    """

    target_db: float = -16.0
    method: str = "rms"
    silence_db: float = -70.0
    peak_limit: float | None = 1.0

    def __post_init__(self) -> None:
        if self.method not in ("rms", "lufs"):
            raise ValueError(f"loudness method must be 'rms' or 'lufs', got {self.method!r}")
        if not math.isfinite(self.target_db) or self.target_db > 0:
            raise ValueError(f"loudness target must be a finite level <= 0 dB, got {self.target_db}")
        if self.peak_limit is not None and not self.peak_limit > 0:
            raise ValueError(f"peak_limit must be positive or None, got {self.peak_limit}")

    def measure(self, audio: Audio, sample_rate: int | None = None) -> float:
        """Loudness of one item ([T] or [C, T]) in this normaliser's unit."""
        if self.method == "rms":
            return rms_db(audio)
        if sample_rate is None:
            raise ValueError("LUFS loudness needs the sample rate: normalize(audio, sample_rate=...)")
        return integrated_loudness(audio, sample_rate)

    def gain_for(self, audio: Audio, sample_rate: int | None = None, offset_db: float = 0.0) -> NormalizedAudio:
        """The gain ``normalize`` would apply (``audio`` field left as the input)."""
        loudness = self.measure(audio, sample_rate)
        if not loudness > self.silence_db:  # also catches -inf
            return NormalizedAudio(audio, 0.0, loudness, silent=True, limited=False)
        item_peak = peak(audio) if self.peak_limit is not None else 0.0
        gain, limited = self.gain_from_levels(loudness, item_peak, offset_db)
        return NormalizedAudio(audio, gain, loudness, silent=False, limited=limited)

    def gain_from_levels(self, loudness_db: float, item_peak: float, offset_db: float = 0.0) -> tuple[float, bool]:
        """(gain in dB, whether the peak limit lowered it) for an item of this loudness and peak; 0 dB if silent.

        The one formula behind :meth:`gain_for`, also used where the levels were measured in a streamed pass.
        """
        if not loudness_db > self.silence_db:
            return 0.0, False
        gain = self.target_db + offset_db - loudness_db
        if self.peak_limit is not None:
            if not math.isfinite(item_peak):
                raise ValueError("audio contains NaN or Inf; cannot normalise it")
            ceiling = 20.0 * math.log10(self.peak_limit / item_peak)
            if gain > ceiling:
                return ceiling, True
        return gain, False

    def normalize(self, audio: Audio, sample_rate: int | None = None, *, offset_db: float = 0.0) -> NormalizedAudio:
        """Normalise one item ([T] or [C, T]) to ``target_db + offset_db``."""
        if audio.ndim > 2:
            raise ValueError(f"normalize takes one item [T] or [C, T]; use normalize_batch for shape {audio.shape}")
        result = self.gain_for(audio, sample_rate, offset_db)
        out = apply_gain(audio, result.gain_db) if result.gain_db != 0.0 else audio
        return NormalizedAudio(out, result.gain_db, result.loudness_db, result.silent, result.limited)

    def normalize_batch(self, audio: Audio, sample_rate: int | None = None) -> NormalizedBatch:
        """Normalise each item of a batch [B, C, T] (or [B, T]) independently."""
        if audio.ndim < 2:
            raise ValueError(f"normalize_batch expects [B, T] or [B, C, T], got shape {tuple(audio.shape)}")
        results = [self.gain_for(item, sample_rate) for item in audio]
        gains = np.array([r.gain_db for r in results], dtype=np.float64)
        return NormalizedBatch(
            audio=restore(audio, -gains),
            gain_db=gains,
            loudness_db=np.array([r.loudness_db for r in results], dtype=np.float64),
            silent=np.array([r.silent for r in results], dtype=bool),
            limited=np.array([r.limited for r in results], dtype=bool),
        )

    @staticmethod
    def restore(audio: Audio, gain_db: float | Sequence[float] | np.ndarray | torch.Tensor) -> Audio:
        """Undo ``normalize``: apply ``-gain_db`` (per item for a batch)."""
        return restore(audio, gain_db)


DEFAULT_NORMALIZER = LoudnessNormalizer()
"""-16 dBFS RMS, the one loudness target shared by training data and inference."""
