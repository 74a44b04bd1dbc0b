"""A teacher loaded from the user's own file: torch.export / TorchScript model, or ``random_conv`` weights."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from codecbench.teachers.base import TEACHERS, Teacher
from codecbench.teachers.random_conv import RANDOM_CONV_FORMAT, RandomConvTeacher, check_teacher_audio

INPUT_LAYOUTS = ("b1t", "bt")
OUTPUT_LAYOUTS = ("bcf", "bfc")


def _zip_names(path: Path) -> list[str]:
    if not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def is_torchscript_archive(path: Path) -> bool:
    """TorchScript archives are zip files holding ``<name>/constants.pkl`` and ``<name>/code/``."""
    names = _zip_names(path)
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def is_exported_program_archive(path: Path) -> bool:
    """``torch.export.save`` archives hold ``<name>/archive_format`` and ``<name>/models/``."""
    names = _zip_names(path)
    return any(n.endswith("/archive_format") for n in names) and any("/models/" in n for n in names)


def _load_weights(path: Path, architecture: Mapping[str, Any] | None) -> tuple[nn.Module, int]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise ValueError(
            f"checkpoint teacher: {path} is neither a TorchScript file nor a weights-only state dict ({error}). "
            "Export your model with torch.jit.script/trace and torch.jit.save, or save a state dict of the "
            "random_conv architecture; pickled nn.Module objects are not loaded."
        ) from None
    if isinstance(payload, Mapping) and payload.get("format") == RANDOM_CONV_FORMAT:
        config = dict(payload["config"])
        state = payload["state_dict"]
    elif isinstance(payload, Mapping) and payload and all(isinstance(v, Tensor) for v in payload.values()):
        config = dict(architecture or {})
        state = payload
    else:
        raise ValueError(
            f"checkpoint teacher: {path} holds a {type(payload).__name__}, not a state dict of tensors; "
            "expected a TorchScript file, a file written by RandomConvTeacher.save, or a random_conv state dict"
        )
    try:
        model = RandomConvTeacher(**config)
    except TypeError as error:
        raise ValueError(f"checkpoint teacher: bad random_conv architecture {config} for {path}: {error}") from None
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"checkpoint teacher: {path} does not fit the random_conv architecture {config}: "
            f"missing {result.missing_keys}, unexpected {result.unexpected_keys}. "
            "Pass architecture=... with the settings the weights were trained with."
        )
    return model, model.sample_rate


@TEACHERS.register("checkpoint")
class CheckpointTeacher(Teacher):
    """Teacher loaded from a file: an exported or TorchScript model, or random_conv weights.

    Model files are ``torch.export.save`` archives (``.pt2``; export in eval mode with
    dynamic batch and time dimensions, e.g. ``Dim.AUTO``) or TorchScript files
    (``torch.jit.save``; deprecated by PyTorch but still common). The model maps audio at
    ``sample_rate`` (default 16000) to features; ``input_layout`` is ``"b1t"`` ([B, 1, T])
    or ``"bt"`` ([B, T]); ``output_layout`` is ``"bcf"`` ([B, C, frames]) or ``"bfc"``
    ([B, frames, C], as Hugging Face models return); a tuple/list output uses its first
    element. Weight files are read with ``torch.load(weights_only=True)``:
    either a file from ``RandomConvTeacher.save`` (carries its own architecture) or a bare
    state dict for ``RandomConvTeacher(**architecture)``. The feature size is found by
    running one second of silence through the model at construction.
    """

    def __init__(
        self,
        path: str,
        sample_rate: int | None = None,
        feature_dim: int | None = None,
        input_layout: str = "b1t",
        output_layout: str = "bcf",
        architecture: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(
                f"checkpoint teacher: no file at {file} (set the teacher's path to your model file)"
            )
        if input_layout not in INPUT_LAYOUTS or output_layout not in OUTPUT_LAYOUTS:
            raise ValueError(
                f"checkpoint teacher: input_layout must be one of {INPUT_LAYOUTS} and output_layout one of "
                f"{OUTPUT_LAYOUTS}, got {input_layout!r}, {output_layout!r}"
            )
        self.path = str(file)
        self._model_has_modes = True
        if is_exported_program_archive(file) or is_torchscript_archive(file):
            if is_exported_program_archive(file):
                self.model: nn.Module = torch.export.load(str(file)).module()
                self._model_has_modes = False  # exported graphs are frozen in the mode they were exported in
            else:
                self.model = torch.jit.load(str(file), map_location="cpu")
            self.input_layout, self.output_layout = input_layout, output_layout
            self.sample_rate = int(sample_rate) if sample_rate is not None else 16000
        else:
            self.model, file_rate = _load_weights(file, architecture)
            self.input_layout, self.output_layout = "b1t", "bcf"
            if sample_rate is not None and int(sample_rate) != file_rate:
                raise ValueError(
                    f"checkpoint teacher: {file} was built for {file_rate} Hz but sample_rate={sample_rate} was given"
                )
            self.sample_rate = file_rate
        for parameter in self.model.parameters():  # ScriptModules lack requires_grad_()
            parameter.requires_grad_(False)
        self.eval()
        try:
            with torch.no_grad():
                probe = self.forward(torch.zeros(1, 1, self.sample_rate))
        except ValueError:
            raise
        except Exception as error:
            hint = " An exported model needs dynamic batch and time dimensions." if not self._model_has_modes else ""
            raise ValueError(
                f"checkpoint teacher: {file} failed on one second of silence, shape [1, 1, {self.sample_rate}] "
                f"(input_layout={self.input_layout!r}): {error}.{hint}"
            ) from error
        self.feature_dim = int(probe.shape[1])
        if feature_dim is not None and int(feature_dim) != self.feature_dim:
            raise ValueError(
                f"checkpoint teacher: {file} produces {self.feature_dim}-dim features, but feature_dim={feature_dim} "
                f"was given (check output_layout={self.output_layout!r})"
            )

    def train(self, mode: bool = True) -> CheckpointTeacher:
        """A teacher is always in eval mode."""
        self.training = False
        if self._model_has_modes:
            self.model.train(False)
        return self

    def forward(self, audio: Tensor) -> Tensor:
        audio = check_teacher_audio(audio, "checkpoint")
        output = self.model(audio[:, 0] if self.input_layout == "bt" else audio)
        if isinstance(output, (tuple, list)):
            output = output[0]
        if not isinstance(output, Tensor) or output.dim() != 3:
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ValueError(
                f"checkpoint teacher: model {self.path} returned {shape}; expected a 3-d feature tensor "
                f"laid out as {self.output_layout!r}"
            )
        return output.transpose(1, 2) if self.output_layout == "bfc" else output
