"""Output tape: the input, then blank positions on which the outputs are read.

An example of size n reads ``x_1..x_n`` and then ``m = output_length(n)`` blank
tokens; the model's outputs on the blanks are the answer ``y_1..y_m``:

    inputs  = [x_1 .. x_n, BLANK .. BLANK, BLANK ...]      (BLANK pads too)
    targets = [ .. ignored .. , y_1 .. y_m,   ignored ...]
    mask    = true on positions n .. n + m - 1

Loss and accuracy use the same mask: cross-entropy and accuracy averaged over
each example's outputs, then over the batch (the format of Delétang et al. 2023).
Evaluation: accuracy per n in ``1..eval_n_max`` on fixed-seed samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from rnnjax.tasks.base import Array, Evaluation, Example, Predictor, Task, cached, per_n_accuracy, sized_sets


@dataclasses.dataclass(frozen=True)
class TapeTask:
    """A function of strings whose answer is read after the input.

    Attributes:
      name: registry name.
      input_size: input symbols ``0..input_size-1``.
      output_size: output classes.
      output_length: ``n -> m`` for a Python or traced n.
      make: ``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])`` for a traced n;
        ``x[:n]`` is the input, ``y[:output_length(n)]`` the answer, the rest is ignored.
      reference: the task on Python lists (the reference for tests): ``x -> y``.
    """

    name: str
    input_size: int
    output_size: int
    output_length: Callable
    make: Callable[[Array, Array, int], tuple[Array, Array]]
    reference: Callable[[list[int]], list[int]] | None = None

    @property
    def blank(self) -> int:
        return self.input_size


def per_example_mean(x: Array, mask: Array) -> Array:
    """``x, mask: [B, T]`` -> mean over each example's masked positions, then over the batch."""
    return jnp.mean(jnp.sum(x * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1))


def output_tape(task: TapeTask, n_min: int, n_max: int, eval_n_max: int, *, eval_samples: int = 64) -> Task:
    """``task`` on an output tape, trained with n in ``[n_min, n_max]``."""

    def max_length(n: int) -> int:
        return int(n + task.output_length(n))

    def sample(key, n_lo, n_hi, max_len) -> Example:
        k_n, k_make = jax.random.split(key)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        x, y = task.make(k_make, n, max_len)
        p = jnp.arange(max_len)
        m = task.output_length(n)
        outputs = (p >= n) & (p < n + m)
        inputs = jnp.where(p < n, x, task.blank)
        targets = jnp.where(outputs, y[jnp.clip(p - n, 0, max_len - 1)], 0)
        return {"inputs": inputs.astype(jnp.int32), "targets": targets.astype(jnp.int32), "mask": outputs, "n": n}

    def loss(logits, batch):
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
        correct = jnp.argmax(logits, -1) == batch["targets"]
        return per_example_mean(nll, batch["mask"]), {"accuracy": per_example_mean(correct, batch["mask"])}

    sets = cached(lambda: (sized_sets(sample, max_length, range(1, eval_n_max + 1), eval_samples),))

    def score(model: Predictor, example: Example):
        correct = jnp.argmax(model.logits(example["inputs"]), -1) == example["targets"]
        return {"accuracy": jnp.sum(correct * example["mask"]) / jnp.maximum(jnp.sum(example["mask"]), 1),
                "n": example["n"]}

    def summarise(scores):
        return per_n_accuracy(scores["test"]["accuracy"], scores["test"]["n"], n_min, n_max)

    evaluation = Evaluation(sets, score, summarise, ("accuracy_train", "accuracy_test", "accuracy_by_n"),
                            max_length(eval_n_max), f"accuracy for every n in 1..{eval_n_max}, {eval_samples} each")
    return Task(task.name, task.input_size + 1, task.output_size, (n_min, n_max), max_length, sample, loss,
                evaluation, ("accuracy",), definition=task)
