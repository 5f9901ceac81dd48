"""A tape with one soft head (the controller-memory split of a Turing machine, NTM-style).

Cells ``M: [2C+1, m]`` and a head distribution ``w: [2C+1]`` that starts on
the middle cell, so C moves in either direction never leave the tape. Each
step, with write gate g, value v, shift probabilities and read gate rho:

    M_i <- M_i (1 - g w_i) + g w_i v           gated overwrite under the head
    w   <- left * w[i+1] + stay * w[i] + right * w[i-1]   (move)
    r    = rho * sum_i w_i M_i                 gated read under the new head

Variants of the tape RNN of Delétang et al. 2023 (there: a fixed circular tape
of 40 cells): ``write="always"`` overwrites the cell under the head every step
(g = 1), and ``jumps=True`` adds two moves by the source length L (the number of
input tokens before the task's separator, given by ``condition``):
``jump_left * w[i+L] + jump_right * w[i-L]``.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.memory.base import Memory

__all__ = ["shifted", "tape"]


def shifted(w: jax.Array, by) -> jax.Array:
    """``w[i - by]`` (zero where ``i - by`` is off the tape) for ``w: [N]`` and ``|by| <= N``, static or traced."""
    size = w.shape[0]
    padded = jnp.concatenate([jnp.zeros((size,), w.dtype), w, jnp.zeros((size,), w.dtype)])
    return jax.lax.dynamic_slice_in_dim(padded, size - by, size)


@builder
def tape(width: int = 8, *, write: Literal["gated", "always"] = "gated", jumps: bool = False) -> Memory:
    """Actions: write gate (sigmoid; absent for ``write="always"``), value (tanh,
    ``[width]``), shift logits (left, stay, right, and with ``jumps`` jump left and
    right by the source length; softmax), read gate (sigmoid). State ``(cells, head,
    read gate)``, plus the source length with ``jumps``."""
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"value width must be a positive integer, got {width!r}")
    if write not in ("gated", "always"):
        raise ValueError(f"write must be 'gated' or 'always', got {write!r}")
    gated, moves = write == "gated", 5 if jumps else 3
    value_at, shift_at = int(gated), int(gated) + width
    read_at = shift_at + moves

    def init(capacity, dtype=jnp.float32):
        cells = jnp.zeros((2 * capacity + 1, width), dtype)
        state = cells, jax.nn.one_hot(capacity, 2 * capacity + 1, dtype=dtype), jnp.zeros((), dtype)
        return (*state, jnp.zeros((), jnp.int32)) if jumps else state

    def update(state, actions):
        cells, head, *_ = state
        g = jax.nn.sigmoid(actions[0]) if gated else 1.0
        v = jnp.tanh(actions[value_at:shift_at])
        shift = jax.nn.softmax(actions[shift_at:read_at])
        cells = cells * (1.0 - g * head[:, None]) + g * head[:, None] * v
        moved = shift[0] * shifted(head, -1) + shift[1] * head + shift[2] * shifted(head, 1)
        if jumps:
            moved = moved + shift[3] * shifted(head, -state[3]) + shift[4] * shifted(head, state[3])
        return (cells, moved, jax.nn.sigmoid(actions[read_at]), *state[3:])

    def read(state):
        cells, head, gate, *_ = state
        return gate * (head @ cells)

    def condition(state, length):
        return (*state[:3], jnp.asarray(length, jnp.int32))

    name = f"tape({width}{', always write' if not gated else ''}{', jumps' if jumps else ''})"
    return Memory(name, width, read_at + 1, init, update, read, condition=condition if jumps else None)
