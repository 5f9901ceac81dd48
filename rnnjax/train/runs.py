"""Run directories: what one trained member leaves on disk.

A run directory belongs to one config. It holds ``config.json`` (written when its
training starts: the folder's owner), the TensorBoard event files, and, committed
together as the last step of the run, orbax ``params/``, ``history.json`` and
``results.json`` (written last and atomically, carrying the config's identity,
``config_id``). ``run_status`` tells what a directory holds for a config: a finished
run of it only when all of these agree, so a partial run can never inherit the
results of an earlier config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
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


def config_id(cfg: TrainConfig) -> str:
    """The identity of a config: a digest of every field (any field may change the numbers)."""
    return hashlib.sha256(cfg.to_json().encode()).hexdigest()[:16]


def write_config(cfg: TrainConfig, run_dir: Path) -> None:
    """``config.json`` (written by process 0): the run folder now belongs to ``cfg``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        (run_dir / "config.json").write_text(cfg.to_json())


def save_run(run_dir: Path, cfg: TrainConfig, params, results: dict, history: Sequence[dict] = ()) -> None:
    """Commits a run: params (orbax), ``history.json`` (the logged training metrics), then
    ``results.json`` with ``config_id`` (atomically), which marks the run finished.

    With several processes, every process calls this for every run in the same order
    (orbax synchronises them) with the same host arrays; process 0 writes.
    """
    with exclusive_orbax(), ocp.StandardCheckpointer() as checkpointer:  # closing waits for the write
        checkpointer.save(run_dir.absolute() / "params", params, force=True)
    if jax.process_index() != 0:
        return
    (run_dir / "history.json").write_text(json.dumps(list(history)))
    tmp = run_dir / "results.json.tmp"
    tmp.write_text(json.dumps({**results, "config_id": config_id(cfg)}, indent=2, allow_nan=False))
    os.replace(tmp, run_dir / "results.json")


def read_config(run_dir: Path) -> TrainConfig:
    """The config of a run directory; a ValueError that names the file and the reason
    when it cannot be read (e.g. written by an incompatible release, or damaged)."""
    path = run_dir / "config.json"
    try:
        return TrainConfig.from_json(path.read_text())
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"{path} cannot be read by this rnnjax: {e}") from None


def read_results(run_dir: Path) -> dict:
    """``results.json`` of a run directory; a ValueError naming the file when it is not
    a JSON object."""
    path = run_dir / "results.json"
    try:
        results = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path} is not a JSON object")
    return results


@dataclasses.dataclass(frozen=True)
class Status:
    """What a run directory holds for a config.

    ``kind``: "empty" (nothing of a run), "finished" (a committed run of this config),
    "unfinished" (a run of this config was started, not committed), "other" (a run of
    another config, finished or not), or "broken" (files that cannot be read: ``reason``
    names them)."""

    kind: str
    reason: str = ""


def run_status(run_dir: Path, cfg: TrainConfig) -> Status:
    """``Status`` of ``run_dir`` for ``cfg``. A run is finished only when ``config.json``
    equals ``cfg``, ``results.json`` reads and carries ``cfg``'s identity (runs of
    earlier releases, without one, count by their config) and ``params/`` exists."""
    has = {name: (run_dir / name).exists() for name in ("config.json", "results.json", "params")}
    if not has["config.json"]:
        if has["results.json"] or has["params"]:
            return Status("broken", f"{run_dir} has results or params but no config.json")
        return Status("empty")
    try:
        recorded = read_config(run_dir)
    except (OSError, ValueError) as e:
        return Status("broken", str(e))
    if recorded != cfg:
        finished = "finished" if has["results.json"] else "unfinished"
        return Status("other", f"{run_dir} holds a{'n' * (finished == 'unfinished')} {finished} run of another "
                               f"config ({config_difference(recorded, cfg)})")
    if not has["results.json"]:
        return Status("unfinished")
    try:
        identity = read_results(run_dir).get("config_id", config_id(cfg))
    except (OSError, ValueError) as e:
        return Status("broken", str(e))
    if identity != config_id(cfg):
        return Status("broken", f"{run_dir}/results.json belongs to another config than its config.json")
    if not has["params"]:
        return Status("broken", f"{run_dir} has results.json but no params/")
    return Status("finished")


def config_difference(there: TrainConfig, here: TrainConfig, most: int = 4) -> str:
    """``"steps 5 there, 3000 here; ..."``: the flat fields in which two configs differ."""
    a, b = there.flat(), here.flat()
    names = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
    text = "; ".join(f"{k} {a.get(k)} there, {b.get(k)} here" for k in names[:most])
    return text + (f"; and {len(names) - most} more" if len(names) > most else "")


def finished_with(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly ``cfg`` (``run_status``)."""
    return run_status(run_dir, cfg).kind == "finished"


def clear_run(run_dir: Path) -> None:
    """Removes everything a run directory holds (for a broken or replaced run)."""
    shutil.rmtree(run_dir, ignore_errors=True)


@contextlib.contextmanager
def run_lock(run_dir: Path, wait: bool = False) -> Iterator[bool]:
    """Holds ``.<name>.lock`` beside ``run_dir`` (an advisory ``flock``, released when
    the process ends, however it ends); yields False when another process holds it, or,
    with ``wait``, waits for it."""
    path = run_dir.parent / f".{run_dir.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_run(run_dir: str | Path, parts: Parts | None = None) -> Run:
    """The finished run in ``run_dir``; ``parts``: its program's, when already built."""
    run_dir = Path(run_dir).absolute()
    if not (run_dir / "results.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no results.json)")
    cfg = read_config(run_dir)
    status = run_status(run_dir, cfg)
    if status.kind != "finished":
        raise ValueError(status.reason)
    parts = parts or build(cfg)
    like = jax.eval_shape(parts.eval_model.init, jax.random.key(0))
    try:
        with exclusive_orbax(), ocp.StandardCheckpointer() as checkpointer:
            params = checkpointer.restore(run_dir / "params", like)
    except Exception as e:  # orbax raises many types for unreadable data
        raise ValueError(f"{run_dir}/params cannot be restored ({type(e).__name__}: {e})") from None
    return Run(run_dir, cfg, parts.task, parts.eval_model, params, read_results(run_dir))


def load_runs(run_dirs: Sequence[str | Path], built: dict[TrainConfig, Parts] | None = None,
              on_broken: Callable[[str], None] | None = None) -> list[Run]:
    """Finished runs, each program's parts built once (``built``: program key -> parts
    already at hand). A run that cannot be read is an error, or, with ``on_broken``, is
    left out and its reason passed to it."""
    built = dict(built or {})
    runs = []
    for run_dir in run_dirs:
        try:
            key = program_key(read_config(Path(run_dir).absolute()))
            if key not in built:
                built[key] = build(key)
            runs.append(load_run(run_dir, built[key]))
        except (OSError, ValueError) as e:
            if on_broken is None:
                raise
            on_broken(str(e))
    return runs


def find_runs(root: str | Path) -> list[Path]:
    """Every finished run directory under ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("results.json"))
