"""LSTM (Hochreiter & Schmidhuber 1997, with forget gate, no peepholes), and the doubling LSTM.

    i, f, o = sigmoid(W_{i,f,o} x_t + U_{i,f,o} h_{t-1} + b_{i,f,o})
    g = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, affine_input, check_hidden, gated_params


def lstm(hidden: int, *, forget_bias: float = 1.0, hoist: bool | None = None) -> Cell:
    """LSTM cell. Params ``wx: [D, 4H]``, ``wh: [H, 4H]``, ``b: [4H]`` in gate order
    i, f, g, o; state ``(c, h)``, each ``[H]``; output ``h``.

    Args:
      hidden: H.
      forget_bias: initial value of the (trainable) forget-gate bias.
      hoist: compute ``W x_t + b`` for all t in ``project``; ``None`` = backend default.
    """
    return _gated_cell(f"lstm({hidden})", hidden, (forget_bias,), hoist)


def doubling_lstm(
    hidden: int, *, forget_bias: float = 1.0, second_forget_bias: float = -3.0, hoist: bool | None = None
) -> Cell:
    """LSTM whose forget gate is a sum of two sigmoids, ``f = sigmoid(a) + sigmoid(b)`` in (0, 2):
    the cell can reset (f ~ 0), keep (1), halve (1/2) or double (~2) its value.

    Params ``wx: [D, 5H]``, ``wh: [H, 5H]``, ``b: [5H]`` in gate order i, f1, f2, g, o.
    ``second_forget_bias`` starts the second sigmoid near 0, so at initialisation
    the cell behaves like an LSTM with forget bias ``forget_bias``.
    """
    return _gated_cell(f"doubling-lstm({hidden})", hidden, (forget_bias, second_forget_bias), hoist)


def _gated_cell(name: str, hidden: int, forget_biases: tuple[float, ...], hoist: bool | None) -> Cell:
    """LSTM with ``len(forget_biases)`` forget sigmoids summed into f."""
    check_hidden(hidden)
    project, preactivation = affine_input(hoist)
    forgets = len(forget_biases)
    gates = 3 + forgets

    def init(key, input_dim):
        params = gated_params(key, input_dim, hidden, gates=gates)
        for k, bias in enumerate(forget_biases, start=1):
            params["b"] = params["b"].at[k * hidden : (k + 1) * hidden].set(bias)
        return params

    def initial_state(params):
        zeros = jnp.zeros((hidden,), params["wh"].dtype)
        return zeros, zeros

    def step(params, state, u):
        c, h = state
        z = jnp.split(preactivation(params, u, h), gates)
        i, f, g, o = z[0], sum(jax.nn.sigmoid(x) for x in z[1 : 1 + forgets]), z[-2], z[-1]
        c = f * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    return Cell(name, hidden, init, initial_state, project, step)
