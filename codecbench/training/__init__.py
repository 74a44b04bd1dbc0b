"""Training: the shared trainer (Gin root ``codecbench.train``), checkpoints, validation, monitors, logging.

Importing this package registers ``codecbench.train`` (and the doctor callback, ``codecbench.doctor``) with Gin.
"""

from codecbench.training import doctor_callback  # noqa: F401  (registers @codecbench.doctor with Gin)
from codecbench.training.callbacks import RunContext, StepRecord, StopRequest, TrainerCallback
from codecbench.training.checkpoint import CheckpointError, LoadedCodec, latest_checkpoint, load_checkpoint, load_codec
from codecbench.training.trainer import TrainResult, TrainSettings, configured_seed, seed_everything, train

__all__ = [
    "CheckpointError",
    "LoadedCodec",
    "RunContext",
    "StepRecord",
    "StopRequest",
    "TrainResult",
    "TrainSettings",
    "TrainerCallback",
    "configured_seed",
    "latest_checkpoint",
    "load_checkpoint",
    "load_codec",
    "seed_everything",
    "train",
]
