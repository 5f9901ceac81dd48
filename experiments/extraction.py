"""DFA extraction from GRU and LSTM recognisers of the Tomita grammars (Weiss, Goldberg & Yahav 2018, ICML).

Claim: L* with the network as membership oracle and abstraction-refinement
equivalence queries recovers the minimal DFA of each Tomita grammar from a
well-trained network; quantising the state space (k-means) is the baseline.

Reproduced means: for networks whose prefix-tagging accuracy is ~1, the L*
DFA has the minimal target size and agrees with the target on (nearly) all
held-out strings.

    rnnjax train --experiment extraction      # 1 seed per grammar x cell
    rnnjax sweep --experiment extraction      # 10 seeds

The report trains nothing more: it extracts from each finished run (per run:
tagging accuracy, target size, sizes, agreement and time of both methods, in the
compact table and ``runs.csv``) and draws ``dfas/<arm>-seed<k>.png`` (L* DFAs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnjax.automata import DFA, REFERENCE_LANGUAGES
from rnnjax.automata.extraction import lstar, model_acceptor, quantise
from rnnjax.eval.claims import Deviation, with_deviations
from rnnjax.eval.plots import render_dfa
from rnnjax.eval.tables import Table, by_task_and_model
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

GRAMMARS = tuple(f"tomita{k}" for k in range(1, 8))
_BASE = TrainConfig.of(
    task="tomita1", n_min=24, n_max=24, eval_lengths=(24, 64, 128), cell="gru", hidden=16, embedding_dim=4,
    learning_rate=0.01, steps=1500, log_every=100,
)
ARMS = {f"{g}-{cell}": _BASE.replace(task=g, cell=cell) for g in GRAMMARS for cell in ("gru", "lstm")}
TIME_LIMIT = 30.0

DEVIATIONS = (
    Deviation("networks", "binary classifiers of whole words, 1 layer of hidden 10, trained by their mixed "
              "curriculum on about 2,750 words (tech-srl/lstar_extraction, dfa_from_rnn_no_documentation.ipynb)",
              "prefix taggers of hidden 16 read as acceptors (model_acceptor), 1,500 steps on strings of length 24",
              "the tagging task format of rnnjax; one trainer for every experiment",
              "other networks; L* asks them the same membership and equivalence queries"),
)

DESCRIPTION = __doc__
__doc__ = with_deviations(DESCRIPTION, DEVIATIONS, "Deviations from the authors' code")


def held_out(dfa: DFA, rng: np.random.Generator, count: int = 1000, longest: int = 50) -> list[str]:
    """Half accepted and half rejected words (where the length allows), lengths 1..longest."""
    out = []
    while len(out) < count:
        word = dfa.sample(rng, int(rng.integers(1, longest + 1)), accept=len(out) % 2 == 0)
        if word is not None:
            out.append(word)
    return out


def agreement(a: DFA, b: DFA, words: list[str]) -> float:
    return float(np.mean([a.accepts(w) == b.accepts(w) for w in words]))


def extract(run: Run, out_dir: Path) -> dict:
    target = REFERENCE_LANGUAGES[run.config.task.name]().minimise()
    seed, longest = run.config.run.seed, run.config.get("eval_lengths")[-1]
    net = model_acceptor(run.model, run.params, target.alphabet, start_token=len(target.alphabet))
    rng = np.random.default_rng(seed)
    test = held_out(target, rng)
    train_words = ["".join(rng.choice(list(target.alphabet), int(rng.integers(0, 16)))) for _ in range(500)]
    by_lstar = lstar(net, TIME_LIMIT)
    by_quantisation = quantise(net, train_words, k=4 * target.size)
    render_dfa(by_lstar.dfa, out_dir / "dfas" / f"{run.arm}-seed{seed}.png", f"{run.arm} L*", runs=(run,))
    return {
        "tagging_accuracy": run.results.get(f"accuracy_T{longest}"),
        "network_agreement": float(np.mean([net.accepts(w) == target.accepts(w) for w in test])),
        "target_states": target.size,
        "lstar_states": by_lstar.dfa.size, "lstar_agreement": agreement(by_lstar.dfa, target, test),
        "lstar_exact": by_lstar.dfa.equivalent(target), "lstar_seconds": by_lstar.seconds,
        "lstar_finished": by_lstar.finished,
        "quantised_states": by_quantisation.dfa.size,
        "quantised_agreement": agreement(by_quantisation.dfa, target, test),
        "quantised_exact": by_quantisation.dfa.equivalent(target), "quantised_seconds": by_quantisation.seconds,
    }


TABLE = Table((("tagging accuracy", "tagging_accuracy"), ("network agrees", "network_agreement"),
               ("target states", "target_states"), ("L* states", "lstar_states"), ("L* exact", "lstar_exact"),
               ("L* agrees", "lstar_agreement"), ("quantised states", "quantised_states"),
               ("quantised exact", "quantised_exact"), ("quantised agrees", "quantised_agreement")),
              rows=by_task_and_model)

EXPERIMENT = Experiment(
    name="extraction", arms=ARMS, seeds=(0,), sweep_seeds=tuple(range(10)), description=DESCRIPTION, table=TABLE,
    measure=extract, deviations=DEVIATIONS,
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
