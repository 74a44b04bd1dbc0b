"""The first signal asks for a stop; a second one exits at once; handlers are restored afterwards."""

from __future__ import annotations

import os
import signal

import pytest

from codecbench.training.signals import StopSignal


def test_first_signal_requests_stop_second_exits() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    with StopSignal(signals=(signal.SIGUSR1,), message="resume hint") as stop:
        assert stop.requested is None
        os.kill(os.getpid(), signal.SIGUSR1)
        assert stop.requested == "SIGUSR1"
        with pytest.raises(SystemExit) as exited:
            os.kill(os.getpid(), signal.SIGUSR1)
        assert exited.value.code == 128 + signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) == before
