"""The doctor as a trainer callback: live diagnoses in the progress output and in ``metrics.jsonl``.

Enable it from a recipe (Gin name ``codecbench.doctor``)::

    codecbench.train.callbacks = [@codecbench.doctor()]
    codecbench.doctor.fail_fast = True              # stop (with a checkpoint) on a persisting fatal diagnosis
    codecbench.doctor.thresholds = {'amplitude_pct': 40.0}

A diagnosis is logged once when it fires and once when it clears, as a record of kind
``diagnosis`` whose keys are ``<name>`` (1 fired, 0 cleared), ``<name>/fatal`` (1 or 0) and
``<name>/<evidence>`` for each number of its evidence.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import gin

from codecbench.training.callbacks import RunContext, StepRecord, StopRequest, TrainerCallback
from codecbench.training.doctor import RULE_NAMES, RULES, CheckResult, Diagnosis, Doctor, Thresholds

DIAGNOSIS_KIND = "diagnosis"


def diagnosis_record(diagnosis: Diagnosis, fired: bool, step: int | None = None) -> StepRecord:
    """The ``diagnosis`` record logged when ``diagnosis`` fires (``fired``) or clears."""
    values = {diagnosis.name: 1.0 if fired else 0.0, f"{diagnosis.name}/fatal": float(diagnosis.fatal)}
    if fired:
        values.update({f"{diagnosis.name}/{key}": float(value) for key, value in diagnosis.evidence.items()})
    return StepRecord(diagnosis.step if step is None else step, DIAGNOSIS_KIND, values)


def format_diagnosis(diagnosis: Diagnosis, step: int, fired: bool) -> str:
    """The lines printed to the progress output."""
    if not fired:
        return f"doctor: step {step}: cleared {diagnosis.name}"
    return (
        f"doctor: step {step}: {diagnosis.severity.upper()} {diagnosis.name}: {diagnosis.summary}\n"
        f"doctor:   suggestion: {diagnosis.suggestion}"
    )


class DoctorCallback(TrainerCallback):
    """Runs the training doctor on every record; optionally stops a run whose fatal diagnosis persists.

    ``fail_fast``: return a stop request (the trainer then writes a checkpoint) once a fatal
    diagnosis has been active for ``patience`` consecutive checks of its rule. ``thresholds``
    overrides defaults of :class:`~codecbench.training.doctor.Thresholds` by name. ``ignore``
    names diagnoses that are neither reported nor acted on. ``stream`` receives the printed lines
    (default: stderr, where the progress bar lives); ``quiet`` prints nothing.
    """

    def __init__(
        self,
        fail_fast: bool = False,
        patience: int = 3,
        thresholds: Thresholds | Mapping[str, float] | None = None,
        ignore: Sequence[str] = (),
        stream: TextIO | None = None,
        quiet: bool = False,
    ) -> None:
        if patience < 1:
            raise ValueError(f"codecbench.doctor.patience must be >= 1, got {patience}")
        unknown = sorted(set(ignore) - set(RULE_NAMES))
        if unknown:
            raise ValueError(f"codecbench.doctor.ignore names unknown diagnoses {unknown}; known: {list(RULE_NAMES)}")
        self.fail_fast = fail_fast
        self.patience = patience
        self.thresholds = thresholds if isinstance(thresholds, Thresholds) else Thresholds.with_overrides(thresholds)
        self.ignore = tuple(ignore)
        self.stream = stream
        self.quiet = quiet
        self.rules = tuple(rule for rule in RULES if rule.name not in self.ignore)
        self.doctor = Doctor(self.thresholds, rules=self.rules)
        self.stop_reason: str | None = None
        self._emit: Callable[[StepRecord], None] | None = None

    # -- hooks ------------------------------------------------------------------------------------------------
    def on_start(self, context: RunContext) -> None:
        self.doctor = Doctor(self.thresholds, codebook_sizes=context.codebook_sizes, rules=self.rules)
        self._emit = context.emit
        self.stop_reason = None
        if context.start_step > 0:
            self._replay(context)

    def on_step(self, record: StepRecord) -> StopRequest | None:
        if record.kind == DIAGNOSIS_KIND:
            return None
        result = self.doctor.observe(record)
        if result is None:
            return None
        self._report(result)
        return self._stop_request()

    def on_end(self, context: RunContext) -> None:
        active = list(self.doctor.active.values())
        if not active:
            self._print("doctor: no active diagnosis at the end of the run")
        else:
            names = ", ".join(f"{d.name} ({d.severity})" for d in active)
            self._print(
                f"doctor: active at the end of the run: {names}; run `codecbench doctor "
                f"{context.run_dir}` for the report"
            )

    # -- internals --------------------------------------------------------------------------------------------
    def _replay(self, context: RunContext) -> None:
        """Rebuild the history of a resumed run from its ``metrics.jsonl`` (silently)."""
        from codecbench.training.loggers import METRICS_FILE, read_metrics

        path = context.run_dir / METRICS_FILE
        if not path.exists():
            return
        for row in read_metrics(path):
            if row.get("kind") != DIAGNOSIS_KIND and int(row.get("step", 0)) <= context.start_step:
                self.doctor.observe(row)

    def _report(self, result: CheckResult) -> None:
        for diagnosis in result.fired:
            self._print(format_diagnosis(diagnosis, result.step, fired=True))
            self._log(diagnosis_record(diagnosis, fired=True, step=result.step))
        for diagnosis in result.cleared:
            self._print(format_diagnosis(diagnosis, result.step, fired=False))
            self._log(diagnosis_record(diagnosis, fired=False, step=result.step))

    def _stop_request(self) -> StopRequest | None:
        if not self.fail_fast or self.stop_reason is not None:
            return None
        for diagnosis in self.doctor.active.values():
            streak = self.doctor.streak(diagnosis.name)
            if diagnosis.fatal and streak >= self.patience:
                self.stop_reason = (
                    f"doctor: fatal diagnosis {diagnosis.name} persisted for {streak} checks "
                    f"(since step {self._fired_at(diagnosis.name)}): {diagnosis.summary}"
                )
                self._print(f"doctor: fail-fast: stopping the run ({diagnosis.name})")
                return StopRequest(self.stop_reason)
        return None

    def _fired_at(self, name: str) -> int:
        fired = [event.step for event in self.doctor.events if event.state == "fired" and event.diagnosis.name == name]
        return fired[-1] if fired else -1

    def _log(self, record: StepRecord) -> None:
        if self._emit is not None:
            self._emit(record)

    def _print(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream or sys.stderr, flush=True)


gin.register("doctor", module="codecbench")(DoctorCallback)
