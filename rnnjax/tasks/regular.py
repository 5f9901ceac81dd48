"""Regular languages as prefix-tagging tasks: every prefix labelled by a DFA.

Strings start with a start token "^" so that the first label is about the empty
word. Training strings are drawn so that both labels are common: a length L' and
a label are drawn, the first L' symbols are uniform among the words of that
length with that label (counting words with the DFA), the rest uniform.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.automata import REFERENCE_LANGUAGES, DFA
from rnnjax.tasks.tagging import TaggingTask

START = "^"


def dfa_prefix_task(name: str, dfa: DFA, max_length: int = 256) -> TaggingTask:
    """Tags each prefix of ``^ w`` with whether ``dfa`` accepts it; samples of at
    most ``max_length`` tokens."""
    transitions = jnp.asarray(dfa.transitions)
    accepting = jnp.asarray(dfa.accepting)
    # counts[g, k, q]: words of length k from q whose label is g (0 reject, 1 accept)
    counts = np.zeros((2, max_length + 1, dfa.size))
    for g in (0, 1):
        counts[g, 0] = dfa.accepting == bool(g)
        for k in range(1, max_length + 1):
            counts[g, k] = counts[g, k - 1][dfa.transitions].sum(axis=1)
    log_counts = jnp.asarray(np.log(counts + 1e-30), jnp.float32)
    symbols = len(dfa.alphabet)

    def sample(key, length):
        k_len, k_label, k_steps = jax.random.split(key, 3)
        guided = jax.random.randint(k_len, (), 1, length)  # symbols after the start token
        label = jax.random.randint(k_label, (), 0, 2)

        def step(q, inputs):
            i, k = inputs
            remaining = guided - i - 1
            logits = log_counts[label, jnp.clip(remaining, 0, max_length), transitions[q]]
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


REGULAR_TASKS = {
    name: (lambda name=name, build=build: dfa_prefix_task(name, build())) for name, build in REFERENCE_LANGUAGES.items()
}
