"""A memory-augmented Cell (Grefenstette et al. 2015): any Cell drives any Memory.

At step t the controller reads ``[x_t, r_{t-1}]`` (the previous read fed back
with the input); a linear layer of its output h_t gives the memory's actions;
the memory is updated and read, and the cell emits ``y_t = [h_t, r_t]``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.cells.base import (
    LECUN_NORMAL,
    Cell,
    Initializer,
    cast,
    freezing,
    initialise,
    masked,
    recomputed,
    scan_steps,
)
from rnnjax.memory.base import Memory

__all__ = ["GROW_BLOCK", "augment", "controller_actions"]

GROW_BLOCK = 16
"""Steps per block of a growing memory's whole-sequence run when ``remat_block`` is None."""


@builder
def augment(cell: Cell, memory: Memory, capacity: int, *, remat_block: int | None = 16, dtype: Any = None,
            param_dtype: Any = jnp.float32, kernel_init: Initializer = LECUN_NORMAL) -> Cell:
    """``cell`` with ``memory`` attached (Grefenstette et al. 2015): at step t the controller
    reads ``[x_t, r_{t-1}]``, the actions are ``h_t @ w + b``, the memory is updated and
    read, and ``y_t = [h_t, r_t]``.

    Params ``{"controller", "actions": {"w": [H, action_dim], "b": [action_dim]}}`` (``b``
    starts at the memory's ``action_bias``); state ``(controller_state, memory_state,
    previous_read)``.

    Args:
      capacity: the most steps the memory will see; a longer sequence fails in
        ``project`` with a clear error (and a chunked run past it poisons the
        memory with NaN rather than dropping rows).
      remat_block: scan in ``jax.checkpoint``-ed blocks of this many steps (see
        ``Cell.remat_block``); the backward pass then holds O(T / block + block)
        memory states instead of O(T); None turns it off. At T 512 the stack-LSTM
        train step needs 10x less memory with blocks of 16 at about the same
        speed (``benchmarks/memory.py``).
      dtype: the dtype of the memory's state and of the action layer's computation;
        None: the action kernel's dtype. The controller has its own (the cell's
        ``dtype``). A memory that cannot work in ``dtype`` says so when it is built.
      param_dtype: the dtype of the action layer's params.
      kernel_init: initialiser of the action kernel ``w``; LeCun normal.

    A memory (or controller) that samples makes the result sample too: ``Cell.seed``
    splits its key between controller and memory, ``Cell.log_prob`` adds their sums.
    """
    for name, value in (("capacity", capacity), ("remat_block", remat_block or 1)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(cell, Cell) or not isinstance(memory, Memory):
        raise ValueError(f"augment(cell, memory, capacity) takes a Cell and a Memory, got {type(cell).__name__} and "
                         f"{type(memory).__name__}; e.g. augment(rnnjax.cells.lstm(8), rnnjax.memory.stack(4), 64)")

    def init(key, input_dim):
        k_cell, k_act = jax.random.split(key)
        w = initialise(kernel_init, k_act, (cell.output_dim, memory.action_dim), param_dtype)
        bias = jnp.asarray(memory.action_bias or (0.0,) * memory.action_dim, w.dtype)
        return {"controller": cell.init(k_cell, input_dim + memory.read_dim), "actions": {"w": w, "b": bias}}

    def initial_state(params, memory_capacity=capacity):
        state_dtype = dtype or params["actions"]["w"].dtype
        controller = cell.initial_state(params["controller"])
        return controller, memory.init(memory_capacity, state_dtype), jnp.zeros((memory.read_dim,), state_dtype)

    def grown(state, memory_capacity):
        controller, mem, previous = state
        return controller, memory.grow(mem, memory_capacity), previous

    def project(params, xs):
        if xs.shape[0] > capacity:
            raise ValueError(
                f"sequence of length {xs.shape[0]} exceeds the memory capacity {capacity}; "
                f"build the cell with augment(..., capacity>={xs.shape[0]})"
            )
        return xs

    def step(params, state, x):
        controller, mem, previous = state
        u = cell.project(params["controller"], jnp.concatenate([x, previous.astype(x.dtype)])[None])[0]
        controller, h = cell.step(params["controller"], controller, u)
        actions = cast(params["actions"], dtype)
        mem = memory.update(mem, cast(h, dtype) @ actions["w"] + actions["b"])
        r = memory.read(mem)
        return (controller, mem, r), jnp.concatenate([h, r.astype(h.dtype)])

    def sequence(params, state, xs, length):
        """From a given state: ``scan_steps``. From the initial state (None), with a
        memory that can ``grow``: blocks of ``remat_block or GROW_BLOCK`` steps, the
        memory sized for the steps up to the end of each block (one compiled scan per
        block), then grown to ``capacity``. With ``length``, each step is masked inside
        the blocks (``masked``), so the blocks keep their shapes and recomputation."""
        xs = project(params, xs)
        live_step, us = masked(lambda s, u: step(params, s, u), xs, length)
        if state is not None:
            return scan_steps(live_step, state, us, 1, remat_block)
        block = remat_block or GROW_BLOCK

        def scan_block(p, s, u):
            block_step = lambda s, u: step(p, s, u)  # noqa: E731
            return jax.lax.scan(block_step if length is None else freezing(block_step), s, u)

        scan_block = recomputed(scan_block) if remat_block else scan_block
        steps, ys = xs.shape[0], []
        state = initial_state(params, min(block, steps))
        for start in range(0, steps, block):
            stop = min(start + block, steps)
            state, y = scan_block(params, grown(state, stop), jax.tree_util.tree_map(lambda u: u[start:stop], us))
            ys.append(y)
        return grown(state, capacity), jnp.concatenate(ys)

    def condition(params, state, length):
        controller, mem, previous = state
        if cell.condition is not None:
            controller = cell.condition(params["controller"], controller, length)
        return controller, mem if memory.condition is None else memory.condition(mem, length), previous

    def seed(params, state, key):
        controller, mem, previous = state
        k_cell, k_memory = jax.random.split(key)
        if cell.seed is not None:
            controller = cell.seed(params["controller"], controller, k_cell)
        return controller, mem if memory.seed is None else memory.seed(mem, k_memory), previous

    def log_prob(state):
        controller, mem, _ = state
        own = jnp.zeros(()) if memory.log_prob is None else memory.log_prob(mem)
        return own if cell.log_prob is None else own + cell.log_prob(controller)

    def input_dim(params):
        inner = None if cell.input_dim is None else cell.input_dim(params["controller"])
        return None if inner is None else inner - memory.read_dim

    name = f"{cell.name}+{memory.name}"
    conditioned = condition if memory.condition is not None or cell.condition is not None else None
    sampling = memory.seed is not None or cell.seed is not None
    return Cell(name, cell.output_dim + memory.read_dim, init, initial_state, project, step,
                sequence if memory.grow else None, remat_block, conditioned, seed if sampling else None,
                log_prob if sampling else None, input_dim)


def controller_actions(memory: Memory, params, ys: jax.Array) -> jax.Array:
    """The raw actions ``[T, action_dim]`` an augmented cell (params ``params``) gave
    ``memory`` along a run with outputs ``ys: [T, output_dim]`` (for plots)."""
    return ys[:, : ys.shape[1] - memory.read_dim] @ params["actions"]["w"] + params["actions"]["b"]
