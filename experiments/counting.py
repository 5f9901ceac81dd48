"""LSTMs count, GRUs do not (Weiss, Goldberg & Yahav 2018, section 5), at small scale.

Claim: an LSTM (hidden 10) trained to predict the next symbol of a^n b^n for
n < 100 (a^n b^n c^n for n < 50) keeps recognising the language far beyond
the training range, with a cell dimension that counts with slope about +-1;
a GRU fails near or inside the training range.

Reproduced means: the median LSTM seed's largest correct n is above the
training range and above the median GRU seed's, and the LSTM cell trace over
a^1000 b^1000 shows a unit rising linearly over the a's and falling over the
b's.

    rnnjax train --experiment counting
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from rnnjax.eval.plots import plot_state_traces
from rnnjax.eval.report import write_table
from rnnjax.train.config import TrainConfig
from rnnjax.train.runs import Experiment, Run

PLOT_N = 1000

_BASE = TrainConfig(hidden=10, embedding_dim=3, learning_rate=0.03, steps=3000, eval_n_max=1000)
ARMS = {
    f"{cell}_{task}": dataclasses.replace(_BASE, task=task, cell=cell, n_max=n_max)
    for task, n_max in (("anbn", 99), ("anbncn", 49))
    for cell in ("lstm", "gru")
}

COLUMNS = [
    "arm",
    "seed",
    "train_n_max",
    "largest_correct_n",
    "members_accepted",
    "near_misses_rejected",
    "final_loss",
    "diverged_at",
    "train_seconds",
    "eval_seconds",
]


def _state_trace(run: Run, n: int) -> tuple[str, np.ndarray]:
    """The LSTM cell c (or the GRU/Elman hidden h) over ``eos a^n b^n``."""
    tokens = jnp.asarray(np.concatenate([[run.language.eos], run.language.encode(run.language.probes(n)[0])]))
    states = run.model.states(run.params, tokens)
    if run.config.cell == "lstm":
        return f"{run.arm} seed {run.config.seed}: LSTM cell state c", np.asarray(states[0])
    return f"{run.arm} seed {run.config.seed}: {run.config.cell.upper()} hidden state h", np.asarray(states)


def report(runs: list[Run], out_dir: Path) -> str:
    rows = [
        {"arm": r.arm, "seed": r.config.seed, "train_n_max": r.config.n_max} | r.results for r in runs
    ]
    lines = ["Per run (largest_correct_n: every n up to it has a^n.. accepted and its near misses rejected)"]
    lines.append(write_table(rows, COLUMNS, out_dir / "runs"))
    summary = []
    for arm in dict.fromkeys(r.arm for r in runs):
        ns = [r.results.get("largest_correct_n", 0) for r in runs if r.arm == arm]
        summary.append(
            {"arm": arm, "seeds": len(ns), "median": float(np.median(ns)), "best": max(ns), "worst": min(ns)}
        )
    lines += ["", "Largest correct n over seeds", write_table(summary, ["arm", "seeds", "median", "best", "worst"], out_dir / "summary")]
    traced = {}
    for r in runs:
        if r.config.task == "anbn" and r.config.cell not in traced:
            traced[r.config.cell] = _state_trace(r, PLOT_N)
    if traced:
        path = plot_state_traces(
            list(traced.values()), out_dir / "states_a1000b1000.png", boundaries=(PLOT_N + 1,)
        )
        lines += ["", f"State traces over a^{PLOT_N} b^{PLOT_N}: {path}"]
    return "\n".join(lines)


EXPERIMENT = Experiment(
    name="counting",
    arms=ARMS,
    seeds=(0, 1, 2),
    report=report,
    description=__doc__,
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
