"""Run directories and experiments.

A run directory holds ``config.json``, ``params/`` (orbax), the TensorBoard
event files, and ``results.json``, written last, atomically: a directory
without it is an unfinished run and is trained again.

An experiment is a set of named arms (TrainConfigs) times seeds; it lives in
``experiments/<name>.py`` as a module-level ``EXPERIMENT``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from rnnjax.eval import counting_generalisation
from rnnjax.models import SequenceModel
from rnnjax.tasks import Language
from rnnjax.train.config import TrainConfig, build_model
from rnnjax.train.loop import train_population


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run, loaded back from its directory."""

    run_dir: Path
    arm: str
    config: TrainConfig
    language: Language
    model: SequenceModel
    params: Any
    results: dict


def evaluate(cfg: TrainConfig, model: SequenceModel, language: Language, params) -> dict:
    """The task's metrics: for counting languages, length generalisation up to ``eval_n_max``."""
    result = counting_generalisation(model, params, language, cfg.eval_n_max, cfg.threshold)
    return {
        "largest_correct_n": result.largest_correct_n,
        "members_accepted": int(result.member_accepted.sum()),
        "near_misses_rejected": int(result.near_misses_rejected.sum()),
    }


def train_runs(cfgs: list[TrainConfig], run_dirs: list[str | Path], *, progress: bool = True) -> list[dict]:
    """Trains the configs as one population, then evaluates and saves each run; returns their results."""
    run_dirs = [Path(d).absolute() for d in run_dirs]
    for cfg, run_dir in zip(cfgs, run_dirs, strict=True):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(cfg.to_json())
    start = time.perf_counter()
    trained = train_population(cfgs, run_dirs, progress=progress)
    train_seconds = time.perf_counter() - start
    all_results = []
    for cfg, run_dir, result in zip(cfgs, run_dirs, trained):
        language, model = build_model(cfg)
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(run_dir / "params", result.params, force=True)
        results = {
            "final_loss": result.history[-1]["loss"],
            "final_accuracy": result.history[-1]["accuracy"],
            "diverged_at": result.diverged_at,
            "steps_per_second": result.steps_per_second,
            "population": len(cfgs),
            "train_seconds": train_seconds,
        }
        start = time.perf_counter()
        results |= evaluate(cfg, model, language, result.params)
        results["eval_seconds"] = time.perf_counter() - start
        _write_atomic(run_dir / "results.json", json.dumps(results, indent=2))
        all_results.append(results)
    return all_results


def load_run(run_dir: str | Path, arm: str = "") -> Run:
    run_dir = Path(run_dir).absolute()
    if not (run_dir / "results.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no results.json)")
    cfg = TrainConfig.from_json((run_dir / "config.json").read_text())
    language, model = build_model(cfg)
    like = jax.eval_shape(model.init, jax.random.key(0))
    with ocp.StandardCheckpointer() as checkpointer:
        params = checkpointer.restore(run_dir / "params", like)
    results = json.loads((run_dir / "results.json").read_text())
    return Run(run_dir, arm, cfg, language, model, params, results)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """Arms x seeds, and a report over the finished runs.

    Attributes:
      name: directory name under the output root.
      arms: arm name -> config (its ``seed`` field is replaced per seed).
      seeds: default seeds.
      report: ``(runs, out_dir) -> text`` writes tables/plots into ``out_dir``
        and returns what to print.
      description: the published claim and what "reproduced" means.
    """

    name: str
    arms: dict[str, TrainConfig]
    seeds: tuple[int, ...]
    report: Callable[[list[Run], Path], str]
    description: str = ""


def run_experiment(
    experiment: Experiment,
    out_root: str | Path = "runs",
    *,
    arms: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (),
    overrides: dict | None = None,
    progress: bool = True,
    train_missing: bool = True,
) -> tuple[list[Run], str]:
    """Trains every (arm, seed) not already finished with the same config, then reports.

    ``overrides`` replaces config fields in every arm. With ``train_missing``
    false, a run that is not finished is an error. Returns the runs and the
    report text; the report's files are written to ``out_root/<name>/``.
    """
    unknown = set(arms) - set(experiment.arms)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; {experiment.name} has {sorted(experiment.arms)}")
    out_dir = Path(out_root) / experiment.name
    runs = []
    for arm in arms or tuple(experiment.arms):
        cfgs = [dataclasses.replace(experiment.arms[arm], **(overrides or {}), seed=s) for s in seeds or experiment.seeds]
        run_dirs = [out_dir / arm / f"seed{c.seed}" for c in cfgs]
        todo = [(c, d) for c, d in zip(cfgs, run_dirs) if not _finished_with(d, c)]
        if todo and not train_missing:
            raise FileNotFoundError(f"{todo[0][1]} has no finished run of this config; train it first")
        if todo:
            train_runs(*map(list, zip(*todo)), progress=progress)
        runs += [load_run(d, arm) for d in run_dirs]
    return runs, experiment.report(runs, out_dir)


def _finished_with(run_dir: Path, cfg: TrainConfig) -> bool:
    try:
        same = TrainConfig.from_json((run_dir / "config.json").read_text()) == cfg
    except (FileNotFoundError, TypeError, ValueError):
        return False
    return same and (run_dir / "results.json").exists()


def load_experiment(name_or_path: str) -> Experiment:
    """``EXPERIMENT`` from ``experiments/<name>.py`` (in the working directory, else
    beside the installed package), or from a path to a ``.py`` file."""
    candidates = [Path(name_or_path)] if name_or_path.endswith(".py") else [
        Path.cwd() / "experiments" / f"{name_or_path}.py",
        Path(__file__).resolve().parents[2] / "experiments" / f"{name_or_path}.py",
    ]
    for path in candidates:
        if path.is_file():
            spec = importlib.util.spec_from_file_location(f"rnnjax_experiment_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if not isinstance(getattr(module, "EXPERIMENT", None), Experiment):
                raise ValueError(f"{path} defines no EXPERIMENT = rnnjax.train.Experiment(...)")
            return module.EXPERIMENT
    available = sorted(p.stem for p in candidates[-1].parent.glob("*.py") if not p.stem.startswith("_"))
    raise ValueError(f"no experiment {name_or_path!r}; available: {available}")
