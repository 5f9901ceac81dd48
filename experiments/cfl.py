"""Stack RNNs on the context-free language modelling tasks of DuSell & Chiang (2020, 2022).

Claim: the RNS-RNN (nondeterministic stack with states in the reading, Q = 2,
S = 3) comes within about 0.05 nats per symbol of the lower bound (the true
distribution's cross-entropy) on these tasks, below the LSTM, the stratified
stack and the superposition stack; the NS-RNN is in between.

Reproduced means: on the test set (lengths 40-100, trained on 40-80) the
RNS-RNN's cross-entropy difference is <= ~0.05 nats and the smallest of the
five models on each task.

    rnnjax train --experiment cfl      # 1 seed per arm (slow on CPU: the stack is O(n^3))
    rnnjax sweep --experiment cfl      # 10 seeds

Arms are ``<task>-<model>``; the tasks are marked, unmarked and padded
reversal, Dyck-2 and Greibach's hardest context-free language.
"""

from __future__ import annotations

from rnnjax.eval.claims import Claim
from rnnjax.eval.tables import Table, by_task_and_model
from rnnjax.train.config import TrainConfig
from rnnjax.train.experiment import Experiment

TASKS = ("cfl_marked_reversal", "cfl_unmarked_reversal", "cfl_padded_reversal", "cfl_dyck2", "cfl_hardest_cfl")
_BASE = TrainConfig.of(
    task="cfl_marked_reversal", n_min=40, n_max=80, eval_n_max=100, cell="lstm", hidden=20, embedding_dim=0,
    learning_rate=0.005, batch_size=10, steps=2000, num_buckets=4, log_every=50,
)
MODELS = {
    "lstm": dict(),
    "stack": dict(memory="stack", memory_width=10),
    "superposition": dict(memory="superposition_stack", memory_width=10),
    "ns": dict(memory="normalised_nondeterministic_stack", stack_states=2, stack_symbols=3),
    "rns": dict(memory="nondeterministic_stack", stack_states=2, stack_symbols=3),
}
ARMS = {f"{task}-{model}": _BASE.replace(task=task, **kw) for task in TASKS for model, kw in MODELS.items()}


_COMMAND = "rnnjax train --experiment cfl"
CLAIMS = tuple(
    Claim(f"RNS-RNN within about 0.05 nats of the bound on {task[4:]}", "within ~0.05 nats per symbol", f"{task}-rns",
          "cross_entropy_difference", 0.05, partly=0.1, higher=False, command=_COMMAND) for task in TASKS
) + tuple(
    Claim(f"RNS-RNN below the LSTM on {task[4:]}", "RNS-RNN lower", f"{task}-rns", "cross_entropy_difference",
          float("inf"), higher=False, versus=f"{task}-lstm", command=_COMMAND) for task in TASKS
)

TABLE = Table((("cross-entropy difference", "cross_entropy_difference"),), rows=by_task_and_model, across="model",
              best=True)
"""Nats per symbol above the bound, tasks down and models across; best / median over
restarts, as the papers select the best of their restarts."""

EXPERIMENT = Experiment(name="cfl", arms=ARMS, seeds=(0,), sweep_seeds=tuple(range(10)), description=__doc__,
                        claims=CLAIMS, table=TABLE)

if __name__ == "__main__":
    from rnnjax.cli import main

    main(["train", "--experiment", __file__, *__import__("sys").argv[1:]])
