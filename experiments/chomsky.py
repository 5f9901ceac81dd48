"""The Chomsky-hierarchy benchmark (Delétang et al., "Neural Networks and the Chomsky Hierarchy", ICLR 2023).

Claim: grouped by the Chomsky hierarchy, tasks predict which architectures
generalise to longer inputs: RNNs and Transformers fail beyond regular tasks,
LSTMs solve regular (and counter) tasks, a stack RNN also solves
deterministic context-free tasks, and a tape RNN also solves context-sensitive
ones (Table 2: 29 of the 75 task x model cells solved, score >= 90%).

Protocol (the paper's, and its public code's, google-deepmind/neural_networks_chomsky_hierarchy, as
defaults here): the five models as the public code builds them (``rnnjax.models.nnch``: the RNN, LSTM,
stack RNN and tape RNN with Haiku's layers and initialisers, ReLU before the readout; the Transformer
encoder of ``rnnjax.models.transformer`` at width 64 with 5 blocks, once per positional encoding, the best
reported as the paper does); one-hot inputs, hidden 256, memory cells of 8; input lengths uniform in
1..40, one length per step (40 length buckets); Adam with global-norm clipping 1, batch 128, learning
rates {1e-4, 3e-4, 5e-4} x seeds 0..9 (``rnnjax sweep``); 1,000,000 steps; evaluation on every length
1..500 with 512 fixed-seed samples each; the score of a run is its mean accuracy over the lengths
41..500 (``accuracy_test``).

Reproduced means, per cell (task, model), with a run "fit" when its accuracy over the training lengths
1..40 (``accuracy_train``) is >= 90%:

- a cell the paper solves is reproduced when our best run scores >= 90%; when none does, it is "not
  reproduced" if some run fit the training lengths, else "did not train";
- a cell the paper does not solve is reproduced when no run scores >= 90% and some run fit the training
  lengths (a failure to generalise), "solved here" when a run scores >= 90%, else "did not train": a
  model that learned nothing is no evidence that it cannot generalise.

The report prints the headline: paper-solved cells reproduced (k of 29), cells solved here that the paper
does not solve (j of 46), cells whose runs did not fit the training lengths (u), the "X solves it, Y does
not" contrasts of each task row, and our training budget against the paper's.

    rnnjax sweep --experiment chomsky                       # the paper's scale: days on an accelerator
    rnnjax train --experiment chomsky --arms reverse_string-stack_rnn --steps 10000

Arms are ``<task>-<model>``: the paper's models ``rnn``, ``lstm``, ``stack_rnn``, ``tape_rnn`` and
``transformer_<encoding>`` (none, sin_cos, relative, rotary, alibi; the table's ``transformer`` column is
their best), trained by default; and, named with ``--arms``, rnnjax's own variants: ``rnnjax_rnn``,
``rnnjax_lstm``, ``rnnjax_stack_rnn``, ``rnnjax_tape_rnn`` (rnnjax's cells, stack and tape, as this
benchmark ran before the public models were built), the RNS stack, the stratified stack, queue and deque,
the superposition stack and the tape with their rnnjax defaults, the vector RNS stack, and attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnjax.eval.claims import Budget, Deviation, with_deviations
from rnnjax.eval.plots import save_figure, subplots
from rnnjax.eval.tables import Table, alive, number, write_table
from rnnjax.tasks import chomsky
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

LEVELS = {level: tuple(tasks) for level, tasks in chomsky.LEVELS.items()}
TASKS = tuple(t for tasks in LEVELS.values() for t in tasks)
LEVEL_OF = {task: level for level, tasks in LEVELS.items() for task in tasks}
PAPER_MODELS = ("rnn", "stack_rnn", "tape_rnn", "transformer", "lstm")
"""The columns of the paper's Table 2, in its order."""
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
SOURCE = "Delétang et al. 2023 (arXiv:2207.02098v3), Table 2"
SOLVED = 90.0
"""A score (%) at or above which a cell counts as solved, as in the paper."""
FIT = 0.9
"""A run fit its training lengths when its accuracy over them (``accuracy_train``) is at least this."""
ENCODINGS = ("none", "sin_cos", "relative", "rotary", "alibi")

_BASE = TrainConfig.of(
    task="even_pairs", n_min=1, n_max=40, eval_n_max=500, eval_samples=512, cell="elman", hidden=256,
    embedding_dim=0, learning_rate=3e-4, clip_norm=1.0, batch_size=128, steps=1_000_000, num_buckets=40,
    log_every=1000,
)
MODELS = {  # the paper's five, as its public code builds them
    "rnn": dict(model="nnch_rnn"),
    "lstm": dict(model="nnch_lstm"),
    "stack_rnn": dict(model="nnch_stack_rnn", nnch_cell_size=8),
    "tape_rnn": dict(model="nnch_tape_rnn", nnch_cell_size=8),
    **{f"transformer_{pe}": dict(model="transformer", embedding_dim=64, blocks=5, positional_encoding=pe)
       for pe in ENCODINGS},
}
EXTRA_MODELS = {  # rnnjax's own
    "rnnjax_rnn": dict(cell="elman"),
    "rnnjax_lstm": dict(cell="lstm"),
    # Joulin & Mikolov's stack in rnnjax: linear pushes, empty cells 0, the top cell read (also by the readout)
    "rnnjax_stack_rnn": dict(memory="superposition_stack", memory_width=8, stack_read_top=1, stack_empty=0.0,
                             stack_push="linear"),
    # rnnjax's tape (2C+1 cells, tanh writes, a read gate) written every step, with jumps by the input length
    "rnnjax_tape_rnn": dict(memory="tape", memory_width=8, tape_write="always", tape_jumps=True),
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
ARMS = {f"{task}-{model}": _BASE.replace(task=task, **kw) for task in TASKS
        for model, kw in {**MODELS, **EXTRA_MODELS}.items()}

BUDGET = Budget(128_000_000, "1,000,000 steps x batch 128 per run (the paper, section 4)")

DEVIATIONS = (
    Deviation("length schedule",
              "one length per step, drawn per seed (training/training.py: curriculum.sample_sequence_length, "
              "python random seeded by the seed)",
              "one length per step from a schedule every member of a population shares (40 buckets); with "
              "--num-buckets 1 each example's length is drawn from its member's own key, batches padded to "
              "the longest",
              "members train as one program, one branch per step; a per-member schedule needs the training "
              "loop to draw it (rnnjax/train/loop.py)",
              "seeds differ in initialisation and examples but not in the order of lengths; small"),
    Deviation("memory size",
              "30 cells (models/stack_rnn.py, models/tape_rnn.py defaults; training/example.py: tape of 40); "
              "the paper's not stated",
              "stack and circular tape of the sequence's padded width (nnch_memory_size 0)",
              "30 cells drop pushes or wrap the tape past 30, so no run could score the paper's 100% on "
              "reverse_string or duplicate_string up to length 500; a tape of the run's longest sequence in "
              "every step costs 10x more",
              "none for the stack (it never fills); the tape differs only where a jump wraps it, then with "
              "the padded width"),
    Deviation("Transformer evaluation",
              "dropout 0.1 active in evaluation (training/range_evaluation.py applies the model with a key)",
              "no dropout in evaluation",
              "evaluation measures the trained function, not a noisy draw of it",
              "our Transformer scores equal or above theirs"),
    Deviation("padding",
              "none: every batch has one length",
              "PAD after the answer in mixed-length batches; one-hot PAD is the zero vector, a Transformer "
              "masks it",
              "evaluation runs many lengths in one program (at most --eval-programs compilations)",
              "none: recurrent outputs before PAD are unchanged (tested), PAD keys are masked"),
    Deviation("scored positions",
              "stack_manipulation, binary_addition, binary_multiplication: loss also on the padding after "
              "the end token, accuracy without it; accuracy pooled over a batch's positions",
              "loss and accuracy on the answer through its end token, averaged per example",
              "one mask for loss and accuracy (rnnjax.tasks.output_tape)",
              "small; the models need not learn to emit padding"),
    Deviation("tasks",
              "modular_arithmetic at even n one token short; odds_first in the other order; int32 overflow "
              "in long products",
              "see rnnjax/tasks/chomsky/*.py docstrings",
              "each task at every length as the paper defines it",
              "none on the paper's claims"),
    Deviation("test lengths",
              "41..500 (the paper); training/example.py scores 42..max",
              "41..500",
              "the paper's range",
              "none"),
    Deviation("updates",
              "training_steps + 1 (training/training.py runs range(steps + 1))",
              "steps",
              "the stated budget",
              "none"),
)


__doc__ = with_deviations(__doc__, DEVIATIONS, "Deviations from the paper and its public code")


def column(model: str) -> str:
    """The Table 2 column of an arm's model: its own name, ``transformer`` for every encoding."""
    return "transformer" if model.startswith("transformer_") else model


def cell_of(arm: str) -> tuple[str, str]:
    """``<task>-<model>`` -> (task, its column)."""
    task, _, model = arm.partition("-")
    return task, column(model)


def paper_score(task: str, model: str) -> float | None:
    """The paper's score (%) of a cell, None where the paper has no such column."""
    if model not in PAPER_MODELS or task not in PUBLISHED:
        return None
    return PUBLISHED[task][PAPER_MODELS.index(model)]


def _finished(runs: Sequence[Run]) -> dict[tuple[str, str], list[Run]]:
    """(task, column) -> its non-diverged runs with a score."""
    out: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        if alive(r) and isinstance(r.results.get("accuracy_test"), (int, float)):
            out.setdefault(cell_of(r.arm), []).append(r)
    return out


def verdicts(runs: Sequence[Run]) -> list[dict]:
    """One row per (task, paper model) cell with runs: the paper's score, our best, whether a run fit the
    training lengths, and the verdict (module docstring)."""
    rows = []
    for (task, model), members in _finished(runs).items():
        paper = paper_score(task, model)
        if paper is None:
            continue
        best = max(100 * r.results["accuracy_test"] for r in members)
        fit = [r for r in members if r.results.get("accuracy_train", 0.0) >= FIT]
        solved, paper_solved = best >= SOLVED, paper >= SOLVED
        if solved:
            verdict = "reproduced" if paper_solved else "solved here"
        elif not fit:
            verdict = "did not train"
        else:
            verdict = "not reproduced" if paper_solved else "reproduced"
        rows.append({"level": LEVEL_OF[task], "task": task, "model": model, "paper": number(paper),
                     "ours": number(round(best, 1)), "fit": f"{len(fit)} of {len(members)}", "verdict": verdict})
    order = {(t, m): i for i, (t, m) in enumerate((t, m) for t in TASKS for m in PAPER_MODELS)}
    return sorted(rows, key=lambda row: order[row["task"], row["model"]])


def contrasts(rows: Sequence[dict]) -> list[dict]:
    """The "X solves it, Y does not" contrasts of each task row of Table 2 whose two cells were run: holds
    when X is solved here and Y fit its training lengths but failed beyond them; "did not train" when Y
    (or an unsolved X) fit nothing; else not."""
    by_task: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_task.setdefault(row["task"], {})[row["model"]] = row
    out = []
    for task, cells in by_task.items():
        for x, x_row in cells.items():
            for y, y_row in cells.items():
                if not (paper_score(task, x) >= SOLVED > paper_score(task, y)):
                    continue
                x_solved, y_failed = x_row["verdict"] == "reproduced", y_row["verdict"] == "reproduced"
                if x_solved and y_failed:
                    verdict = "reproduced"
                elif y_row["verdict"] == "did not train" or x_row["verdict"] == "did not train":
                    verdict = "did not train"
                else:
                    verdict = "not reproduced"
                out.append({"task": task, "solves": x, "does not": y, "verdict": verdict})
    return out


def headline(runs: Sequence[Run]) -> dict:
    """k of the paper-solved cells reproduced, j of the paper-unsolved cells solved here, u cells that did not
    train, and the contrasts' counts, over the cells that were run."""
    rows = verdicts(runs)
    paper_solved = [r for r in rows if float(r["paper"]) >= SOLVED]
    paper_unsolved = [r for r in rows if float(r["paper"]) < SOLVED]
    pairs = contrasts(rows)
    return {
        "k": sum(r["verdict"] == "reproduced" for r in paper_solved), "paper_solved": len(paper_solved),
        "j": sum(r["verdict"] == "solved here" for r in paper_unsolved), "paper_unsolved": len(paper_unsolved),
        "u": sum(r["verdict"] == "did not train" for r in rows),
        "u_paper_solved": sum(r["verdict"] == "did not train" for r in paper_solved), "cells": len(rows),
        "contrasts": len(pairs), "contrasts_reproduced": sum(p["verdict"] == "reproduced" for p in pairs),
        "contrasts_did_not_train": sum(p["verdict"] == "did not train" for p in pairs),
    }


def headline_text(runs: Sequence[Run]) -> str:
    h = headline(runs)
    return "\n".join([
        f"Paper-solved cells reproduced (our best run >= {SOLVED:.0f}% over the test lengths): "
        f"{h['k']} of {h['paper_solved']}",
        f"Cells solved here that the paper does not solve: {h['j']} of {h['paper_unsolved']}",
        f"Cells whose runs did not fit the training lengths (accuracy over them < {FIT:.0%} in every run): "
        f"{h['u']} of {h['cells']} ({h['u_paper_solved']} of them paper-solved)",
        f"'X solves it, Y does not' contrasts of Table 2 reproduced: {h['contrasts_reproduced']} of "
        f"{h['contrasts']} ({h['contrasts_did_not_train']} did not train)",
        f"Budget: {BUDGET.text(runs)}",
        f"Paper's scores: {SOURCE}",
    ])


def plot_lengths(runs: list[Run], out_dir: Path) -> list[Path]:
    """Per task: accuracy against test length, one line per model column (its best run by score)."""
    best: dict[tuple[str, str], Run] = {}
    for r in runs:
        key = cell_of(r.arm)
        if r.results.get("accuracy_by_n") and alive(r):
            if key not in best or r.results["accuracy_test"] > best[key].results["accuracy_test"]:
                best[key] = r
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


CELL_COLUMNS = ("level", "task", "model", "paper", "ours", "fit", "verdict")
CONTRAST_COLUMNS = ("task", "solves", "does not", "verdict")


def report(runs: list[Run], out_dir: Path) -> str:
    """The headline, the per-cell verdicts (``cells.md``), the contrasts (``contrasts.md``) and the
    accuracy-by-length plots."""
    plot_lengths(runs, out_dir)
    rows = verdicts(runs)
    write_table(rows, CELL_COLUMNS, out_dir / "cells")
    write_table(contrasts(rows), CONTRAST_COLUMNS, out_dir / "contrasts")
    return headline_text(runs)


def _published(fields: dict, metric: str) -> float | None:
    return paper_score(fields["task"], fields["model"])


def _row(run: Run) -> dict:
    task, model = cell_of(run.arm)
    return {"level": LEVEL_OF[task], "task": task, "model": model}  # best / median over the whole sweep


TABLE = Table((("score", "score"),), rows=_row, across="model", best=True, reference=_published)
"""Score (%, mean accuracy over lengths 41..500): tasks down by level, models across (the Transformer's
column over its five encodings), our best / median over the sweep, the paper's in brackets."""


EXPERIMENT = Experiment(
    name="chomsky", arms=ARMS, seeds=(0,), sweep_seeds=tuple(range(10)),
    grid={"learning_rate": (1e-4, 3e-4, 5e-4)}, report=report,
    description=__doc__,
    default_arms=tuple(f"{task}-{model}" for task in TASKS for model in MODELS), table=TABLE,
    measure=lambda run, _: {"score": 100 * run.results["accuracy_test"]}, deviations=DEVIATIONS,
)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
