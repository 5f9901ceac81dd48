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
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import os
import queue
import shutil
import threading
import typing
from collections.abc import Callable
from pathlib import Path

import jax
from jax.experimental import multihost_utils
from tensorboardX import SummaryWriter

from rnnjax.eval.claims import Claim
from rnnjax.eval.generalisation import device_memory, evaluate
from rnnjax.eval.report import Report, write_index, write_report
from rnnjax.eval.tables import BOOKKEEPING, Table
from rnnjax.train.build import Parts, build
from rnnjax.train.config import TrainConfig, flags
from rnnjax.train.loop import (
    MEMBER_FIELDS,
    member_bytes,
    member_bytes_bound,
    program_key,
    stack_members,
    train_population,
)
from rnnjax.train.runs import Run, find_runs, finished_with, load_runs, save_run, write_config

MANIFEST = "members.json"


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
    """Every (arm, grid point, seed) as a Member, in that order.

    ``overrides`` and grid fields replace config fields in every arm; an option
    (e.g. ``symbols``) applies to the arms whose task, cell, memory or model takes
    it, and is an error if none of the chosen arms does."""
    unknown = set(arms) - set(experiment.arms)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; {experiment.name} has {sorted(experiment.arms)}")
    grid, overrides = grid or {}, overrides or {}
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


def plan_programs(members: list[Member], max_population: int | None = None) -> list[tuple[Parts, list[Member]]]:
    """Groups members that can share a program, each group built once and cut into
    chunks that fit."""
    groups: dict[TrainConfig, list[Member]] = {}
    for m in members:
        groups.setdefault(program_key(m.config), []).append(m)
    programs = []
    for group in groups.values():
        parts = build(group[0].config)
        cap = max_population or population_cap(parts, len(group))
        programs += [(parts, group[i : i + cap]) for i in range(0, len(group), cap)]
    return programs


def population_cap(parts: Parts, wanted: int, fraction: float = 0.5) -> int:
    """How many of ``wanted`` members fit in ``fraction`` of this process's device
    memory: all of them when a bound from traced shapes (``member_bytes_bound``) says
    so, else as many as ``member_bytes`` (XLA's accounting of the compiled step) allows."""
    devices = len(jax.local_devices())
    budget = fraction * device_memory() * devices
    if wanted * member_bytes_bound(parts) <= budget:
        return wanted
    return max(1, int(fraction * device_memory() // member_bytes(parts)) * devices)


def program_id(members: list[Member]) -> str:
    """The checkpoint directory name of a newly planned program."""
    text = json.dumps([[str(m.run_dir), m.config.to_json()] for m in members])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def write_manifest(checkpoint_dir: Path, members: list[Member]) -> None:
    """Writes ``members.json`` (atomically): the program's members, in population order."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    here = checkpoint_dir.resolve()
    entries = [{"run_dir": os.path.relpath(m.run_dir.resolve(), here), "arm": m.arm, "point": m.point,
                "config": json.loads(m.config.to_json())} for m in members]
    tmp = checkpoint_dir / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(entries, indent=2))
    os.replace(tmp, checkpoint_dir / MANIFEST)


def read_manifest(checkpoint_dir: Path) -> list[tuple[Path, TrainConfig]] | None:
    """``(run directory, config)`` of each member in ``checkpoint_dir``'s manifest, in
    population order; None without a readable one."""
    try:
        entries = json.loads((checkpoint_dir / MANIFEST).read_text())
        return [((checkpoint_dir.resolve() / e["run_dir"]).resolve(), TrainConfig.from_json(json.dumps(e["config"])))
                for e in entries]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def unfinished_programs(members: list[Member], checkpoint_root: Path) -> list[tuple[Path, list[Member]]]:
    """The programs a killed sweep left under ``checkpoint_root`` that can be adopted,
    as ``(checkpoint dir, its members)``: every manifest member is one of ``members``
    with the same config, one at least is unfinished, and none is in a program
    adopted before (directories taken in name order)."""
    by_dir = {m.run_dir.resolve(): m for m in members}
    taken: set[Path] = set()
    programs = []
    for checkpoint_dir in sorted(p.parent for p in checkpoint_root.glob(f"*/{MANIFEST}")):
        entries = read_manifest(checkpoint_dir) or []
        program = [by_dir.get(run_dir) for run_dir, _ in entries]
        if not entries or any(m is None or m.config != cfg or m.run_dir in taken
                              for m, (_, cfg) in zip(program, entries)):
            continue
        if all(finished_with(m.run_dir, m.config) for m in program):
            continue
        taken |= {m.run_dir for m in program}
        programs.append((checkpoint_dir, program))
    return programs


def remove_finished_checkpoints(checkpoint_root: Path) -> None:
    """Removes the checkpoint directories whose manifest members have all finished
    (left by a kill between the last results and the removal, or by a sweep
    that did not resume)."""
    for checkpoint_dir in sorted(p.parent for p in checkpoint_root.glob(f"*/{MANIFEST}")):
        entries = read_manifest(checkpoint_dir)
        if entries and all(finished_with(run_dir, cfg) for run_dir, cfg in entries):
            shutil.rmtree(checkpoint_dir, ignore_errors=True)


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


COMMAND_FILE = "command.txt"


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


def experiment_report(experiment: Experiment, runs: list[Run], out_dir: Path, html: bool = True) -> Report:
    """The experiment's measurements, compact table, own report, claims and HTML page
    (``rnnjax.eval.report``). The claims name the command that trained the runs when
    ``out_dir`` recorded one, else the experiment's default."""
    recorded = out_dir / COMMAND_FILE
    claims = experiment.claims
    if recorded.exists():
        claims = tuple(dataclasses.replace(c, command=recorded.read_text().strip()) for c in claims)
    return write_report(runs, out_dir, name=experiment.name, description=experiment.description,
                        table=experiment.table, claims=claims, extra=experiment.report,
                        measure=experiment.measure, html=html)


def report_directory(path: str | Path, experiment: str | None = None, html: bool = True) -> list[Report]:
    """Reports the finished runs under ``path``: as ``experiment`` (default: the experiment
    named like the directory, else as plain runs), or, for a runs folder whose
    subdirectories are experiments' outputs, each of those and an ``index.html`` over them."""
    path = Path(path)
    run_dirs = find_runs(path)
    if not run_dirs:
        raise FileNotFoundError(f"no finished runs (results.json) under {path}")
    named = load_experiment(experiment) if experiment else _experiment_named(path.resolve().name)
    if experiment is None and named is None:
        parts = [(p, _experiment_named(p.name)) for p in sorted(path.iterdir()) if p.is_dir() and find_runs(p)]
        parts = [(p, e) for p, e in parts if e is not None or p.name == "adhoc"]
        if parts:
            reports = [_report(p, find_runs(p), e, html) for p, e in parts]
            if html:
                write_index(path, reports)
            return reports
    return [_report(path, run_dirs, named, html)]


def _report(path: Path, run_dirs: list[Path], experiment: Experiment | None, html: bool) -> Report:
    runs = load_runs(run_dirs)
    if experiment is None:
        return write_report(runs, path, name=path.name, html=html)
    order = {arm: i for i, arm in enumerate(experiment.arms)}
    runs.sort(key=lambda r: order.get(r.arm, len(order)))  # as `train` lists them; seeds stay in order
    return experiment_report(experiment, runs, path, html)


def _experiment_named(name: str) -> Experiment | None:
    try:
        return load_experiment(name)
    except ValueError:
        return None


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
                raise ValueError(f"{path} defines no EXPERIMENT = rnnjax.train.sweep.Experiment(...)")
            return module.EXPERIMENT
    available = sorted(p.stem for p in candidates[-1].parent.glob("*.py") if not p.stem.startswith("_"))
    raise ValueError(f"no experiment {name_or_path!r}; available: {available}")
