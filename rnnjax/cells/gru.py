"""GRU (Cho et al. 2014).

    r = sigmoid(W_r x_t + U_r h_{t-1} + b_r)
    z = sigmoid(W_z x_t + U_z h_{t-1} + b_z)
    n = tanh(W_n x_t + U_n (r * h_{t-1}) + b_n)     reset="before" (Cho et al. 2014)
    n = tanh(W_n x_t + r * (U_n h_{t-1}) + b_n)     reset="after"  (flax.nnx.GRUCell)
    h_t = z * h_{t-1} + (1 - z) * n
"""

from __future__ import annotations

import typing
from typing import Any, Literal

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

__all__ = ["RESETS", "Reset", "gru"]

Reset = Literal["before", "after"]
RESETS = typing.get_args(Reset)


@builder(resolve={"hoist": default_hoist})
def gru(hidden: int, *, reset: Reset = "before", hoist: bool | None = None, dtype: Any = None,
        param_dtype: Any = jnp.float32, kernel_init: Initializer = LECUN_NORMAL,
        recurrent_kernel_init: Initializer = ORTHOGONAL, bias_init: Initializer = ZEROS) -> Cell:
    """GRU cell. Params ``wx: [D, 3H]``, ``wh: [H, 3H]``, ``b: [3H]`` in gate order r, z, n;
    state and output ``h: [H]``.

        r = sigmoid(W_r x_t + U_r h_{t-1} + b_r)
        z = sigmoid(W_z x_t + U_z h_{t-1} + b_z)
        n = tanh(W_n x_t + U_n (r * h_{t-1}) + b_n)     reset="before"
        n = tanh(W_n x_t + r * (U_n h_{t-1}) + b_n)     reset="after"
        h_t = z * h_{t-1} + (1 - z) * n

    Which reset is whose: ``"before"`` is Cho et al. 2014 (and Keras' ``GRU(reset_after=False)``).
    ``"after"`` is ``flax.nnx.GRUCell`` exactly, with the same parameters (``wx`` its
    ``dense_i.kernel``, ``b`` its ``dense_i.bias``, ``wh`` its ``dense_h.kernel``).
    ``torch.nn.GRU`` (cuDNN) and ``flax.linen.GRUCell`` also reset after ``U_n`` but add a
    second bias inside the product, ``r * (U_n h + b_hn)``: they equal ``reset="after"``
    when ``b_hn`` is 0 (linen's starts at 0, torch's does not), with ``b`` = torch's
    ``b_ih + b_hh`` for r and z and ``b_ih`` for n.

    Args:
      hidden: H.
      reset: where the reset gate applies, ``"before"`` or ``"after"`` ``U_n``.
      hoist: compute ``W x_t + b`` for all t in ``project`` (True) or in ``step`` (False);
        ``None``: the backend's default (``default_hoist``), resolved when the cell is built.
      dtype: the dtype of the computation (params, inputs and state are cast to it);
        None: as the params and inputs promote.
      param_dtype: the dtype of the params ``init`` makes.
      kernel_init: initialiser of ``wx`` (``(key, shape, dtype) -> array``); LeCun normal.
      recurrent_kernel_init: initialiser of each gate's ``[H, H]`` block of ``wh``; orthogonal.
      bias_init: initialiser of ``b``; zeros.
    """
    check_hidden(hidden)
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    project, preactivation = affine_input(hoist, dtype)

    def init(key, input_dim):
        return gated_params(key, input_dim, hidden, 3, param_dtype, kernel_init, recurrent_kernel_init, bias_init)

    def initial_state(params):
        return jnp.zeros((hidden,), dtype or params["wh"].dtype)

    def step(params, h, u):
        h = cast(h, dtype)
        if reset == "before":
            r, z = jnp.split(jax.nn.sigmoid(preactivation(params, u, h, slice(0, 2 * hidden))), 2)
            n = jnp.tanh(preactivation(params, u, r * h, slice(2 * hidden, None)))
        else:
            xr, xz, xn = jnp.split(preactivation(params, u), 3)
            hr, hz, hn = jnp.split(h @ cast(params["wh"], dtype), 3)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
        h = z * h + (1.0 - z) * n
        return h, h

    return Cell(f"gru-{reset}({hidden}, hoist={hoist})", hidden, init, initial_state, project, step,
                input_dim=lambda params: params["wx"].shape[0])
