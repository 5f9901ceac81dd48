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
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from rnnjax.compilation import use_persistent_cache
from rnnjax.devices import use_cpu_cores

try:  # the train extra; without it, main() says which extra to install
    import tyro

    from rnnjax.train.config import NO_MEMORY, TrainConfig, flags, registries
except ImportError:
    pass

CHOICES = {"task": "task", "cell": "cell", "memory": "memory", "model": "model"}


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
        resume: bool = False
        """continue unfinished programs from their latest checkpoint instead of starting them again"""
        checkpoint_every: int = 500
        keep: int = 3
        """checkpoints kept per program"""
        max_population: int | None = None
        """members per program (default: as many as fit in half the device memory)"""
        coordinator: str | None = None
        """multi-host: coordinator address host:port (else from the environment, see scripts/launch_multihost.sh)"""
        num_processes: int | None = None
        process_id: int | None = None
        progress: bool = True
        steps_per_call: int | None = None
        """training steps per compiled call (default: measured per backend, 16 on CPU); results do not depend on it"""
        cpu_devices: int | None = None
        """CPU backend: devices a population is sharded over (default: one per core)"""
        compilation_cache: bool = True
        """keep compiled programs in JAX's persistent cache (RNNJAX_CACHE_DIR, else ~/.cache/rnnjax/jax)"""
        config: tyro.conf.OmitArgPrefixes[overrides] = overrides()

    @dataclasses.dataclass(frozen=True)
    class Sweep(Train):
        """Train an experiment's sweep: arms x grid x sweep seeds, checkpointed, resumable with --resume."""

    @dataclasses.dataclass(frozen=True)
    class Report:
        """Write the tables (markdown, CSV) and plots of every finished run under a directory,
        with the experiment's own report and its claims table."""

        sweep_dir: tyro.conf.Positional[str]
        experiment: str | None = None
        """the experiment the runs belong to (default: the directory's name, if an experiment has it)"""
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


def _join_hosts(args) -> None:
    """``jax.distributed.initialize`` when several processes are asked for, by flags
    or by the environment (RNNJAX_COORDINATOR/NUM_PROCESSES/PROCESS_ID or Slurm)."""
    import jax

    coordinator = args.coordinator or os.environ.get("RNNJAX_COORDINATOR")
    num = args.num_processes or int(os.environ.get("RNNJAX_NUM_PROCESSES", 0)) or None
    pid = args.process_id if args.process_id is not None else os.environ.get("RNNJAX_PROCESS_ID")
    if coordinator is None and "SLURM_JOB_ID" not in os.environ:
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num, None if pid is None else int(pid))


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
    _join_hosts(args)
    _, text = run_experiment(
        experiment,
        args.out,
        arms=args.arms,
        seeds=seeds,
        grid=grid,
        overrides=overrides,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        keep=args.keep,
        max_population=args.max_population,
        progress=args.progress,
        steps_per_call=args.steps_per_call,
        command=invocation(argv),
    )
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

    reports = report_directory(args.sweep_dir, args.experiment, args.html)
    print("\n\n".join(f"# {r.name or r.out_dir.name}\n\n{r.text()}" if len(reports) > 1 else r.text()
                      for r in reports))
    if len(reports) > 1 and args.html:
        print(f"\nIndex: {Path(args.sweep_dir) / 'index.html'}")


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
    if getattr(command, "compilation_cache", False):
        use_persistent_cache()
    use_cpu_cores(getattr(command, "cpu_devices", None))
    try:
        handler(command, tuple(argv))
    except (ValueError, FileNotFoundError) as e:
        print(f"rnnjax: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
