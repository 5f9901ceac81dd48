"""LSTM (Hochreiter & Schmidhuber 1997, with forget gate, no peepholes), and the doubling LSTM.

    i, f, o = sigmoid(W_{i,f,o} x_t + U_{i,f,o} h_{t-1} + b_{i,f,o})
    g = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.cells.base import (
    LECUN_NORMAL,
    ORTHOGONAL,
    ZEROS,
    Cell,
    Initializer,
    affine_input,
    cast,
    check_hidden,
    default_hoist,
    gated_params,
)

__all__ = ["doubling_lstm", "lstm"]


@builder(resolve={"hoist": default_hoist})
def lstm(hidden: int, *, forget_bias: float = 1.0, hoist: bool | None = None, dtype: Any = None,
         param_dtype: Any = jnp.float32, kernel_init: Initializer = LECUN_NORMAL,
         recurrent_kernel_init: Initializer = ORTHOGONAL, bias_init: Initializer = ZEROS) -> Cell:
    """LSTM cell. Params ``wx: [D, 4H]``, ``wh: [H, 4H]``, ``b: [4H]`` in gate order
    i, f, g, o; state ``(c, h)``, each ``[H]``; output ``h``.

        i, f, o = sigmoid(W_{i,f,o} x_t + U_{i,f,o} h_{t-1} + b_{i,f,o})
        g = tanh(W_g x_t + U_g h_{t-1} + b_g)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    Args:
      hidden: H.
      forget_bias: initial value of the (trainable) forget-gate bias.
      hoist: compute ``W x_t + b`` for all t in ``project`` (True) or in ``step`` (False);
        ``None``: the backend's default (``default_hoist``), resolved when the cell is built.
      dtype: the dtype of the computation (params, inputs and state are cast to it);
        None: as the params and inputs promote.
      param_dtype: the dtype of the params ``init`` makes.
      kernel_init: initialiser of ``wx`` (``(key, shape, dtype) -> array``); LeCun normal.
      recurrent_kernel_init: initialiser of each gate's ``[H, H]`` block of ``wh``; orthogonal.
      bias_init: initialiser of ``b``, before the forget bias is set; zeros.
    """
    inits = (param_dtype, kernel_init, recurrent_kernel_init, bias_init)
    return _gated_cell(f"lstm({hidden}, hoist={hoist})", hidden, (forget_bias,), hoist, dtype, inits)


@builder(resolve={"hoist": default_hoist})
def doubling_lstm(hidden: int, *, forget_bias: float = 1.0, second_forget_bias: float = -3.0,
                  hoist: bool | None = None, dtype: Any = None, param_dtype: Any = jnp.float32,
                  kernel_init: Initializer = LECUN_NORMAL, recurrent_kernel_init: Initializer = ORTHOGONAL,
                  bias_init: Initializer = ZEROS) -> Cell:
    """LSTM whose forget gate is a sum of two sigmoids, ``f = sigmoid(a) + sigmoid(b)`` in (0, 2):
    the cell can reset (f ~ 0), keep (1), halve (1/2) or double (~2) its value.

    Params ``wx: [D, 5H]``, ``wh: [H, 5H]``, ``b: [5H]`` in gate order i, f1, f2, g, o.
    ``second_forget_bias`` starts the second sigmoid near 0, so at initialisation
    the cell behaves like an LSTM with forget bias ``forget_bias``. The other
    arguments are ``lstm``'s.
    """
    inits = (param_dtype, kernel_init, recurrent_kernel_init, bias_init)
    return _gated_cell(f"doubling-lstm({hidden}, hoist={hoist})", hidden, (forget_bias, second_forget_bias), hoist,
                       dtype, inits)


def _gated_cell(name: str, hidden: int, forget_biases: tuple[float, ...], hoist: bool, dtype: Any,
                inits: tuple) -> Cell:
    """LSTM with ``len(forget_biases)`` forget sigmoids summed into f."""
    check_hidden(hidden)
    project, preactivation = affine_input(hoist, dtype)
    forgets = len(forget_biases)
    gates = 3 + forgets

    def init(key, input_dim):
        params = gated_params(key, input_dim, hidden, gates, *inits)
        for k, bias in enumerate(forget_biases, start=1):
            params["b"] = params["b"].at[k * hidden : (k + 1) * hidden].set(bias)
        return params

    def initial_state(params):
        zeros = jnp.zeros((hidden,), dtype or params["wh"].dtype)
        return zeros, zeros

    def step(params, state, u):
        c, h = cast(state, dtype)
        z = jnp.split(preactivation(params, u, h), gates)
        i, f, g, o = z[0], sum(jax.nn.sigmoid(x) for x in z[1 : 1 + forgets]), z[-2], z[-1]
        c = f * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    return Cell(name, hidden, init, initial_state, project, step, input_dim=lambda params: params["wx"].shape[0])
