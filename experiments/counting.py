"""LSTMs count, GRUs do not (Weiss, Goldberg & Yahav 2018, section 5), at small scale.

Claim: an LSTM (hidden 10) trained to predict the next symbol of a^n b^n for
n < 100 (a^n b^n c^n for n < 50) keeps recognising the language far beyond
the training range, with a cell dimension that counts with slope about +-1;
a GRU fails near or inside the training range.

Reproduced means: the median LSTM seed's largest correct n is above the
training range and above the median GRU seed's, and the LSTM cell trace over
a^1000 b^1000 shows a unit rising linearly over the a's and falling over the
b's.

    rnnjax train --experiment counting      # 3 seeds per arm
    rnnjax sweep --experiment counting      # 10 seeds per arm, checkpointed, resumable
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from rnnjax.eval.claims import Claim
from rnnjax.eval.plots import plot_state_traces
from rnnjax.eval.tables import Table
from rnnjax.train.build import build_model
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

PLOT_N = 1000

_BASE = TrainConfig.of(hidden=10, embedding_dim=3, learning_rate=0.03, steps=3000, eval_n_max=1000)
ARMS = {
    f"{cell}_{task}": _BASE.replace(task=task, cell=cell, n_max=n_max)
    for task, n_max in (("anbn", 99), ("anbncn", 49))
    for cell in ("lstm", "gru")
}


def _state_trace(run: Run, n: int) -> tuple[str, np.ndarray]:
    """The LSTM cell c (or the GRU/Elman hidden h) over ``eos a^n b^n``."""
    language, cell, seed = run.task.definition, run.config.model.cell, run.config.run.seed
    tokens = jnp.asarray(np.concatenate([[language.eos], language.encode(language.probes(n)[0])]))
    states = build_model(run.config, run.task, len(tokens)).states(run.params, tokens)  # memories sized for it
    if run.config.model.memory != "none":
        states = states[0]  # the controller's
    if run.config.model.layers > 1:
        states = states[0]  # the first layer's
    if cell == "lstm":
        return f"{run.arm} seed {seed}: LSTM cell state c", np.asarray(states[0])
    return f"{run.arm} seed {seed}: {cell.upper()} hidden state h", np.asarray(states)


def report(runs: list[Run], out_dir: Path) -> str:
    """The first LSTM's cell state and the first GRU's hidden state over a^1000 b^1000."""
    traced = {}
    for r in runs:
        cell = r.config.model.cell
        if r.config.task.name == "anbn" and cell not in traced and r.results.get("diverged_at") is None:
            traced[cell] = _state_trace(r, PLOT_N)
    if not traced:
        return ""
    plot_state_traces(list(traced.values()), out_dir / "states_a1000b1000.png", boundaries=(PLOT_N + 1,))
    return ""


_COMMAND = "rnnjax train --experiment counting"
CLAIMS = (
    Claim("LSTM recognises a^n b^n past the training range (n < 100)", "correct up to n = 256", "lstm_anbn",
          "largest_correct_n", 256, partly=100, command=_COMMAND),
    Claim("LSTM recognises a^n b^n c^n past the training range (n < 50)", "correct up to n = 100", "lstm_anbncn",
          "largest_correct_n", 100, partly=50, command=_COMMAND),
    Claim("GRU fits the a^n b^n training n up to where it fails", "right for n <= 38 (38 of 99)", "gru_anbn",
          "correct_within_training", 38 / 99, partly=0.1, command=_COMMAND),
    Claim("GRU fails on a^n b^n long before the LSTM", "fails from n = 39", "gru_anbn", "largest_correct_n", 99,
          higher=False, versus="lstm_anbn", command=_COMMAND),
    Claim("GRU fits the a^n b^n c^n training n up to where it fails", "right for n <= 8 (8 of 49)", "gru_anbncn",
          "correct_within_training", 8 / 49, partly=0.05, command=_COMMAND),
)

TABLE = Table((("largest correct n", "largest_correct_n"), ("training n right", "correct_within_training"),
               ("n in (N, 2N] right", "correct_beyond_training")))

EXPERIMENT = Experiment(
    name="counting",
    arms=ARMS,
    seeds=(0, 1, 2),
    sweep_seeds=tuple(range(10)),
    report=report,
    description=__doc__,
    claims=CLAIMS,
    table=TABLE,
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
