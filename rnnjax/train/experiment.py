"""Experiments: a published claim as arms x grid x seeds, expanded into members, and loaded by name.

An experiment file (``experiments/<name>.py``) defines ``EXPERIMENT = Experiment(...)``;
``expand`` turns it, with the command line's arms, seeds, grid and overrides, into
one ``Member`` per run directory.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import os
import typing
from collections.abc import Callable
from pathlib import Path

from rnnjax.eval.claims import Claim, Deviation
from rnnjax.eval.tables import Table
from rnnjax.train.config import TrainConfig, flags
from rnnjax.train.runs import Run


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A published claim as arms x seeds (``train``) or arms x grid x seeds (``sweep``).

    Attributes:
      name: directory name under the output root.
      arms: arm name -> config (``seed`` and grid fields are replaced per member).
      seeds: seeds of ``rnnjax train`` (the quick run).
      sweep_seeds: seeds of ``rnnjax sweep``.
      grid: field -> values of ``rnnjax sweep``; every combination is trained.
      report: ``(runs, out_dir) -> text``: the experiment's own tables/plots,
        added to the generic sweep report.
      description: the claim and what "reproduced" means.
      default_arms: the arms trained when none are named (empty: all); the others
        (e.g. extra models beyond a paper's) run when named with ``--arms``.
      claims: the paper's claims with its figures, checked on the runs in the report
        (``rnnjax.eval.claims``).
      table: the compact table its claim needs (``rnnjax.eval.tables.Table``; None: one
        column per metric).
      measure: ``(run, out_dir) -> {metric: value}``, measured on each non-diverged trained
        run when reporting (e.g. extracting a DFA) and added to its results for the
        tables and claims.
      deviations: how the protocol departs from the paper's (or its public code's): setting,
        theirs, ours, why, expected effect (``rnnjax.eval.claims.Deviation``); the report
        prints them and the experiment's docstring appends them (``with_deviations``).
    """

    name: str
    arms: dict[str, TrainConfig]
    seeds: tuple[int, ...] = (0,)
    sweep_seeds: tuple[int, ...] = tuple(range(10))
    grid: dict[str, tuple] = dataclasses.field(default_factory=dict)
    report: Callable[[list[Run], Path], str] | None = None
    description: str = ""
    default_arms: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()
    table: Table | None = None
    measure: Callable[[Run, Path], dict] | None = None
    deviations: tuple[Deviation, ...] = ()


@dataclasses.dataclass(frozen=True)
class Member:
    arm: str
    point: dict
    """this member's grid values"""
    config: TrainConfig
    run_dir: Path

    @property
    def label(self) -> str:
        """e.g. ``learning_rate=0.03,hidden=20``; "" without a grid."""
        return ",".join(f"{k}={v}" for k, v in self.point.items())


def expand(
    experiment: Experiment, out_dir: Path, arms=(), seeds=(), grid: dict | None = None, overrides: dict | None = None
) -> list[Member]:
    """Every (arm, grid point, seed) as a Member, in that order; a value given twice is an error.

    ``overrides`` and grid fields replace config fields in every arm; an option
    (e.g. ``symbols``) applies to the arms whose task, cell, memory or model takes
    it, and is an error if none of the chosen arms does."""
    unknown = set(arms) - set(experiment.arms)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; {experiment.name} has {sorted(experiment.arms)}")
    grid, overrides = grid or {}, overrides or {}
    for what, values in (("--arms", arms), ("--seeds", seeds), *((f"--grid {k}", v) for k, v in grid.items())):
        repeated = sorted({v for v in values if list(values).count(v) > 1}, key=str)
        if repeated:
            raise ValueError(f"{what} names {', '.join(map(str, repeated))} more than once; each run is trained once")
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    members = []
    for arm in arms or experiment.default_arms or tuple(experiment.arms):
        for point in points:
            for seed in seeds or experiment.seeds:
                cfg = experiment.arms[arm].replace(strict=False, **overrides).replace(strict=False, **point, seed=seed)
                member = Member(arm, point, cfg, out_dir)
                members.append(dataclasses.replace(member, run_dir=out_dir / arm / member.label / f"seed{seed}"))
    for name in (*overrides, *grid):
        if not any(name in m.config.flat() for m in members):
            raise ValueError(f"no arm of {experiment.name} takes {name!r} (it is an option of {flags()[name].help})")
    return members


def parse_grid(entries: typing.Iterable[str]) -> dict[str, tuple]:
    """``["learning_rate=0.01,0.03", "hidden=10,20"]`` -> ``{"learning_rate": (0.01, 0.03), "hidden": (10, 20)}``,
    values converted to the field's type."""
    table = flags()
    grid = {}
    for entry in entries:
        name, sep, values = entry.partition("=")
        if not sep or not values:
            raise ValueError(f"grid entry {entry!r} must look like field=value1,value2")
        if name not in table:
            raise ValueError(f"grid field {name!r} is not a config field")
        if name == "seed":
            raise ValueError("use --seeds to choose seeds, not a grid over seed")
        grid[name] = tuple(_convert(name, table[name].hint, v) for v in values.split(","))
    return grid


def _convert(name: str, hint, text: str):
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if typing.get_origin(hint) is typing.Literal:
        options = [str]
    for kind in options:
        if kind is bool:
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            continue
        try:
            return kind(text)
        except (TypeError, ValueError):
            continue
    raise ValueError(f"grid value {text!r} is not valid for {name} ({hint})")


_PACKAGE = Path(__file__).resolve().parents[1]
BUILT_IN = _PACKAGE / "experiments" if (_PACKAGE / "experiments").is_dir() else _PACKAGE.parent / "experiments"
"""Where the experiments that ship with rnnjax live: ``rnnjax/experiments`` in an installed
wheel (the top-level ``experiments/`` packaged, see pyproject.toml), the source tree's
``experiments/`` in a checkout."""


def built_in_experiments() -> list[str]:
    """The names of the experiments that ship with rnnjax."""
    return sorted(p.stem for p in BUILT_IN.glob("*.py") if not p.stem.startswith("_"))


def load_experiment(name_or_path: str) -> Experiment:
    """``EXPERIMENT`` of a built-in experiment (``built_in_experiments``), or of the ``.py``
    file at a path (one ending in ``.py`` or holding a ``/``). Nothing else is imported: a
    file in the working directory never stands in for a built-in name."""
    if name_or_path.endswith(".py") or os.sep in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"no experiment file {path}")
    elif name_or_path in built_in_experiments():
        path = BUILT_IN / f"{name_or_path}.py"
    else:
        local = Path("experiments") / f"{name_or_path}.py"
        hint = f"; to run {local}, pass its path: --experiment {local}" if local.is_file() else ""
        raise ValueError(f"no built-in experiment {name_or_path!r}; built-in: {built_in_experiments()}{hint}")
    spec = importlib.util.spec_from_file_location(f"rnnjax_experiment_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not isinstance(getattr(module, "EXPERIMENT", None), Experiment):
        raise ValueError(f"{path} defines no EXPERIMENT = rnnjax.train.experiment.Experiment(...)")
    return module.EXPERIMENT
