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
compact table gives accuracy on training and test lengths and the steps to 0.9
training accuracy; the report plots, for each NTM run, the read and write weights
of its heads along one test input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnjax.eval.claims import Claim
from rnnjax.eval.plots import plot_head_weights
from rnnjax.eval.tables import Table, alive, by_task_and_model
from rnnjax.tasks.ntm import SIZES
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment
from rnnjax.train.runs import Run

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
    return plot_head_weights(labels, heads, path, title=title, runs=(run,))


def report(runs: list[Run], out_dir: Path) -> str:
    """The head weights of every NTM run."""
    for r in runs:
        if r.config.model.memory == "ntm" and alive(r):
            plot_heads(r, out_dir / "heads" / f"{r.arm}-seed{r.config.run.seed}.png")
    return ""


_COMMAND = "rnnjax train --experiment ntm"
CLAIMS = tuple(
    Claim(f"{label} NTM generalises {task[4:]} to longer sequences, beyond the LSTM", "learns and generalises",
          f"{task}-{model}", "accuracy_test", 0.9, partly=0.5, versus=f"{task}-lstm", command=_COMMAND)
    for task in TASKS[:2] for model, label in (("ntm", "soft"), ("ntm_hard", "hard"))
)

TABLE = Table((("accuracy, training sizes", "accuracy_train"), ("accuracy, longer", "accuracy_test"),
               (f"steps to {TRAINED} training accuracy", "steps_to_trained")), rows=by_task_and_model)

EXPERIMENT = Experiment(name="ntm", arms=ARMS, seeds=(0, 1, 2), sweep_seeds=tuple(range(10)), report=report,
                        description=__doc__, default_arms=DEFAULT_ARMS, claims=CLAIMS, table=TABLE,
                        measure=lambda run, _: {"steps_to_trained": steps_to(run)})

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
