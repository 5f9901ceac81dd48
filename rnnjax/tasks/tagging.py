"""Per-token tagging: at each position, is the prefix read so far in the language?

Merrill et al. 2020 (a formal hierarchy of RNN architectures) train prefix
taggers on strings of length 64 and test on lengths up to 2048; a 1-layer QRNN
cannot do better than the majority class there. ``anbnw_prefixes`` is their
generator and labelling (public code); ``anbn_sigma_star_prefixes`` an earlier
one of ours for a^n b^n Sigma*.

As a task (``tagging``), the size parameter n is the string length: an example
of size n is a string sampled at length n, tagged at every position.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.tasks.base import (
    EvalSet,
    Evaluation,
    Example,
    Predictor,
    Task,
    cached,
    masked_classification,
    require_positive,
)
from rnnjax.tasks.language import prefix_counts


@dataclasses.dataclass(frozen=True)
class TaggingTask:
    """Strings of a fixed length with one label per position.

    Attributes:
      name: registry name.
      alphabet: one character per symbol (token ids ``0..len-1``; no end marker).
      sample: ``(key, length) -> tokens: int32[length]``, jit-able with ``length`` static.
      labels: ``tokens: int32[L] -> int32[L]``, label t is about ``tokens[:t+1]``; jit-able.
      num_labels: number of classes.
    """

    name: str
    alphabet: str
    sample: Callable[[jax.Array, int], jax.Array]
    labels: Callable[[jax.Array], jax.Array]
    num_labels: int = 2

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet)


def anbn_sigma_star_prefixes() -> TaggingTask:
    """Tags each prefix of a string over {a, b} with whether it is in a^n b^n Sigma*
    (starts with a run of n >= 1 a's followed by at least n b's).

    Samples: ``a^n b^m w`` cut to the length, n uniform in ``[1, length/2]``, m
    uniform in ``[0, 2n]`` (so about half the strings reach a complete prefix),
    w uniform.
    """

    def sample(key, length):
        k_n, k_m, k_w = jax.random.split(key, 3)
        n = jax.random.randint(k_n, (), 1, length // 2 + 1)
        m = jax.random.randint(k_m, (), 0, 2 * n + 1)
        positions = jnp.arange(length)
        rest = jax.random.randint(k_w, (length,), 0, 2)
        return jnp.where(positions < n, 0, jnp.where(positions < n + m, 1, rest)).astype(jnp.int32)

    def labels(tokens):
        nb = prefix_counts(tokens, 1)
        leading_as = prefix_counts(jnp.where(nb[:-1] == 0, tokens, -1), 0)[1:]
        a_after_b = prefix_counts(jnp.where(nb[:-1] > 0, tokens, -1), 0)
        first_b_run = prefix_counts(jnp.where(a_after_b[:-1] == 0, tokens, -1), 1)[1:]
        return ((leading_as > 0) & (first_b_run >= leading_as)).astype(jnp.int32)

    return TaggingTask("anbn_sigma_star_prefixes", "ab", sample, labels)


def anbnw_prefixes() -> TaggingTask:
    """Merrill et al. 2020's prefix task as their public generator builds it
    (``rr_experiments/data/prefix.py`` of viking-sudo-rm/rr-experiments, commit 73312a0;
    "a^nb^nw" in its ``plot.py``).

    Samples (``length`` L): with probability 1/2, n uniform in ``[0, L // 2]`` and the string
    ``a^n b^n`` followed by ``L - 2n`` uniform symbols; otherwise (n = 0) L uniform symbols.

    Labels: read the leading run of a's (A of them), then the run of b's after it (B); at the
    first ``a`` after that b-run, the label becomes ``A == B`` (and ``A > 0``) and stays so to
    the end; every position before it is 0. So a position is 1 iff the string so far starts
    with ``a^n b^n a`` for some n >= 1; ``a^n b^n`` itself, or one followed only by b's, is 0.
    tokens: int32[L] -> labels: int32[L].
    """

    def sample(key, length):
        k_branch, k_n, k_w = jax.random.split(key, 3)
        n = jnp.where(jax.random.bernoulli(k_branch), jax.random.randint(k_n, (), 0, length // 2 + 1), 0)
        positions = jnp.arange(length)
        rest = jax.random.randint(k_w, (length,), 0, 2)
        return jnp.where(positions < n, 0, jnp.where(positions < 2 * n, 1, rest)).astype(jnp.int32)

    def labels(tokens):
        length = tokens.shape[0]
        positions = jnp.arange(length)
        not_a = tokens != 0
        leading = jnp.where(jnp.any(not_a), jnp.argmax(not_a), length)  # A: the leading a's
        after_bs = (positions >= leading) & (tokens != 1)
        first_a = jnp.where(jnp.any(after_bs), jnp.argmax(after_bs), length)  # the first a after the b-run
        balanced = (leading > 0) & (first_a - leading == leading)
        return (balanced & (positions >= first_a)).astype(jnp.int32)

    return TaggingTask("anbnw_prefixes", "ab", sample, labels)


def tagging(tagger: TaggingTask, n_min: int, n_max: int, eval_n_max: int, *,
            eval_lengths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048), eval_samples: int = 128) -> Task:
    """Prefix tagging with ``tagger``, trained on lengths ``[n_min, n_max]``.

    Evaluation: per-token accuracy on ``eval_samples`` strings of each length in
    ``eval_lengths`` (``accuracy_T<L>``), beside the majority-class rate of the same
    tokens (``majority_T<L>``); ``eval_n_max`` is not used."""
    require_positive(eval_samples=eval_samples)
    if any(length < 2 for length in (n_min, *eval_lengths)):
        raise ValueError(f"tagged strings need length >= 2, got n_min {n_min} and eval_lengths {eval_lengths}")

    def sample(key, n_lo, n_hi, max_len) -> Example:
        tokens = tagger.sample(key, max_len)
        length = jax.random.randint(jax.random.fold_in(key, 1), (), n_lo, n_hi + 1)
        return {"inputs": tokens, "targets": tagger.labels(tokens), "mask": jnp.arange(max_len) < length}

    @cached
    def sets():
        out = []
        for length in eval_lengths:
            tokens = jax.vmap(tagger.sample, (0, None))(jax.random.split(jax.random.key(length), eval_samples), length)
            examples = {"inputs": np.asarray(tokens), "targets": np.asarray(jax.vmap(tagger.labels)(tokens))}
            out.append(EvalSet(f"T{length}", examples, np.full((eval_samples,), length, np.int32)))
        return tuple(out)

    def score(model: Predictor, example: Example):
        labels = example["targets"]
        return {"accuracy": jnp.mean(jnp.argmax(model.logits(example["inputs"]), -1) == labels),
                "positive": jnp.mean(labels)}

    def summarise(scores):
        out = {}
        for length in eval_lengths:
            positive = float(np.mean(scores[f"T{length}"]["positive"]))
            out[f"accuracy_T{length}"] = float(np.mean(scores[f"T{length}"]["accuracy"]))
            out[f"majority_T{length}"] = max(positive, 1 - positive)
        return out

    metrics = tuple(f"{k}_T{length}" for length in eval_lengths for k in ("accuracy", "majority"))
    evaluation = Evaluation(sets, score, summarise, metrics, max(eval_lengths),
                            f"{eval_samples} strings of each length in {eval_lengths}")
    return Task(tagger.name, tagger.vocab_size, tagger.num_labels, (n_min, n_max), lambda n: n, sample,
                masked_classification, evaluation, ("accuracy",), pad_multiple=1, definition=tagger)


tagging.smallest_n = 2  # a tagged string has at least two symbols
