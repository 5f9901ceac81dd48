"""Sweeps: an experiment's members trained as programs in lanes, then reported.

``run_experiment`` checks the output folder (a run folder belongs to one config:
one of another config is refused, or replaced with ``overwrite``; an unreadable one
is trained again), plans the unfinished members into programs
(``rnnjax.train.programs``), refuses any that cannot fit before training one,
locks their run folders, and trains them in lanes: threads that each take the next
program on their devices. On XLA:CPU one program's steps keep about one core busy,
and the CLI makes one device per core, so a lane per device trains one member per
core at once. The first Ctrl-C (``rnnjax.train.interrupt``) stops
every lane at its next call boundary with a checkpoint; the report covers what
finished.

Layout: ``OUT/<experiment>/<arm>/[<grid label>/]seed<k>/`` per member, and
``OUT/<experiment>/.checkpoints/<program>/`` while a program is unfinished. Running
the same command again adopts every program whose manifest members are all still in
the sweep with the same config (so with its checkpoints) and plans only the other
unfinished members afresh; members of an adopted program that finished before a kill
are not trained, evaluated or written again. A sweep killed at any moment therefore
resumes without training any member twice.

Several processes or machines: mapped members run as *shares* (``share=(i, n)``:
independent processes over one shared output folder, each training the programs of
its share, ``programs.share_of``, and skipping finished runs and runs another process
holds; each writes the report of what has finished when it ends, so the last one's
is complete). Vmapped members run SPMD under ``jax.distributed``: a program's
population is one array sharded over every device of every process, each process
logs the members on its devices, orbax writes each process's shards of one
checkpoint, and process 0 writes the results and the report.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import jax
from jax.experimental import multihost_utils
from tensorboardX import SummaryWriter

from rnnjax.eval.generalisation import device_memory, evaluate, release_evaluation_programs
from rnnjax.eval.report import COMMAND_FILE, experiment_report
from rnnjax.eval.tables import BOOKKEEPING
from rnnjax.train import interrupt
from rnnjax.train.build import Parts, build
from rnnjax.train.experiment import Experiment, Member, expand
from rnnjax.train.loop import (
    MEMBER_FIELDS,
    check_evaluation,
    member_bytes_bound,
    member_mode,
    program_key,
    stack_members,
    train_population,
)
from rnnjax.train.programs import (
    MANIFEST,
    check_fits,
    plan_programs,
    program_id,
    read_manifest,
    remove_finished_checkpoints,
    share_of,
    unfinished_programs,
    write_manifest,
)
from rnnjax.train.runs import Run, clear_run, finished_with, load_runs, run_lock, run_status, save_run, write_config


def lanes(programs: list[tuple[Parts, Path, list[Member]]], mode: str, fraction: float = 0.5) -> list[list | None]:
    """Device groups that train programs at the same time, in one process.

    ``mode="map"``: one lane per local device (two lanes on one XLA:CPU device run one
    after the other), at most one per program, while that many programs fit in
    ``fraction`` of the memory. ``"vmap"``: this process's devices split evenly among up
    to one lane per program, while the programs' bound on memory fits; else one lane
    of every device (None)."""
    devices = jax.local_devices()
    if mode == "vmap" and (jax.process_count() > 1 or len(devices) < 2):
        return [None]
    count = max(1, min(len(programs), len(devices)))
    largest = max((member_bytes_bound(parts) * len(members) for parts, _, members in programs), default=0)
    while count > 1 and largest * count > fraction * device_memory() * len(devices):
        count -= 1
    if mode == "map":
        return [[device] for device in devices[:count]]
    if count < 2:
        return [None]
    per = len(devices) // count
    return [devices[i * per : (i + 1) * per] for i in range(count)]


def run_concurrently(work: Callable, items: list[tuple], device_lanes: list, group: Callable | None = None) -> None:
    """``work(lane, devices, *item)`` for every item, one thread per lane.

    Items of one ``group(item)`` (e.g. members of one program: one compilation per
    device) go to one lane, the groups spread so that lanes get as many items; a lane
    that has run out takes the last item of the lane with the most left, if it has two
    or more. A lane stops at the first error of any lane (raised once the others have
    stopped) and when a stop is requested (``interrupt.Interrupted`` is raised then).
    The calling thread only waits, so signals reach it at once."""
    groups: dict = {}
    for item in items:
        groups.setdefault(group(item) if group else len(groups), []).append(item)
    queues = [collections.deque() for _ in device_lanes]
    for members in sorted(groups.values(), key=len, reverse=True):
        min(queues, key=len).extend(members)
    taking, failed = threading.Lock(), threading.Event()

    def next_item(index):
        with taking:
            if queues[index]:
                return queues[index].popleft()
            fullest = max(queues, key=len)
            return fullest.pop() if len(fullest) >= 2 else None

    def lane(index, devices):
        while not failed.is_set() and not interrupt.requested():
            item = next_item(index)
            if item is None:
                return
            try:
                work(index, devices, *item)
            except interrupt.Interrupted:
                return
            except BaseException:
                failed.set()
                raise

    with concurrent.futures.ThreadPoolExecutor(len(device_lanes)) as pool:
        futures = [pool.submit(lane, i, devices) for i, devices in enumerate(device_lanes)]
        concurrent.futures.wait(futures)
    for future in futures:
        future.result()
    if interrupt.requested():
        raise interrupt.Interrupted("stopped on request")


def train_program(
    parts: Parts, members: list[Member], checkpoint_dir: Path, *, resume: bool, checkpoint_every: int, keep: int,
    progress: bool, steps_per_call: int | None = None, devices=None, mode: str = "vmap", position: int = 0,
    share: tuple[int, int] = (0, 1),
) -> None:
    """Trains one program's members on ``devices`` (None: all), then evaluates and
    commits those not already finished (an adopted program's members written before
    a kill). With several processes, process 0 writes. ``share``: recorded in the layout."""
    writer = jax.process_index() == 0
    # Decided before training: no process writes this program's runs until all have trained it.
    status = [run_status(m.run_dir, m.config).kind for m in members]
    for m, kind in zip(members, status):
        if kind in ("other", "broken") and writer:  # refused before unless replacing them was asked for
            clear_run(m.run_dir)
        if kind != "finished":
            write_config(m.config, m.run_dir)
    if writer:
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
        members=mode,
        position=position,
    )
    to_save = [(m, t) for m, t, kind in zip(members, trained, status) if kind != "finished"]
    if not to_save:
        return
    metrics = evaluate(parts.task, parts.eval_model, stack_members([t.params for _, t in to_save]), devices=devices,
                       progress=progress)
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
            "layout": t.layout | ({"share": f"{share[0]}/{share[1]}"} if share[1] > 1 else {}),
            **scores,
        }
        save_run(m.run_dir, m.config, t.params, results, t.history)
        if t.process != jax.process_index():
            continue
        with SummaryWriter(str(m.run_dir)) as tensorboard:
            numeric = {
                k: v for k, v in results.items() if isinstance(v, (int, float)) and k not in {*hparams, *BOOKKEEPING}
            }
            tensorboard.add_hparams(
                {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()},
                {f"final/{k}": float(v) for k, v in numeric.items() if v is not None},
                name="hparams",
            )
    if writer:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)


def release_programs(parts: Parts) -> None:
    """Drops the compiled train, init and evaluation programs of ``parts`` once its last
    program has trained and been evaluated. An experiment of many programs (the
    chomsky benchmark: 60 arms) otherwise keeps every executable until it ends; the
    reduced chomsky run ran out of 24 GiB after 123 of 180 runs. Evaluation programs of
    programs still running are compiled again (from the persistent cache) if needed."""
    parts.programs.clear()
    release_evaluation_programs()


def check_folder(members: list[Member], overwrite: bool) -> None:
    """Refuses run folders of another config (unless ``overwrite``: they are replaced
    when their member trains) and says which unreadable ones will be trained again."""
    statuses = [(m, run_status(m.run_dir, m.config)) for m in members]
    other = [s.reason for _, s in statuses if s.kind == "other"]
    if other and not overwrite:
        more = f" (and {len(other) - 1} more)" if len(other) > 1 else ""
        raise ValueError(f"{other[0]}{more}: a run folder belongs to one config; rerun with --overwrite to replace "
                         "them, or choose another --out")
    if jax.process_index() == 0:
        for _, s in statuses:
            if s.kind == "broken":
                print(f"rnnjax: {s.reason}; training that run again", file=sys.stderr)


def discard_checkpoints(members: list[Member], checkpoint_root: Path) -> None:
    """Removes, saying so, the checkpoints of programs with any of ``members`` (a run
    asked to start over)."""
    run_dirs = {m.run_dir.resolve() for m in members}
    for checkpoint_dir in sorted(p.parent for p in checkpoint_root.glob(f"*/{MANIFEST}")):
        entries = read_manifest(checkpoint_dir) or []
        if any(run_dir in run_dirs for run_dir, _ in entries):
            print(f"rnnjax: --no-resume: discarding {checkpoint_dir} (its runs start from step 0)", file=sys.stderr)
            shutil.rmtree(checkpoint_dir, ignore_errors=True)


def run_experiment(
    experiment: Experiment,
    out_root: str | Path = "runs",
    *,
    arms: tuple[str, ...] = (),
    seeds: tuple[int, ...] = (),
    grid: dict | None = None,
    overrides: dict | None = None,
    resume: bool = True,
    overwrite: bool = False,
    checkpoint_every: int = 500,
    keep: int = 3,
    max_population: int | None = None,
    progress: bool = True,
    train_missing: bool = True,
    steps_per_call: int | None = None,
    members: str | None = None,
    share: tuple[int, int] = (0, 1),
    command: str = "",
) -> tuple[list[Run], str]:
    """Trains every member that is not already finished with the same config, then reports.

    ``overrides`` replaces config fields in every arm. Unfinished programs continue
    from their latest checkpoint (``resume``; else they start again, and their
    checkpoints are discarded). A run folder holding a run of another config is an
    error, or is replaced with ``overwrite``. With ``train_missing`` false an
    unfinished member is an error. ``steps_per_call``: training steps per dispatched
    program (None: the backend's default). ``members``: "map" or "vmap"
    (``rnnjax.train.loop.member_mode``; None: the backend's default). ``share``:
    ``(i, n)``, train share i of n of the experiment's programs (module docstring).
    ``command``: the command line that asked for this, kept in ``command.txt`` and
    shown by the claims.
    Returns the runs and the report text (written to ``out_root/<name>/`` by process
    0). A stop request raises ``interrupt.Interrupted`` after the report of what
    finished, with that report as its message.
    """
    out_dir = Path(out_root) / experiment.name
    mode = member_mode(members)
    if mode == "map" and jax.process_count() > 1:
        raise ValueError("mapped members run as shares (--share I/N), not under jax.distributed")
    if not 0 <= share[0] < share[1]:
        raise ValueError(f"--share must be I/N with 0 <= I < N, got {share[0]}/{share[1]}")
    everyone = expand(experiment, out_dir, arms, seeds, grid, overrides)
    check_folder(everyone, overwrite)
    todo = [m for m in everyone if run_status(m.run_dir, m.config).kind != "finished"]
    if todo and not train_missing:
        raise FileNotFoundError(f"{todo[0].run_dir} has no finished run of this config; train it first")
    checkpoint_root, built = out_dir / ".checkpoints", {}
    if share[1] > 1:  # the split of every program, so that each share finds the same one whatever has finished
        ours = {m.run_dir for _, program in share_of(plan_programs(everyone, max_population, mode, built),
                                                          *share) for m in program}
        todo = [m for m in todo if m.run_dir in ours]
    if todo and not resume and jax.process_index() == 0:
        discard_checkpoints(todo, checkpoint_root)
    waiting = {m.run_dir for m in todo}
    adopted = [(checkpoint_dir, program) for checkpoint_dir, program in
               (unfinished_programs(everyone, checkpoint_root, mode) if resume and todo else [])
               if all(m.run_dir in waiting or finished_with(m.run_dir, m.config) for m in program)]
    planned = {m.run_dir for _, program in adopted for m in program}
    for _, program in adopted:
        built.setdefault(program_key(program[0].config), build(program[0].config))
    programs = [(built[program_key(p[0].config)], checkpoint_dir, p) for checkpoint_dir, p in adopted] + [
        (parts, checkpoint_root / program_id(program), program)
        for parts, program in plan_programs([m for m in todo if m.run_dir not in planned], max_population, mode,
                                            built)
    ]
    for parts, _, program in programs:  # every refusal before any training
        check_fits(parts, len(program))
        check_evaluation(parts, len(program))
    if jax.process_count() > 1:  # every process has read the folder before any writes to it
        multihost_utils.sync_global_devices(f"rnnjax {experiment.name} planned")
    if command and jax.process_index() == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / COMMAND_FILE).write_text(command + "\n")
    stopped = False
    with contextlib.ExitStack() as held:
        ours, busy = lock_programs(programs, held, writer=jax.process_index() == 0)
        for message in busy:
            print(f"rnnjax: {message}", file=sys.stderr)
        device_lanes = lanes(ours, mode)

        left, counting = collections.Counter(id(parts) for parts, _, _ in ours), threading.Lock()

        def train_on(lane, devices, parts, checkpoint_dir, program):
            try:
                train_program(parts, program, checkpoint_dir, resume=resume, checkpoint_every=checkpoint_every,
                              keep=keep, progress=progress, steps_per_call=steps_per_call, devices=devices, mode=mode,
                              position=lane if len(device_lanes) > 1 else 0, share=share)
            finally:
                with counting:
                    left[id(parts)] -= 1
                    last = left[id(parts)] == 0
                if last:  # a long experiment holds only the compiled programs still in use
                    release_programs(parts)

        with interrupt.stop_on_signals():
            try:
                run_concurrently(train_on, ours, device_lanes, group=lambda item: id(item[0]))
            except interrupt.Interrupted:
                stopped = True
    if jax.process_count() > 1 and not stopped:
        multihost_utils.sync_global_devices(f"rnnjax {experiment.name} trained")
    if jax.process_index() == 0:
        remove_finished_checkpoints(checkpoint_root)
    finished = [m.run_dir for m in everyone if run_status(m.run_dir, m.config).kind == "finished"]
    runs = load_runs(finished, {program_key(parts.config): parts for parts, _, _ in programs})
    if jax.process_index() != 0:
        return runs, f"process {jax.process_index()}: trained its share; process 0 writes the report"
    with run_lock(out_dir / "report", wait=True):  # shares ending together write one after the other
        text = experiment_report(experiment, runs, out_dir).text()
    missing = len(everyone) - len(finished)
    if missing:
        text += f"\n\n{missing} of {len(everyone)} runs are not finished and not in this report."
    if stopped:
        raise interrupt.Interrupted(text)
    return runs, text


def lock_programs(programs: list, held: contextlib.ExitStack, writer: bool) -> tuple[list, list[str]]:
    """The programs whose run folders this process locks (all of them, within ``held``),
    and a message for each program skipped because another process holds a lock. Only
    the writing process locks (``writer``); the others train what it trains."""
    if not writer:
        return programs, []
    ours, busy = [], []
    for parts, checkpoint_dir, members in programs:
        with contextlib.ExitStack() as program:
            locks = [program.enter_context(run_lock(m.run_dir)) for m in members]
            if all(locks):
                held.enter_context(program.pop_all())
                ours.append((parts, checkpoint_dir, members))
            else:
                taken = next(m for m, got in zip(members, locks) if not got)
                busy.append(f"{taken.run_dir} is being trained by another process; skipped here")
    return ours, busy
