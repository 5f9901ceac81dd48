"""Final class: one label for the whole input, read at its last position.

An example of size n is ``x_1..x_n`` (padded with ``PAD = input_size``) with one
label, the target at position n - 1; loss and accuracy are taken there only.
Evaluation: accuracy per n in ``1..eval_n_max`` on fixed-seed samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rnnjax.tasks.base import (
    Array,
    Evaluation,
    Example,
    Predictor,
    Task,
    cached,
    masked_classification,
    per_n_accuracy,
    require_positive,
    sized_sets,
)


@dataclasses.dataclass(frozen=True)
class ClassTask:
    """A property of strings.

    Attributes:
      name: registry name.
      input_size: input symbols ``0..input_size-1``.
      num_classes: labels ``0..num_classes-1``.
      make: ``(key, n, max_len) -> (x: int32[max_len], label: int32[])`` for a traced n
        (``x[:n]`` is the input).
      reference: the label of a Python list (the reference for tests).
    """

    name: str
    input_size: int
    num_classes: int
    make: Callable[[Array, Array, int], tuple[Array, Array]]
    reference: Callable[[list[int]], int] | None = None


def final_class(task: ClassTask, n_min: int, n_max: int, eval_n_max: int, *, eval_samples: int = 64) -> Task:
    """``task``'s label read at the last input position, trained with n in ``[n_min, n_max]``."""
    require_positive(eval_samples=eval_samples)

    def sample(key, n_lo, n_hi, max_len) -> Example:
        k_n, k_make = jax.random.split(key)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        x, label = task.make(k_make, n, max_len)
        p = jnp.arange(max_len)
        inputs = jnp.where(p < n, x, task.input_size).astype(jnp.int32)
        last = p == n - 1
        return {"inputs": inputs, "targets": jnp.where(last, label, 0).astype(jnp.int32), "mask": last, "n": n}

    sets = cached(lambda: (sized_sets(sample, lambda n: n, range(1, eval_n_max + 1), eval_samples),))

    def score(model: Predictor, example: Example):
        predictions = jnp.argmax(model.logits(example["inputs"]), -1)
        return {"accuracy": jnp.sum((predictions == example["targets"]) * example["mask"]), "n": example["n"]}

    def summarise(scores):
        return per_n_accuracy(scores["test"]["accuracy"], scores["test"]["n"], n_min, n_max)

    evaluation = Evaluation(sets, score, summarise, ("accuracy_train", "accuracy_test", "accuracy_by_n"),
                            eval_n_max, f"accuracy for every n in 1..{eval_n_max}, {eval_samples} each")
    return Task(task.name, task.input_size + 1, task.num_classes, (n_min, n_max), lambda n: n, sample,
                masked_classification, evaluation, ("accuracy",), pad=task.input_size, causal=False, definition=task)
