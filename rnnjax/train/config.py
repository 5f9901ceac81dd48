"""Typed configuration of a run, grouped by concern, and the flat names over it.

    cfg = TrainConfig.of(task="anbn", cell="gru", hidden=20, learning_rate=0.03)
    cfg.task.name, cfg.model.hidden, cfg.optim.learning_rate, cfg.run.seed
    cfg = cfg.replace(cell="lstm", forget_bias=0.5)     # flat names = CLI flags = grid fields

Groups: ``task`` (which task, its training sizes and its options), ``model``
(cell, layers, memory, their options), ``optim``, ``eval`` and ``run``. A field
that belongs to one task, cell, memory or model is an *option* of its registry
entry (``rnnjax.registry``): ``cfg.task.options["threshold"]``; changing the
entry keeps the options the new entry shares and resets the others.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from rnnjax import legacy
from rnnjax.cells import CELLS
from rnnjax.memory import MEMORIES
from rnnjax.models import EMBEDDING_DIMS, MODELS
from rnnjax.registry import Entry, Registry, check_value
from rnnjax.tasks import TASKS, smallest_n

VERSION = 3
NO_MEMORY = "none"


class Options(Mapping):
    """An immutable, hashable mapping of option values."""

    def __init__(self, items: Mapping | None = None):
        self._items = dict(sorted((items or {}).items()))

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __repr__(self) -> str:
        return f"Options({self._items})"


def _field(default, help: str, **kw):
    factory = {"default_factory": default} if callable(default) else {"default": default}
    return dataclasses.field(**factory, metadata={"help": help}, **kw)


def _resolve(registry: Registry, name: str, given: Mapping) -> Options:
    """``given`` options of ``registry[name]`` checked and completed with its defaults."""
    entry = registry[name]
    unknown = set(given) - set(entry.options)
    if unknown:
        takes = ", ".join(entry.options) or "no options"
        raise ValueError(f"{registry.kind} {name!r} takes no option {', '.join(sorted(unknown))} (it takes: {takes})")
    values = entry.defaults() | dict(given)
    return Options({k: _finite(k, check_value(k, entry.options[k].hint, v)) for k, v in values.items()})


def _finite(name: str, value: Any) -> Any:
    """``value``, or a ValueError naming ``name`` if it is (or holds) a float that is not finite:
    a config is written as standard JSON, and no setting is infinite."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in (value if isinstance(value, tuple) else (value,))):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


class _Group:
    """Checks each field's type (from its annotation) and ``POSITIVE`` fields."""

    POSITIVE: tuple[str, ...] = ()

    def _check(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            if hints[f.name] is Options:
                continue
            object.__setattr__(self, f.name, _finite(f.name, check_value(f.name, hints[f.name], getattr(self, f.name))))
        for name in self.POSITIVE:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class TaskConfig(_Group):
    name: str = _field("anbn", "the task (rnnjax.tasks.TASKS)")
    n_min: int = _field(1, "smallest size parameter n in training (the n of a^n b^n, a source or string length)")
    n_max: int = _field(99, "largest size parameter n in training")
    options: Options = _field(Options, "the task's own options")
    POSITIVE = ("n_min",)

    def __post_init__(self):
        self._check()
        object.__setattr__(self, "options", _resolve(TASKS, self.name, self.options))
        if self.n_max < self.n_min:
            raise ValueError(f"n_max ({self.n_max}) must be >= n_min ({self.n_min})")


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Group):
    name: str = _field("sequence", "the model around the cell (rnnjax.models.MODELS)")
    cell: str = _field("lstm", "the recurrent cell (rnnjax.cells.CELLS)")
    hidden: int = _field(10, "units per layer")
    layers: int = _field(1, "stacked cell layers")
    embedding_dim: int = _field(3, "learned token embedding width; 0 feeds one-hot vectors")
    memory: str = _field(NO_MEMORY, "memory attached to the cell (rnnjax.memory.MEMORIES), or none")
    cell_options: Options = _field(Options, "the cell's own options")
    memory_options: Options = _field(Options, "the memory's own options")
    options: Options = _field(Options, "the model's own options")
    POSITIVE = ("hidden", "layers")

    def __post_init__(self):
        self._check()
        if self.embedding_dim < 0:
            raise ValueError(f"embedding_dim must be >= 0, got {self.embedding_dim}")
        object.__setattr__(self, "options", _resolve(MODELS, self.name, self.options))
        object.__setattr__(self, "cell_options", _resolve(CELLS, self.cell, self.cell_options))
        if self.memory == NO_MEMORY:
            if self.memory_options:
                raise ValueError(f"memory options {sorted(self.memory_options)} need a memory; memory is none")
        else:
            object.__setattr__(self, "memory_options", _resolve(MEMORIES, self.memory, self.memory_options))

    @property
    def label(self) -> str:
        """``cell[+memory][-model]``, e.g. ``lstm+stack``, ``elman-transformer`` (ad-hoc arm names, progress bars)."""
        label = self.cell + (f"+{self.memory}" if self.memory != NO_MEMORY else "")
        return label + (f"-{self.name}" if self.name != "sequence" else "")


@dataclasses.dataclass(frozen=True)
class OptimConfig(_Group):
    name: Literal["adam", "sgd", "rmsprop"] = _field("adam", "optimiser")
    learning_rate: float = _field(0.01, "learning rate")
    clip_norm: float = _field(1.0, "global-norm gradient clipping; 0 disables")

    def __post_init__(self):
        self._check()
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.clip_norm < 0:
            raise ValueError(f"clip_norm must be >= 0, got {self.clip_norm}")


@dataclasses.dataclass(frozen=True)
class EvalConfig(_Group):
    eval_n_max: int = _field(1000, "largest size parameter n in evaluation")
    POSITIVE = ("eval_n_max",)

    def __post_init__(self):
        self._check()


@dataclasses.dataclass(frozen=True)
class RunConfig(_Group):
    seed: int = _field(0, "a member's seed: its initial parameters and every batch it samples")
    steps: int = _field(2000, "training steps")
    batch_size: int = _field(32, "examples per step")
    num_buckets: int = _field(
        4, "training sizes are split into this many padded length buckets (one branch of the train program each)")
    log_every: int = _field(50, "steps between logged metrics")
    order: Literal["random", "epochs", "curriculum"] = _field(
        "random", "random: each step's n is uniform over the training range; epochs: every training n once per "
        "epoch, shuffled, one n per step; curriculum: the largest n grows from n_min to n_max over half the steps")
    stop_when: Literal["never", "fit", "loss"] = _field(
        "never", "a member stops when the task's fit check is all right (fit) or its check loss is at most "
        "stop_loss (loss); see rnnjax.train.stopping")
    stop_loss: float = _field(0.01, "the check loss at which stop_when=loss stops a member")
    stop_patience: int = _field(0, "also stop after this many checks without a better score; 0: never")
    stop_every: int = _field(50, "steps between stopping checks")
    POSITIVE = ("steps", "batch_size", "num_buckets", "log_every", "stop_every")

    def __post_init__(self):
        self._check()
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in 0..{2**32 - 1} (a uint32), got {self.seed}")
        if self.steps >= 2**31:
            raise ValueError(f"steps must be below 2**31 (the step counter is an int32), got {self.steps}")
        if self.stop_patience < 0:
            raise ValueError(f"stop_patience must be >= 0, got {self.stop_patience}")
        if self.stop_patience and self.stop_when == "never":
            raise ValueError("stop_patience needs a stopping rule (stop_when fit or loss)")


GROUPS = {"task": TaskConfig, "model": ModelConfig, "optim": OptimConfig, "eval": EvalConfig, "run": RunConfig}
NAME_FLAGS = {"task": "task", "model": "model", "optim": "optimizer"}
"""group -> the flat name of its ``name`` field"""
ENTRY_FIELDS = {"task": ("task", "name", "options"), "cell": ("model", "cell", "cell_options"),
                "memory": ("model", "memory", "memory_options"), "model": ("model", "name", "options")}
"""kind of entry -> (group, field naming the entry, field holding its options)"""


def registries() -> dict[str, Registry]:
    return {"task": TASKS, "cell": CELLS, "memory": MEMORIES, "model": MODELS}


@dataclasses.dataclass(frozen=True)
class Flag:
    """A flat name: a group field (``option_of`` None) or an option of one kind of entry."""

    name: str
    group: str
    field: str
    hint: Any
    help: str
    option_of: str | None = None
    entries: tuple[Entry, ...] = ()


def flags() -> dict[str, Flag]:
    """Every flat name (CLI flag, grid field) -> Flag, from the groups and the registries."""
    table: dict[str, Flag] = {}
    option_fields = {(group, field) for group, _, field in ENTRY_FIELDS.values()}
    for group, cls in GROUPS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if (group, f.name) in option_fields:
                continue
            name = NAME_FLAGS[group] if f.name == "name" else f.name
            table[name] = Flag(name, group, f.name, hints[f.name], f.metadata["help"])
    for kind, (group, _, field) in ENTRY_FIELDS.items():
        for name, entries in registries()[kind].option_flags().items():
            hints = {e.options[name].hint for e in entries}
            takers = [e.name for e in entries]
            if name in table:
                raise ValueError(f"option {name!r} of {kind} {takers} clashes with the flag of {table[name].help!r}")
            if len(hints) > 1:
                raise ValueError(f"option {name!r} of {kind} {takers} has several types: {hints}")
            table[name] = Flag(name, group, field, hints.pop(), f"{kind} {', '.join(takers)}", kind, tuple(entries))
    return table


def _unknown(names, table) -> ValueError:
    hints = [f"{n!r} (did you mean {difflib.get_close_matches(n, table, 1)[0]!r}?)"
             if difflib.get_close_matches(n, table, 1) else repr(n) for n in sorted(names)]
    return ValueError(f"unknown config field {', '.join(hints)}; see rnnjax train --help")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One run: task, model, optimiser, evaluation and run settings (see the module)."""

    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)

    @classmethod
    def of(cls, **flat) -> TrainConfig:
        """The default config with flat fields replaced (``TrainConfig.of(task="copy", hidden=64)``)."""
        return cls().replace(**flat)

    def replace(self, *, strict: bool = True, **flat) -> TrainConfig:
        """A copy with flat fields replaced. Entry names (task, cell, memory, model) go first;
        an entry whose name changes keeps the options the new entry also takes and gets
        the new entry's defaults for the rest (and a new task its smallest ``n_min``,
        a new model its default ``embedding_dim``, ``rnnjax.models.EMBEDDING_DIMS``, where
        the old one had its own). An option that the (new) entry does not take is an error, or skipped
        if not ``strict``."""
        table = flags()
        if set(flat) - set(table):
            raise _unknown(set(flat) - set(table), table)
        groups = {g: {f.name: getattr(getattr(self, g), f.name) for f in dataclasses.fields(cls)}
                  for g, cls in GROUPS.items()}
        names = {(flag.group, flag.field): value for flag, value in ((table[n], v) for n, v in flat.items())
                 if flag.option_of is None}
        for kind, (group, name_field, options_field) in ENTRY_FIELDS.items():
            new_name = names.get((group, name_field), groups[group][name_field])
            if new_name != groups[group][name_field]:
                takes = registries()[kind][new_name].options if new_name in registries()[kind] else {}
                groups[group][options_field] = {k: v for k, v in groups[group][options_field].items() if k in takes}
        task = names.get(("task", "name"), self.task.name)
        if task != self.task.name and "n_min" not in flat and \
                self.task.n_min == smallest_n(self.task.name, self.task.options):
            groups["task"]["n_min"] = smallest_n(task, groups["task"]["options"])
        model = names.get(("model", "name"), self.model.name)
        if model != self.model.name and "embedding_dim" not in flat and \
                self.model.embedding_dim == EMBEDDING_DIMS.get(self.model.name, 3):
            groups["model"]["embedding_dim"] = EMBEDDING_DIMS.get(model, 3)
        for (group, field), value in names.items():
            groups[group][field] = value
        for name, value in flat.items():
            flag = table[name]
            if flag.option_of is None:
                continue
            group, name_field, options_field = ENTRY_FIELDS[flag.option_of]
            current = groups[group][name_field]
            if any(e.name == current for e in flag.entries):
                groups[group][options_field] = {**groups[group][options_field], name: value}
            elif strict:
                raise ValueError(f"option {name!r} belongs to {flag.help}, not to {flag.option_of} {current!r}")
        return TrainConfig(**{g: GROUPS[g](**values) for g, values in groups.items()})

    def get(self, name: str) -> Any:
        """The value of a flat field (None for an option the current entry does not take)."""
        table = flags()
        if name not in table:
            raise _unknown({name}, table)
        flag = table[name]
        value = getattr(getattr(self, flag.group), flag.field)
        return value.get(name) if flag.option_of else value

    def flat(self) -> dict[str, Any]:
        """Every flat field that applies to this config."""
        table = flags()
        return {name: self.get(name) for name, flag in table.items()
                if flag.option_of is None or name in getattr(getattr(self, flag.group), flag.field)}

    def to_json(self) -> str:
        groups = {g: {f.name: dict(v) if isinstance(v := getattr(getattr(self, g), f.name), Options) else v
                      for f in dataclasses.fields(GROUPS[g])} for g in GROUPS}
        return json.dumps({"version": VERSION, **groups}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """A config written by ``to_json``, or by an earlier release: flat fields (version 1),
        or groups that may lack fields added since, which take their defaults (version 2).
        From version 3 every group and field must be there: a missing one is an error."""
        fields = json.loads(text)
        if not isinstance(fields, dict):
            raise ValueError("a config is a JSON object")
        if "version" not in fields:
            return _from_v1(fields)
        version = fields.pop("version")
        if version not in (2, VERSION):
            raise ValueError(f"config version {version!r} is not one this rnnjax reads (1 to {VERSION}); "
                             "a newer rnnjax may have written it")
        if set(fields) != set(GROUPS):
            raise ValueError(f"config groups {sorted(fields)} are not {sorted(GROUPS)}")
        for g, values in fields.items():
            names = {f.name for f in dataclasses.fields(GROUPS[g])}
            missing = names - set(values) if version == VERSION else set()
            if missing or set(values) - names:
                raise ValueError(f"config group {g!r}: " + "; ".join(
                    ([f"missing {sorted(missing)}"] if missing else [])
                    + ([f"unknown {sorted(set(values) - names)}"] if set(values) - names else [])))
        if "memory" in fields["model"]:
            fields["model"]["memory"] = legacy.memory_name(fields["model"]["memory"])
        return cls(**{g: GROUPS[g](**{k: Options(v) if isinstance(v, dict) else v for k, v in values.items()})
                      for g, values in fields.items()})


def _from_v1(fields: dict) -> TrainConfig:
    names, rest = legacy.v1_fields(fields)
    return TrainConfig.of(**names).replace(strict=False, **rest)
