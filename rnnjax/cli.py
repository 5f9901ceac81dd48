"""The ``rnnjax`` command.

    rnnjax train --experiment counting [--arms lstm_anbn] [--seeds 0 1] [--steps 500 ...]
    rnnjax eval --experiment counting          # report over finished runs
    rnnjax eval --run-dir runs/counting/lstm_anbn/seed0 [--eval-n-max 2000]

Every TrainConfig field is an override flag; an unknown flag or a bad value
fails with a message naming it.
"""

from __future__ import annotations

import dataclasses
import json
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


def _chosen(overrides) -> dict:
    return {k: v for k, v in dataclasses.asdict(overrides).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class Train:
    """Train every arm x seed of an experiment (finished runs are reused), then print its report."""

    experiment: str
    """name in experiments/ or a path to an experiment .py file"""
    arms: tuple[str, ...] = ()
    """arms to train (default: all)"""
    seeds: tuple[int, ...] = ()
    """seeds (default: the experiment's)"""
    out: str = "runs"
    """output root; runs go to OUT/<experiment>/<arm>/seed<k>"""
    progress: bool = True
    config: tyro.conf.OmitArgPrefixes[Overrides] = Overrides()


@dataclasses.dataclass(frozen=True)
class Eval:
    """Report over an experiment's finished runs, or re-evaluate one run directory."""

    experiment: str | None = None
    run_dir: str | None = None
    arms: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    out: str = "runs"
    eval_n_max: int | None = None
    """run-dir only: evaluate up to this n instead of the run's eval_n_max"""
    threshold: float | None = None
    """run-dir only: acceptance threshold instead of the run's"""


def train_command(args: Train) -> None:
    from rnnjax.train.runs import load_experiment, run_experiment

    experiment = load_experiment(args.experiment)
    overrides = _chosen(args.config)
    if "seed" in overrides:
        raise ValueError("use --seeds to choose seeds, not --seed")
    _, text = run_experiment(
        experiment, args.out, arms=args.arms, seeds=args.seeds, overrides=overrides, progress=args.progress
    )
    print(text)


def eval_command(args: Eval) -> None:
    from rnnjax.train.runs import evaluate, load_experiment, load_run, run_experiment

    if (args.experiment is None) == (args.run_dir is None):
        raise ValueError("give exactly one of --experiment or --run-dir")
    if args.run_dir is not None:
        run = load_run(args.run_dir)
        changes = {k: v for k, v in (("eval_n_max", args.eval_n_max), ("threshold", args.threshold)) if v is not None}
        cfg = dataclasses.replace(run.config, **changes)
        print(json.dumps(evaluate(cfg, run.model, run.language, run.params), indent=2))
        return
    experiment = load_experiment(args.experiment)
    _, text = run_experiment(experiment, args.out, arms=args.arms, seeds=args.seeds, train_missing=False)
    print(text)


def main(argv: list[str] | None = None) -> None:
    command = tyro.extras.subcommand_cli_from_dict({"train": Train, "eval": Eval}, args=argv)
    try:
        {Train: train_command, Eval: eval_command}[type(command)](command)
    except (ValueError, FileNotFoundError) as e:
        print(f"rnnjax: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
