"""Run directories: what one trained member leaves on disk.

A run directory holds ``config.json``, the TensorBoard event files, orbax
``params/``, and ``results.json``, written last and atomically: a directory
without it is an unfinished run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from rnnjax.eval import counting_generalisation
from rnnjax.models import SequenceModel
from rnnjax.tasks import Language
from rnnjax.train.config import TrainConfig, build_model


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run, loaded back from its directory."""

    run_dir: Path
    config: TrainConfig
    language: Language
    model: SequenceModel
    params: Any
    results: dict

    @property
    def arm(self) -> str:
        return self.results.get("arm", "")


def evaluate(cfgs: list[TrainConfig], model: SequenceModel, language: Language, members) -> list[dict]:
    """The task's metrics for each member (params with a leading member axis).

    Counting languages: length generalisation for n up to ``eval_n_max``:
    the largest n below which every n is correct, the fraction of n correct
    inside the training range and in ``(n_max, 2 n_max]``, and ``correct_by_n``,
    a string of 0/1, one character per n.
    """
    cfg = cfgs[0]
    results = counting_generalisation(model, members, language, cfg.eval_n_max, cfg.threshold)
    beyond = slice(cfg.n_max, 2 * cfg.n_max)
    return [
        {
            "largest_correct_n": r.largest_correct_n,
            "correct_within_training": float(r.correct[: cfg.n_max].mean()),
            "correct_beyond_training": float(r.correct[beyond].mean()) if r.correct[beyond].size else None,
            "members_accepted": int(r.member_accepted.sum()),
            "near_misses_rejected": int(r.near_misses_rejected.sum()),
            "correct_by_n": "".join("1" if c else "0" for c in r.correct),
        }
        for r in results
    ]


def stack_members(params_list: list) -> Any:
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *params_list)


def write_config(cfg: TrainConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        (run_dir / "config.json").write_text(cfg.to_json())


def save_run(run_dir: Path, params, results: dict) -> None:
    """Saves params (orbax), then results.json (atomically), which marks the run finished.

    With several processes, every process calls this for every run in the same
    order (orbax synchronises them) with the same host arrays; process 0 writes.
    """
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(run_dir.absolute() / "params", params, force=True)
    if jax.process_index() != 0:
        return
    tmp = run_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, run_dir / "results.json")


def finished_with(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly ``cfg``."""
    try:
        same = TrainConfig.from_json((run_dir / "config.json").read_text()) == cfg
    except (FileNotFoundError, TypeError, ValueError):
        return False
    return same and (run_dir / "results.json").exists()


def load_run(run_dir: str | Path) -> Run:
    run_dir = Path(run_dir).absolute()
    if not (run_dir / "results.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no results.json)")
    cfg = TrainConfig.from_json((run_dir / "config.json").read_text())
    language, model = build_model(cfg)
    like = jax.eval_shape(model.init, jax.random.key(0))
    with ocp.StandardCheckpointer() as checkpointer:
        params = checkpointer.restore(run_dir / "params", like)
    results = json.loads((run_dir / "results.json").read_text())
    return Run(run_dir, cfg, language, model, params, results)


def find_runs(root: str | Path) -> list[Path]:
    """Every finished run directory under ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("results.json"))
