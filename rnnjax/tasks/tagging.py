"""Per-token tagging: at each position, is the prefix read so far in the language?

Merrill et al. 2020 (a formal hierarchy of RNN architectures) train prefix
taggers for a^n b^n Sigma* on strings of length 64 and test on lengths up to
2048; a 1-layer QRNN cannot do better than the majority class there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rnnjax.tasks.base import prefix_counts


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

    return TaggingTask("anbn_sigma_star", "ab", sample, labels)


TAGGING_TASKS = {"anbn_sigma_star": anbn_sigma_star_prefixes}
"""name -> TaggingTask builder; ``rnnjax.tasks`` adds the regular reference languages"""
