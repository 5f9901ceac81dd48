"""Training: configs, building, the jitted population step and loop, checkpoints, run directories, sweeps."""

from rnnjax.train.build import Parts, build
from rnnjax.train.config import TrainConfig
from rnnjax.train.loop import TrainResult, TrainState, train, train_population

__all__ = ["Parts", "TrainConfig", "TrainResult", "TrainState", "build", "train", "train_population"]
