"""A tape with one soft head (the controller-memory split of a Turing machine, NTM-style).

Cells ``M: [2C+1, m]`` and a head distribution ``w: [2C+1]`` that starts on
the middle cell, so C moves in either direction never leave the tape. Each
step, with write gate g, value v, shift probabilities (left, stay, right) and
read gate rho:

    M_i <- M_i (1 - g w_i) + g w_i v           gated overwrite under the head
    w   <- left * w[i+1] + stay * w[i] + right * w[i-1]   (move)
    r    = rho * sum_i w_i M_i                 gated read under the new head
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.memory.base import Memory


def tape(width: int = 8) -> Memory:
    """Actions: write gate (sigmoid), value (tanh, ``[width]``), shift logits
    (left, stay, right; softmax), read gate (sigmoid)."""
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"value width must be a positive integer, got {width!r}")

    def init(capacity, dtype=jnp.float32):
        cells = jnp.zeros((2 * capacity + 1, width), dtype)
        return cells, jax.nn.one_hot(capacity, 2 * capacity + 1, dtype=dtype), jnp.zeros((), dtype)

    def update(state, actions):
        cells, head, _ = state
        g, v = jax.nn.sigmoid(actions[0]), jnp.tanh(actions[1 : 1 + width])
        left, stay, right = jax.nn.softmax(actions[1 + width : 4 + width])
        cells = cells * (1.0 - g * head[:, None]) + g * head[:, None] * v
        zero = jnp.zeros((1,), head.dtype)
        head = left * jnp.concatenate([head[1:], zero]) + stay * head + right * jnp.concatenate([zero, head[:-1]])
        return cells, head, jax.nn.sigmoid(actions[4 + width])

    def read(state):
        cells, head, gate = state
        return gate * (head @ cells)

    return Memory(f"tape({width})", width, 5 + width, init, update, read)
