"""Stratified ("layer cake") stack, queue and deque of Grefenstette et al. 2015.

Values ``V: [C, m]`` with strengths ``s: [C]``; every step writes one row.
With pop strength u, push strength d and value v (Grefenstette et al. eqs. 1-3
for the stack):

    s_i <- max(0, s_i - max(0, u - sum_{j above i} s_j))     pop, from the top
    s_t <- d,  V_t <- v                                       push
    r = sum_i min(s_i, max(0, 1 - sum_{j above i} s_j)) V_i  read, from the top

"above" means nearer the end that pops and reads: the top (newest) for the
stack, the bottom (oldest) for the queue. The deque pops, pushes and reads at
both ends. No loop over elements: exclusive cumulative sums give the "above"
sums. Writing past ``capacity`` poisons the state with NaN instead of dropping
the row silently.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.memory.base import Memory

__all__ = ["DEQUE_STARTS", "deque", "pop", "push", "queue", "read", "stack"]


def _above(s: jax.Array, from_top: bool) -> jax.Array:
    """``sum_{j above i} s_j``: strictly nearer the top (higher index) or the bottom."""
    if from_top:
        return jnp.flip(jnp.cumsum(jnp.flip(s))) - s
    return jnp.cumsum(s) - s


def pop(s: jax.Array, u: jax.Array, from_top: bool) -> jax.Array:
    return jnp.maximum(0.0, s - jnp.maximum(0.0, u - _above(s, from_top)))


def read(s: jax.Array, values: jax.Array, from_top: bool) -> jax.Array:
    weights = jnp.minimum(s, jnp.maximum(0.0, 1.0 - _above(s, from_top)))
    return weights @ values


def push(s, values, index, d, v):
    """Writes strength d and value v at ``index``; an index outside the buffer
    poisons the strengths with NaN (capacity exceeded)."""
    inside = (index >= 0) & (index < s.shape[0])
    s = s.at[index].set(d, mode="drop")
    values = values.at[index].set(v, mode="drop")
    return jnp.where(inside, s, jnp.nan), values


def _check(width: int) -> None:
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"value width must be a positive integer, got {width!r}")


def _one_ended(name: str, width: int, pop_from_top: bool, pop_bias: float) -> Memory:
    _check(width)

    def init(capacity, dtype=jnp.float32):
        return jnp.zeros((capacity, width), dtype), jnp.zeros((capacity,), dtype), jnp.zeros((), jnp.int32)

    def update(state, actions):
        values, s, t = state
        d, u = jax.nn.sigmoid(actions[0]), jax.nn.sigmoid(actions[1])
        s = pop(s, u, pop_from_top)
        s, values = push(s, values, t, d, jnp.tanh(actions[2:]))
        return values, s, t + 1

    def read_fn(state):
        values, s, _ = state
        return read(s, values, pop_from_top)

    return Memory(f"{name}({width})", width, 2 + width, init, update, read_fn, (0.0, pop_bias) + (0.0,) * width)


@builder
def stack(width: int = 8, *, pop_bias: float = -1.0) -> Memory:
    """Neural stack: pushes on top, pops and reads from the top. Actions: push d,
    pop u (sigmoids; the pop starts at bias ``pop_bias``), value v (tanh, ``[width]``)."""
    return _one_ended("stack", width, True, pop_bias)


@builder
def queue(width: int = 8, *, pop_bias: float = -1.0) -> Memory:
    """Neural queue: pushes at the top (newest end), pops and reads from the bottom (the
    oldest rows). Actions as the stack's: push d, pop u (sigmoids; the pop starts at bias
    ``pop_bias``), value v (tanh, ``[width]``); read ``[width]``."""
    return _one_ended("queue", width, False, pop_bias)


DEQUE_STARTS = {
    "symmetric": lambda pop_bias: (0.0, pop_bias, 0.0, pop_bias),
    "queue": lambda pop_bias: (0.0, -3.0, -3.0, pop_bias),
}
"""Initial biases of (push top, pop top, push bottom, pop bottom) given the pop bias."""


@builder
def deque(width: int = 8, *, pop_bias: float = -1.0, start: str = "symmetric") -> Memory:
    """Neural deque: push, pop and read at both ends; reads are ``[top, bottom]``.

    Actions: push top, pop top, push bottom, pop bottom (sigmoids), value for
    the top, value for the bottom (tanh, ``[width]`` each). The buffer holds
    ``2 * capacity`` rows: the top grows up from the middle, the bottom down.

    ``start`` sets the initial action biases. ``"symmetric"`` (Grefenstette et al.):
    push 0 and pop ``pop_bias`` at both ends, so each read starts on the newest rows
    of its own end. ``"queue"``: the top's pop and the bottom's push start nearly off
    (bias -3), so the deque starts as a queue (push on top, pop and read the oldest
    rows at the bottom); every bias stays trainable.
    """
    _check(width)
    if start not in DEQUE_STARTS:
        raise ValueError(f"deque start must be one of {sorted(DEQUE_STARTS)}, got {start!r}")

    def init(capacity, dtype=jnp.float32):
        return (
            jnp.zeros((2 * capacity, width), dtype),
            jnp.zeros((2 * capacity,), dtype),
            jnp.full((), capacity, jnp.int32),
            jnp.full((), capacity - 1, jnp.int32),
        )

    def update(state, actions):
        values, s, top, bottom = state
        d_top, u_top, d_bottom, u_bottom = (jax.nn.sigmoid(actions[k]) for k in range(4))
        v_top, v_bottom = jnp.tanh(actions[4 : 4 + width]), jnp.tanh(actions[4 + width :])
        s = pop(pop(s, u_top, True), u_bottom, False)
        s, values = push(s, values, top, d_top, v_top)
        s, values = push(s, values, bottom, d_bottom, v_bottom)
        return values, s, top + 1, bottom - 1

    def read_fn(state):
        values, s, _, _ = state
        return jnp.concatenate([read(s, values, True), read(s, values, False)])

    bias = DEQUE_STARTS[start](pop_bias) + (0.0,) * (2 * width)
    return Memory(f"deque({width})", 2 * width, 4 + 2 * width, init, update, read_fn, bias)
