"""LSTM vs memory-augmented LSTMs on five transductions (Grefenstette et al. 2015).

Claim: an LSTM with a neural stack generalises to longer inputs on reversal,
one with a neural queue on copying, one with a neural deque on both, while
deep LSTMs fit the training lengths but do not generalise.

Reproduced means: trained on sources of length 8-64, greedy decoding on 65-128
keeps a fine accuracy near 1 for stack-LSTM on reversal, queue-LSTM on copy and
deque-LSTM on both, with the LSTM clearly below.

    rnnjax train --experiment transduction      # 1 seed per arm
    rnnjax sweep --experiment transduction      # 10 seeds per arm

Arms are ``<task>-<model>``; ``--arms`` picks some (e.g. ``reversal-stack``).
The compact table gives coarse and fine accuracy on training and test lengths per
task and model, as the paper lays them out; the report adds, for the
stack/queue/deque models, PNGs of the push/pop strengths and memory depth along
one test input.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from rnnjax import memory
from rnnjax.cells import scan
from rnnjax.eval.claims import Claim
from rnnjax.eval.plots import plot_memory_actions
from rnnjax.eval.tables import Table, by_task_and_model
from rnnjax.memory import MEMORIES
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

TASKS = ("copy", "reversal", "bigram_flip", "svo_sov", "gender_conjugation")
_BASE = TrainConfig.of(
    task="copy", n_min=8, n_max=64, eval_n_max=128, cell="lstm", hidden=64, embedding_dim=32, learning_rate=0.003,
    batch_size=16, steps=3000, num_buckets=4, log_every=100,
)
MODELS = {
    "lstm": dict(layers=2),
    "stack": dict(memory="stack", memory_width=16),
    "queue": dict(memory="queue", memory_width=16),
    "deque": dict(memory="deque", memory_width=16),
    "superposition": dict(memory="superposition_stack", memory_width=16),
    "attention": dict(model="attention"),
}
ARMS = {f"{task}-{model}": _BASE.replace(task=task, **kw) for task in TASKS for model, kw in MODELS.items()}
ACTION_NAMES = {"stack": ("push", "pop"), "queue": ("push", "pop"),
                "deque": ("push top", "pop top", "push bottom", "pop bottom")}


def plot_actions(run: Run, path: Path) -> Path:
    """Push/pop strengths and depth of a stratified-memory model on one source a
    little longer than any in training."""
    cfg, model, transduction = run.config, run.model, run.task.definition
    n = min(cfg.eval.eval_n_max, cfg.task.n_max + 16)
    tokens, length = transduction.sample(jax.random.key(0), n, n, transduction.max_length(n))
    tokens = tokens[: 2 * int(length) + 1]
    cell, params = model.recurrence(run.params, tokens)
    _, ys = scan(cell, params, model.encode(run.params, tokens))
    actions = jax.nn.sigmoid(memory.controller_actions(MEMORIES[cfg.model.memory](**cfg.model.memory_options), params,
                                                       ys))
    strengths = model.states(run.params, tokens)[1][1]
    labels = [str(int(t)) if t < transduction.separator else "|" for t in tokens]
    names = ACTION_NAMES[cfg.model.memory]
    title = f"{run.arm} seed {cfg.run.seed}: source of length {n}, separator '|', then the fed-back target"
    return plot_memory_actions(
        labels, {name: np.asarray(actions[:, k]) for k, name in enumerate(names)}, np.asarray(strengths.sum(-1)),
        path, title=title, runs=(run,),
    )


def report(runs: list[Run], out_dir: Path) -> str:
    """The push/pop strengths of every stack, queue and deque run on copy and reversal."""
    for run in runs:
        if run.config.model.memory in ACTION_NAMES and run.config.task.name in ("copy", "reversal"):
            plot_actions(run, out_dir / "actions" / f"{run.arm}-seed{run.config.run.seed}.png")
    return ""


_REDUCED = ("rnnjax train --experiment transduction --arms reversal-stack copy-queue copy-deque reversal-deque "
            "reversal-lstm --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 3000 "
            "--learning-rate 0.01")
CLAIMS = tuple(
    Claim(f"{model}-LSTM learns {task} and generalises to longer sources", "solved (test coarse accuracy about 1)",
          f"{task}-{model}", "coarse_test", 0.9, partly=0.5, command=_REDUCED)
    for task, model in (("reversal", "stack"), ("copy", "queue"), ("copy", "deque"), ("reversal", "deque"))
) + (Claim("deep LSTM does not generalise reversal to longer sources", "test coarse accuracy near 0",
           "reversal-lstm", "coarse_test", 0.1, higher=False, versus="reversal-stack", command=_REDUCED),)

EXPERIMENT = Experiment(
    name="transduction", arms=ARMS, seeds=(0,), sweep_seeds=tuple(range(10)), report=report, description=__doc__,
    claims=CLAIMS, table=Table(tuple((m.replace("_", " "), m) for m in ("coarse_train", "fine_train", "coarse_test",
                                                                         "fine_test")), rows=by_task_and_model),
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
