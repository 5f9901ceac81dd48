"""LSTM (Hochreiter & Schmidhuber 1997, with forget gate, no peepholes).

    i, f, o = sigmoid(W_{i,f,o} x_t + U_{i,f,o} h_{t-1} + b_{i,f,o})
    g = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, affine_input, check_hidden, gated_params

GATES = ("i", "f", "g", "o")


def lstm(hidden: int, *, forget_bias: float = 1.0, hoist: bool | None = None) -> Cell:
    """LSTM cell. Params ``wx: [D, 4H]``, ``wh: [H, 4H]``, ``b: [4H]`` in gate order
    i, f, g, o; state ``(c, h)``, each ``[H]``; output ``h``.

    Args:
      hidden: H.
      forget_bias: initial value of the (trainable) forget-gate bias.
      hoist: compute ``W x_t + b`` for all t in ``project``; ``None`` = backend default.
    """
    check_hidden(hidden)
    project, preactivation = affine_input(hoist)

    def init(key, input_dim):
        params = gated_params(key, input_dim, hidden, gates=4)
        params["b"] = params["b"].at[hidden : 2 * hidden].set(forget_bias)
        return params

    def initial_state(params):
        zeros = jnp.zeros((hidden,), params["wh"].dtype)
        return zeros, zeros

    def step(params, state, u):
        c, h = state
        z = preactivation(params, u) + h @ params["wh"]
        i, f, g, o = jnp.split(z, 4)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    return Cell(f"lstm({hidden})", hidden, init, initial_state, project, step)
