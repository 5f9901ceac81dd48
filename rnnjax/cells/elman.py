"""Elman RNN: ``h_t = act(W x_t + U h_{t-1} + b)``, ``y_t = h_t``."""

from __future__ import annotations

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

__all__ = ["ACTIVATIONS", "Activation", "elman", "saturated_linear"]


def saturated_linear(x: jax.Array) -> jax.Array:
    """The Siegelmann–Sontag sigma: ``clip(x, 0, 1)``."""
    return jnp.clip(x, 0.0, 1.0)


Activation = Literal["tanh", "relu", "saturated"]
ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "saturated": saturated_linear}


@builder(resolve={"hoist": default_hoist})
def elman(hidden: int, activation: Activation = "tanh", *, identity_init: bool = False, hoist: bool | None = None,
          dtype: Any = None, param_dtype: Any = jnp.float32, kernel_init: Initializer = LECUN_NORMAL,
          recurrent_kernel_init: Initializer = ORTHOGONAL, bias_init: Initializer = ZEROS) -> Cell:
    """Elman cell, ``h_t = act(W x_t + U h_{t-1} + b)``. Params ``wx: [D, H]``, ``wh: [H, H]``,
    ``b: [H]``; state and output ``h: [H]``.

    Args:
      hidden: H.
      activation: ``"tanh"``, ``"relu"`` or ``"saturated"`` (``clip(x, 0, 1)``).
      identity_init: ``wh`` starts at the identity and ``b`` at zero (with ``"relu"``:
        the IRNN of Le, Jaitly & Hinton 2015).
      hoist: compute ``W x_t + b`` for all t in ``project`` (True) or in ``step`` (False);
        ``None``: the backend's default (``default_hoist``), resolved when the cell is built.
      dtype: the dtype of the computation (params, inputs and state are cast to it);
        None: as the params and inputs promote.
      param_dtype: the dtype of the params ``init`` makes.
      kernel_init: initialiser of ``wx`` (``(key, shape, dtype) -> array``); LeCun normal.
      recurrent_kernel_init: initialiser of ``wh``; orthogonal.
      bias_init: initialiser of ``b``; zeros.
    """
    check_hidden(hidden)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    act = ACTIVATIONS[activation]
    project, preactivation = affine_input(hoist, dtype)

    def init(key, input_dim):
        params = gated_params(key, input_dim, hidden, 1, param_dtype, kernel_init, recurrent_kernel_init, bias_init)
        if identity_init:
            params = {**params, "wh": jnp.eye(hidden, dtype=params["wh"].dtype), "b": jnp.zeros_like(params["b"])}
        return params

    def initial_state(params):
        return jnp.zeros((hidden,), dtype or params["wh"].dtype)

    def step(params, h, u):
        h = act(preactivation(params, u, cast(h, dtype)))
        return h, h

    name = f"elman-{activation}({hidden}{', identity init' if identity_init else ''}, hoist={hoist})"
    return Cell(name, hidden, init, initial_state, project, step, input_dim=lambda params: params["wx"].shape[0])
