"""Typed configuration of one training run, and building its parts."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any, Literal

from rnnjax import cells, memory
from rnnjax.models import EncoderDecoder, SequenceModel
from rnnjax.tasks import (
    LANGUAGES,
    TAGGING_TASKS,
    TRANSDUCTIONS,
    Language,
    TaggingTask,
    Transduction,
)
from rnnjax.tasks.cfl import CFL_TASKS, cfl_task

CellName = Literal["elman", "lstm", "gru", "qrnn", "doubling_lstm"]
TaskName = Literal[
    "anbn", "anbncn", "anbn_sigma_star", "marked_reversal",
    "copy", "reversal", "bigram_flip", "svo_sov", "gender_conjugation",
    "cfl_marked_reversal", "cfl_unmarked_reversal", "cfl_padded_reversal", "cfl_dyck2", "cfl_hardest_cfl",
    "tomita1", "tomita2", "tomita3", "tomita4", "tomita5", "tomita6", "tomita7", "balanced_parentheses",
]
MemoryName = Literal["none", "stack", "queue", "deque", "superposition", "tape", "attention", "rns", "ns", "vrns"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One run: task, architecture, optimisation, evaluation.

    Every field can be overridden on the command line (``--hidden 20``).
    """

    task: TaskName = "anbn"
    """language or transduction to learn"""
    objective: Literal["prediction", "tagging", "transduction"] = "prediction"
    """next-symbol prediction on members (Weiss et al. 2018), per-prefix membership tags,
    or source -> target transduction (Grefenstette et al. 2015; the transduction tasks)"""
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
    symbols: int = 128
    """copy, reversal, bigram_flip only: number of source symbols"""
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
    memory: MemoryName = "none"
    """memory attached to the cell (layers): a stratified stack/queue/deque, a superposition
    stack, a tape, or attention over an encoder of the same architecture"""
    memory_width: int = 8
    """value width of stack, queue, deque, superposition and tape cells, and of VRNS vectors"""
    stack_states: int = 2
    """rns, ns, vrns: PDA states Q"""
    stack_symbols: int = 3
    """rns, ns, vrns: stack symbols S (bottom included)"""
    stack_window: int = 0
    """rns, ns, vrns: keep runs at most this many steps back; 0 = the whole sequence"""
    attention_score: Literal["dot", "additive"] = "dot"
    attention_fusion: Literal["early", "late"] = "late"
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
        positive = (
            "n_min", "hidden", "layers", "width", "batch_size", "steps", "num_buckets", "eval_n_max", "log_every",
            "symbols", "memory_width", "stack_states", "stack_symbols",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_suffix", "embedding_dim", "clip_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.objective == "tagging" and self.task not in TAGGING_TASKS:
            raise ValueError(f"objective 'tagging' needs a task in {sorted(TAGGING_TASKS)}, got {self.task!r}")
        if (self.objective == "transduction") != (self.task in TRANSDUCTIONS):
            raise ValueError(
                f"the transduction tasks {sorted(TRANSDUCTIONS)} go with objective 'transduction' and only they do; "
                f"got task {self.task!r} with objective {self.objective!r}"
            )
        if self.task in ("svo_sov", "gender_conjugation") and self.n_min < 5:
            raise ValueError(f"{self.task} sentences have at least 5 words: n_min must be >= 5, got {self.n_min}")
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


def build_task(cfg: TrainConfig) -> Language | TaggingTask | Transduction:
    """The task: a Language (prediction), a TaggingTask or a Transduction."""
    if cfg.objective == "tagging":
        return TAGGING_TASKS[cfg.task]()
    if cfg.objective == "transduction":
        permutation = cfg.task in ("copy", "reversal", "bigram_flip")
        return TRANSDUCTIONS[cfg.task](cfg.symbols) if permutation else TRANSDUCTIONS[cfg.task]()
    if cfg.task in CFL_TASKS:
        return cfl_task(CFL_TASKS[cfg.task], (cfg.n_min, cfg.n_max), (cfg.n_min, cfg.eval_n_max), seed=0)
    if cfg.task == "anbn_sigma_star":
        return LANGUAGES[cfg.task](max_suffix=cfg.max_suffix)
    if cfg.task == "marked_reversal":
        return LANGUAGES[cfg.task](cfg.alphabet)
    return LANGUAGES[cfg.task]()


def longest_sequence(cfg: TrainConfig, task, training: bool) -> int:
    """The longest token sequence a model reads in training (``training``) or in
    evaluation: what a memory's capacity must hold."""
    if cfg.objective == "tagging":
        return cfg.train_length if training else max(cfg.eval_lengths)
    n = cfg.n_max if training else max(2 * cfg.n_max, cfg.eval_n_max)
    return 8 * math.ceil(task.max_length(n) / 8) + 1  # length buckets pad to multiples of 8; +1 start symbol


def build_memory(cfg: TrainConfig) -> memory.Memory:
    m, window = cfg.memory_width, cfg.stack_window or None
    return {
        "stack": lambda: memory.stack(m),
        "queue": lambda: memory.queue(m),
        "deque": lambda: memory.deque(m),
        "superposition": lambda: memory.superposition_stack(m),
        "tape": lambda: memory.tape(m),
        "rns": lambda: memory.nondeterministic_stack(cfg.stack_states, cfg.stack_symbols, window=window),
        "ns": lambda: memory.nondeterministic_stack(
            cfg.stack_states, cfg.stack_symbols, normalised=True, read_states=False, window=window
        ),
        "vrns": lambda: memory.nondeterministic_stack(cfg.stack_states, cfg.stack_symbols, vector_width=m, window=window),
    }[cfg.memory]()


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


def build_model(cfg: TrainConfig, training: bool = False) -> tuple[Language | TaggingTask | Transduction, Any]:
    """The task and the model (a SequenceModel, or an EncoderDecoder for attention).
    A memory's capacity is the longest sequence of training (``training``) or of
    evaluation; parameters do not depend on it."""
    task = build_task(cfg)
    num_outputs = task.num_labels if cfg.objective == "tagging" else task.vocab_size
    embedding = cfg.embedding_dim or None
    if cfg.memory == "attention":
        separator = task.separator if cfg.objective == "transduction" else -1
        return task, EncoderDecoder(
            build_cell(cfg), build_cell(cfg), task.vocab_size, num_outputs, separator, embedding,
            cfg.attention_score, cfg.attention_fusion,
        )
    cell = build_cell(cfg)
    if cfg.memory != "none":
        cell = memory.augment(cell, build_memory(cfg), longest_sequence(cfg, task, training))
    return task, SequenceModel(cell, task.vocab_size, num_outputs, embedding)
