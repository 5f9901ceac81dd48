"""Counting with the protocol of Weiss, Goldberg & Yahav 2018 (their public code), and all four cells.

Claim (section 4 proves it, section 5 trains LSTM and GRU only): LSTMs and
ReLU Elman networks (IRNN) can count, GRUs and squashing Elman networks
(SRNN) cannot; trained on a^n b^n for n < 100 (a^n b^n c^n for n < 50), the
LSTM recognises a^n b^n up to n = 256 and a^n b^n c^n up to n = 100, the GRU
fails from n = 39 and n = 9.

Protocol (the public code, tech-srl/counting_dimensions: ``RNNTokenPredictor.py`` and
``Counting Dimensions.ipynb``, and the threshold of its released networks): hidden 10,
embedding 3, Adam lr 1e-3 (DyNet clips at 5: we clip at 5), one word per update (batch 1),
the loss summed over the word's positions, epochs over the training words in a shuffled
order, reject threshold 0.005, training until the training words are decided right,
checked every 100 epochs, at most ``EPOCHS`` = 2000 epochs (198,000 updates for a^n b^n,
98,000 for a^n b^n c^n). Members are seeds trained side by side, so they see the words in
the same order.

Reproduced means: the median LSTM and IRNN seeds are right past the training
range and past the median GRU and SRNN seeds, which fail inside or near it. A
GRU or SRNN seed counts as failing only if it fit at least 30% of its training n
(the paper's GRU: n <= 38 of 99); where none did, the verdict is "did not train".
The report plots the training loss of every arm, so a GRU that did not fit its
training range shows how far its loss came.

    rnnjax train --experiment counting_paper       # 3 seeds per arm, about an hour on 2 cores
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rnnjax.eval.claims import Claim, Deviation, Fit, with_deviations
from rnnjax.eval.plots import plot_training_curves
from rnnjax.eval.tables import Table
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

EPOCHS = 2000
"""Epoch cap of the public code (max_epochs); ``--steps`` = epochs x training words changes it."""
CHECK_EPOCHS = 100
"""Epochs between the checks that the training words are right (the public code's epochs_at_a_time)."""

CELLS = {"lstm": {"cell": "lstm"}, "gru": {"cell": "gru"},
         "irnn": {"cell": "elman", "activation": "relu", "identity_init": True},
         "srnn": {"cell": "elman", "activation": "tanh"}}

_BASE = TrainConfig.of(hidden=10, embedding_dim=3, learning_rate=1e-3, clip_norm=5.0, batch_size=1, order="epochs",
                       loss_per="word", threshold=0.005, stop_when="fit", num_buckets=8, eval_n_max=1000,
                       log_every=500)
ARMS = {
    f"{name}_{task}": _BASE.replace(task=task, n_max=n_max, steps=EPOCHS * n_max, stop_every=CHECK_EPOCHS * n_max,
                                    **cell)
    for task, n_max in (("anbn", 99), ("anbncn", 49))
    for name, cell in CELLS.items()
}

SMOOTH = 20
"""Logged points (``log_every`` = 500 one-word updates each) the loss plot averages over: 10,000 updates,
100 epochs of a^n b^n, so the curve shows the epochs' trend rather than single words' losses."""


def _load(name: str):
    """The module of the experiment file ``name`` beside this one."""
    spec = importlib.util.spec_from_file_location(f"rnnjax_experiment_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


counting = _load("counting")
GRU_FIT = counting.GRU_FIT
_COUNTING = counting.EXPERIMENT
_COMMAND = "rnnjax train --experiment counting_paper"
_FIT = Fit("correct_within_training", GRU_FIT)
CLAIMS = counting.claims(_COMMAND) + (
    Claim("IRNN (ReLU) counts: a^n b^n past the training range", "proved (section 4), not trained", "irnn_anbn",
          "largest_correct_n", 100, partly=50, command=_COMMAND, source=counting.PROOF,
          budget=counting.paper_budget("anbn")),
    Claim("SRNN (tanh) cannot count: fails on a^n b^n before the IRNN", "proved (section 4), not trained",
          "srnn_anbn", "largest_correct_n", 99, higher=False, versus="irnn_anbn", command=_COMMAND,
          source=counting.PROOF, budget=counting.paper_budget("anbn"), fit=_FIT),
)
"""The claims of ``counting`` (same arm names) and the two the paper proves but does not train."""

DEVIATIONS = (
    Deviation("training n", "n = 0..99 (0..49): the empty word is a training word", "n = 1..99 (1..49)",
              "the empty word has no n here", "none expected"),
    Deviation("stopping rule", "the training words classified right (accepted), and at least 1,000 epochs",
              "the training words accepted and their near misses rejected (the task's fit), no minimum",
              "the fit check is the task's; a minimum number of epochs is not a stopping rule of the trainer",
              "a stricter check, met later; a seed that fits stops up to 900 epochs earlier than theirs, "
              "so its counter may be less exact and its largest correct n smaller"),
    Deviation("word order", "each network shuffles on its own", "the seeds of an arm share one shuffled order",
              "the order is part of the shared program", "none expected on the medians"),
    Deviation("IRNN and SRNN", "not trained (section 4 proves what they can count)",
              "ReLU Elman with identity recurrent init (Le et al. 2015) and tanh Elman, same protocol",
              "the claims of section 4 checked by training", "the IRNN's geometric growth on some seeds"),
)

DESCRIPTION = __doc__
__doc__ = with_deviations(DESCRIPTION, DEVIATIONS, "Deviations from the authors' code")


def report(runs: list[Run], out_dir: Path) -> str:
    """The state traces of ``counting`` and every arm's training loss (how far an arm that did
    not fit its training range came)."""
    _COUNTING.report(runs, out_dir)
    plot_training_curves([r for r in runs if r.history], out_dir / "training_loss.png", smooth=SMOOTH,
                         panel=lambda arm: "a^n b^n c^n" if arm.endswith("anbncn") else "a^n b^n")
    return ""


EXPERIMENT = Experiment(
    name="counting_paper",
    arms=ARMS,
    seeds=(0, 1, 2),
    sweep_seeds=tuple(range(10)),
    report=report,
    description=DESCRIPTION,
    claims=CLAIMS,
    table=Table(_COUNTING.table.columns + (("stopped at step", "stopped_at"),)),
    deviations=DEVIATIONS,
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
