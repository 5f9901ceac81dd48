"""The doubling LSTM on marked reversal: does a forget gate that can double help or hurt?

Claim (the seed talk): an LSTM whose forget gate is the sum of two sigmoids,
f in (0, 2), can in principle reset, keep, halve and double its cell, which
is what a stack-in-a-number needs; in practice the doubled values grow too
large for training.

Reproduced means: on w $ w^R (alphabet {a, b}, |w| <= 20 in training), the
doubling LSTM's largest |cell| is orders of magnitude above the LSTM's, and
it trains worse (higher final loss or fewer correct strings) or diverges;
diverged members are frozen, flagged and reported, never crash the run.

    rnnjax train --experiment doubling_lstm     # 3 seeds per arm
    rnnjax sweep --experiment doubling_lstm     # 10 seeds per arm
"""

from __future__ import annotations

from pathlib import Path

from rnnjax.eval.claims import Deviation, with_deviations
from rnnjax.eval.plots import plot_training_curves
from rnnjax.eval.tables import Table
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

_BASE = TrainConfig.of(
    task="marked_reversal", alphabet="ab", n_max=20, hidden=32, embedding_dim=8, learning_rate=0.01,
    steps=2000, log_every=25, num_buckets=2,
)
ARMS = {cell: _BASE.replace(cell=cell) for cell in ("lstm", "doubling_lstm")}

DEVIATIONS = (
    Deviation("protocol", "none published: the seed talk states the claim, not a training protocol",
              "marked reversal over {a, b}, |w| <= 20, hidden 32, embedding 8, Adam 0.01, 2,000 steps of 32",
              "a task that needs a stack, small enough for a CPU", "the claim is qualitative; no figure to meet"),
)

DESCRIPTION = __doc__
__doc__ = with_deviations(DESCRIPTION, DEVIATIONS, "Deviations from a published protocol")


def report(runs: list[Run], out_dir: Path) -> str:
    plot_training_curves(runs, out_dir / "training_loss.png")
    return ""


EXPERIMENT = Experiment(
    name="doubling_lstm", arms=ARMS, seeds=(0, 1, 2), sweep_seeds=tuple(range(10)), report=report,
    description=DESCRIPTION, deviations=DEVIATIONS,
    table=Table((("final loss", "final_loss"), ("correct, training lengths", "correct_within_training"),
                 ("correct, longer", "correct_beyond_training"),
                 ("largest abs state", "max_abs_state_within_training"))),
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
