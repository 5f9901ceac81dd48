"""Superposition stack of Joulin & Mikolov 2015 (stack-augmented RNN).

Each of ``stacks`` stacks holds ``depth`` cells of width m. A softmax over
{push, pop, no-op} mixes the three shifted stacks (their eqs. 4-5):

    S[0] <- a_push * sigmoid(w) + a_pop * S[1]     + a_noop * S[0]
    S[i] <- a_push * S[i-1]     + a_pop * S[i+1]   + a_noop * S[i]

where S[depth] (below the bottom) holds ``empty`` (-1 in the original). The
read is the top ``read_top`` cells of every stack. ``discrete`` replaces the
softmax by its argmax one-hot (the original's rounding at test time).

The stack RNN of Delétang et al. 2023 is this memory with ``push="linear"``
(the pushed value is ``w`` itself), ``empty=0``, ``read_top=1`` and a depth of 30
(pushes past it fall off the bottom); by default the depth follows the capacity
so none do.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.memory.base import Memory

__all__ = ["superposition_stack"]


@builder
def superposition_stack(
    width: int = 1,
    *,
    stacks: int = 1,
    read_top: int = 2,
    depth: int | None = None,
    empty: float = -1.0,
    discrete: bool = False,
    push: Literal["sigmoid", "linear"] = "sigmoid",
) -> Memory:
    """Args:
      width: m, the size of a cell (1 = scalar cells as in the original).
      stacks: number of independent stacks.
      read_top: k, how many top cells of each stack are read.
      depth: cells per stack; None = the capacity given to ``init`` (the
        sequence length), so that no push can fall off the bottom.
      empty: the value of an empty cell.
      discrete: use argmax actions (test-time rounding) instead of the softmax.
      push: the pushed value is ``sigmoid(w)`` (the original) or ``w`` (linear).

    Actions per stack: 3 logits (push, pop, no-op), then ``width`` value pre-activations.
    """
    for name, value in (("width", width), ("stacks", stacks), ("read_top", read_top)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if push not in ("sigmoid", "linear"):
        raise ValueError(f"push must be 'sigmoid' or 'linear', got {push!r}")
    value = jax.nn.sigmoid if push == "sigmoid" else (lambda w: w)
    per_stack = 3 + width

    def init(capacity, dtype=jnp.float32):
        size = depth or capacity
        if size < read_top:
            raise ValueError(f"depth {size} is smaller than read_top {read_top}")
        return jnp.full((stacks, size, width), empty, dtype)

    def update(cells, actions):
        actions = actions.reshape(stacks, per_stack)
        logits = actions[:, :3]
        probs = jax.nn.one_hot(jnp.argmax(logits, -1), 3, dtype=cells.dtype) if discrete else jax.nn.softmax(logits)
        pushed = jnp.concatenate([value(actions[:, None, 3:]), cells[:, :-1]], axis=1)
        popped = jnp.concatenate([cells[:, 1:], jnp.full_like(cells[:, :1], empty)], axis=1)
        p_push, p_pop, p_noop = (probs[:, k, None, None] for k in range(3))
        return p_push * pushed + p_pop * popped + p_noop * cells

    def read(cells):
        return cells[:, :read_top].reshape(-1)

    name = f"superposition({stacks}x{width}, top {read_top})"
    return Memory(name, stacks * read_top * width, stacks * per_stack, init, update, read)
