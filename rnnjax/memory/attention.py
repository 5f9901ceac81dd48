"""Attention over encoder states: a read-only memory for a decoder Cell.

Scores of a query q against keys ``K: [S, k]`` (masked positions get -inf):

    dot       e_i = k_i . (W q)                  (Luong et al. 2015, "general")
    additive  e_i = v . tanh(W_k k_i + W_q q)    (Bahdanau et al. 2015)

and the read is ``r = softmax(e) K``. Two ways to wire it to a decoder cell:

    early fusion   r_t = attend(y_{t-1});  y_t = cell([x_t, r_t])           (read fed to the input)
    late fusion    h_t = cell(x_t);        y_t = [h_t, attend(h_t)]         (read joined to the output)
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from rnnjax.cells.base import Cell, Params

__all__ = ["Fusion", "Score", "attend", "attentive", "init_attention"]

Score = Literal["dot", "additive"]
Fusion = Literal["early", "late"]


def init_attention(key: jax.Array, score: Score, query_dim: int, key_dim: int, hidden: int = 32) -> Params:
    """Params of ``attend``: ``{"w": [query_dim, key_dim]}`` (dot) or ``{"w_q": [query_dim, hidden],
    "w_k": [key_dim, hidden], "v": [hidden]}`` (additive), LeCun normal."""
    init = jax.nn.initializers.lecun_normal()
    if score == "dot":
        return {"w": init(key, (query_dim, key_dim))}
    if score == "additive":
        k_q, k_k, k_v = jax.random.split(key, 3)
        w_q, w_k = init(k_q, (query_dim, hidden)), init(k_k, (key_dim, hidden))
        return {"w_q": w_q, "w_k": w_k, "v": init(k_v, (hidden, 1))[:, 0]}
    raise ValueError(f"score must be 'dot' or 'additive', got {score!r}")


def attend(params: Params, query: jax.Array, keys: jax.Array, mask: jax.Array) -> jax.Array:
    """``query: [q]``, ``keys: [S, k]``, ``mask: bool[S]`` (at least one true) -> read ``[k]``."""
    if "w" in params:
        scores = keys @ (query @ params["w"])
    else:
        scores = jnp.tanh(keys @ params["w_k"] + query @ params["w_q"]) @ params["v"]
    weights = jax.nn.softmax(jnp.where(mask, scores, -jnp.inf))
    return weights @ keys


def attentive(cell: Cell, keys: jax.Array, mask: jax.Array, score: Score = "dot", fusion: Fusion = "late") -> Cell:
    """``cell`` attending over ``keys: [S, k]`` (positions where ``mask`` is true).

    Params ``{"cell", "attention"}``; state ``(cell_state, y_{t-1})``. The keys are
    data, bound here, so build this Cell inside the traced function that has them.
    """
    if score not in ("dot", "additive"):
        raise ValueError(f"score must be 'dot' or 'additive', got {score!r}")
    if fusion not in ("early", "late"):
        raise ValueError(f"fusion must be 'early' or 'late', got {fusion!r}")
    key_dim = keys.shape[-1]
    output_dim = cell.output_dim + key_dim if fusion == "late" else cell.output_dim

    def init(key, input_dim):
        k_cell, k_att = jax.random.split(key)
        cell_input = input_dim + key_dim if fusion == "early" else input_dim
        attention = init_attention(k_att, score, cell.output_dim, key_dim)
        return {"cell": cell.init(k_cell, cell_input), "attention": attention}

    def initial_state(params):
        dtype = jax.tree_util.tree_leaves(params["attention"])[0].dtype
        return cell.initial_state(params["cell"]), jnp.zeros((output_dim,), dtype)

    def step(params, state, x):
        inner, previous = state
        if fusion == "early":
            x = jnp.concatenate([x, attend(params["attention"], previous, keys, mask)])
        inner, h = cell.step(params["cell"], inner, cell.project(params["cell"], x[None])[0])
        y = h if fusion == "early" else jnp.concatenate([h, attend(params["attention"], h, keys, mask)])
        return (inner, y), y

    def input_dim(params):
        inner = None if cell.input_dim is None else cell.input_dim(params["cell"])
        return inner - key_dim if inner is not None and fusion == "early" else inner

    return Cell(f"{cell.name}+attention({score}, {fusion})", output_dim, init, initial_state, lambda p, xs: xs, step,
                input_dim=input_dim)
