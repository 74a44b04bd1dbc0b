"""Cheap training-time monitors, logged with kind ``monitor`` every ``monitor_every`` steps.

They are the doctor's inputs: output/input level, SNR and SI-SDR on the training batch, codebook
health, each loss's share of the gradient at the decoder output, the quantizer penalty's share at
the encoder output, discriminator margin and accuracy, feature-matching magnitude, non-finite
counts, gradient norms and the input loudness. Every function here is pure (no Gin, no state).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from codecbench.training.signal_metrics import amplitude_ratio_pct, rms_dbfs, si_sdr_db, snr_db
from codecbench.types import DiscriminatorOutput

_LEVEL_DEAD = re.compile(r"q(\d+)/dead")


def signal_monitors(reference: Tensor, reconstruction: Tensor) -> dict[str, float]:
    """Level and fidelity of the reconstruction on the training batch (means over items)."""
    return {
        "amplitude_pct": float(amplitude_ratio_pct(reference, reconstruction).mean()),
        "snr_db": float(snr_db(reference, reconstruction).mean()),
        "si_sdr_db": float(si_sdr_db(reference, reconstruction).mean()),
        "input_rms_dbfs": float(rms_dbfs(reference).mean()),
        "output_rms_dbfs": float(rms_dbfs(reconstruction).mean()),
    }


def loudness_spread_monitors(reference: Tensor) -> dict[str, float]:
    """Per-item level statistics of the input batch (dB): RMS spread, mean peak and peak spread.

    Equal peaks with varying RMS across items is the signature of per-item peak normalisation.
    """
    flat = reference.detach().float().reshape(reference.shape[0], -1)
    rms_db = 20.0 * torch.log10(flat.pow(2).mean(-1).sqrt().clamp_min(1e-10))
    peak_db = 20.0 * torch.log10(flat.abs().amax(-1).clamp_min(1e-10))
    return {
        "input_rms_dbfs_std": float(rms_db.std(unbiased=False)),
        "input_peak_dbfs": float(peak_db.mean()),
        "input_peak_dbfs_std": float(peak_db.std(unbiased=False)),
    }


def parameter_norm(module: torch.nn.Module) -> float:
    """L2 norm of all parameters of ``module``: a network that never changes was never stepped."""
    norms = [p.detach().float().norm() for p in module.parameters()]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


def codebook_monitors(metrics: Mapping[str, Tensor], codebook_sizes: Sequence[int]) -> dict[str, float]:
    """The quantizer's own scalar metrics under ``codebook/``, plus ``qN/dead_fraction`` from ``qN/dead``."""
    values: dict[str, float] = {}
    for key, value in metrics.items():
        tensor = torch.as_tensor(value).detach()
        if tensor.numel() != 1:
            continue
        values[f"codebook/{key}"] = float(tensor)
        match = _LEVEL_DEAD.fullmatch(key)
        if match and int(match.group(1)) < len(codebook_sizes):
            size = codebook_sizes[int(match.group(1))]
            values[f"codebook/q{match.group(1)}/dead_fraction"] = float(tensor) / size
    return values


def logit_margin(real: Sequence[DiscriminatorOutput], fake: Sequence[DiscriminatorOutput]) -> Tensor:
    """Mean real logit minus mean fake logit, averaged over sub-discriminators (detached, float32)."""
    margins = [r.logits.detach().float().mean() - f.logits.detach().float().mean() for r, f in zip(real, fake)]
    if not margins:
        raise ValueError("logit margin: the discriminator returned no outputs")
    return torch.stack(margins).mean()


def discriminator_monitors(
    real: Sequence[DiscriminatorOutput], fake: Sequence[DiscriminatorOutput]
) -> dict[str, float]:
    """Real-minus-fake logit margin, pairwise accuracy (real logit > fake logit) and feature-map distance.

    ``disc/feature_distance`` is the mean |real - fake| over all feature maps (what feature
    matching minimises); ``disc/feature_relative`` divides it by the mean |real| feature.
    """
    accuracies, distances, magnitudes = [], [], []
    for r, f in zip(real, fake):
        r_logits, f_logits = r.logits.detach().float(), f.logits.detach().float()
        if r_logits.shape == f_logits.shape:
            accuracies.append((r_logits > f_logits).float().mean())
        for r_map, f_map in zip(r.feature_maps, f.feature_maps):
            r_map, f_map = r_map.detach().float(), f_map.detach().float()
            distances.append((r_map - f_map).abs().mean())
            magnitudes.append(r_map.abs().mean())
    values: dict[str, float] = {}
    if real and fake:
        values["disc/margin"] = float(logit_margin(real, fake))
    if accuracies:
        values["disc/accuracy"] = float(torch.stack(accuracies).mean())
    if distances:
        distance = torch.stack(distances).mean()
        values["disc/feature_distance"] = float(distance)
        values["disc/feature_relative"] = float(distance / torch.stack(magnitudes).mean().clamp_min(1e-12))
    return values


def count_nonfinite(values: Iterable[Tensor]) -> int:
    """How many of the given (scalar) tensors hold a NaN or Inf."""
    flags = [~torch.isfinite(v.detach()).all() for v in values]
    return int(torch.stack(flags).sum()) if flags else 0


def count_nonfinite_grads(parameters: Iterable[torch.nn.Parameter]) -> int:
    """How many parameter tensors have a gradient with a NaN or Inf."""
    return count_nonfinite(p.grad for p in parameters if p.grad is not None)


class LatentGradientProbe:
    """Measures the quantizer penalty's share of the gradient at the encoder output.

    Create it after the forward pass and before the balancer's backward: it takes
    ``d penalty / d latent`` with ``retain_graph`` and hooks the latent to capture the total
    gradient the backward delivers there. The reconstruction part is ``total - penalty``, exact
    when ``penalty_weight`` is the weight the balancer gives the ``penalty`` direct loss (default 1).
    ``share = |g_penalty| / (|g_penalty| + |g_reconstruction|)``.
    """

    def __init__(self, latent: Tensor, penalty: Tensor, penalty_weight: float = 1.0) -> None:
        self.penalty_grad: Tensor | None = None
        self.total_grad: Tensor | None = None
        if not latent.requires_grad:
            return
        if penalty.requires_grad:
            (grad,) = torch.autograd.grad(penalty, latent, retain_graph=True, allow_unused=True)
            grad = grad if grad is not None else torch.zeros_like(latent)
            self.penalty_grad = penalty_weight * grad.detach().float()
        latent.register_hook(self._capture)

    def _capture(self, grad: Tensor) -> None:
        grad = grad.detach().float()
        self.total_grad = grad.clone() if self.total_grad is None else self.total_grad + grad

    def values(self) -> dict[str, float]:
        if self.total_grad is None:
            return {}
        penalty = self.penalty_grad if self.penalty_grad is not None else torch.zeros_like(self.total_grad)
        penalty_norm = penalty.norm()
        reconstruction_norm = (self.total_grad - penalty).norm()
        share = penalty_norm / (penalty_norm + reconstruction_norm).clamp_min(1e-30)
        return {
            "encoder/penalty_share": float(share),
            "encoder/penalty_grad_norm": float(penalty_norm),
            "encoder/reconstruction_grad_norm": float(reconstruction_norm),
        }
