"""GRU (Cho et al. 2014).

    r = sigmoid(W_r x_t + U_r h_{t-1} + b_r)
    z = sigmoid(W_z x_t + U_z h_{t-1} + b_z)
    n = tanh(W_n x_t + U_n (r * h_{t-1}) + b_n)     reset="before" (Cho et al. 2014)
    n = tanh(W_n x_t + r * (U_n h_{t-1}) + b_n)     reset="after"  (cuDNN, flax, PyTorch)
    h_t = z * h_{t-1} + (1 - z) * n
"""

from __future__ import annotations

import typing
from typing import Literal

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, affine_input, check_hidden, gated_params

Reset = Literal["before", "after"]
RESETS = typing.get_args(Reset)


def gru(hidden: int, *, reset: Reset = "before", hoist: bool | None = None) -> Cell:
    """GRU cell. Params ``wx: [D, 3H]``, ``wh: [H, 3H]``, ``b: [3H]`` in gate order
    r, z, n (the layout of flax's ``nnx.GRUCell``); state and output ``h: [H]``.

    Args:
      hidden: H.
      reset: where the reset gate applies, ``"before"`` or ``"after"`` ``U_n`` (see module).
      hoist: compute ``W x_t + b`` for all t in ``project``; ``None`` = backend default.
    """
    check_hidden(hidden)
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    project, preactivation = affine_input(hoist)

    def init(key, input_dim):
        return gated_params(key, input_dim, hidden, gates=3)

    def initial_state(params):
        return jnp.zeros((hidden,), params["wh"].dtype)

    def step(params, h, u):
        if reset == "before":
            r, z = jnp.split(jax.nn.sigmoid(preactivation(params, u, h, slice(0, 2 * hidden))), 2)
            n = jnp.tanh(preactivation(params, u, r * h, slice(2 * hidden, None)))
        else:
            xr, xz, xn = jnp.split(preactivation(params, u), 3)
            hr, hz, hn = jnp.split(h @ params["wh"], 3)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
        h = z * h + (1.0 - z) * n
        return h, h

    return Cell(f"gru-{reset}({hidden})", hidden, init, initial_state, project, step)
