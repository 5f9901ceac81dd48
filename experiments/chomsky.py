"""The Chomsky-hierarchy benchmark (Delétang et al., "Neural Networks and the Chomsky Hierarchy", ICLR 2023).

Claim: grouped by the Chomsky hierarchy, tasks predict which architectures
generalise to longer inputs: RNNs and Transformers fail beyond regular tasks,
LSTMs solve regular (and counter) tasks, a stack RNN also solves
deterministic context-free tasks, and a tape RNN also solves context-sensitive
ones.

Protocol (the paper's, as defaults here): input lengths uniform in 1..40, one
length per step (40 length buckets; buckets of one padded width share a
program); Adam with global-norm clipping 1.0, batch 128, learning rates
{1e-4, 3e-4, 5e-4} x seeds 0..9 per (task, model) in one vmapped population
(``rnnjax sweep``); 1,000,000 steps; evaluation on every length 1..500 with 512
fixed-seed samples each; the score of a run is its mean accuracy over the
lengths 41..500 (``accuracy_test``), reported as best and median over the sweep
beside the published score (the maximum over its sweep).

Reproduced means: on the paper's grid, a (task, model) cell counts as solved
(score >= 90%) in our sweep iff it does in the paper's Table 2.

    rnnjax sweep --experiment chomsky                       # the paper's scale: days on an accelerator
    rnnjax train --experiment chomsky --arms reverse_string-stack_rnn --steps 10000

Arms are ``<task>-<model>``: the paper's models ``rnn``, ``lstm``, ``stack_rnn``,
``tape_rnn``, ``transformer`` (trained by default), and more rows when named
with ``--arms``: Transformers with the other positional encodings, the RNS
stack, the stratified stack, queue and deque, the superposition stack and the
tape with their rnnjax defaults, the vector RNS stack, and attention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnjax.eval.plots import save_figure, subplots
from rnnjax.eval.tables import Table, by_task_and_model
from rnnjax.tasks import chomsky
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

LEVELS = {level: tuple(tasks) for level, tasks in chomsky.LEVELS.items()}
PAPER_MODELS = ("rnn", "stack_rnn", "tape_rnn", "transformer", "lstm")
PUBLISHED = {  # Table 2 of arXiv:2207.02098v3: score (%), maximum over seeds and learning rates
    "even_pairs": (100.0, 100.0, 100.0, 96.4, 100.0),
    "modular_arithmetic": (100.0, 100.0, 100.0, 24.2, 100.0),
    "parity_check": (100.0, 100.0, 100.0, 52.0, 100.0),
    "cycle_navigation": (100.0, 100.0, 100.0, 61.9, 100.0),
    "stack_manipulation": (56.0, 100.0, 100.0, 57.5, 59.1),
    "reverse_string": (62.0, 100.0, 100.0, 62.3, 60.9),
    "modular_arithmetic_brackets": (41.3, 96.1, 95.4, 32.5, 59.2),
    "solve_equation": (51.0, 56.2, 64.4, 25.7, 67.8),
    "duplicate_string": (50.3, 52.8, 100.0, 52.8, 57.6),
    "missing_duplicate_string": (52.3, 55.2, 100.0, 56.4, 54.3),
    "odds_first": (51.0, 51.9, 100.0, 52.8, 55.6),
    "binary_addition": (50.3, 52.7, 100.0, 54.3, 55.5),
    "binary_multiplication": (50.0, 52.7, 58.5, 52.2, 53.1),
    "compute_sqrt": (54.3, 56.5, 57.8, 52.4, 57.5),
    "bucket_sort": (27.9, 78.1, 70.7, 91.9, 99.3),
}
SOLVED = 90.0

_BASE = TrainConfig.of(
    task="even_pairs", n_min=1, n_max=40, eval_n_max=500, eval_samples=512, cell="elman", hidden=256,
    embedding_dim=0, learning_rate=3e-4, clip_norm=1.0, batch_size=128, steps=1_000_000, num_buckets=40,
    log_every=1000,
)
MODELS = {
    "rnn": dict(cell="elman"),
    "lstm": dict(cell="lstm"),
    # Joulin & Mikolov's stack as the paper builds it: linear pushes, empty cells 0, the top cell read
    "stack_rnn": dict(memory="superposition_stack", memory_width=8, stack_read_top=1, stack_empty=0.0,
                      stack_push="linear"),
    # a tape written every step that also jumps by the input length
    "tape_rnn": dict(memory="tape", memory_width=8, tape_write="always", tape_jumps=True),
    "transformer": dict(model="transformer", embedding_dim=64, blocks=5),
}
EXTRA_MODELS = {
    **{f"transformer_{pe}": dict(model="transformer", embedding_dim=64, blocks=5, positional_encoding=pe)
       for pe in ("none", "relative", "rotary", "alibi")},
    "rns": dict(memory="nondeterministic_stack", stack_states=2, stack_symbols=3, stack_window=32),
    "vrns": dict(memory="vector_nondeterministic_stack", stack_states=2, stack_symbols=3, stack_window=32,
                 memory_width=8),
    "stack": dict(memory="stack", memory_width=8),
    "queue": dict(memory="queue", memory_width=8),
    "deque": dict(memory="deque", memory_width=8),
    "superposition": dict(memory="superposition_stack", memory_width=8),
    "tape": dict(memory="tape", memory_width=8),
    "attention": dict(model="attention", embedding_dim=32),
}
TASKS = tuple(t for tasks in LEVELS.values() for t in tasks)
ARMS = {f"{task}-{model}": _BASE.replace(task=task, **kw) for task in TASKS
        for model, kw in {**MODELS, **EXTRA_MODELS}.items()}


def _scores(runs: list[Run]) -> dict[tuple[str, str], list[float]]:
    """(task, model) -> the scores (%) of its finished, non-diverged runs."""
    out: dict[tuple[str, str], list[float]] = {}
    for r in runs:
        task, _, model = r.arm.partition("-")
        if r.results.get("diverged_at") is None and r.results.get("accuracy_test") is not None:
            out.setdefault((task, model), []).append(100 * r.results["accuracy_test"])
    return out


def agreement(runs: list[Run]) -> tuple[int, int]:
    """(cells where our best and the paper's both are, or both are not, >= 90%, cells compared)."""
    scores = _scores(runs)
    cells = [(t, m) for (t, m) in scores if m in PAPER_MODELS]
    same = sum((max(scores[t, m]) >= SOLVED) == (PUBLISHED[t][PAPER_MODELS.index(m)] >= SOLVED) for t, m in cells)
    return same, len(cells)


def plot_lengths(runs: list[Run], out_dir: Path) -> list[Path]:
    """Per task: accuracy against test length, one line per model (its best run by score)."""
    best: dict[tuple[str, str], Run] = {}
    for r in runs:
        task, _, model = r.arm.partition("-")
        if r.results.get("accuracy_by_n") and r.results.get("diverged_at") is None:
            if (task, model) not in best or r.results["accuracy_test"] > best[task, model].results["accuracy_test"]:
                best[task, model] = r
    paths = []
    for task in dict.fromkeys(t for t, _ in best):
        fig, ax = subplots(figsize=(8, 4.5))
        for (t, model), r in best.items():
            if t == task:
                values = r.results["accuracy_by_n"]
                ax.plot(np.arange(1, len(values) + 1), values, linewidth=1, label=model)
        n_max = next(r for (t, _), r in best.items() if t == task).config.task.n_max
        ax.axvspan(1, n_max, color="grey", alpha=0.15, label="training lengths")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("input length")
        ax.set_ylabel("accuracy (best run of each model)")
        ax.set_title(task)
        ax.legend(fontsize=8)
        paths.append(save_figure(fig, out_dir / "lengths" / f"{task}.png"))
    return paths


def report(runs: list[Run], out_dir: Path) -> str:
    """How many cells of the paper's grid agree on solved or not, and the accuracy-by-length plots."""
    plot_lengths(runs, out_dir)
    same, cells = agreement(runs)
    return f"Solved (>= {SOLVED:.0f}%) in both or in neither: {same} of {cells} cells of the paper's grid"


def _published(fields: dict, metric: str) -> float | None:
    """The paper's score (%) of a (task, model) cell."""
    if fields["model"] not in PAPER_MODELS or fields["task"] not in PUBLISHED:
        return None
    return PUBLISHED[fields["task"]][PAPER_MODELS.index(fields["model"])]


LEVEL_OF = {task: level for level, tasks in LEVELS.items() for task in tasks}
TABLE = Table((("score", "score"),), rows=lambda r: {"level": LEVEL_OF[r.arm.partition("-")[0]]}
              | by_task_and_model(r), across="model", best=True, reference=_published)
"""Score (%, mean accuracy over lengths 41..500): tasks down by level, models across, our
best / median over the sweep, the paper's in brackets."""


EXPERIMENT = Experiment(
    name="chomsky", arms=ARMS, seeds=(0,), sweep_seeds=tuple(range(10)),
    grid={"learning_rate": (1e-4, 3e-4, 5e-4)}, report=report, description=__doc__,
    default_arms=tuple(f"{task}-{model}" for task in TASKS for model in MODELS), table=TABLE,
    measure=lambda run, _: {"score": 100 * run.results["accuracy_test"]},
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
