"""The Cell protocol, running a cell over time, and cells in layers.

A cell is a bundle of pure functions over pytrees for ONE sequence (batch with
``jax.vmap``); hyper-parameters are fixed when the cell is built:

    params = cell.init(key, input_dim)
    state = cell.initial_state(params)
    us = cell.project(params, xs)            # xs: [T, input_dim] -> us: [T, ...]
    state, y = cell.step(params, state, us[t])  # y: [cell.output_dim]

``project`` holds the work that does not depend on the state; ``step`` the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Params = Any
State = Any
Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Cell:
    """A recurrent cell as pure functions (see the module docstring).

    Attributes:
      name: short description, e.g. ``"lstm(10)"``.
      output_dim: size of ``y`` returned by ``step``.
      init: ``(key, input_dim) -> params``.
      initial_state: ``params -> state``.
      project: ``(params, xs: [T, input_dim]) -> us: [T, ...]``, time-parallel.
      step: ``(params, state, u_t) -> (state, y_t: [output_dim])``.
      sequence: optional whole-sequence path ``(params, state, xs) -> (state, ys)``
        equal to scanning ``step`` (e.g. an associative scan of a linear
        recurrence); ``rnnjax.scan`` uses it when present. ``state`` None means
        the initial state, which a cell may exploit (a memory whose buffer grows
        block by block).
      remat_block: if set, ``rnnjax.scan`` runs ``step`` in ``jax.checkpoint``-ed
        blocks of this many steps: the backward pass stores one state per block
        and recomputes the block (for cells with large states, e.g. memories,
        whose per-step residuals would otherwise cost O(T * state size)).
      condition: optional ``(params, state, source_length) -> state`` for cells that act
        relative to the length of the sequence's source (a tape that jumps by the input
        length); models call it on the initial state with the number of tokens before the
        task's separator.
      seed: optional ``(params, state, key) -> state`` for cells that make random choices
        (a memory with hard addressing): from the returned state on, the cell draws its
        choices from ``key``; without it, a state takes the mode of each choice.
      log_prob: ``state -> []``, the sum of the log-probabilities of the choices drawn since
        ``seed`` (for score-function gradients); given exactly when ``seed`` is.
    """

    name: str
    output_dim: int
    init: Callable[[Array, int], Params]
    initial_state: Callable[[Params], State]
    project: Callable[[Params, Array], Array]
    step: Callable[[Params, State, Array], tuple[State, Array]]
    sequence: Callable[[Params, State, Array], tuple[State, Array]] | None = None
    remat_block: int | None = None
    condition: Callable[[Params, State, Array], State] | None = None
    seed: Callable[[Params, State, Array], State] | None = None
    log_prob: Callable[[State], Array] | None = None


def scan(
    cell: Cell, params: Params, xs: Array, state: State | None = None, *, unroll: int = 1
) -> tuple[State, Array]:
    """Runs ``cell`` over ``xs: [T, input_dim]``; returns ``(final_state, ys: [T, output_dim])``.

    ``state`` defaults to ``cell.initial_state(params)``; pass a final state back
    in to process a long sequence in chunks. Uses ``cell.sequence`` when the
    cell has one, else ``lax.scan`` of ``step`` over ``project``.
    """
    if cell.sequence is not None:
        return cell.sequence(params, state, xs)
    if state is None:
        state = cell.initial_state(params)
    us = cell.project(params, xs)
    return scan_steps(lambda s, u: cell.step(params, s, u), state, us, unroll, cell.remat_block)


def scan_steps(step, state, us, unroll: int = 1, block: int | None = None):
    """``lax.scan(step, state, us)``; with ``block``, the first ``block * (T // block)``
    steps run as a scan over ``jax.checkpoint``-ed blocks (same numbers, less memory
    for the backward pass), the rest as a plain scan."""
    length = jax.tree_util.tree_leaves(us)[0].shape[0]
    if block is None or block >= length:
        return jax.lax.scan(step, state, us, unroll=unroll)
    blocks, head = length // block, block * (length // block)
    run_block = jax.checkpoint(lambda s, ub: jax.lax.scan(step, s, ub, unroll=unroll))
    blocked = jax.tree_util.tree_map(lambda u: u[:head].reshape(blocks, block, *u.shape[1:]), us)
    state, ys = jax.lax.scan(run_block, state, blocked)
    ys = jax.tree_util.tree_map(lambda y: y.reshape(head, *y.shape[2:]), ys)
    if head == length:
        return state, ys
    state, tail = jax.lax.scan(step, state, jax.tree_util.tree_map(lambda u: u[head:], us), unroll=unroll)
    return state, jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, tail)


def recomputed(f: Callable) -> Callable:
    """``jax.checkpoint(f)`` (positional arguments) whose recomputation in the backward
    pass runs inside a ``lax.cond``, so it starts only when the incoming cotangent is
    there and its residuals are freed when it ends. Plain ``jax.checkpoint`` on
    consecutive calls unrolled in Python (blocks of different shapes) saves no memory
    on XLA:CPU: the recomputations are scheduled together (jax-ml/jax#27748)."""

    @jax.custom_vjp
    def run(*args):
        return f(*args)

    def forward(*args):
        return f(*args), args

    def backward(args, cotangent):
        vjp = lambda args, cotangent: jax.vjp(f, *args)[1](cotangent)  # noqa: E731
        shapes = jax.eval_shape(vjp, args, cotangent)
        zeros = lambda *_: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)  # noqa: E731
        taken = jax.lax.optimization_barrier(jnp.bool_(True))  # not a constant XLA could fold the cond away with
        return jax.lax.cond(taken, vjp, zeros, args, cotangent)

    run.defvjp(forward, backward)
    return run


def trace(cell: Cell, params: Params, xs: Array, state: State | None = None) -> State:
    """Every state along ``xs: [T, input_dim]``: the state pytree with a leading ``[T]`` axis."""
    if state is None:
        state = cell.initial_state(params)

    def step(s, u):
        s, _ = cell.step(params, s, u)
        return s, s

    return jax.lax.scan(step, state, cell.project(params, xs))[1]


def layers(*cells: Cell) -> Cell:
    """Layers ``cells[0] -> cells[1] -> ...`` as one Cell.

    Params and state are tuples with one entry per layer; ``y`` is the last
    layer's output. Only the first layer's ``project`` is time-parallel: the
    inputs of later layers are produced step by step.
    """
    if not cells:
        raise ValueError("layers() needs at least one cell")

    def init(key, input_dim):
        params, dim = [], input_dim
        for cell, k in zip(cells, jax.random.split(key, len(cells))):
            params.append(cell.init(k, dim))
            dim = cell.output_dim
        return tuple(params)

    def initial_state(params):
        return tuple(c.initial_state(p) for c, p in zip(cells, params))

    def project(params, xs):
        return cells[0].project(params[0], xs)

    def step(params, state, u):
        new_state = []
        for i, (cell, p, s) in enumerate(zip(cells, params, state)):
            if i > 0:  # u is the previous layer's output
                u = cell.project(p, u[None])[0]
            s, u = cell.step(p, s, u)
            new_state.append(s)
        return tuple(new_state), u

    def sequence(params, state, xs):
        """Layer by layer, when every layer has a whole-sequence path."""
        new_state = []
        for cell, p, s in zip(cells, params, state or (None,) * len(cells)):
            s, xs = cell.sequence(p, s, xs)
            new_state.append(s)
        return tuple(new_state), xs

    def condition(params, state, length):
        return tuple(s if c.condition is None else c.condition(p, s, length) for c, p, s in zip(cells, params, state))

    def seed(params, state, key):
        keys = jax.random.split(key, len(cells))
        return tuple(s if c.seed is None else c.seed(p, s, k) for c, p, s, k in zip(cells, params, state, keys))

    def log_prob(state):
        return sum(c.log_prob(s) for c, s in zip(cells, state) if c.log_prob is not None)

    name = " -> ".join(c.name for c in cells)
    layerwise = sequence if all(c.sequence is not None for c in cells) else None
    blocks = [c.remat_block for c in cells if c.remat_block is not None]
    conditioned = condition if any(c.condition is not None for c in cells) else None
    sampling = any(c.seed is not None for c in cells)
    return Cell(name, cells[-1].output_dim, init, initial_state, project, step, layerwise, min(blocks, default=None),
                conditioned, seed if sampling else None, log_prob if sampling else None)


def default_hoist() -> bool:
    """Whether the input projection goes in ``project`` on the current backend.

    Measured with ``benchmarks/cells.py`` (figures in BUILD_NOTES.md): on XLA:CPU
    projecting inside ``step`` is faster; on an H200 hoisting makes the LSTM and GRU
    train step 1.07-1.31x faster (hidden 10-512).
    """
    return jax.default_backend() != "cpu"


NARROW_INPUT = 8
"""Input widths up to which a step computes ``[x, h] @ [wx; wh]`` as one matmul."""


def affine_input(hoist: bool | None):
    """``(project, preactivation)`` for cells whose step needs ``x @ wx + h @ wh + b``.

    ``preactivation(params, u, h, columns)`` is ``(x @ wx + b + h @ wh)[columns]``
    (``h`` None: without the ``h @ wh`` term). With ``hoist`` the input map is applied
    to the whole sequence in ``project`` (one big matmul); without, ``project`` is the
    identity and the step computes the map; for inputs of at most ``NARROW_INPUT``
    (e.g. small embeddings) as one matmul ``[x, h] @ [wx; wh]``. Measured on XLA:CPU
    (BUILD_NOTES "Cells"): with embedding 3 and hidden 10 one matmul makes the train
    step 1.1-1.3x faster, with inputs of 10 or 128 it is slower (GRU 0.74x at 10, LSTM
    0.64x at 128).
    """
    if hoist is None:
        hoist = default_hoist()

    def project(params, xs):
        return xs @ params["wx"] + params["b"] if hoist else xs

    def preactivation(params, u, h=None, columns=slice(None)):
        wh = params["wh"][:, columns]
        if hoist:
            return u[columns] if h is None else u[columns] + h @ wh
        wx, b = params["wx"][:, columns], params["b"][columns]
        if h is None:
            return u @ wx + b
        if wx.shape[0] <= NARROW_INPUT:
            return jnp.concatenate([u, h]) @ jnp.concatenate([wx, wh]) + b
        return u @ wx + b + h @ wh

    return project, preactivation


def gated_params(key: Array, input_dim: int, hidden: int, gates: int) -> dict[str, Array]:
    """``wx: [input_dim, gates*hidden]`` (LeCun normal), ``wh: [hidden, gates*hidden]``
    (one orthogonal block per gate), ``b: [gates*hidden]`` (zeros)."""
    if input_dim < 1:
        raise ValueError(f"input_dim must be >= 1, got {input_dim}")
    kx, kh = jax.random.split(key)
    wx = jax.nn.initializers.lecun_normal()(kx, (input_dim, gates * hidden))
    orthogonal = jax.nn.initializers.orthogonal()
    wh = jnp.concatenate([orthogonal(k, (hidden, hidden)) for k in jax.random.split(kh, gates)], axis=1)
    return {"wx": wx, "wh": wh, "b": jnp.zeros((gates * hidden,))}


def check_hidden(hidden: int) -> None:
    if not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
