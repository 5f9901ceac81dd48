"""Elman RNN: ``h_t = act(W x_t + U h_{t-1} + b)``, ``y_t = h_t``."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, affine_input, check_hidden, gated_params


def saturated_linear(x: jax.Array) -> jax.Array:
    """The Siegelmann–Sontag sigma: ``clip(x, 0, 1)``."""
    return jnp.clip(x, 0.0, 1.0)


Activation = Literal["tanh", "relu", "saturated"]
ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "saturated": saturated_linear}


def elman(hidden: int, activation: Activation = "tanh", *, identity_init: bool = False,
          hoist: bool | None = None) -> Cell:
    """Elman cell. Params ``wx: [D, H]``, ``wh: [H, H]``, ``b: [H]``; state ``h: [H]``.

    Args:
      hidden: H.
      activation: ``"tanh"``, ``"relu"`` or ``"saturated"`` (``clip(x, 0, 1)``).
      identity_init: ``wh`` starts at the identity and ``b`` at zero (with ``"relu"``:
        the IRNN of Le, Jaitly & Hinton 2015).
      hoist: compute ``W x_t + b`` for all t in ``project``; ``None`` = backend default.
    """
    check_hidden(hidden)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    act = ACTIVATIONS[activation]
    project, preactivation = affine_input(hoist)

    def init(key, input_dim):
        params = gated_params(key, input_dim, hidden, gates=1)
        if identity_init:
            params = {**params, "wh": jnp.eye(hidden, dtype=params["wh"].dtype), "b": jnp.zeros_like(params["b"])}
        return params

    def initial_state(params):
        return jnp.zeros((hidden,), params["wh"].dtype)

    def step(params, h, u):
        h = act(preactivation(params, u, h))
        return h, h

    name = f"elman-{activation}({hidden}{', identity init' if identity_init else ''})"
    return Cell(name, hidden, init, initial_state, project, step)
