"""flax.nnx Modules around rnnjax Cells, for putting any cell into a flax model (``pip install 'rnnjax[nnx]'``).

A module holds the functional cell (static) and its params as one ``nnx.Param``
per array leaf, in the params' own tree (``module.weights``); ``module.params``
is that tree as plain arrays, for the functional API. Leading batch dims of the
inputs are vmapped, so the modules take batched or unbatched inputs:

    from flax import nnx
    import optax
    from rnnjax import cells, memory, nnx as rnnx

    class Tagger(nnx.Module):
        def __init__(self, vocab, rngs):
            self.embed = nnx.Embed(vocab, 8, rngs=rngs)
            cell = memory.augment(cells.lstm(16), memory.stack(4), capacity=64)
            self.rnn = rnnx.RNN(cell, 8, rngs=rngs)
            self.readout = nnx.Linear(self.rnn.cell.output_dim, vocab, rngs=rngs)

        def __call__(self, tokens, lengths=None):     # [B, T] -> logits [B, T, vocab]
            return self.readout(self.rnn(self.embed(tokens), lengths=lengths))

    model = Tagger(4, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

    step = rnnx.Cell(cells.lstm(16), 8, rngs=nnx.Rngs(0))   # one step at a time
    state = step.initial_state((32,))
    state, y = step(state, x)                        # x: [32, 8] -> y: [32, 16]

The params are ``cell.init(rngs.params(), input_dim)``: one key drawn from the
``params`` stream at construction, so ``RNN(cell, D, rngs=nnx.Rngs(params=k))``
has the params ``cell.init(nnx.Rngs(params=k).params(), D)``.

Cells that sample (``Cell.seed``: a memory with hard addressing) draw their choices
from the ``"sample"`` stream of the ``rngs`` given at construction (or its default
stream), a new key on every call, like ``nnx.Dropout``; ``key=`` on the call takes
that key instead, and ``deterministic=True`` (or ``model.eval()``) takes the mode of
each choice:

    cell = memory.augment(cells.lstm(16), memory.ntm(8, 4, addressing="hard"), capacity=64)
    rnn = rnnx.RNN(cell, 8, rngs=nnx.Rngs(params=0, sample=1))
    final, ys = rnn(xs, return_state=True)           # sampled; rnn.log_prob(final): [B]
    ys = rnn(xs, deterministic=True)                 # the mode of every choice
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from rnnjax.cells import base

try:
    from flax import nnx
except ImportError as error:  # the light core has no flax
    raise ImportError("rnnjax.nnx needs flax: pip install 'rnnjax[nnx]'") from error

__all__ = ["RNN", "Cell"]


def _vmapped(f, batch_dims: int):
    """``f`` vmapped over ``batch_dims`` leading axes of every argument."""
    for _ in range(batch_dims):
        f = jax.vmap(f)
    return f


def _split(key: jax.Array, batch_shape: tuple[int, ...]) -> jax.Array:
    """One key per example, ``[*batch_shape]`` (a key given as raw ``uint32`` data is wrapped first)."""
    if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)
    return jax.random.split(key, math.prod(batch_shape)).reshape(batch_shape)


class _CellModule(nnx.Module):
    """The functional ``cell`` (static) with its params as ``nnx.Param`` leaves in ``weights``."""

    def __init__(self, cell: base.Cell, input_dim: int, *, rngs: nnx.Rngs, deterministic: bool = False,
                 rng_collection: str = "sample"):
        if not isinstance(cell, base.Cell):
            raise ValueError(f"{type(self).__name__} wraps an rnnjax Cell, got {type(cell).__name__}")
        self.cell = cell
        self.input_dim = input_dim
        self.deterministic = deterministic
        self.rng_collection = rng_collection
        self.weights = nnx.data(jax.tree_util.tree_map(nnx.Param, cell.init(rngs.params(), input_dim)))
        self.rngs = rngs[rng_collection].fork() if cell.seed is not None else nnx.data(None)

    @property
    def params(self) -> base.Params:
        """The cell's params as plain arrays, in the tree of ``cell.init``."""
        return nnx.as_pure(self.weights)

    def initial_state(self, batch_shape: int | tuple[int, ...] = (), *, key: jax.Array | None = None) -> base.State:
        """``cell.initial_state(params)`` with every leaf broadcast to ``[*batch_shape, ...]``;
        with ``key`` (a sampling cell), each example's state seeded with its own key from it."""
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        state = self.cell.initial_state(self.params)
        state = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (*batch_shape, *jnp.shape(a))), state)
        if key is None:
            return state
        self._check_samples()
        seed = _vmapped(lambda s, k: self.cell.seed(self.params, s, k), len(batch_shape))
        return seed(state, _split(key, batch_shape))

    def log_prob(self, state: base.State) -> jax.Array:
        """The log-probability of the choices drawn since each example's state was seeded:
        ``state`` with batch dims ``[...]`` -> ``[...]``."""
        self._check_samples()
        return _vmapped(self.cell.log_prob, jnp.ndim(jax.tree_util.tree_leaves(state)[0]) - jnp.ndim(
            jax.tree_util.tree_leaves(self.cell.initial_state(self.params))[0]))(state)

    def _check_samples(self) -> None:
        if self.cell.seed is None:
            raise ValueError(f"{self.cell.name} draws no samples (it has no Cell.seed)")

    def _key(self, key: jax.Array | None, deterministic: bool | None) -> jax.Array | None:
        """The key a sampling cell draws from on this call, or None for the mode of each choice."""
        if self.cell.seed is None:
            if key is not None:
                raise ValueError(f"key: {self.cell.name} draws no samples (it has no Cell.seed)")
            return None
        if key is not None:
            return key
        if self.deterministic if deterministic is None else deterministic:
            return None
        if self.rngs is None:
            raise ValueError(f"{self.cell.name} samples: build the module with rngs, pass key=, or "
                             "deterministic=True for the mode of each choice")
        return self.rngs()


class Cell(_CellModule):
    """One step of ``cell``: ``Cell(cell, input_dim, rngs=rngs)(state, x) -> (state, y)``.

    ``x: [..., input_dim]``, ``y: [..., output_dim]``; ``state`` has the same
    leading dims (see ``initial_state``; a sampling cell's state draws from the key
    given to ``initial_state(..., key=)``).
    """

    def __call__(self, state: base.State, x: base.Array) -> tuple[base.State, base.Array]:
        params = self.params
        return _vmapped(lambda s, x_t: self.cell(params, s, x_t), x.ndim - 1)(state, x)


class RNN(_CellModule):
    """``cell`` over whole sequences with ``rnnjax.scan`` (a cell's ``sequence`` path when it has one).

    ``RNN(cell, input_dim, rngs=rngs)(xs)`` maps ``xs: [..., T, input_dim]`` to
    ``ys: [..., T, output_dim]``.

    Args of the call:
      state: the state to start from, with the leading dims of ``xs`` (default: the
        initial state; a sampling cell's state passed in keeps drawing where it was).
      lengths: ``int[...]``, each sequence's number of steps (as flax's ``seq_lengths``):
        past it the state is frozen and ``ys`` are zero.
      key: a sampling cell draws from this key (split per sequence) instead of the
        module's ``rngs``.
      deterministic: overrides the module's ``deterministic`` (True: the mode of each choice).
      return_state: return ``(final_state, ys)``.
    """

    def __call__(self, xs: base.Array, state: base.State | None = None, *, lengths: base.Array | None = None,
                 key: jax.Array | None = None, deterministic: bool | None = None,
                 return_state: bool = False) -> base.Array | tuple[base.State, base.Array]:
        if jnp.ndim(xs) < 2:
            raise ValueError(f"RNN takes xs: [..., T, {self.input_dim}], got shape {jnp.shape(xs)}")
        batch_shape = xs.shape[:-2]
        if lengths is not None and jnp.shape(lengths) != batch_shape:
            raise ValueError(f"lengths must have the batch shape of xs {batch_shape} (one length per sequence), "
                             f"got shape {jnp.shape(lengths)}")
        key = self._key(key, deterministic) if state is None or key is not None else None
        keys = None if key is None else _split(key, batch_shape)
        params, cell = self.params, self.cell

        def run(xs_, s, length, k):
            if k is not None:
                s = cell.seed(params, cell.initial_state(params) if s is None else s, k)
            return base.scan(cell, params, xs_, s, length=length)

        final_state, ys = _vmapped(run, len(batch_shape))(xs, state, lengths, keys)
        return (final_state, ys) if return_state else ys
