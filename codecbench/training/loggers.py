"""Where step records go: ``metrics.jsonl`` in the run directory, a rich progress bar, optionally wandb.

Only rank 0 logs. ``metrics.jsonl`` holds one JSON object per record (``step``, ``kind`` and
the values), flushed at once so that a doctor can follow a live run. wandb is imported
lazily, runs offline unless an API key is configured, and is never required.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from codecbench.errors import CodecbenchError
from codecbench.training.callbacks import StepRecord

METRICS_FILE = "metrics.jsonl"


class RecordLogger(Protocol):
    def log(self, record: StepRecord) -> None: ...

    def close(self) -> None: ...


class JsonlLogger:
    """Appends records to ``metrics.jsonl``; on resume, drops records after the resumed step."""

    def __init__(self, path: str | Path, resume_from_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_from_step is not None and self.path.exists():
            self._truncate_after(resume_from_step)
        self._file = self.path.open("a", encoding="utf-8")

    def _truncate_after(self, step: int) -> None:
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if int(json.loads(line)["step"]) <= step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash
        self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def log(self, record: StepRecord) -> None:
        self._file.write(json.dumps(record.as_json(), allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl`` (a run directory works too); lines cut by a crash are skipped."""
    target = Path(path)
    if target.is_dir():
        target = target / METRICS_FILE
    rows = []
    for line in target.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _short(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


class ProgressDisplay:
    """A rich progress bar with steps/s, the main losses and the latest validation SNR and amplitude.

    On a non-interactive stream (a log file, a CI job) it prints one plain line at most every
    ``plain_interval`` seconds instead.
    """

    def __init__(
        self, total: int, start: int = 0, enabled: bool = True, plain_interval: float = 30.0, max_losses: int = 4
    ) -> None:
        self.enabled = enabled
        self.max_losses = max_losses
        self.total = total
        self.plain_interval = plain_interval
        self._last_plain = 0.0
        self._train: dict[str, float] = {}
        self._validation: dict[str, float] = {}
        self._progress: Any = None
        self._task: Any = None
        self.interactive = enabled and sys.stderr.isatty()
        if self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=Console(stderr=True),
            )
            self._task = self._progress.add_task("train", total=total, completed=start, status="")
            self._progress.start()

    def status(self) -> str:
        parts = []
        if "steps_per_second" in self._train:
            parts.append(f"{self._train['steps_per_second']:.2f} it/s")
        losses = [(key[5:], value) for key, value in self._train.items() if key.startswith("loss/")]
        main = [item for item in losses if item[0] == "total"] + [item for item in losses if item[0] != "total"]
        parts += [f"{name} {_short(value)}" for name, value in main[: self.max_losses]]
        if "snr_db" in self._validation:
            parts.append(f"val SNR {self._validation['snr_db']:.2f} dB")
        if "amplitude_pct" in self._validation:
            parts.append(f"amp {self._validation['amplitude_pct']:.0f}%")
        return " | ".join(parts)

    def update(self, step: int, record: StepRecord | None = None) -> None:
        if not self.enabled:
            return
        if record is not None and record.kind == "train":
            self._train = dict(record.values)
        elif record is not None and record.kind == "validation":
            self._validation = dict(record.values)
        if self._progress is not None:
            self._progress.update(self._task, completed=step, status=self.status())
            return
        now = time.monotonic()
        if record is not None and (record.kind == "validation" or now - self._last_plain >= self.plain_interval):
            self._last_plain = now
            print(f"step {step}/{self.total} | {self.status()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class WandbLogger:
    """Logs records to Weights & Biases; offline unless an API key is configured."""

    def __init__(self, run_dir: Path, project: str, config_text: str, resume: bool) -> None:
        try:
            import wandb
        except ImportError as error:
            raise CodecbenchError(
                "wandb logging was requested (--wandb or codecbench.train.wandb = True) but wandb is not "
                "installed: pip install wandb (or codecbench[wandb]), or drop --wandb"
            ) from error
        if "WANDB_MODE" not in os.environ and not os.environ.get("WANDB_API_KEY"):
            os.environ["WANDB_MODE"] = "offline"
        id_file = run_dir / "wandb_id.txt"
        run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:12]
        id_file.write_text(run_id)
        self._wandb = wandb
        self._run = wandb.init(
            project=project, dir=str(run_dir), id=run_id, resume="allow" if resume else None,
            name=run_dir.name, config={"gin_config": config_text},
        )  # fmt: skip

    def log(self, record: StepRecord) -> None:
        values = {f"{record.kind}/{key}": value for key, value in record.values.items()}
        self._run.log(values, step=record.step)

    def close(self) -> None:
        self._run.finish()


class LoggerGroup:
    """Fans each record out to several loggers."""

    def __init__(self, loggers: Sequence[RecordLogger] = ()) -> None:
        self.loggers = list(loggers)

    def log(self, record: StepRecord) -> None:
        for logger in self.loggers:
            logger.log(record)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


def scalar_values(values: Mapping[str, Any]) -> dict[str, float]:
    """Plain floats from a mapping of numbers and one-element tensors (others dropped)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError, RuntimeError):
            continue
    return out
