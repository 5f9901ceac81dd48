"""flax.nnx Modules around rnnjax Cells, for putting any cell into a flax model.

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

        def __call__(self, tokens):                  # [B, T] -> logits [B, T, vocab]
            return self.readout(self.rnn(self.embed(tokens)))

    model = Tagger(4, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

    step = rnnx.Cell(cells.lstm(16), 8, rngs=nnx.Rngs(0))   # one step at a time
    state = step.initial_state((32,))
    state, y = step(state, x)                        # x: [32, 8] -> y: [32, 16]

The params are ``cell.init(rngs.params(), input_dim)``: one key drawn from the
``params`` stream at construction, so ``RNN(cell, D, rngs=nnx.Rngs(params=k))``
has the params ``cell.init(nnx.Rngs(params=k).params(), D)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rnnjax.cells import base
from rnnjax.cells.base import Array, Params, State

__all__ = ["RNN", "Cell"]


def vmapped(f, batch_dims: int):
    """``f`` vmapped over ``batch_dims`` leading axes of every argument."""
    for _ in range(batch_dims):
        f = jax.vmap(f)
    return f


class _CellModule(nnx.Module):
    """The functional ``cell`` (static) with its params as ``nnx.Param`` leaves in ``weights``."""

    def __init__(self, cell: base.Cell, input_dim: int, *, rngs: nnx.Rngs):
        self.cell = cell
        self.input_dim = input_dim
        self.weights = nnx.data(jax.tree_util.tree_map(nnx.Param, cell.init(rngs.params(), input_dim)))

    @property
    def params(self) -> Params:
        """The cell's params as plain arrays, in the tree of ``cell.init``."""
        return nnx.as_pure(self.weights)

    def initial_state(self, batch_shape: int | tuple[int, ...] = ()) -> State:
        """``cell.initial_state(params)`` with every leaf broadcast to ``[*batch_shape, ...]``."""
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        state = self.cell.initial_state(self.params)
        return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (*batch_shape, *jnp.shape(a))), state)


class Cell(_CellModule):
    """One step of ``cell``: ``Cell(cell, input_dim, rngs=rngs)(state, x) -> (state, y)``.

    ``x: [..., input_dim]``, ``y: [..., output_dim]``; ``state`` has the same
    leading dims (see ``initial_state``).
    """

    def __call__(self, state: State, x: Array) -> tuple[State, Array]:
        params = self.params

        def step(s, x_t):
            return self.cell.step(params, s, self.cell.project(params, x_t[None])[0])

        return vmapped(step, x.ndim - 1)(state, x)


class RNN(_CellModule):
    """``cell`` over whole sequences with ``rnnjax.cells.scan`` (a cell's ``sequence`` path when it has one).

    ``RNN(cell, input_dim, rngs=rngs)(xs)`` maps ``xs: [..., T, input_dim]`` to
    ``ys: [..., T, output_dim]``; ``state`` (default: the initial state) has the
    leading dims of ``xs``, and ``return_state=True`` returns ``(final_state, ys)``.
    """

    def __call__(
        self, xs: Array, state: State | None = None, *, return_state: bool = False
    ) -> Array | tuple[State, Array]:
        params = self.params

        def run(xs_, s):
            return base.scan(self.cell, params, xs_, s)

        final_state, ys = vmapped(run, xs.ndim - 2)(xs, state)
        return (final_state, ys) if return_state else ys
