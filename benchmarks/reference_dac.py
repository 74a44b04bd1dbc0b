"""Run-time access to Descript's DAC reference implementation, for side-by-side benchmarks only.

Nothing of the reference is part of codecbench: :func:`obtain` clones (or, for a local git directory,
archives) the DAC repository and descript-audiotools into a scratch folder when a benchmark runs, and
:func:`import_reference` imports them from there. audiotools imports several packages at load time
that DAC's model, discriminator and loss code never call (torchaudio, julius, ffmpy, flatten_dict,
randomname, importlib_resources, tensorboard, tqdm, markdown2, argbind); those that are not installed
are replaced by empty import-only stand-ins (any attribute is a do-nothing object). The code paths the
benchmark runs - ``AudioSignal``'s STFT and mel spectrogram (librosa filters), DAC's model, quantizer,
discriminator and losses - are the reference's own, unchanged.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DAC_URL = "https://github.com/descriptinc/descript-audio-codec.git"
AUDIOTOOLS_URL = "https://github.com/descriptinc/audiotools.git"
IMPORT_ONLY = (
    "torchaudio",
    "julius",
    "ffmpy",
    "flatten_dict",
    "randomname",
    "importlib_resources",
    "tensorboard",
    "tqdm",
    "markdown2",
    "argbind",
)


class ReferenceUnavailable(RuntimeError):
    """The reference sources could not be obtained or imported."""


def _git_dir(path: Path) -> Path | None:
    """The git directory of a local repository (bare, mirror or work tree), else None."""
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    if (path / ".git").exists():
        return path / ".git"
    return None


def obtain(repo: str, dest: Path, timeout: float = 300.0) -> Path:
    """Materialise ``repo`` (git URL or local git directory) at ``dest`` (reused when it exists)."""
    if (dest / ".complete").is_file():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    local = _git_dir(Path(repo)) if Path(repo).exists() else None
    try:
        if local is not None:
            archive = subprocess.run(
                ["git", "--git-dir", str(local), "archive", "HEAD"], capture_output=True, check=True, timeout=timeout
            )
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True, timeout=timeout)
        else:
            subprocess.run(
                ["git", "clone", "--quiet", "--depth", "1", repo, str(dest)],
                capture_output=True,
                check=True,
                timeout=timeout,
                env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"},
            )
    except (subprocess.SubprocessError, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        message = f"could not obtain {repo}: {error} {detail.decode(errors='replace')[-300:]}"
        raise ReferenceUnavailable(message) from error
    (dest / ".complete").write_text(repo)
    return dest


class _Anything:
    """A do-nothing stand-in: callable, subclassable, every attribute is another stand-in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return _Anything()

    def __getattr__(self, name: str) -> _Anything:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (object,)


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str) -> _Anything:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StubModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []  # type: ignore[attr-defined]


@dataclass
class Reference:
    """The imported reference modules a benchmark needs."""

    dac: Any  # the ``dac`` package
    audio_signal: Any  # audiotools.AudioSignal
    stubbed: list[str]


def import_reference(dac_root: Path, audiotools_root: Path) -> Reference:
    """Import DAC and audiotools from their source folders (call once, in a throw-away process)."""
    missing = {name for name in IMPORT_ONLY if importlib.util.find_spec(name) is None}
    sys.meta_path.append(_StubFinder(missing))
    if importlib.util.find_spec("tensorboard") is None or "tensorboard" in missing:
        sys.modules.setdefault("torch.utils.tensorboard", _StubModule("torch.utils.tensorboard"))
    sys.path[:0] = [str(dac_root), str(audiotools_root)]
    try:
        import audiotools  # type: ignore[import-not-found]
        import dac  # type: ignore[import-not-found]
    except Exception as error:  # any import failure means "no reference"
        raise ReferenceUnavailable(f"could not import the reference from {dac_root}: {error!r}") from error
    return Reference(dac=dac, audio_signal=audiotools.AudioSignal, stubbed=sorted(missing))


def build_generator(ref: Reference, cfg: dict[str, Any], sample_rate: int) -> Any:
    """DAC's ``DAC`` model at ``cfg`` (encoder_dim, decoder_dim, strides, n_q, codebook_size, codebook_dim)."""
    strides = list(cfg["strides"])
    return ref.dac.DAC(
        encoder_dim=cfg["encoder_dim"],
        encoder_rates=strides,
        decoder_dim=cfg["decoder_dim"],
        decoder_rates=strides[::-1],
        n_codebooks=cfg["n_q"],
        codebook_size=cfg["codebook_size"],
        codebook_dim=cfg["codebook_dim"],
        quantizer_dropout=cfg["quantizer_dropout"],
        sample_rate=sample_rate,
    )


def build_training(ref: Reference, sample_rate: int) -> tuple[Any, Any, Any]:
    """(discriminator, mel loss, GAN loss) as DAC's conf/final/16khz.yml configures them."""
    discriminator = ref.dac.model.Discriminator(
        rates=[], periods=[2, 3, 5, 7, 11], fft_sizes=[2048, 1024, 512], sample_rate=sample_rate
    )
    losses = ref.dac.nn.loss
    mel = losses.MelSpectrogramLoss(
        n_mels=[5, 10, 20, 40, 80, 160, 320],
        window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
        mel_fmin=[0.0] * 7,
        mel_fmax=[None] * 7,
        pow=1.0,
        clamp_eps=1e-5,
        mag_weight=0.0,
    )
    return discriminator, mel, losses.GANLoss(discriminator)
