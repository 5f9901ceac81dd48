"""The ``rnnjax`` command.

    rnnjax train --task anbn --cell gru --steps 500          # one ad-hoc arm -> runs/adhoc/anbn-gru/...
    rnnjax train --experiment counting [--arms lstm_anbn] [--seeds 0 1] [--steps 500 ...]
    rnnjax sweep --experiment counting [--grid learning_rate=0.01,0.03] [--resume]
    rnnjax report runs/counting
    rnnjax eval --run-dir runs/counting/lstm_anbn/seed0 [--eval-n-max 2000]

Every config field and every option of the registered tasks, cells, memories and
models is a flag (``rnnjax.train.config.flags``); the choices of ``--task``,
``--cell``, ``--memory`` and ``--model`` are the registries' names. An unknown
flag or a bad value fails with a message naming it.
"""


import dataclasses
import errno
import json
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from rnnjax.compilation import use_persistent_cache
from rnnjax.devices import accelerator_plugins, use_cpu_cores, use_deterministic_ops

try:  # the train extra; without it, main() says which extra to install
    import tyro

    from rnnjax.train.config import NO_MEMORY, TrainConfig, flags, registries
except ImportError:
    pass

CHOICES = {"task": "task", "cell": "cell", "memory": "memory", "model": "model"}
COUNTS = ("cpu_devices", "max_population", "checkpoint_every", "keep", "steps_per_call")
"""Command-line counts that must be >= 1 when given."""


def _overrides():
    """Every flat config name as an optional flag (None = keep the arm's value)."""
    kinds = registries()
    fields = []
    for name, flag in flags().items():
        hint = flag.hint
        if name in CHOICES:
            choices = kinds[CHOICES[name]].names() + ((NO_MEMORY,) if name == "memory" else ())
            hint = Literal[choices]
        fields.append((name, Annotated[hint | None, tyro.conf.arg(help=flag.help)], dataclasses.field(default=None)))
    overrides = dataclasses.make_dataclass("Overrides", fields, frozen=True)
    overrides.__doc__ = "Config fields and options (default: the arm's, or rnnjax's for an ad-hoc run)."
    return overrides


def _commands():
    overrides = _overrides()

    @dataclasses.dataclass(frozen=True)
    class Train:
        """Train an experiment's arms x seeds, or one ad-hoc arm from the flags (finished runs are
        reused), then print the report."""

        experiment: str | None = None
        """name in experiments/ or a path to an experiment .py file; none: one arm from the flags"""
        arms: tuple[str, ...] = ()
        """arms to train (default: all)"""
        seeds: tuple[int, ...] = ()
        """seeds (default: the experiment's, 0 for an ad-hoc run; for sweep, its sweep seeds)"""
        grid: tuple[str, ...] = ()
        """hyper-parameter grid, e.g. --grid learning_rate=0.01,0.03 hidden=10,20 (sweep default: the experiment's)"""
        out: str = "runs"
        """output root; runs go to OUT/<experiment>/<arm>/[<grid values>/]seed<k> (OUT/adhoc/... without one)"""
        resume: bool = True
        """continue unfinished runs from their latest checkpoint of the same config (exact); --no-resume starts
        them from step 0"""
        overwrite: bool = False
        """replace run folders that hold a run of another config (default: refuse them)"""
        checkpoint_every: int = 500
        keep: int = 3
        """checkpoints kept per program"""
        members: Literal["map", "vmap"] | None = None
        """map: each member its own compiled program, bit-identical whatever trains beside it (CPU default); vmap:
        a program's members batched in one (GPU default; equal across layouts to float tolerance)"""
        max_population: int | None = None
        """vmapped members per program (default: as many as fit in half the device memory)"""
        share: str | None = None
        """I/N: train share I (0-based) of N of the experiment's programs, into one --out shared by the N
        processes or machines (default: a Slurm array task's; see scripts/slurm_array.sh)"""
        coordinator: str | None = None
        """multi-host vmapped members: coordinator address host:port (else from the environment, see
        scripts/launch_multihost.sh)"""
        num_processes: int | None = None
        process_id: int | None = None
        progress: bool = True
        steps_per_call: int | None = None
        """training steps per compiled call (default: measured per backend, 16 on CPU); results do not depend on it"""
        cpu_devices: int | None = None
        """CPU backend: devices a population is sharded over (default: one per core)"""
        compilation_cache: bool = True
        """keep compiled programs in JAX's persistent cache (RNNJAX_CACHE_DIR, else ~/.cache/rnnjax/jax)"""
        deterministic: bool = False
        """GPU: reduce in a fixed order (--xla_gpu_deterministic_ops), so a run repeats bit for bit, at a cost
        (benchmarks/determinism.py); CPU runs repeat without it"""
        config: tyro.conf.OmitArgPrefixes[overrides] = overrides()

    @dataclasses.dataclass(frozen=True)
    class Sweep(Train):
        """Train an experiment's sweep: arms x grid x sweep seeds, checkpointed, resumable with --resume."""

    @dataclasses.dataclass(frozen=True)
    class Report:
        """Write the tables (markdown, CSV) and plots of every finished run under a directory
        (or under several, as one report into --out), with the experiment's own report and its
        claims table."""

        sweep_dirs: tyro.conf.Positional[tuple[str, ...]]
        experiment: str | None = None
        """the experiment the runs belong to (default: the directories' name, if an experiment has it)"""
        out: str | None = None
        """write the report here (needed with several directories; default: the directory)"""
        html: bool = True
        """also write report.html (and, for a folder of experiments' outputs, index.html over them)"""

    @dataclasses.dataclass(frozen=True)
    class Eval:
        """Re-evaluate one finished run, optionally with other evaluation settings (task options, eval_n_max)."""

        run_dir: str
        compilation_cache: bool = True
        """keep compiled programs in JAX's persistent cache (RNNJAX_CACHE_DIR, else ~/.cache/rnnjax/jax)"""
        config: tyro.conf.OmitArgPrefixes[overrides] = overrides()

    return {"train": (Train, train_command), "sweep": (Sweep, train_command), "report": (Report, report_command),
            "eval": (Eval, eval_command)}


def _hosts(args) -> tuple[int, int]:
    """This process's share ``(i, n)`` of the experiment's programs. ``--share I/N``, else a
    Slurm array task (``SLURM_ARRAY_TASK_ID``/``_COUNT``): a share. Else, when several
    processes are asked for (flags, RNNJAX_COORDINATOR/NUM_PROCESSES/PROCESS_ID, or a
    Slurm job of several tasks): mapped members (the default without an accelerator
    plugin) make each process a share; vmapped members join ``jax.distributed`` (SPMD)."""
    if args.share:
        index, sep, count = args.share.partition("/")
        if not (sep and index.isdigit() and count.isdigit()):  # the range: run_experiment, before any work
            raise ValueError(f"--share must be I/N with 0 <= I < N, got {args.share!r}")
        return int(index), int(count)
    env = os.environ
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        return int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", 0)), \
            int(env["SLURM_ARRAY_TASK_COUNT"])
    coordinator = args.coordinator or env.get("RNNJAX_COORDINATOR")
    slurm_tasks = int(env.get("SLURM_NTASKS", 1)) if "SLURM_JOB_ID" in env else 1
    if coordinator is None and slurm_tasks < 2:
        return 0, 1
    if (args.members or ("vmap" if accelerator_plugins() else "map")) == "map":
        count = args.num_processes or int(env.get("RNNJAX_NUM_PROCESSES", 0) or slurm_tasks)
        index = args.process_id if args.process_id is not None else int(
            env.get("RNNJAX_PROCESS_ID", env.get("SLURM_PROCID", 0)))
        return index, count
    import jax

    pid = args.process_id if args.process_id is not None else env.get("RNNJAX_PROCESS_ID")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, args.num_processes or int(env.get("RNNJAX_NUM_PROCESSES", 0)) or None,
                               None if pid is None else int(pid))
    return 0, 1


def _given(config) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if v is not None}


def adhoc_experiment(given: dict):
    """One arm named by its task and model (``anbn-gru``, ``copy-lstm+stack``); the other
    given flags become a one-point grid, so each choice of them gets its own directory."""
    from rnnjax.train.experiment import Experiment

    TrainConfig.of(**given)  # every flag applies to this arm
    base = TrainConfig.of(**{k: given[k] for k in CHOICES if k in given})
    arm = f"{base.task.name}-{base.model.label}"
    point = {k: (v,) for k, v in given.items() if k not in CHOICES}
    return Experiment("adhoc", {arm: base}, seeds=(0,), sweep_seeds=(0,),
                      description="an ad-hoc run from the command line"), point


def train_command(args, argv: tuple[str, ...] = ()) -> None:
    from rnnjax.train.experiment import load_experiment, parse_grid
    from rnnjax.train.interrupt import Interrupted
    from rnnjax.train.sweep import run_experiment

    given = _given(args.config)
    if "seed" in given:
        raise ValueError("use --seeds to choose seeds, not --seed")
    is_sweep = type(args).__name__ == "Sweep"
    if args.experiment is None:
        experiment, point = adhoc_experiment(given)
        grid, overrides = point | (parse_grid(args.grid) if args.grid else {}), {}
    else:
        experiment = load_experiment(args.experiment)
        grid = parse_grid(args.grid) if args.grid else (experiment.grid if is_sweep else {})
        overrides = given
    seeds = args.seeds or (experiment.sweep_seeds if is_sweep else experiment.seeds)
    share = _hosts(args)
    try:
        _, text = run_experiment(
            experiment,
            args.out,
            arms=args.arms,
            seeds=seeds,
            grid=grid,
            overrides=overrides,
            resume=args.resume,
            overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every,
            keep=args.keep,
            max_population=args.max_population,
            progress=args.progress,
            steps_per_call=args.steps_per_call,
            members=args.members,
            share=share,
            command=invocation(argv),
        )
    except Interrupted as stopped:
        print(stopped)
        again = shlex.join(["rnnjax", *(word for word in argv if word not in ("--no-resume", "--overwrite"))])
        print(f"\nrnnjax: interrupted; each unfinished run was checkpointed. Continue with:\n  {again}",
              file=sys.stderr)
        raise SystemExit(130) from None
    print(text)


def invocation(argv: Sequence[str]) -> str:
    """``rnnjax ARGV`` as a shell line, without ``--out`` (the folder it was written to)."""
    kept, words = [], iter(argv)
    for word in words:
        if word == "--out":
            next(words, None)
        elif not word.startswith("--out="):
            kept.append(word)
    return shlex.join(["rnnjax", *kept])


def report_command(args, argv: tuple[str, ...] = ()) -> None:
    from rnnjax.eval.report import report_directory

    reports = report_directory(args.sweep_dirs, args.experiment, args.html, args.out)
    print("\n\n".join(f"# {r.name or r.out_dir.name}\n\n{r.text()}" if len(reports) > 1 else r.text()
                      for r in reports))
    if len(reports) > 1 and args.html:
        print(f"\nIndex: {Path(args.sweep_dirs[0]) / 'index.html'}")


def eval_command(args, argv: tuple[str, ...] = ()) -> None:
    from rnnjax.eval import evaluate
    from rnnjax.train.build import build
    from rnnjax.train.loop import stack_members
    from rnnjax.train.runs import load_run

    given, table = _given(args.config), flags()
    trained = [k for k in given if table[k].group != "eval" and table[k].option_of != "task"]
    if trained:
        raise ValueError(f"eval re-evaluates a trained model: {', '.join('--' + k.replace('_', '-') for k in trained)} "
                         "would change what was trained; it takes task options and --eval-n-max")
    run = load_run(args.run_dir)
    parts = build(run.config.replace(**given))
    (result,) = evaluate(parts.task, parts.eval_model, stack_members([run.params]))
    print(json.dumps({k: v for k, v in result.items() if k != "correct_by_n" and not isinstance(v, list)}, indent=2))


def main(argv: list[str] | None = None) -> None:
    try:
        import tyro  # noqa: F401

        import rnnjax.eval  # noqa: F401
        import rnnjax.train  # noqa: F401
    except ImportError:
        print("rnnjax: error: the command line needs the train extra: pip install 'rnnjax[train]'", file=sys.stderr)
        raise SystemExit(2) from None
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = _commands()
    command = tyro.extras.subcommand_cli_from_dict({k: v[0] for k, v in commands.items()}, args=argv)
    handler = next(h for cls, h in commands.values() if type(command) is cls)
    FULL_DISK.clear()
    threading.excepthook = _writer_thread_error
    try:
        for name in COUNTS:
            if getattr(command, name, None) is not None and getattr(command, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(command, name)}")
        if getattr(command, "deterministic", False):
            use_deterministic_ops()
        if getattr(command, "compilation_cache", False):
            use_persistent_cache()
        use_cpu_cores(getattr(command, "cpu_devices", None))
        handler(command, tuple(argv))
    except (ValueError, FileNotFoundError) as e:
        print(f"rnnjax: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        _full_disk(e)
    finally:
        threading.excepthook = threading.__excepthook__
    if FULL_DISK:  # met by a writer thread (TensorBoard, orbax) while the command went on
        _full_disk(FULL_DISK[0])


FULL_DISK: list[OSError] = []
"""A full disk met by a background writer thread, kept to be reported once."""


def _writer_thread_error(args) -> None:
    """``threading.excepthook``: a full disk in a writer thread is kept for one line at the
    end (``FULL_DISK``) instead of a traceback per thread; other errors print as usual."""
    if isinstance(args.exc_value, OSError) and args.exc_value.errno == errno.ENOSPC:
        FULL_DISK.append(args.exc_value)
    else:
        threading.__excepthook__(args)


def _full_disk(error: OSError) -> None:
    print(f"rnnjax: error: no space left on the device writing {error.filename or 'the output'}; free some and run "
          "the same command again (it continues from the latest checkpoint)", file=sys.stderr)
    raise SystemExit(1) from None


if __name__ == "__main__":
    main()
