"""Experiments and sweeps: arms x hyper-parameter grid x seeds, trained as few programs as possible.

Members whose configs differ only in seed, learning rate or clip norm share one
program (one vmapped population, sharded over the devices; in one process
several programs train at once, each on its share of the devices); a grid
value that changes shapes (hidden size, task, ...) makes another program. A
program larger than the memory estimate allows is split into chunks. With
several processes (``jax.distributed``) a program's population is one array
sharded over every device of every process: each process trains and logs the
members on its devices, orbax writes each process's shards of one checkpoint,
and process 0 writes the run results and the report.

Layout: ``OUT/<experiment>/<arm>/[<grid label>/]seed<k>/`` per member, and
``OUT/<experiment>/.checkpoints/<program>/`` while a program is unfinished: its
population checkpoints and ``members.json``, the manifest (each member's run
directory, relative to it, arm, grid point and config), written before training.
A resumed sweep adopts every program whose manifest members are all still in the
sweep with the same config, as it was planned (so with its checkpoints), and plans
only the other unfinished members afresh; members of an adopted program that
finished before the kill are not trained, evaluated or written again. A sweep
killed at any moment, even while it writes a program's results, therefore
resumes without training any member twice.
"""

from __future__ import annotations

import concurrent.futures
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import jax
from jax.experimental import multihost_utils
from tensorboardX import SummaryWriter

from rnnjax.eval.generalisation import device_memory, evaluate
from rnnjax.eval.report import COMMAND_FILE, experiment_report
from rnnjax.eval.tables import BOOKKEEPING
from rnnjax.train.build import Parts, build
from rnnjax.train.experiment import Experiment, Member, expand
from rnnjax.train.loop import MEMBER_FIELDS, member_bytes_bound, program_key, stack_members, train_population
from rnnjax.train.programs import (
    plan_programs,
    program_id,
    remove_finished_checkpoints,
    unfinished_programs,
    write_manifest,
)
from rnnjax.train.runs import Run, finished_with, load_runs, save_run, write_config


def lanes(programs: list[tuple[Parts, Path, list[Member]]], fraction: float = 0.5) -> list[list | None]:
    """Device groups that train programs at the same time: in one process, this
    process's devices split evenly among up to one lane per program, while the
    programs' bound on memory (``member_bytes_bound``) fits in ``fraction`` of it
    together; else one lane of every device (None). On XLA:CPU one program's steps
    keep about one core busy, so two programs at once train nearly twice as fast."""
    devices = jax.local_devices()
    if jax.process_count() > 1 or len(programs) < 2 or len(devices) < 2:
        return [None]
    count = min(len(programs), len(devices))
    largest = max(member_bytes_bound(parts) * len(members) for parts, _, members in programs)
    if count * largest > fraction * device_memory() * len(devices):
        return [None]
    per = len(devices) // count
    return [devices[i * per : (i + 1) * per] for i in range(count)]


def run_concurrently(work: Callable, items: list[tuple], device_lanes: list) -> None:
    """``work(devices, *item)`` for every item, one thread per lane taking the next
    item when it is free; the first error is raised once the others have stopped."""
    if len(device_lanes) == 1:
        for item in items:
            work(device_lanes[0], *item)
        return
    pending = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    failed = threading.Event()

    def lane(devices):
        while not failed.is_set():
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            try:
                work(devices, *item)
            except BaseException:
                failed.set()
                raise

    with concurrent.futures.ThreadPoolExecutor(len(device_lanes)) as pool:
        for future in [pool.submit(lane, devices) for devices in device_lanes]:
            future.result()


def train_program(
    parts: Parts, members: list[Member], checkpoint_dir: Path, *, resume: bool, checkpoint_every: int, keep: int,
    progress: bool, steps_per_call: int | None = None, devices=None
) -> None:
    """Trains one program's members on ``devices`` (None: all), then evaluates and
    saves those not already finished with their config (an adopted program's members
    written before a kill)."""
    # Decided before training: no process writes this program's runs until all have trained it.
    pending = [not finished_with(m.run_dir, m.config) for m in members]
    for m, p in zip(members, pending):
        if p:
            write_config(m.config, m.run_dir)
    if jax.process_index() == 0:
        write_manifest(checkpoint_dir, members)
    trained = train_population(
        [m.config for m in members],
        [m.run_dir for m in members],
        parts=parts,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        keep=keep,
        resume=resume,
        progress=progress,
        steps_per_call=steps_per_call,
        devices=devices,
    )
    to_save = [(m, t) for m, t, p in zip(members, trained, pending) if p]
    metrics = evaluate(parts.task, parts.eval_model, stack_members([t.params for _, t in to_save]), devices=devices)
    for (m, t), scores in zip(to_save, metrics):
        hparams = {"arm": m.arm, **{k: m.config.get(k) for k in MEMBER_FIELDS}, **m.point}
        final = {f"final_{k}": t.history[-1][k] for k in ("loss", *parts.task.train_metrics)}
        results = {
            **hparams,
            "label": m.label,
            **final,
            "diverged_at": t.diverged_at,
            "stopped_at": t.stopped_at,
            "steps_per_second": t.steps_per_second,
            "population": len(members),
            "process": t.process,
            **scores,
        }
        save_run(m.run_dir, t.params, results, t.history)
        if t.process != jax.process_index():
            continue
        with SummaryWriter(str(m.run_dir)) as writer:
            numeric = {
                k: v for k, v in results.items() if isinstance(v, (int, float)) and k not in {*hparams, *BOOKKEEPING}
            }
            writer.add_hparams(
                {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()},
                {f"final/{k}": float(v) for k, v in numeric.items() if v is not None},
                name="hparams",
            )
    if jax.process_index() == 0:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)


def run_experiment(
    experiment: Experiment,
    out_root: str | Path = "runs",
    *,
    arms: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (),
    grid: dict | None = None,
    overrides: dict | None = None,
    resume: bool = False,
    checkpoint_every: int = 500,
    keep: int = 3,
    max_population: int | None = None,
    progress: bool = True,
    train_missing: bool = True,
    steps_per_call: int | None = None,
    command: str = "",
) -> tuple[list[Run], str]:
    """Trains every member that is not already finished with the same config, then reports.

    ``overrides`` replaces config fields in every arm. Unfinished programs start
    again unless ``resume``, which adopts them as they were planned (their
    manifests) and continues them from their latest checkpoint.
    With ``train_missing`` false an unfinished member is an error. ``steps_per_call``:
    training steps per dispatched program (None: the backend's default). ``command``: the
    command line that asked for this, kept in ``command.txt`` and shown by the claims.
    Returns the runs and the report text (written to ``out_root/<name>/`` by process 0).
    """
    out_dir = Path(out_root) / experiment.name
    if command and jax.process_index() == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / COMMAND_FILE).write_text(command + "\n")
    members = expand(experiment, out_dir, arms, seeds, grid, overrides)
    todo = [m for m in members if not finished_with(m.run_dir, m.config)]
    if todo and not train_missing:
        raise FileNotFoundError(f"{todo[0].run_dir} has no finished run of this config; train it first")
    checkpoint_root = out_dir / ".checkpoints"
    adopted = unfinished_programs(members, checkpoint_root) if resume and todo else []
    planned = {m.run_dir for _, program in adopted for m in program}
    programs = [(build(program[0].config), checkpoint_dir, program) for checkpoint_dir, program in adopted] + [
        (parts, checkpoint_root / program_id(program), program)
        for parts, program in plan_programs([m for m in todo if m.run_dir not in planned], max_population)
    ]
    if jax.process_count() > 1:  # every process has read the manifests before any writes one
        multihost_utils.sync_global_devices(f"rnnjax {experiment.name} planned")
    def train_on(devices, parts, checkpoint_dir, program):
        train_program(
            parts, program, checkpoint_dir, resume=resume, checkpoint_every=checkpoint_every, keep=keep,
            progress=progress, steps_per_call=steps_per_call, devices=devices,
        )

    run_concurrently(train_on, programs, lanes(programs))
    built = {program_key(parts.config): parts for parts, _, _ in programs}
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"rnnjax {experiment.name} trained")
    if jax.process_index() == 0:
        remove_finished_checkpoints(checkpoint_root)
    runs = load_runs([m.run_dir for m in members], built)
    if jax.process_index() != 0:
        return runs, f"process {jax.process_index()}: trained its share; process 0 writes the report"
    return runs, experiment_report(experiment, runs, out_dir).text()


