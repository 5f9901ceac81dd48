"""The Cell protocol, running a cell over time, and cells in layers.

A cell is a bundle of pure functions over pytrees for ONE sequence (batch with
``jax.vmap``, or use ``rnnjax.nnx.RNN``); hyper-parameters are fixed when the cell
is built:

    cell = rnnjax.cells.lstm(64)
    params = cell.init(key, input_dim)
    state = cell.initial_state(params)
    state, y = cell(params, state, x_t)          # one step on a raw input x_t: [input_dim] -> y: [64]
    final, ys = rnnjax.scan(cell, params, xs)     # xs: [T, input_dim] -> ys: [T, 64]

Underneath ``cell(...)`` is the low-level pair ``project`` (the work that does not
depend on the state, done for the whole sequence at once) and ``step`` (the rest):

    us = cell.project(params, xs)                 # xs: [T, input_dim] -> us: [T, ...]
    state, y = cell.step(params, state, us[t])    # us[t] is NOT x_t when the cell hoists
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from rnnjax.builders import Built, Call, builder

__all__ = [
    "LECUN_NORMAL",
    "ORTHOGONAL",
    "ZEROS",
    "Array",
    "Cell",
    "Initializer",
    "Params",
    "State",
    "default_hoist",
    "initialise",
    "layers",
    "scan",
    "trace",
]

Params = Any
State = Any
Array = jax.Array
Initializer = Callable[..., Array]
"""``(key, shape, dtype) -> array``, as in ``jax.nn.initializers``."""

LECUN_NORMAL: Initializer = jax.nn.initializers.lecun_normal()
ORTHOGONAL: Initializer = jax.nn.initializers.orthogonal()
ZEROS: Initializer = jax.nn.initializers.zeros


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Cell(Built):
    """A recurrent cell as pure functions over pytrees, for one sequence (``rnnjax.cells.base``).

    Cells made by a builder (``rnnjax.cells.lstm(8)``, ``rnnjax.memory.augment(...)``)
    are values: equal and hashable when built with the same arguments, picklable,
    usable as static arguments of ``jax.jit`` (``rnnjax.builders``).

    Attributes:
      name: short description, e.g. ``"lstm(10, hoist=False)"``.
      output_dim: size of ``y``.
      init: ``(key, input_dim) -> params``.
      initial_state: ``params -> state``.
      project: ``(params, xs: [T, input_dim]) -> us: [T, ...]``, time-parallel.
      step: ``(params, state, u_t) -> (state, y_t: [output_dim])`` on ``u_t = project(params, xs)[t]``.
      sequence: optional whole-sequence path ``(params, state, xs, length) -> (state, ys)``
        equal to scanning ``step`` (e.g. an associative scan of a linear recurrence);
        ``rnnjax.scan`` uses it when present. ``state`` None means the initial state,
        which a cell may exploit (a memory whose buffer grows block by block); ``length``
        None means all of ``xs``, else the state stays as it is after ``length`` steps
        and ``ys`` are zero from there on.
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
      input_dim: optional ``params -> int``, the input width the params were built for
        (checked by ``cell(...)``, ``rnnjax.scan`` and ``rnnjax.trace`` before tracing).
      built_by: the builder call that made the cell (set by ``@rnnjax.builders.builder``).
    """

    name: str
    output_dim: int
    init: Callable[[Array, int], Params]
    initial_state: Callable[[Params], State]
    project: Callable[[Params, Array], Array]
    step: Callable[[Params, State, Array], tuple[State, Array]]
    sequence: Callable[[Params, State, Array, Array | None], tuple[State, Array]] | None = None
    remat_block: int | None = None
    condition: Callable[[Params, State, Array], State] | None = None
    seed: Callable[[Params, State, Array], State] | None = None
    log_prob: Callable[[State], Array] | None = None
    input_dim: Callable[[Params], int] | None = None
    built_by: Call | None = None

    def __call__(self, params: Params, state: State, x: Array) -> tuple[State, Array]:
        """One step on a raw input ``x: [input_dim]``: ``project`` then ``step``; returns
        ``(state, y: [output_dim])``, whatever the cell hoists."""
        _check_inputs(self, params, x, "cell(params, state, x)", "x", rank=1)
        return self.step(params, state, self.project(params, x[None])[0])


def scan(cell: Cell, params: Params, xs: Array, state: State | None = None, *, length: int | Array | None = None,
         unroll: int = 1) -> tuple[State, Array]:
    """Runs ``cell`` over one sequence ``xs: [T, input_dim]``; returns ``(final_state, ys: [T, output_dim])``.

    ``state`` defaults to ``cell.initial_state(params)``; pass a final state back in to
    process a long sequence in chunks. ``length`` (an int or a traced scalar, at most T):
    only the first ``length`` steps count; the state is frozen after them and ``ys`` are
    zero from there on, so a padded sequence gives what its first ``length`` inputs give
    alone. For a batch, ``jax.vmap`` over ``xs`` and ``length`` (or use ``rnnjax.nnx.RNN``).
    Uses ``cell.sequence`` when the cell has one, else ``lax.scan`` of ``step`` over
    ``project``.
    """
    _check_inputs(cell, params, xs, "rnnjax.scan(cell, params, xs)", "xs", rank=2)
    _check_length(length, xs.shape[0])
    if cell.sequence is not None:
        return cell.sequence(params, state, xs, length)
    if state is None:
        state = cell.initial_state(params)
    step, us = masked(lambda s, u: cell.step(params, s, u), cell.project(params, xs), length)
    return scan_steps(step, state, us, unroll, cell.remat_block)


def trace(cell: Cell, params: Params, xs: Array, state: State | None = None, *,
          length: int | Array | None = None) -> State:
    """Every state along ``xs: [T, input_dim]``: the state pytree with a leading ``[T]`` axis.
    With ``length``, the states from step ``length`` on are the state after it (frozen)."""
    _check_inputs(cell, params, xs, "rnnjax.trace(cell, params, xs)", "xs", rank=2)
    _check_length(length, xs.shape[0])
    if state is None:
        state = cell.initial_state(params)
    step, us = masked(lambda s, u: cell.step(params, s, u), cell.project(params, xs), length)

    def keep_state(s, u):
        s, _ = step(s, u)
        return s, s

    return jax.lax.scan(keep_state, state, us)[1]


def masked(step: Callable, us: Any, length: int | Array | None) -> tuple[Callable, Any]:
    """``(step', us')`` to scan instead of ``(step, us)``: from step ``length`` on, ``step'``
    keeps the state and emits zeros; ``length`` None: ``(step, us)`` unchanged."""
    if length is None:
        return step, us
    steps = jax.tree_util.tree_leaves(us)[0]
    return freezing(step), (us, (jnp.arange(steps.shape[0]) < length).astype(steps.dtype))


def freezing(step: Callable) -> Callable:
    """``step`` over ``(u_t, alive_t)``: where ``alive_t`` is 0 the state stays and ``y`` is 0.
    ``alive`` is a float (the inputs' dtype), so a ``custom_vjp`` over blocks of steps needs
    no integer cotangents."""

    def live_step(state, u_alive):
        u, alive = u_alive
        alive = alive > 0
        new_state, y = step(state, u)
        kept = jax.tree_util.tree_map(lambda new, old: jnp.where(alive, new, old), new_state, state)
        return kept, jax.tree_util.tree_map(lambda a: jnp.where(alive, a, jnp.zeros_like(a)), y)

    return live_step


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


@builder
def layers(*cells: Cell) -> Cell:
    """Layers ``cells[0] -> cells[1] -> ...`` as one Cell.

    Params and state are tuples with one entry per layer; ``y`` is the last
    layer's output. Only the first layer's ``project`` is time-parallel: the
    inputs of later layers are produced step by step.
    """
    if not cells:
        raise ValueError("layers() needs at least one cell")
    for cell in cells:
        if not isinstance(cell, Cell):
            raise ValueError(f"layers() takes Cells, got {cell!r} ({type(cell).__name__}); e.g. "
                             "rnnjax.layers(rnnjax.cells.lstm(8), rnnjax.cells.gru(8))")

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

    def sequence(params, state, xs, length):
        """Layer by layer, when every layer has a whole-sequence path."""
        new_state = []
        for cell, p, s in zip(cells, params, state or (None,) * len(cells)):
            s, xs = cell.sequence(p, s, xs, length)
            new_state.append(s)
        return tuple(new_state), xs

    def condition(params, state, length):
        return tuple(s if c.condition is None else c.condition(p, s, length) for c, p, s in zip(cells, params, state))

    def seed(params, state, key):
        keys = jax.random.split(key, len(cells))
        return tuple(s if c.seed is None else c.seed(p, s, k) for c, p, s, k in zip(cells, params, state, keys))

    def log_prob(state):
        return sum(c.log_prob(s) for c, s in zip(cells, state) if c.log_prob is not None)

    def input_dim(params):
        return None if cells[0].input_dim is None else cells[0].input_dim(params[0])

    name = " -> ".join(c.name for c in cells)
    layerwise = sequence if all(c.sequence is not None for c in cells) else None
    blocks = [c.remat_block for c in cells if c.remat_block is not None]
    conditioned = condition if any(c.condition is not None for c in cells) else None
    sampling = any(c.seed is not None for c in cells)
    return Cell(name, cells[-1].output_dim, init, initial_state, project, step, layerwise, min(blocks, default=None),
                conditioned, seed if sampling else None, log_prob if sampling else None, input_dim)


def _check_inputs(cell: Cell, params: Params, xs: Array, call: str, what: str, rank: int) -> None:
    """Fails, before anything is traced, where ``xs`` is not ``[T, input_dim]`` (rank 2) or
    ``[input_dim]`` (rank 1) for ``cell``'s params, naming the shape it expected."""
    if not isinstance(cell, Cell):
        raise ValueError(f"{call}: cell must be an rnnjax Cell, got {type(cell).__name__}")
    shape = jnp.shape(xs)
    width = cell.input_dim(params) if cell.input_dim is not None else None
    expected = f"[{'T, ' if rank == 2 else ''}{'input_dim' if width is None else width}]"
    if len(shape) != rank:
        batch = (" For a batch, vmap it (jax.vmap(lambda xs: rnnjax.scan(cell, params, xs))(batch)) or use "
                 "rnnjax.nnx.RNN, which takes [..., T, input_dim]." if rank == 2 else
                 " For a batch, vmap it (jax.vmap(cell, in_axes=(None, 0, 0))(params, states, xs)) or use "
                 "rnnjax.nnx.Cell, which takes [..., input_dim].")
        raise ValueError(f"{call} runs {cell.name} on one sequence: {what} must be {expected}, got shape "
                         f"{tuple(shape)}.{batch}")
    if width is not None and shape[-1] != width:
        raise ValueError(f"{call}: {cell.name}'s params were built for input_dim {width}, so {what} must be "
                         f"{expected}; got shape {tuple(shape)}")


def _check_length(length, steps: int) -> None:
    if length is None:
        return
    if jnp.ndim(length) != 0:
        raise ValueError(f"length is the number of steps of one sequence (a scalar), got shape {jnp.shape(length)}; "
                         "for a batch of lengths vmap over xs and length, or use rnnjax.nnx.RNN(...)(xs, lengths=...)")
    try:
        value = int(length)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError):
        return  # traced: checked where it is a number
    if not 0 <= value <= steps:
        raise ValueError(f"length must be in 0..{steps} (the sequence's steps), got {value}")


def default_hoist() -> bool:
    """Whether the input projection goes in ``project`` on the current backend.

    Measured with ``benchmarks/cells.py`` (figures in BUILD_NOTES.md): on XLA:CPU
    projecting inside ``step`` is faster; on an H200 hoisting makes the LSTM and GRU
    train step 1.07-1.31x faster (hidden 10-512).
    """
    return jax.default_backend() != "cpu"


NARROW_INPUT = 8
"""Input widths up to which a step computes ``[x, h] @ [wx; wh]`` as one matmul."""


def cast(tree: Any, dtype: Any) -> Any:
    """The floating-point leaves of ``tree`` in ``dtype``; ``dtype`` None: ``tree`` as it is."""
    if dtype is None:
        return tree
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def affine_input(hoist: bool, dtype: Any = None):
    """``(project, preactivation)`` for cells whose step needs ``x @ wx + h @ wh + b``.

    ``preactivation(params, u, h, columns)`` is ``(x @ wx + b + h @ wh)[columns]``
    (``h`` None: without the ``h @ wh`` term). With ``hoist`` the input map is applied
    to the whole sequence in ``project`` (one big matmul); without, ``project`` is the
    identity and the step computes the map; for inputs of at most ``NARROW_INPUT``
    (e.g. small embeddings) as one matmul ``[x, h] @ [wx; wh]``. Measured on XLA:CPU
    (BUILD_NOTES "Cells"): with embedding 3 and hidden 10 one matmul makes the train
    step 1.1-1.3x faster, with inputs of 10 or 128 it is slower (GRU 0.74x at 10, LSTM
    0.64x at 128). ``dtype``: the computation's (params and inputs cast to it).
    """

    def project(params, xs):
        if not hoist:
            return xs
        params, xs = cast((params, xs), dtype)
        return xs @ params["wx"] + params["b"]

    def preactivation(params, u, h=None, columns=slice(None)):
        params, u = cast((params, u), dtype)
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


def gated_params(key: Array, input_dim: int, hidden: int, gates: int, param_dtype: Any = jnp.float32,
                 kernel_init: Initializer = LECUN_NORMAL, recurrent_kernel_init: Initializer = ORTHOGONAL,
                 bias_init: Initializer = ZEROS) -> dict[str, Array]:
    """``wx: [input_dim, gates*hidden]`` (``kernel_init``), ``wh: [hidden, gates*hidden]``
    (``recurrent_kernel_init`` of each gate's ``[hidden, hidden]`` block), ``b: [gates*hidden]``
    (``bias_init``), in ``param_dtype``."""
    if input_dim < 1:
        raise ValueError(f"input_dim must be >= 1, got {input_dim}")
    kx, kh = jax.random.split(key)
    wx = initialise(kernel_init, kx, (input_dim, gates * hidden), param_dtype)
    blocks = [initialise(recurrent_kernel_init, k, (hidden, hidden), param_dtype) for k in jax.random.split(kh, gates)]
    b = initialise(bias_init, jax.random.fold_in(key, 2), (gates * hidden,), param_dtype)  # kx, kh as before
    return {"wx": wx, "wh": jnp.concatenate(blocks, axis=1), "b": b}


def initialise(init: Initializer, key: Array, shape: tuple[int, ...], dtype: Any) -> Array:
    """``init(key, shape)`` drawn in at least float32, then cast to ``dtype`` (XLA:CPU has no
    float16 QR decomposition for the orthogonal initialiser)."""
    return init(key, shape, jnp.promote_types(dtype, jnp.float32)).astype(dtype)


def check_hidden(hidden: int) -> None:
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
