"""The Task protocol: one object owns sampling, loss, per-example metrics and evaluation.

A task is a bundle of pure functions over pytrees, like a Cell, built for a
training range of its size parameter n (the n of a^n b^n, a source length, a
string length) and an evaluation range. Examples are dicts of arrays for ONE
sequence; every example has ``inputs: int[T]``, the tokens the model reads.

    example = task.sample(key, n_lo, n_hi, max_len)   # n uniform in [n_lo, n_hi]; jit-able, max_len static
    loss, metrics = task.loss(logits, batch)          # batch: examples stacked [B, ...]; logits [B, T, O]
    sets = task.evaluation.sets()                     # fixed evaluation examples (host arrays)
    scores = task.evaluation.score(model, example)    # per-example metrics; model: a ``Predictor``
    results = task.evaluation.summarise(scores_by_set)  # one member's named metrics

The output format (next-symbol prediction, tagging, transduction, language
modelling, output tape, final class) lives entirely in these functions; the
trainer and evaluation call them and nothing else.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Example = dict[str, Array]


class Predictor(Protocol):
    """A model bound to one member's params, as a task's ``score`` sees it."""

    def logits(self, inputs: Array) -> Array:
        """``inputs: int[T]`` -> ``[T, num_outputs]``."""

    def greedy(self, inputs: Array, forced: Array) -> Array:
        """Greedy decoding: ``int[T]`` predictions; the input at t is ``inputs[t]`` where
        ``forced[t]``, else the prediction at t - 1."""

    def states(self, inputs: Array) -> Any:
        """The cell state after each input: a pytree with leading ``[T]``."""


@dataclasses.dataclass(frozen=True)
class EvalSet:
    """Fixed evaluation examples.

    Attributes:
      name: e.g. ``"test"``; summaries receive scores by set name.
      examples: host arrays with a leading example axis ``[N]``; every leaf is either
        per example (``[N]``) or time-major (``[N, W, ...]``).
      lengths: ``int[N]``, the input positions that matter in each example.
      pad_multiple: examples are run in chunks sorted by length; a chunk's time-major
        arrays are cut to its longest length rounded up to this (None: the full W).
      expand: optional ``examples -> example`` (one example), run inside the evaluation
        program: ``examples`` then hold only what generates each example (a key and its
        n), so large generated sets never sit in host memory.
      width: W, the width of the examples (of ``expand``'s output); read from
        ``examples["inputs"]`` when 0.
    """

    name: str
    examples: dict[str, np.ndarray]
    lengths: np.ndarray
    pad_multiple: int | None = None
    expand: Callable[[dict[str, Array]], Example] | None = None
    width: int = 0

    def __post_init__(self):
        if not self.width:
            object.__setattr__(self, "width", int(self.examples["inputs"].shape[1]))


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluation:
    """How a task is evaluated for generalisation.

    Attributes:
      sets: ``() -> tuple[EvalSet, ...]``, built on first call (cached).
      score: ``(model: Predictor, example) -> {metric: scalar}``, jit-able, one example.
      summarise: ``{set name: {metric: float[N]}} -> {name: value}`` for one member
        (scores in the order of each set's examples).
      metrics: the names ``summarise`` returns.
      longest: the longest ``inputs`` of any set (memory capacity in evaluation).
      description: e.g. "every n in 1..1000".
    """

    sets: Callable[[], tuple[EvalSet, ...]]
    score: Callable[[Predictor, Example], dict[str, Array]]
    summarise: Callable[[dict[str, dict[str, np.ndarray]]], dict[str, Any]]
    metrics: tuple[str, ...]
    longest: int
    description: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A task (see the module docstring).

    Attributes:
      name: registry name.
      vocab_size: input token ids ``0..vocab_size-1``.
      num_outputs: size of the model's readout.
      sizes: ``(n_min, n_max)``, the training range of the size parameter.
      max_length: ``n -> `` the ``max_len`` that ``sample`` needs for size n (monotone).
      sample: ``(key, n_lo, n_hi, max_len) -> example``.
      loss: ``(logits: [B, T, O], batch) -> (loss, {metric: scalar})``, the training
        objective and what is logged beside it (``train_metrics``).
      evaluation: see ``Evaluation``.
      train_metrics: the names of ``loss``'s metrics.
      pad_multiple: training batches pad ``max_len`` up to a multiple of this.
      separator: token that ends a source (encoder-decoder models attend before it, a tape
        jumps by the source length); -1: none.
      pad: token that only fills an example to the batch width (models that see the whole
        sequence mask it); -1: padding is not a token of its own.
      causal: an output at t may depend only on inputs up to t (next-symbol prediction,
        tagging, teacher-forced transduction); False when outputs are read after the whole
        input (output tape, final class), so bidirectional models are allowed.
      definition: what the task formats (a Language, a Transduction, a grammar, ...).
      fit: optional ``(model: Predictor) -> float[]``, the fraction of the task's own
        training set decided right (jit-able; its examples are constants), for the
        ``fit`` stopping rule; None: the rule checks held-out training batches instead
        (``rnnjax.train.stopping``).
    """

    name: str
    vocab_size: int
    num_outputs: int
    sizes: tuple[int, int]
    max_length: Callable[[int], int]
    sample: Callable[[Array, Array, Array, int], Example]
    loss: Callable[[Array, Example], tuple[Array, dict[str, Array]]]
    evaluation: Evaluation
    train_metrics: tuple[str, ...] = ()
    pad_multiple: int = 8
    separator: int = -1
    pad: int = -1
    causal: bool = True
    definition: Any = None
    fit: Callable[[Predictor], Array] | None = None

    def __post_init__(self):
        n_min, n_max = self.sizes
        if not 1 <= n_min <= n_max:
            raise ValueError(f"{self.name}: training sizes need 1 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}")

    def input_length(self, max_len: int) -> int:
        """Length of ``inputs`` in an example sampled with ``max_len``."""
        example = jax.eval_shape(lambda key: self.sample(key, 1, 1, max_len), jax.random.key(0))
        return int(example["inputs"].shape[0])


def require_positive(**counts: int) -> None:
    """A ValueError naming the first of ``counts`` (an option's name -> its value) below 1."""
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def check_host_memory(what: str, nbytes: float, fraction: float = 0.5) -> None:
    """A ValueError, before anything is built, when ``what`` needs more than ``fraction`` of
    this machine's memory (``nbytes``: an estimate)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if nbytes > fraction * total:
        raise ValueError(f"{what} needs about {nbytes / 2**30:.1f} GiB of host memory for its examples, more than "
                         f"{fraction:.0%} of this machine's {total / 2**30:.1f} GiB; ask for less")


def cached(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` run once, on the first call (for evaluation sets and sample pools)."""
    return functools.cache(build)


def masked_mean(x: Array, mask: Array) -> Array:
    """``sum(x * mask) / sum(mask)`` over all axes."""
    return jnp.sum(x * mask) / jnp.sum(mask)


def token_nll(logits: Array, targets: Array) -> Array:
    """``-log softmax(logits)[targets]``: ``[..., V], int[...] -> [...]``."""
    log_probs = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]


def cross_entropy(logits: Array, targets: Array) -> Array:
    """``logsumexp(logits) - logits[targets]``: ``[..., V], int[...] -> [...]`` (the arithmetic of
    optax's ``softmax_cross_entropy_with_integer_labels``, without importing optax)."""
    return jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]


def masked_classification(logits: Array, batch: Example) -> tuple[Array, dict[str, Array]]:
    """Mean cross-entropy and accuracy over the masked positions of a batch (token-weighted)."""
    mask = batch["mask"]
    nll = cross_entropy(logits, batch["targets"])
    correct = jnp.argmax(logits, axis=-1) == batch["targets"]
    return masked_mean(nll, mask), {"accuracy": masked_mean(correct, mask)}


def formatted(format_task: Callable[..., Task], define: Callable[..., Any]) -> Callable[..., Task]:
    """A task builder for a registry: ``define(**its options)`` gives the definition,
    ``format_task(definition, n_min, n_max, eval_n_max, **its options)`` the Task.

    The builder's options are the defaulted parameters of both (so they become
    config fields and CLI flags of the task).
    """
    format_params = list(inspect.signature(format_task).parameters.values())[4:]
    define_params = list(inspect.signature(define).parameters.values())
    own = {p.name for p in format_params}
    if own & {p.name for p in define_params}:
        raise ValueError(f"options {sorted(own & {p.name for p in define_params})} appear in both builders")

    def build(n_min: int, n_max: int, eval_n_max: int, **options) -> Task:
        ours = {k: v for k, v in options.items() if k in own}
        theirs = {k: v for k, v in options.items() if k not in own}
        return format_task(define(**theirs), n_min, n_max, eval_n_max, **ours)

    def smallest_n(**options) -> int:
        """The smallest training n the task takes with ``options`` (its format's and its
        definition's ``min_length`` / ``min_size``)."""
        definition = define(**{k: v for k, v in options.items() if k not in own})
        return max(getattr(format_task, "smallest_n", 1), getattr(definition, "min_length", 1),
                   getattr(definition, "min_size", 1))

    build.smallest_n = smallest_n
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in (*define_params, *format_params)]
    positional = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=int)
                  for n in ("n_min", "n_max", "eval_n_max")]
    build.__signature__ = inspect.Signature(positional + keyword, return_annotation=Task)
    build.__annotations__ = {**_hints(define), **_hints(format_task)}
    build.__doc__ = inspect.getdoc(define) or inspect.getdoc(format_task)
    return build


def _hints(f: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(f)
    except (NameError, TypeError):
        return {}


def sized_sets(sample: Callable, max_length: Callable[[int], int], ns: range, samples: int, seed: int = 0,
               name: str = "test", pad_multiple: int = 8) -> EvalSet:
    """``samples`` examples for every n in ``ns`` from keys fixed by ``seed``, generated
    inside the evaluation program (``EvalSet.expand``) at the width of the largest n."""
    width = max_length(max(ns))
    n = np.repeat(np.asarray(ns, np.int32), samples)
    keys = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(seed), n.size)))

    def expand(example):
        return sample(jax.random.wrap_key_data(example["key"]), example["n"], example["n"], width)

    lengths = np.array([max_length(int(m)) for m in ns], np.int32).repeat(samples)
    return EvalSet(name, {"key": keys, "n": n}, lengths, pad_multiple, expand, width)


def per_n_accuracy(scores: np.ndarray, n: np.ndarray, n_min: int, n_max: int) -> dict[str, Any]:
    """Mean accuracy per n (``accuracy_by_n``, from the smallest n evaluated), and its
    mean over the training range (``accuracy_train``) and beyond it (``accuracy_test``)."""
    sizes = np.unique(n)
    by_n = np.array([scores[n == m].mean() for m in sizes])
    train, test = by_n[(sizes >= n_min) & (sizes <= n_max)], by_n[sizes > n_max]
    return {
        "accuracy_train": float(train.mean()) if train.size else None,
        "accuracy_test": float(test.mean()) if test.size else None,
        "accuracy_by_n": [round(float(a), 6) for a in by_n],
    }
