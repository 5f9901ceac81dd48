"""Regular languages as prefix-tagging tasks: every prefix labelled by a DFA.

Strings start with a start token "^" so that the first label is about the empty
word. Training strings are drawn so that both labels are common: a length L' and
a label are drawn, the first L' symbols are uniform among the words of that
length with that label (counting words with the DFA), the rest uniform.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.automata import DFA
from rnnjax.tasks.tagging import TaggingTask

START = "^"


def dfa_prefix_task(name: str, dfa: DFA) -> TaggingTask:
    """Tags each prefix of ``^ w`` with whether ``dfa`` accepts it."""
    transitions = jnp.asarray(dfa.transitions)
    accepting = jnp.asarray(dfa.accepting)
    symbols = len(dfa.alphabet)

    @functools.cache
    def log_counts(longest: int) -> np.ndarray:
        """``[2, longest + 1, states]``: log of the number of words of length k from q whose label is g."""
        logs = np.full((2, longest + 1, dfa.size), -np.inf)
        for g in (0, 1):
            logs[g, 0] = np.where(dfa.accepting == bool(g), 0.0, -np.inf)
            for k in range(1, longest + 1):
                logs[g, k] = np.logaddexp.reduce(logs[g, k - 1][dfa.transitions], axis=1)
        return np.where(np.isfinite(logs), logs, np.log(1e-30)).astype(np.float32)  # in logs: counts overflow

    def sample(key, length):
        k_len, k_label, k_steps = jax.random.split(key, 3)
        guided = jax.random.randint(k_len, (), 1, length)  # symbols after the start token
        label = jax.random.randint(k_label, (), 0, 2)
        table = jnp.asarray(log_counts(length))

        def step(q, inputs):
            i, k = inputs
            remaining = guided - i - 1
            logits = table[label, jnp.clip(remaining, 0, length), transitions[q]]
            usable = (i < guided) & (jnp.max(logits) > -60)
            a = jax.random.categorical(k, jnp.where(usable, logits, 0.0))
            return transitions[q, a], a

        steps = jnp.arange(length - 1)
        _, word = jax.lax.scan(step, jnp.asarray(dfa.start), (steps, jax.random.split(k_steps, length - 1)))
        return jnp.concatenate([jnp.array([symbols]), word]).astype(jnp.int32)

    def labels(tokens):
        def step(q, a):
            q = jnp.where(a == symbols, q, transitions[q, jnp.minimum(a, symbols - 1)])
            return q, accepting[q]

        return jax.lax.scan(step, jnp.asarray(dfa.start), tokens)[1].astype(jnp.int32)

    return TaggingTask(name, dfa.alphabet + START, sample, labels)
