"""The ``rnnjax`` command.

    rnnjax train --experiment counting [--arms lstm_anbn] [--seeds 0 1] [--steps 500 ...]
    rnnjax sweep --experiment counting [--grid learning_rate=0.01,0.03] [--resume]
    rnnjax report runs/counting
    rnnjax eval --run-dir runs/counting/lstm_anbn/seed0 [--eval-n-max 2000]

Every TrainConfig field is an override flag; an unknown flag or a bad value
fails with a message naming it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing

import tyro

from rnnjax.train.config import TrainConfig

# Every TrainConfig field as an optional override; None = keep the arm's value.
Overrides = dataclasses.make_dataclass(
    "Overrides",
    [(f, hint | None, dataclasses.field(default=None)) for f, hint in typing.get_type_hints(TrainConfig).items()],
    frozen=True,
)
Overrides.__doc__ = TrainConfig.__doc__


@dataclasses.dataclass(frozen=True)
class Train:
    """Train an experiment's arms x seeds (finished runs are reused), then print its report."""

    experiment: str
    """name in experiments/ or a path to an experiment .py file"""
    arms: tuple[str, ...] = ()
    """arms to train (default: all)"""
    seeds: tuple[int, ...] = ()
    """seeds (default: the experiment's; for sweep, its sweep seeds)"""
    grid: tuple[str, ...] = ()
    """hyper-parameter grid, e.g. --grid learning_rate=0.01,0.03 hidden=10,20 (default for sweep: the experiment's)"""
    out: str = "runs"
    """output root; runs go to OUT/<experiment>/<arm>/[<grid values>/]seed<k>"""
    resume: bool = False
    """continue unfinished programs from their latest checkpoint instead of starting them again"""
    checkpoint_every: int = 500
    keep: int = 3
    """checkpoints kept per program"""
    max_population: int | None = None
    """members per program (default: as many as fit in half the device memory)"""
    coordinator: str | None = None
    """multi-host: coordinator address host:port (else read from the environment, see scripts/launch_multihost.sh)"""
    num_processes: int | None = None
    process_id: int | None = None
    progress: bool = True
    config: tyro.conf.OmitArgPrefixes[Overrides] = Overrides()


@dataclasses.dataclass(frozen=True)
class Sweep(Train):
    """Train an experiment's sweep: arms x grid x sweep seeds, checkpointed, resumable with --resume."""


@dataclasses.dataclass(frozen=True)
class Report:
    """Write the tables (markdown, CSV) and plots of every finished run under a sweep directory."""

    sweep_dir: tyro.conf.Positional[str]


@dataclasses.dataclass(frozen=True)
class Eval:
    """Re-evaluate one finished run, optionally with another n range or threshold."""

    run_dir: str
    eval_n_max: int | None = None
    threshold: float | None = None


def _join_hosts(args: Train) -> None:
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


def train_command(args: Train) -> None:
    from rnnjax.train.sweep import load_experiment, parse_grid, run_experiment

    overrides = {k: v for k, v in dataclasses.asdict(args.config).items() if v is not None}
    if "seed" in overrides:
        raise ValueError("use --seeds to choose seeds, not --seed")
    experiment = load_experiment(args.experiment)
    is_sweep = isinstance(args, Sweep)
    grid = parse_grid(args.grid) if args.grid else (experiment.grid if is_sweep else {})
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
    )
    print(text)


def report_command(args: Report) -> None:
    from rnnjax.eval.report import write_sweep_report
    from rnnjax.train.runs import find_runs, load_run

    run_dirs = find_runs(args.sweep_dir)
    if not run_dirs:
        raise FileNotFoundError(f"no finished runs (results.json) under {args.sweep_dir}")
    print(write_sweep_report([load_run(d) for d in run_dirs], args.sweep_dir))


def eval_command(args: Eval) -> None:
    from rnnjax.train.loop import stack_members
    from rnnjax.train.runs import evaluate, load_run

    run = load_run(args.run_dir)
    changes = {k: v for k, v in (("eval_n_max", args.eval_n_max), ("threshold", args.threshold)) if v is not None}
    cfg = dataclasses.replace(run.config, **changes)
    (result,) = evaluate(cfg, run.model, run.language, stack_members([run.params]))
    result.pop("correct_by_n")
    print(json.dumps(result, indent=2))


COMMANDS = {"train": (Train, train_command), "sweep": (Sweep, train_command), "report": (Report, report_command), "eval": (Eval, eval_command)}


def main(argv: list[str] | None = None) -> None:
    command = tyro.extras.subcommand_cli_from_dict({k: v[0] for k, v in COMMANDS.items()}, args=argv)
    handler = next(h for cls, h in COMMANDS.values() if type(command) is cls)
    try:
        handler(command)
    except (ValueError, FileNotFoundError) as e:
        print(f"rnnjax: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
