"""Saturated networks (Merrill 2019): the limit of a cell whose parameters are scaled by N -> inf.

Scaling every weight and bias by N drives sigmoid/tanh gates to step
functions (0/1, -1/+1) wherever their pre-activation is not exactly 0. A
saturated GRU or tanh Elman network then has finitely many reachable states;
a saturated LSTM's cell ``c = f c + i g`` can still add +-1 per step, so it
counts without bound.
"""

from __future__ import annotations

import jax

from rnnjax.cells.base import Cell, Params

__all__ = ["saturate"]


def saturate(cell: Cell, params: Params, n: float) -> Params:
    """``params`` with every leaf multiplied by ``n`` (``cell`` names what they belong to)."""
    if not n > 0:
        raise ValueError(f"saturation factor must be > 0, got {n}")
    del cell  # every parameter of every cell here is a weight or a bias: all scale
    return jax.tree_util.tree_map(lambda p: n * p, params)
