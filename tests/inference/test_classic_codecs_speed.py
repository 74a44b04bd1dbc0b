"""benchmarks/classic_codecs_speed.py: a child's own peak RSS is measured, ratios are codecbench / classic."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bench(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("classic_codecs_speed")


def test_launch_reports_the_childs_own_peak_not_the_python_parents(bench) -> None:
    if bench.GNU_TIME is None:
        pytest.skip("GNU time (/usr/bin/time) is not installed")
    small = bench.launch(["true"])
    assert small.peak_rss_mb is not None and small.peak_rss_mb < 5  # a Python parent alone is ~14 MB
    big = bench.launch([sys.executable, "-c", "block = bytearray(80_000_000); block[::4096] = b'x' * 19532"])
    assert big.peak_rss_mb > 80 and big.wall > 0 and big.cpu >= 0


def test_ratios_divide_codecbench_by_each_classic_codec(bench) -> None:
    def case(system: str, operation: str, rtf: float, rss: float) -> object:
        return bench.CaseResult(system, operation, 10.0, [rtf * 10], [rtf * 5], rtf, rtf / 2, rss, 4000.0)

    cases = [case("opus", "encode", 0.02, 4.0), case("codec2", "encode", 0.01, 2.0),
             case("codecbench", "encode", 0.1, 300.0), case("opus", "decode", 0.01, 5.0)]
    ratios = bench.compute_ratios(cases)
    assert set(ratios) == {"encode_vs_opus", "encode_vs_codec2"}  # no codecbench decode case: no decode ratios
    assert ratios["encode_vs_opus"]["rtf_ratio"] == pytest.approx(5.0)
    assert ratios["encode_vs_codec2"]["rtf_cpu_ratio"] == pytest.approx(10.0)
    assert ratios["encode_vs_opus"]["peak_rss_ratio"] == pytest.approx(75.0)
