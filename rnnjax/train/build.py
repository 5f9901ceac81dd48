"""Building a program's parts from its config, once: the task, and the model sized per phase."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from rnnjax import cells, memory
from rnnjax.cells import CELLS
from rnnjax.memory import MEMORIES
from rnnjax.models import MODELS
from rnnjax.tasks import TASKS, Task
from rnnjax.train.config import NO_MEMORY, TrainConfig


@dataclasses.dataclass(frozen=True)
class Bucket:
    """Training examples with size n in ``[n_lo, n_hi]``, sampled with ``max_len`` tokens."""

    n_lo: int
    n_hi: int
    max_len: int


def length_buckets(task: Task, num_buckets: int) -> tuple[Bucket, ...]:
    """Splits the task's training sizes into at most ``num_buckets`` contiguous ranges of n.

    Each bucket pads to its longest example rounded up to ``task.pad_multiple``, so a
    run's train program has one step per padded length instead of one per length.
    """
    n_min, n_max = task.sizes
    edges = np.unique(np.linspace(n_min, n_max + 1, num_buckets + 1).round().astype(int))
    multiple = task.pad_multiple
    return tuple(Bucket(int(lo), int(hi), multiple * math.ceil(task.max_length(int(hi)) / multiple))
                 for lo, hi in zip(edges[:-1], edges[1:] - 1))


@dataclasses.dataclass(frozen=True, eq=False)
class Parts:
    """What a program (configs equal up to seed, learning rate, clip norm) is built from.

    Attributes:
      task: the task.
      buckets: its training length buckets.
      model: memories sized for the longest training input.
      eval_model: memories sized for the longest evaluation input (same parameters).
      programs: the program's compiled functions, built once (``program``) and shared by
        every member and lane that trains it.
    """

    config: TrainConfig
    task: Task
    buckets: tuple[Bucket, ...]
    model: Any
    eval_model: Any
    programs: dict = dataclasses.field(default_factory=dict, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def program(self, name: Any, make: Callable[[], Any]) -> Any:
        """``make()`` on the first call for ``name``, the same object after (thread-safe),
        so a jitted function traced for one member serves the others."""
        with self._lock:
            if name not in self.programs:
                self.programs[name] = make()
            return self.programs[name]


def build(cfg: TrainConfig) -> Parts:
    t = cfg.task
    task = TASKS[t.name](t.n_min, t.n_max, cfg.eval.eval_n_max, **t.options)
    buckets = length_buckets(task, cfg.run.num_buckets)
    longest = task.input_length(buckets[-1].max_len)
    return Parts(cfg, task, buckets, build_model(cfg, task, longest),
                 build_model(cfg, task, max(longest, task.evaluation.longest)))


def build_cell(cfg: TrainConfig, capacity: int) -> cells.Cell:
    """The cell layers of ``cfg``, with its memory (sized for ``capacity`` steps) attached."""
    m = cfg.model
    layers = [CELLS[m.cell](m.hidden, **m.cell_options) for _ in range(m.layers)]
    cell = layers[0] if m.layers == 1 else cells.layers(*layers)
    if m.memory == NO_MEMORY:
        return cell
    return memory.augment(cell, MEMORIES[m.memory](**m.memory_options), capacity)


def build_model(cfg: TrainConfig, task: Task, capacity: int):
    """The model of ``cfg`` for ``task``; memories hold ``capacity`` steps (parameters do not
    depend on it)."""
    m = cfg.model
    return MODELS[m.name](lambda: build_cell(cfg, capacity), task, m.embedding_dim or None, **m.options)
