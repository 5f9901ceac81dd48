"""LSTM vs Neural Turing Machines (soft and hard heads) vs a tape on the NTM tasks (Graves et al. 2014).

Claim (section 4): an NTM with an LSTM controller learns copy and associative
recall faster than an LSTM alone and generalises to longer sequences than it
was trained on, where the LSTM does not.

Reproduced means: trained on the small ranges of ``rnnjax.tasks.ntm.SIZES``
(copy 1-10 items, recall 2-6), the median soft-NTM seed keeps a per-token
accuracy near 1 on the longer test sequences (``accuracy_test`` >= 0.9) and
above the median LSTM, and reaches a training accuracy of 0.9 in fewer steps
(the report's learning-speed table).

    rnnjax train --experiment ntm                 # copy and recall, 3 seeds (about 7 min on 2 cores)
    rnnjax train --experiment ntm --arms ntm_priority_sort-ntm ntm_repeat_copy-ntm ...   # the other tasks

Arms are ``<task>-<model>``; the models are an LSTM, the soft NTM, the NTM with
hard heads trained by REINFORCE, and the tape of ``rnnjax.memory.tape``. The
report adds ``ntm.md`` (accuracy on training and test lengths and steps to 0.9
training accuracy, median over seeds) and, for each NTM run, the read and write
weights of its heads along one test input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnjax.eval.claims import Claim
from rnnjax.eval.plots import plot_head_weights
from rnnjax.eval.report import write_table
from rnnjax.tasks.ntm import SIZES
from rnnjax.train.config import TrainConfig
from rnnjax.train.runs import Run
from rnnjax.train.sweep import Experiment

TASKS = ("ntm_copy", "ntm_associative_recall", "ntm_repeat_copy", "ntm_priority_sort")
_BASE = TrainConfig.of(cell="lstm", hidden=64, embedding_dim=0, learning_rate=0.01, batch_size=16, steps=3000,
                       num_buckets=2, log_every=50)
_NTM = dict(memory="ntm", ntm_slots=32, memory_width=8)
MODELS = {
    "lstm": dict(),
    "ntm": _NTM,
    "ntm_hard": _NTM | dict(ntm_addressing="hard"),
    "tape": dict(memory="tape", memory_width=8),
}
ARMS = {
    f"{task}-{model}": _BASE.replace(task=task, n_min=SIZES[task][0], n_max=SIZES[task][1],
                                     eval_n_max=SIZES[task][2], **kw)
    for task in TASKS for model, kw in MODELS.items()
}
DEFAULT_ARMS = tuple(f"{task}-{model}" for task in TASKS[:2] for model in MODELS)
TRAINED = 0.9
"""The training accuracy whose first logged step the learning-speed table reports."""


def steps_to(run: Run, accuracy: float = TRAINED) -> int | None:
    """The first logged step with training accuracy >= ``accuracy`` (None: never)."""
    return next((h["step"] for h in run.history if h.get("accuracy", 0.0) >= accuracy), None)


def table(runs: list[Run], path_stem: Path) -> str:
    rows = []
    for arm in ARMS:
        done = [r for r in runs if r.arm == arm and r.results.get("diverged_at") is None]
        if not done:
            continue
        task, model = arm.split("-")
        reached = [s for s in map(steps_to, done) if s is not None]
        rows.append({"task": task, "model": model, "seeds": len(done),
                     **{m: float(np.median([r.results[m] for r in done])) for m in ("accuracy_train", "accuracy_test")},
                     f"steps to train accuracy {TRAINED}": float(np.median(reached)) if reached else None,
                     "seeds that reached it": len(reached)})
    return write_table(rows, ("task", "model", "seeds", "accuracy_train", "accuracy_test",
                              f"steps to train accuracy {TRAINED}", "seeds that reached it"), path_stem)


def plot_heads(run: Run, path: Path) -> Path:
    """Read and write weights of every head along the first test example of the largest n."""
    cfg = run.config
    example_set = max(run.task.evaluation.sets(), key=lambda s: s.width)
    last = int(np.argmax(example_set.lengths))
    example = {k: v[last] for k, v in example_set.examples.items()}
    if example_set.expand is not None:
        example = example_set.expand(example)
    tokens = np.asarray(example["inputs"])[: int(example_set.lengths[last])]
    memory_state = run.model.states(run.params, tokens)[1]
    heads = {f"{kind} {h}": np.asarray(weights[:, h]) for kind, weights in
             (("read", memory_state.read_weights), ("write", memory_state.write_weights))
             for h in range(weights.shape[1])}
    labels = [str(int(t)) for t in tokens]
    title = f"{run.arm} seed {cfg.run.seed}: head weights along a test input of {len(tokens)} tokens"
    return plot_head_weights(labels, heads, path, title=title)


def report(runs: list[Run], out_dir: Path) -> str:
    text = table(runs, out_dir / "ntm")
    figures = [plot_heads(r, out_dir / "heads" / f"{r.arm}-seed{r.config.run.seed}.png")
               for r in runs if r.config.model.memory == "ntm" and r.results.get("diverged_at") is None]
    listed = "\n".join(f"- {p}" for p in figures)
    return f"Accuracy and learning speed ({out_dir / 'ntm.md'}):\n\n{text}\n\nHead weights:\n{listed}"


_COMMAND = "rnnjax train --experiment ntm"
CLAIMS = tuple(
    Claim(f"{label} NTM generalises {task[4:]} to longer sequences, beyond the LSTM", "learns and generalises",
          f"{task}-{model}", "accuracy_test", 0.9, partly=0.5, versus=f"{task}-lstm", command=_COMMAND)
    for task in TASKS[:2] for model, label in (("ntm", "soft"), ("ntm_hard", "hard"))
)

EXPERIMENT = Experiment(name="ntm", arms=ARMS, seeds=(0, 1, 2), sweep_seeds=tuple(range(10)), report=report,
                        description=__doc__, default_arms=DEFAULT_ARMS, claims=CLAIMS)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
