"""Typed configuration of one training run, and building its parts."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Literal

from rnnjax import cells
from rnnjax.models import SequenceModel
from rnnjax.tasks import LANGUAGES, TAGGING_TASKS, Language, TaggingTask

CellName = Literal["elman", "lstm", "gru", "qrnn", "doubling_lstm"]
TaskName = Literal["anbn", "anbncn", "anbn_sigma_star", "marked_reversal"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One run: task, architecture, optimisation, evaluation.

    Every field can be overridden on the command line (``--hidden 20``).
    """

    task: TaskName = "anbn"
    """language to learn"""
    objective: Literal["prediction", "tagging"] = "prediction"
    """next-symbol prediction on members (Weiss et al. 2018) or per-prefix membership tags"""
    train_length: int = 64
    """tagging only: length of every training string"""
    eval_lengths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    """tagging only: test string lengths"""
    n_min: int = 1
    """smallest n in the training strings"""
    n_max: int = 99
    """largest n in the training strings"""
    max_suffix: int = 16
    """a^n b^n Sigma* only: longest random suffix"""
    alphabet: str = "ab"
    """marked_reversal only: the symbols of w"""
    cell: CellName = "lstm"
    activation: Literal["tanh", "relu", "saturated"] = "tanh"
    """elman only"""
    reset: Literal["before", "after"] = "before"
    """gru only: reset gate before U_n (Cho et al. 2014) or after (cuDNN/flax)"""
    forget_bias: float = 1.0
    """lstm, doubling_lstm: initial forget-gate bias"""
    width: int = 2
    """qrnn only: convolution width k"""
    pooling: Literal["f", "fo", "ifo"] = "fo"
    """qrnn only"""
    recurrence: Literal["associative", "sequential"] | None = None
    """qrnn only: whole-sequence recurrence; None = backend default"""
    hidden: int = 10
    layers: int = 1
    embedding_dim: int = 3
    """0 feeds one-hot vectors"""
    hoist: bool | None = None
    """input projection in `project` (True) or in `step` (False); None = backend default"""
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: float = 0.01
    clip_norm: float = 1.0
    """global-norm gradient clipping; 0 disables"""
    batch_size: int = 32
    steps: int = 2000
    num_buckets: int = 4
    """training lengths are split into this many padded length buckets (one program each)"""
    seed: int = 0
    threshold: float = 0.005
    """acceptance threshold on next-symbol probabilities"""
    eval_n_max: int = 1000
    """evaluation tests every n in 1..eval_n_max"""
    log_every: int = 50

    def __post_init__(self):
        for name, hint in typing.get_type_hints(type(self)).items():
            choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else ()
            if choices and getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        positive = ("n_min", "hidden", "layers", "width", "batch_size", "steps", "num_buckets", "eval_n_max", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_suffix", "embedding_dim", "clip_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.objective == "tagging" and self.task not in TAGGING_TASKS:
            raise ValueError(f"objective 'tagging' needs a task in {sorted(TAGGING_TASKS)}, got {self.task!r}")
        if self.train_length < 2 or any(n < 2 for n in self.eval_lengths):
            raise ValueError(f"train_length and eval_lengths must be >= 2, got {self.train_length}, {self.eval_lengths}")
        if self.n_max < self.n_min:
            raise ValueError(f"n_max ({self.n_max}) must be >= n_min ({self.n_min})")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        fields = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def build_language(cfg: TrainConfig) -> Language:
    if cfg.task == "anbn_sigma_star":
        return LANGUAGES[cfg.task](max_suffix=cfg.max_suffix)
    if cfg.task == "marked_reversal":
        return LANGUAGES[cfg.task](cfg.alphabet)
    return LANGUAGES[cfg.task]()


def build_cell(cfg: TrainConfig) -> cells.Cell:
    def layer():
        if cfg.cell == "elman":
            return cells.elman(cfg.hidden, cfg.activation, hoist=cfg.hoist)
        if cfg.cell == "lstm":
            return cells.lstm(cfg.hidden, forget_bias=cfg.forget_bias, hoist=cfg.hoist)
        if cfg.cell == "doubling_lstm":
            return cells.doubling_lstm(cfg.hidden, forget_bias=cfg.forget_bias, hoist=cfg.hoist)
        if cfg.cell == "qrnn":
            return cells.qrnn(cfg.hidden, width=cfg.width, pooling=cfg.pooling, recurrence=cfg.recurrence)
        return cells.gru(cfg.hidden, reset=cfg.reset, hoist=cfg.hoist)

    return layer() if cfg.layers == 1 else cells.stack(*(layer() for _ in range(cfg.layers)))


def build_model(cfg: TrainConfig) -> tuple[Language | TaggingTask, SequenceModel]:
    """The task (a Language, or a TaggingTask for the tagging objective) and the model."""
    if cfg.objective == "tagging":
        task = TAGGING_TASKS[cfg.task]()
        return task, SequenceModel(build_cell(cfg), task.vocab_size, task.num_labels, cfg.embedding_dim or None)
    language = build_language(cfg)
    model = SequenceModel(build_cell(cfg), language.vocab_size, language.vocab_size, cfg.embedding_dim or None)
    return language, model
