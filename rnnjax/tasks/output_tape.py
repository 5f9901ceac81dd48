"""Output tape: the input, then blank positions on which the outputs are read.

An example of size n reads ``x_1..x_l`` (``l = input_length(n)``, n unless the task
says otherwise) and then ``m = output_length(n)`` blank tokens; the model's
outputs on the blanks are the answer ``y_1..y_m``:

    inputs  = [x_1 .. x_l, BLANK .. BLANK, PAD ...]
    targets = [ .. ignored .. , y_1 .. y_m,   ignored ...]
    mask    = true on positions l .. l + m - 1

BLANK = ``input_size`` (the encoding of Delétang et al. 2023, whose models read
one-hot vectors of ``input_size + 1``); PAD = ``input_size + 1`` only fills
batches of mixed lengths, so models that see the whole sequence (a Transformer
encoder) can mask it. The task is not causal: an output may depend on the
whole input.

Loss and accuracy use the same mask: cross-entropy and accuracy averaged over
each example's outputs, then over the batch (the format of Delétang et al. 2023).
A task whose answer ends early (a number then an end token) scores only the
answer up to its end (``scored``); Delétang et al. train on the padding after it
too and score accuracy without it.
Evaluation: accuracy per n in ``min_size..eval_n_max`` on fixed-seed samples.
"""

from __future__ import annotations

import dataclasses
import math
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
    cross_entropy,
    per_n_accuracy,
    require_positive,
    sized_sets,
)


@dataclasses.dataclass(frozen=True)
class TapeTask:
    """A function of strings whose answer is read after the input.

    Attributes:
      name: registry name.
      input_size: input symbols ``0..input_size-1``.
      output_size: output classes.
      output_length: ``n -> m`` for a Python or traced n.
      make: ``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])`` for a traced n;
        ``x[:input_length(n)]`` is the input, ``y[:output_length(n)]`` the answer, the rest
        is ignored.
      reference: the task on Python lists (the reference for tests): ``x -> y``.
      scored: optional ``y -> bool[max_len]``, the answer positions that count for loss
        and accuracy (default: all ``output_length(n)`` of them), e.g. ``through_first(END)``.
      input_length: optional ``n -> l`` for a Python or traced n, the input tokens of an
        example of size n when n counts something else (items, say); default ``l = n``.
      min_size: the smallest n the task defines (training and evaluation start there).
    """

    name: str
    input_size: int
    output_size: int
    output_length: Callable
    make: Callable[[Array, Array, int], tuple[Array, Array]]
    reference: Callable[[list[int]], list[int]] | None = None
    scored: Callable[[Array], Array] | None = None
    input_length: Callable | None = None
    min_size: int = 1

    def length(self, n):
        """``l``, the input tokens of an example of size n (Python or traced n)."""
        return n if self.input_length is None else self.input_length(n)

    @property
    def blank(self) -> int:
        return self.input_size

    @property
    def pad(self) -> int:
        return self.input_size + 1


def through_first(token: int) -> Callable[[Array], Array]:
    """``y -> bool[len(y)]``: the positions of ``y`` up to and including the first ``token``."""

    def scored(y):
        is_token = y == token
        return jnp.cumsum(is_token) - is_token == 0

    return scored


def per_example_mean(x: Array, mask: Array) -> Array:
    """``x, mask: [B, T]`` -> mean over each example's masked positions, then over the batch."""
    return jnp.mean(jnp.sum(x * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1))


def output_tape(task: TapeTask, n_min: int, n_max: int, eval_n_max: int, *, eval_samples: int = 64,
                eval_programs: int = 10) -> Task:
    """``task`` on an output tape, trained with n in ``[n_min, n_max]``; its evaluation runs
    in at most ``eval_programs`` padded widths (one compiled program each)."""
    require_positive(eval_samples=eval_samples, eval_programs=eval_programs)
    if n_min < task.min_size or eval_n_max < task.min_size:
        raise ValueError(f"{task.name} is defined for n >= {task.min_size}: n_min and eval_n_max must be "
                         f">= {task.min_size}, got n_min={n_min}, eval_n_max={eval_n_max}")

    def max_length(n: int) -> int:
        return int(task.length(n) + task.output_length(n))

    def sample(key, n_lo, n_hi, max_len) -> Example:
        k_n, k_make = jax.random.split(key)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        x, y = task.make(k_make, n, max_len)
        p = jnp.arange(max_len)
        length, m = task.length(n), task.output_length(n)
        outputs = (p >= length) & (p < length + m)
        inputs = jnp.where(p < length, x, jnp.where(p < length + m, task.blank, task.pad))
        answer = jnp.clip(p - length, 0, max_len - 1)
        targets = jnp.where(outputs, y[answer], 0)
        mask = outputs if task.scored is None else outputs & task.scored(y)[answer]
        return {"inputs": inputs.astype(jnp.int32), "targets": targets.astype(jnp.int32), "mask": mask, "n": n}

    def loss(logits, batch):
        nll = cross_entropy(logits, batch["targets"])
        correct = jnp.argmax(logits, -1) == batch["targets"]
        return per_example_mean(nll, batch["mask"]), {"accuracy": per_example_mean(correct, batch["mask"])}

    widest = max_length(eval_n_max)
    pad_multiple = 8 * math.ceil(widest / (8 * eval_programs))
    sets = cached(lambda: (sized_sets(sample, max_length, range(task.min_size, eval_n_max + 1), eval_samples,
                                      pad_multiple=pad_multiple),))

    def score(model: Predictor, example: Example):
        correct = jnp.argmax(model.logits(example["inputs"]), -1) == example["targets"]
        return {"accuracy": jnp.sum(correct * example["mask"]) / jnp.maximum(jnp.sum(example["mask"]), 1),
                "n": example["n"]}

    def summarise(scores):
        return per_n_accuracy(scores["test"]["accuracy"], scores["test"]["n"], n_min, n_max)

    evaluation = Evaluation(sets, score, summarise, ("accuracy_train", "accuracy_test", "accuracy_by_n"),
                            max_length(eval_n_max),
                            f"accuracy for every n in {task.min_size}..{eval_n_max}, {eval_samples} each")
    return Task(task.name, task.input_size + 2, task.output_size, (n_min, n_max), max_length, sample, loss,
                evaluation, ("accuracy",), separator=task.blank, pad=task.pad, causal=False, definition=task)
