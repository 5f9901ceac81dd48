"""Training: configs, the jitted population step and loop, checkpoints, run directories, sweeps."""

from rnnjax.train.config import TrainConfig, build_model
from rnnjax.train.loop import TrainResult, TrainState, train, train_population

__all__ = ["TrainConfig", "TrainResult", "TrainState", "build_model", "train", "train_population"]
