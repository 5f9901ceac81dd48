"""The nondeterministic stack of DuSell & Chiang (NS-RNN 2020, RNS-RNN 2022, VRNS 2023).

A weighted PDA with Q states and S stack symbols (symbol 0 is the bottom, ⊥) is
simulated by Lang's dynamic program. With action weights at step t

    push    Δ[t][q,x -> r,xy]    replace  Δ[t][q,x -> r,y]    pop  Δ[t][q,x -> r,ε]

the inner weights γ[i->t][q,x -> r,y] (runs from i to t that start with x on top
in state q and end with y one level above x in state r, never below x) are

    γ[i->t] = 1[i = t-1] push[t]
            + Σ_{s,z} γ[i->t-1][q,x -> s,z] replace[t][s,z -> r,y]
            + Σ_{k=i+1}^{t-2} Σ_u γ[i->k][q,x -> u,y] G[k][u,y -> r],
      G[k][u,y -> r] = Σ_{s,z} γ[k->t-1][u,y -> s,z] pop[t][s,z -> r]

(the pop weights are contracted with γ[k->t-1] first: the faster pop), and the
forward weights α[t][r,y] = Σ_{i<t} Σ_{q,x} α[i][q,x] γ[i->t][q,x -> r,y]. The
bottom-symbol fix starts at step -1: γ[-1->0] and α[-1] put ⊥ on the stack in
state 0, so the first pushed symbol can be popped.

The full stack keeps γ in a buffer with one position per step (-1 .. capacity;
each update writes the next column in place), in the log semiring by default;
``grow`` pads it to a larger capacity, so a run from the initial state can use a
buffer sized for the steps so far (``augment``). A ``window`` D keeps only runs
with i >= t - D in a buffer over the last D + 1 steps, shifted by one each step
(cost linear in length, and the state can be carried across chunks).

Readings: RNS = α[t] normalised over (state, top symbol); NS = normalised over
top symbols. NS normalises the actions of each (q, x) with a softmax over its
2QS + Q choices; RNS uses unnormalised weights exp(logit). The vector variant
(VRNS) pushes a vector v_t (sigmoid) with every push and also reads the
expected vector of the top cell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.memory.base import Memory
from rnnjax.memory.semiring import LOG, Semiring

__all__ = ["POP_BANDS", "nondeterministic_stack", "normalised_nondeterministic_stack", "vector_nondeterministic_stack"]

POP_BANDS = 4


def _split_actions(actions: jax.Array, q: int, s: int, normalised: bool):
    """Raw actions -> log weights ``push [Q,S,Q,S]``, ``replace [Q,S,Q,S]``, ``pop [Q,S,Q]``."""
    n = q * s * q * s
    push = actions[:n].reshape(q, s, q * s)
    replace = actions[n : 2 * n].reshape(q, s, q * s)
    pop = actions[2 * n : 2 * n + q * s * q].reshape(q, s, q)
    if normalised:
        joint = jax.nn.log_softmax(jnp.concatenate([push, replace, pop], axis=-1), axis=-1)
        push, replace, pop = joint[..., : q * s], joint[..., q * s : 2 * q * s], joint[..., 2 * q * s :]
    return push.reshape(q, s, q, s), replace.reshape(q, s, q, s), pop


def _pop_sum(sr: Semiring, gamma: jax.Array, g: jax.Array, bands: int = POP_BANDS) -> jax.Array:
    """The pop term ``Σ_{k,u} γ[i -> k][q,x -> u,y] G[k][u,y -> r]`` for every row i:
    gamma ``[N, N, Q, S, Q, S]``, g ``[N, Q, S, Q]`` -> ``[N, Q, S, Q, S]``.

    Buffer positions keep time order and γ[i -> k] = 0 unless i < k, so the rows are
    cut into ``bands`` and band [lo, hi) contracts over k > lo only: (bands + 1) / (2 bands)
    of the full square of (i, k) pairs."""
    size = gamma.shape[0]
    edges = sorted({round(size * j / bands) for j in range(bands + 1)})
    parts = [
        sr.einsum("ikqxuy,kuyr->iqxry", gamma[lo:hi, lo + 1 :], g[lo + 1 :])
        if lo + 1 < size else jnp.full((hi - lo, *gamma.shape[2:]), sr.zero, gamma.dtype)
        for lo, hi in zip(edges, edges[1:])
    ]
    return jnp.concatenate(parts)


@builder
def nondeterministic_stack(
    states: int = 2,
    symbols: int = 3,
    *,
    normalised: bool = False,
    read_states: bool = True,
    vector_width: int = 0,
    window: int | None = None,
    semiring: Semiring = LOG,
) -> Memory:
    """Args:
      states: Q, the PDA's states.
      symbols: S, the stack symbols (symbol 0 is the bottom ⊥).
      normalised: softmax-normalised actions per (q, x) (NS-RNN) instead of exp(logit) (RNS-RNN).
      read_states: read the distribution over (state, top symbol) (RNS) or top symbols only (NS).
      vector_width: m > 0 gives the vector variant (reads also the expected top vector).
      window: D, keep only runs that start at most D steps back; None = the whole sequence.
      semiring: LOG (default) or REAL (for tests; under- and overflows on long inputs).

    State: ``(gamma [B, B, Q, S, Q, S], alpha [B, Q, S], vectors [B, m], top)``: B
    buffer positions (D + 1 with a window, else capacity + 2 for steps -1 .. capacity),
    ``top`` the position of the current step.
    """
    for name, value in (("states", states), ("symbols", symbols)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if window is not None and (not isinstance(window, int) or window < 1):
        raise ValueError(f"window must be a positive integer or None, got {window!r}")
    q, s, m, sr = states, symbols, vector_width, semiring
    n_actions = 2 * q * s * q * s + q * s * q

    def to_semiring(log_weights):
        return log_weights if sr is LOG else jnp.exp(log_weights)

    def init(capacity, dtype=jnp.float32):
        size = window + 1 if window else capacity + 2  # steps t - D .. t, or -1 .. capacity
        gamma = jnp.full((size, size, q, s, q, s), sr.zero, dtype)
        alpha = jnp.full((size, q, s), sr.zero, dtype)
        top = size - 1 if window else 1  # buffer position of step 0
        gamma = gamma.at[top - 1, top, 0, 0, 0, 0].set(sr.one)  # γ[-1 -> 0]: ⊥ pushed in state 0
        alpha = alpha.at[top - 1, 0, 0].set(sr.one).at[top, 0, 0].set(sr.one)
        return gamma, alpha, jnp.zeros((size, m), dtype), jnp.asarray(top, jnp.int32)

    def grow(state, capacity):
        gamma, alpha, vectors, top = state
        extra = capacity + 2 - gamma.shape[0]
        if extra < 0:
            raise ValueError(f"cannot shrink a stack of capacity {gamma.shape[0] - 2} to {capacity}")

        def pad(x, axes, value=sr.zero):
            return jnp.pad(x, [(0, extra if a in axes else 0) for a in range(x.ndim)], constant_values=value)

        return pad(gamma, (0, 1)), pad(alpha, (0,)), pad(vectors, (0,), 0.0), top

    def update(state, actions):
        gamma, alpha, vectors, top = state
        if window:  # drop the oldest step; the new one goes last
            gamma = jnp.pad(gamma[1:, 1:], [(0, 1), (0, 1)] + [(0, 0)] * 4, constant_values=sr.zero)
            alpha = jnp.pad(alpha[1:], [(0, 1), (0, 0), (0, 0)], constant_values=sr.zero)
            vectors = jnp.pad(vectors[1:], [(0, 1), (0, 0)])
        else:
            top = top + 1
        push, replace, pop = (to_semiring(w) for w in _split_actions(actions, q, s, normalised))
        previous = jax.lax.dynamic_index_in_dim(gamma, top - 1, 1, keepdims=False)  # γ[i -> t-1], [i, q, x, s, z]
        rows = jnp.arange(gamma.shape[0])[:, None, None, None, None]
        pushed = jnp.where(rows == top - 1, push, sr.zero)
        replaced = sr.einsum("iqxsz,szry->iqxry", previous, replace)
        g = sr.einsum("kuysz,szr->kuyr", previous, pop)
        column = sr.plus(sr.plus(pushed, replaced), _pop_sum(sr, gamma, g))
        column = jnp.where(top < gamma.shape[0], column, jnp.nan)  # past the capacity: poison, do not overwrite
        gamma = jax.lax.dynamic_update_index_in_dim(gamma, column, top, 1)
        alpha = jax.lax.dynamic_update_index_in_dim(alpha, sr.einsum("iqx,iqxry->ry", alpha, column), top, 0)
        if m:
            vectors = jax.lax.dynamic_update_index_in_dim(vectors, jax.nn.sigmoid(actions[n_actions:]), top, 0)
        return gamma, alpha, vectors, top

    def read(state):
        gamma, alpha, vectors, top = state
        current = jax.lax.dynamic_index_in_dim(alpha, top, 0, keepdims=False)
        current = current if read_states else sr.total(current, 0)
        weights = current - sr.total(current, None) if sr is LOG else current / jnp.sum(current)
        out = (jnp.exp(weights) if sr is LOG else weights).reshape(-1)
        if m:
            # the top cell was pushed at step i + 1 onto the level of α[i]; weight of each i
            column = jax.lax.dynamic_index_in_dim(gamma, top, 1, keepdims=False)[:-1]
            per_start = sr.einsum("iqx,iqxry->i", alpha[:-1], column)
            starts = per_start - sr.total(per_start, None) if sr is LOG else per_start / jnp.sum(per_start)
            starts = jnp.exp(starts) if sr is LOG else starts
            out = jnp.concatenate([out, starts @ vectors[1:]])
        return out

    kind = ("NS" if normalised else "RNS") if not m else "VRNS"
    name = f"{kind}-stack(Q={q}, S={s}{f', m={m}' if m else ''}{f', window={window}' if window else ''}, {sr.name})"
    read_dim = (q * s if read_states else s) + m
    return Memory(name, read_dim, n_actions + m, init, update, read, grow=None if window else grow)


@builder
def normalised_nondeterministic_stack(states: int = 2, symbols: int = 3, *, window: int | None = None,
                                      semiring: Semiring = LOG) -> Memory:
    """The NS-RNN's stack (DuSell & Chiang 2020): ``nondeterministic_stack`` with actions
    softmax-normalised per (q, x) and a read of the top symbols only."""
    return nondeterministic_stack(states, symbols, normalised=True, read_states=False, window=window,
                                  semiring=semiring)


@builder
def vector_nondeterministic_stack(states: int = 2, symbols: int = 3, *, vector_width: int = 8,
                                  window: int | None = None, semiring: Semiring = LOG) -> Memory:
    """The VRNS-RNN's stack (DuSell & Chiang 2023): ``nondeterministic_stack`` that pushes a
    vector of ``vector_width`` with every push and also reads the expected top vector."""
    return nondeterministic_stack(states, symbols, vector_width=vector_width, window=window, semiring=semiring)
