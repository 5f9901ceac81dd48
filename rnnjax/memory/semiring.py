"""Real and log semirings with one einsum-shaped contraction each.

The log semiring contracts with a ``logsumexp`` that is safe where every term is
-inf (result -inf, gradient 0, no NaN).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp


def safe_log(x: jax.Array) -> jax.Array:
    """``log x`` with ``log 0 = -inf`` and a zero (not NaN) gradient there."""
    positive = x > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, x, 1.0)), -jnp.inf)


def logsumexp(x: jax.Array, axis) -> jax.Array:
    """``log sum exp`` over ``axis``; all -inf slices give -inf with zero gradients."""
    m = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    return safe_log(jnp.sum(jnp.exp(x - m), axis=axis)) + jnp.squeeze(m, axis)


def _align(x: jax.Array, letters: str, out: str) -> jax.Array:
    """``x`` (axes named by ``letters``, each in ``out``) transposed and expanded to ``out``'s axes."""
    order = sorted(range(len(letters)), key=lambda i: out.index(letters[i]))
    x = jnp.transpose(x, order)
    present = [letters[i] for i in order]
    return jnp.expand_dims(x, [k for k, c in enumerate(out) if c not in present])


def log_einsum(spec: str, a: jax.Array, b: jax.Array) -> jax.Array:
    """``log einsum(spec, exp a, exp b)`` for two operands: both are broadcast to the
    output axes plus the contracted ones, added, and reduced by ``logsumexp``.

    (Shifting each operand by its own maximum and using a real einsum is faster but
    underflows when the two maxima sit at different contracted indices, which
    happens within a dozen steps of the nondeterministic stack.)"""
    inputs, out = spec.split("->")
    la, lb = inputs.split(",")
    contracted = "".join(dict.fromkeys(c for c in la + lb if c not in out))
    full = out + contracted
    total = _align(a, la, full) + _align(b, lb, full)
    return logsumexp(total, tuple(range(len(out), len(full)))) if contracted else total


@dataclasses.dataclass(frozen=True)
class Semiring:
    """``zero``, ``one``, ``plus`` (elementwise), ``einsum`` (two-operand contraction),
    ``total`` (sum over axes)."""

    name: str
    zero: float
    one: float
    plus: Callable
    einsum: Callable
    total: Callable


REAL = Semiring("real", 0.0, 1.0, jnp.add, jnp.einsum, lambda x, axis: jnp.sum(x, axis=axis))
LOG = Semiring("log", -jnp.inf, 0.0, lambda a, b: logsumexp(jnp.stack([a, b]), 0), log_einsum, logsumexp)
