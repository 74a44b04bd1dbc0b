"""End to end: train a tiny codec for one step with the real trainer, then run ``codecbench bench`` on it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench_doubles import write_signals

TINY_RECIPE = """
SAMPLE_RATE = 16000
STRIDES = (2, 4)
LATENT = 8
codecbench.train.model = @codecbench.Codec()
codecbench.Codec.encoder = @codecbench.encoders.dac()
codecbench.Codec.quantizer = @codecbench.quantizers.rvq()
codecbench.Codec.decoder = @codecbench.decoders.dac()
codecbench.encoders.dac.sample_rate = %SAMPLE_RATE
codecbench.encoders.dac.strides = %STRIDES
codecbench.encoders.dac.channels = 4
codecbench.encoders.dac.latent_dim = %LATENT
codecbench.decoders.dac.sample_rate = %SAMPLE_RATE
codecbench.decoders.dac.strides = %STRIDES
codecbench.decoders.dac.channels = 16
codecbench.decoders.dac.latent_dim = %LATENT
codecbench.quantizers.rvq.dim = %LATENT
codecbench.quantizers.rvq.n_q = 2
codecbench.quantizers.rvq.codebook_size = 16
codecbench.quantizers.rvq.kmeans_iters = 2
codecbench.train.dataset = @codecbench.datasets.folder
codecbench.datasets.folder.sample_rate = %SAMPLE_RATE
codecbench.datasets.folder.crop_seconds = 0.05
codecbench.datasets.folder.crops_per_epoch = 8
codecbench.datasets.folder.validation_fraction = 0.34
codecbench.train.generator_losses = {'l1': @codecbench.losses.l1()}
codecbench.train.balancer = @codecbench.balancers.weighted()
codecbench.balancers.weighted.weights = {'l1': 1.0}
codecbench.train.generator_optimizer = @generator/torch.optim.Adam
generator/torch.optim.Adam.lr = 1e-3
codecbench.train.batch_size = 4
codecbench.train.max_steps = 1
codecbench.train.validation_every = 100
codecbench.train.monitor_every = 100
codecbench.train.checkpoint_every = 1
codecbench.train.device = 'cpu'
codecbench.train.progress = False
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(checkpoint, data folder): one training step on three generated files (16 and 22.05 kHz)."""
    pytest.importorskip("codecbench.training.trainer")
    from codecbench.config import parse_recipe
    from codecbench.training import train

    root = tmp_path_factory.mktemp("bench_e2e")
    data = root / "data"
    write_signals(data, rates=(16000, 22050, 16000), seconds=0.5)
    recipe = root / "tiny_bench.gin"
    recipe.write_text(TINY_RECIPE)
    parse_recipe(recipe, [f"codecbench.train.data_paths = [{str(data)!r}]"])
    result = train(root / "run")
    assert result.checkpoint is not None and result.checkpoint.exists()
    return result.checkpoint, data


def test_bench_subprocess_on_a_trained_checkpoint(trained: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    checkpoint, data = trained
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "codecbench",
        "bench",
        "--checkpoint",
        str(checkpoint),
        "--n-q",
        "1,2",
        "--data",
        str(data),
        "--metric",
        "snr,si_sdr,amplitude,mel,bitrate,codebook,rtf",
        "--examples",
        "1",
        "--json",
        str(out / "r.json"),
        "--csv",
        str(out / "r.csv"),
        "--report",
        str(out / "report"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "step_00000001@q1" in done.stdout and "step_00000001@q2" in done.stdout

    result = json.loads((out / "r.json").read_text())
    q1, q2 = result["systems"]
    assert q1["sample_rate"] == 16000 and q1["description"]["step"] == 1 and len(q1["files"]) == 3
    assert q1["description"]["fingerprint"] == q2["description"]["fingerprint"]
    # 2 levels x 4 bits x 2000 frames/s = 16 kbps nominal; one level is half of it.
    assert q1["summary"]["kbps"]["mean"] == 8.0 and q2["summary"]["kbps"]["mean"] == 16.0
    assert q2["summary"]["kbps_measured"]["mean"] > 16.0  # container header and checksums on top
    assert q1["codebook"]["sizes"] == [16] and q2["codebook"]["sizes"] == [16, 16]
    assert all(1.0 <= p <= 16.0 for p in q2["codebook"]["perplexity"])
    assert q2["codebook"]["frames"] == 3 * 0.5 * 2000
    for key in ("snr", "si_sdr", "amplitude", "mel", "rtf_encode", "rtf_decode"):
        assert q2["summary"][key]["n"] == 3, key

    rows = list(csv.DictReader((out / "r.csv").open()))
    assert [r["system"] for r in rows] == ["step_00000001@q1", "step_00000001@q2"]
    assert float(rows[1]["kbps_mean"]) == 16.0
    assert len(list(csv.DictReader((out / "r.files.csv").open()))) == 6

    report = (out / "report" / "report.md").read_text()
    assert "step_00000001@q2" in report and "Codebook usage" in report and "-16 dBFS" in report
    assert (out / "report" / "plots" / "bitrate_quality.png").stat().st_size > 0
    assert (out / "report" / "plots" / "spectrogram_00.png").stat().st_size > 0
    wavs = sorted(p.name for p in (out / "report" / "audio").rglob("*.wav"))
    assert wavs == ["reference_16000.wav", "step_00000001@q1.wav", "step_00000001@q2.wav"]
