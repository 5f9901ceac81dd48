"""Oracle controllers: a cell forced to the right push/pop actions solves reversal (stack, deque top)
and copy (queue, deque bottom) exactly through ``augment``, at any length the memory holds.

The oracle cell reads ``[one-hot symbol, separator flag, previous read]`` and emits
``h = [one-hot symbol, in-source flag, in-target flag]``; the action layer ``W h + b``
is set by hand: push the symbol (value ``tanh(BIG one-hot)``) while in the source,
neither push nor pop on the separator, pop once per step after it. The read at the
separator and at each step after it must then be the reversed (or copied) source.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.cells.base import Cell, scan
from rnnjax.memory import augment, deque, queue, stack

SYMBOLS = 6
BIG = 20.0
SEPARATOR = SYMBOLS  # input column of the separator flag


def oracle_cell() -> Cell:
    """State: whether the separator was seen. Output: ``[one-hot, source, target]``."""

    def step(params, seen, u):
        symbol, is_separator = u[:SYMBOLS], u[SEPARATOR]
        source = (1 - seen) * (1 - is_separator)
        target = seen  # steps after the separator
        return jnp.maximum(seen, is_separator), jnp.concatenate([symbol * source, source[None], target[None]])

    return Cell("oracle", SYMBOLS + 2, lambda key, d: {}, lambda p: jnp.zeros(()), lambda p, xs: xs, step)


def actions(memory_name: str) -> dict:
    """The hand-set action layer ``{"w": [SYMBOLS + 2, A], "b": [A]}`` of the oracle."""
    symbol, source, target = slice(0, SYMBOLS), SYMBOLS, SYMBOLS + 1
    width = SYMBOLS
    if memory_name == "deque":  # actions: push top, pop top, push bottom, pop bottom, v top, v bottom
        a = 4 + 2 * width
        w, b = np.zeros((SYMBOLS + 2, a)), np.full(a, 0.0)
        b[:4] = -BIG
        w[source, 0] = 2 * BIG  # push on top during the source
        w[symbol, 4:4 + width] = BIG * np.eye(SYMBOLS)
        return {"w": jnp.asarray(w), "b": jnp.asarray(b)}
    a = 2 + width  # push, pop, value
    w, b = np.zeros((SYMBOLS + 2, a)), np.zeros(a)
    b[:2] = -BIG
    w[source, 0] = 2 * BIG
    w[target, 1] = 2 * BIG
    w[symbol, 2:] = BIG * np.eye(SYMBOLS)
    return {"w": jnp.asarray(w), "b": jnp.asarray(b)}


def deque_actions(pop_end: str) -> dict:
    """Push on top during the source; pop from ``pop_end`` (top: reversal, bottom: copy) after it."""
    params = actions("deque")
    w = np.asarray(params["w"]).copy()
    w[SYMBOLS + 1, 1 if pop_end == "top" else 3] = 2 * BIG
    return {"w": jnp.asarray(w), "b": params["b"]}


def reads(memory, action_params, source: np.ndarray) -> np.ndarray:
    """The memory reads at the separator and the ``len(source) - 1`` steps after it."""
    length = len(source)
    cell = augment(oracle_cell(), memory, 2 * length + 1, remat_block=None)
    inputs = np.zeros((2 * length, SYMBOLS + 1))  # augment appends the previous read
    inputs[np.arange(length), source] = 1.0
    inputs[length, SEPARATOR] = 1.0  # the target steps read zeros: the oracle ignores them
    params = {"controller": {}, "actions": action_params}
    _, ys = jax.lax.scan(lambda s, x: cell.step(params, s, x), cell.initial_state(params), jnp.asarray(inputs))
    return np.asarray(ys[length:, SYMBOLS + 2:])


@pytest.mark.parametrize("length", [1, 5, 16, 64])
@pytest.mark.parametrize("name, build, order", [
    ("stack", stack, "reversed"), ("queue", queue, "copied"),
    ("deque top", deque, "reversed"), ("deque bottom", deque, "copied"),
])
def test_oracle_actions_solve_the_transduction_exactly(name, build, order, length):
    source = np.random.default_rng(length).integers(0, SYMBOLS, length)
    memory = build(SYMBOLS)
    params = deque_actions(name.split()[1]) if name.startswith("deque") else actions(name)
    r = reads(memory, params, source)
    if name == "deque top":
        r = r[:, :SYMBOLS]
    elif name == "deque bottom":
        r = r[:, SYMBOLS:]
    expected = source[::-1] if order == "reversed" else source
    np.testing.assert_array_equal(r.argmax(-1), expected)
    np.testing.assert_allclose(r, np.eye(SYMBOLS)[expected] * np.tanh(BIG), atol=1e-4)


def test_without_popping_the_stack_reads_only_the_last_symbol():
    """The test can fail: an oracle that never pops reads the top element again and again."""
    source = np.array([0, 1, 2, 3])
    params = actions("stack")
    w = np.asarray(params["w"]).copy()
    w[SYMBOLS + 1, 1] = 0.0
    r = reads(stack(SYMBOLS), {"w": jnp.asarray(w), "b": params["b"]}, source)
    assert list(r.argmax(-1)) == [3, 3, 3, 3]


def test_the_augmented_oracle_runs_through_scan():
    cell = augment(oracle_cell(), stack(SYMBOLS), 9, remat_block=4)
    params = {"controller": {}, "actions": actions("stack")}
    xs = jnp.zeros((8, SYMBOLS + 1)).at[jnp.arange(4), jnp.array([1, 2, 3, 4])].set(1.0).at[4, SEPARATOR].set(1.0)
    _, ys = scan(cell, params, xs)
    assert list(np.asarray(ys[4:, SYMBOLS + 2:]).argmax(-1)) == [4, 3, 2, 1]
