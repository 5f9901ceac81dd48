"""Run directories: what one trained member leaves on disk.

A run directory holds ``config.json``, the TensorBoard event files, orbax
``params/``, ``history.json`` and ``results.json``, written last and atomically:
a directory without it is an unfinished run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from rnnjax.tasks import Task
from rnnjax.train.build import Parts, build
from rnnjax.train.checkpoint import exclusive_orbax
from rnnjax.train.config import TrainConfig
from rnnjax.train.loop import program_key


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run, loaded back from its directory (``model`` sized for evaluation)."""

    run_dir: Path
    config: TrainConfig
    task: Task
    model: Any
    params: Any
    results: dict

    @property
    def history(self) -> list[dict]:
        """The logged training metrics (one dict per logged step)."""
        path = self.run_dir / "history.json"
        return json.loads(path.read_text()) if path.exists() else []

    @property
    def arm(self) -> str:
        return self.results.get("arm", "")


def write_config(cfg: TrainConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        (run_dir / "config.json").write_text(cfg.to_json())


def save_run(run_dir: Path, params, results: dict, history: Sequence[dict] = ()) -> None:
    """Saves params (orbax), ``history.json`` (the logged training metrics), then
    results.json (atomically), which marks the run finished.

    With several processes, every process calls this for every run in the same
    order (orbax synchronises them) with the same host arrays; process 0 writes.
    """
    with exclusive_orbax(), ocp.StandardCheckpointer() as checkpointer:  # closing waits for the write
        checkpointer.save(run_dir.absolute() / "params", params, force=True)
    if jax.process_index() != 0:
        return
    (run_dir / "history.json").write_text(json.dumps(list(history)))
    tmp = run_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, run_dir / "results.json")


def read_config(run_dir: Path) -> TrainConfig:
    """The config of a run directory; a ValueError that names the directory and the
    reason when it cannot be read (e.g. written by an incompatible release)."""
    try:
        return TrainConfig.from_json((run_dir / "config.json").read_text())
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{run_dir}/config.json cannot be read by this rnnjax: {e}") from None


def finished_with(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly ``cfg``."""
    if not (run_dir / "results.json").exists():
        return False
    try:
        return read_config(run_dir) == cfg
    except (FileNotFoundError, ValueError):
        return False


def load_run(run_dir: str | Path, parts: Parts | None = None) -> Run:
    """The finished run in ``run_dir``; ``parts``: its program's, when already built."""
    run_dir = Path(run_dir).absolute()
    if not (run_dir / "results.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no results.json)")
    cfg = read_config(run_dir)
    parts = parts or build(cfg)
    like = jax.eval_shape(parts.eval_model.init, jax.random.key(0))
    with exclusive_orbax(), ocp.StandardCheckpointer() as checkpointer:
        params = checkpointer.restore(run_dir / "params", like)
    results = json.loads((run_dir / "results.json").read_text())
    return Run(run_dir, cfg, parts.task, parts.eval_model, params, results)


def load_runs(run_dirs: Sequence[str | Path], built: dict[TrainConfig, Parts] | None = None) -> list[Run]:
    """Finished runs, each program's parts built once (``built``: program key -> parts
    already at hand)."""
    built = dict(built or {})
    runs = []
    for run_dir in run_dirs:
        key = program_key(read_config(Path(run_dir).absolute()))
        if key not in built:
            built[key] = build(key)
        runs.append(load_run(run_dir, built[key]))
    return runs


def find_runs(root: str | Path) -> list[Path]:
    """Every finished run directory under ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("results.json"))
