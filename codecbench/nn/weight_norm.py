"""Weight normalisation via parametrizations, and folding it away for inference."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

M = TypeVar("M", bound=nn.Module)


def apply_weight_norm(module: M, name: str = "weight", dim: int = 0) -> M:
    """Parametrize ``module.<name>`` as magnitude * direction (``torch.nn.utils.parametrizations.weight_norm``)."""
    return weight_norm(module, name=name, dim=dim)


def remove_weight_norm(module: M) -> M:
    """Fold every parametrization in ``module`` (recursively) into a plain parameter, in place.

    Outputs are unchanged. Unlike ``parametrize.remove_parametrizations`` this never edits the
    generated parametrized class, so it is safe on a ``copy.deepcopy`` of a model (the original
    keeps working). Still, the recommended way to get an inference copy is a fresh model plus
    ``load_state_dict``. Returns ``module`` for chaining.
    """
    targets = [m for m in module.modules() if parametrize.is_parametrized(m)]
    for m in targets:
        parametrizations = m.parametrizations
        with torch.no_grad():
            folded = {name: getattr(m, name).detach().clone() for name in parametrizations}
        grads = {name: any(p.requires_grad for p in parametrizations[name].parameters()) for name in parametrizations}
        del m._modules["parametrizations"]
        m.__class__ = m.__class__.__bases__[0]  # the class the parametrized subclass was generated from
        for name, value in folded.items():
            m.register_parameter(name, nn.Parameter(value, requires_grad=grads[name]))
    return module


def has_weight_norm(module: nn.Module) -> bool:
    """Whether any submodule still carries a parametrization."""
    return any(parametrize.is_parametrized(m) for m in module.modules())
