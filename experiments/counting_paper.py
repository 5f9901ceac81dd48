"""Counting with the protocol of Weiss, Goldberg & Yahav 2018 (their public code), and all four cells.

Claim (section 4 proves it, section 5 trains LSTM and GRU only): LSTMs and
ReLU Elman networks (IRNN) can count, GRUs and squashing Elman networks
(SRNN) cannot; trained on a^n b^n for n < 100 (a^n b^n c^n for n < 50), the
LSTM recognises a^n b^n up to n = 256 and a^n b^n c^n up to n = 100, the GRU
fails from n = 39 and n = 9.

Protocol (theirs, with our deviations in BUILD_NOTES.md): hidden 10,
embedding 3, Adam lr 1e-3, one word per update (batch 1), the loss summed over
the word's positions, epochs over the training words in a shuffled order,
threshold 0.01, stop once the training words are decided right (checked once
per epoch), at most ``EPOCHS`` epochs. Members are seeds trained side by side
(vmapped), so they see the words in the same order.

Reproduced means: the median LSTM and IRNN seeds are right past the training
range and past the median GRU and SRNN seeds, which fail inside or near it.

    rnnjax train --experiment counting_paper       # 3 seeds per arm
"""

from __future__ import annotations

import dataclasses

from rnnjax.eval.claims import Claim
from rnnjax.eval.tables import Table
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment, load_experiment

EPOCHS = 300
"""Epoch cap (the paper trains 1000-2000); ``--steps`` = epochs x training words changes it."""

CELLS = {"lstm": {"cell": "lstm"}, "gru": {"cell": "gru"},
         "irnn": {"cell": "elman", "activation": "relu", "identity_init": True},
         "srnn": {"cell": "elman", "activation": "tanh"}}

_BASE = TrainConfig.of(hidden=10, embedding_dim=3, learning_rate=1e-3, clip_norm=5.0, batch_size=1, order="epochs",
                       loss_per="word", threshold=0.01, stop_when="fit", num_buckets=8, eval_n_max=1000, log_every=500)
ARMS = {
    f"{name}_{task}": _BASE.replace(task=task, n_max=n_max, steps=EPOCHS * n_max, stop_every=n_max, **cell)
    for task, n_max in (("anbn", 99), ("anbncn", 49))
    for name, cell in CELLS.items()
}

_COUNTING = load_experiment("counting")
_COMMAND = "rnnjax train --experiment counting_paper"
CLAIMS = tuple(dataclasses.replace(c, command=_COMMAND) for c in _COUNTING.claims) + (
    Claim("IRNN (ReLU) counts: a^n b^n past the training range", "proved (section 4), not trained", "irnn_anbn",
          "largest_correct_n", 100, partly=50, command=_COMMAND),
    Claim("SRNN (tanh) cannot count: fails on a^n b^n before the IRNN", "proved (section 4), not trained",
          "srnn_anbn", "largest_correct_n", 99, higher=False, versus="irnn_anbn", command=_COMMAND),
)
"""The claims of ``counting`` (same arm names) and the two the paper proves but does not train."""

EXPERIMENT = Experiment(
    name="counting_paper",
    arms=ARMS,
    seeds=(0, 1, 2),
    sweep_seeds=tuple(range(10)),
    report=_COUNTING.report,  # the state traces over a^1000 b^1000
    description=__doc__,
    claims=CLAIMS,
    table=Table(_COUNTING.table.columns + (("stopped at step", "stopped_at"),)),
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
