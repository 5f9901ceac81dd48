"""QRNN vs LSTM on prefix tagging of a^n b^n Sigma* (Merrill et al. 2020).

Claim: a 1-layer QRNN cannot recognise a^n b^n Sigma* (its gates see only a
window of inputs, so its counter cannot be compared and then forgotten) and
stays at the majority-class baseline; a 2-layer QRNN and an LSTM can; the
LSTM is near 100% up to length 256.

Reproduced means: trained on length 64, the 1-layer QRNN's per-token accuracy
is within a few points of the majority baseline at every test length
64..2048, while the LSTM is near 100% up to 256.

    rnnjax train --experiment qrnn_vs_lstm      # 3 seeds per arm
    rnnjax sweep --experiment qrnn_vs_lstm      # 10 seeds per arm
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnjax.eval.plots import save_figure, subplots
from rnnjax.eval.tables import Table
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

_BASE = TrainConfig.of(
    task="anbn_sigma_star_prefixes", n_min=64, n_max=64, hidden=32, embedding_dim=8, learning_rate=0.01, steps=2000,
    log_every=50,
)
ARMS = {
    "qrnn_1layer": _BASE.replace(cell="qrnn", width=2, pooling="fo"),
    "qrnn_2layer": _BASE.replace(cell="qrnn", width=2, pooling="fo", layers=2),
    "lstm": _BASE.replace(cell="lstm"),
}


def report(runs: list[Run], out_dir: Path) -> str:
    """Accuracy against test length per arm (median, min-max over seeds) and the majority baseline."""
    lengths = runs[0].config.get("eval_lengths")
    fig, ax = subplots(figsize=(8, 4.5))
    for arm in dict.fromkeys(r.arm for r in runs):
        values = np.array([[r.results[f"accuracy_T{n}"] for n in lengths] for r in runs if r.arm == arm])
        (line,) = ax.plot(lengths, np.median(values, axis=0), marker="o", label=f"{arm} ({len(values)} seeds)")
        ax.fill_between(lengths, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2)
    ax.plot(lengths, [runs[0].results[f"majority_T{n}"] for n in lengths], "k--", label="majority class")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("test length (trained on 64)")
    ax.set_ylabel("per-token accuracy")
    ax.legend(fontsize=8)
    save_figure(fig, out_dir / "accuracy_vs_length.png")
    return ""


EXPERIMENT = Experiment(
    name="qrnn_vs_lstm", arms=ARMS, seeds=(0, 1, 2), sweep_seeds=tuple(range(10)), report=report, description=__doc__,
    table=Table(tuple((f"accuracy T{n}", f"accuracy_T{n}") for n in _BASE.get("eval_lengths")),
                baseline=("majority class", lambda field: field.replace("accuracy", "majority"))),
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
