"""QRNN (Bradbury et al. 2016): a causal convolution for the gates, then a linear recurrence.

    [Z, F, O, I] pre-activations at t = b + sum_{j<k} W_j x_{t-j}      (masked convolution, width k)
    Z = tanh, F, O, I = sigmoid
    c_t = f_t * c_{t-1} + i_t * z_t        i_t = 1 - f_t for f- and fo-pooling
    h_t = o_t * c_t (fo, ifo)              h_t = c_t (f)

The recurrence ``c_t = a_t c_{t-1} + b_t`` is associative under
``(a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)``, so it runs either with
``lax.associative_scan`` (O(log T) depth) or ``lax.scan``.

State: ``(c: [H], pending: [k-1, G*H])`` where ``pending[m]`` is the part of
the convolution at step ``t+m`` that the inputs already read contribute; it
makes ``step`` and chunked processing exact.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.cells.base import LECUN_NORMAL, ZEROS, Cell, Initializer, cast, check_hidden, initialise

__all__ = ["POOLINGS", "RECURRENCES", "Pooling", "Recurrence", "conv_lecun_normal", "default_recurrence",
           "linear_recurrence", "qrnn"]

Pooling = Literal["f", "fo", "ifo"]
Recurrence = Literal["associative", "sequential"]
POOLINGS = {"f": ("z", "f"), "fo": ("z", "f", "o"), "ifo": ("z", "f", "o", "i")}
RECURRENCES = typing.get_args(Recurrence)


def default_recurrence() -> str:
    """Measured with ``benchmarks/qrnn.py`` (BUILD_NOTES.md): the sequential scan
    wins on XLA:CPU; the associative scan is the accelerator default."""
    return "sequential" if jax.default_backend() == "cpu" else "associative"


def conv_lecun_normal(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """The QRNN's default kernel initialiser for ``w: [width, D, G*H]``: LeCun normal over
    its fan-in ``width * D``, divided by ``sqrt(width)``."""
    return LECUN_NORMAL(key, shape, dtype) / jnp.sqrt(shape[0])


def linear_recurrence(a: jax.Array, b: jax.Array, c0: jax.Array, method: str) -> jax.Array:
    """``c_t = a_t * c_{t-1} + b_t`` for t = 0..T-1 from ``c0``; ``a, b: [T, H]`` -> ``c: [T, H]``."""
    if method == "associative":

        def combine(left, right):
            a1, b1 = left
            a2, b2 = right
            return a1 * a2, a2 * b1 + b2

        return jax.lax.associative_scan(combine, (a, b.at[0].add(a[0] * c0)))[1]

    def step(c, ab):
        c = ab[0] * c + ab[1]
        return c, c

    return jax.lax.scan(step, c0, (a, b))[1]


@builder(resolve={"recurrence": default_recurrence})
def qrnn(hidden: int, *, width: int = 2, pooling: Pooling = "fo", recurrence: Recurrence | None = None,
         dtype: Any = None, param_dtype: Any = jnp.float32, kernel_init: Initializer = conv_lecun_normal,
         bias_init: Initializer = ZEROS) -> Cell:
    """QRNN layer. Params ``w: [width, D, G*H]``, ``b: [G*H]`` (G gates of ``pooling``);
    state ``(c: [H], pending: [width-1, G*H])``, where ``pending[m]`` is what the inputs
    already read add to the convolution ``m + 1`` steps on (it makes ``step`` and chunked
    runs exact); output ``h: [H]``.

        [Z, F, O, I] at t = b + sum_{j<k} W_j x_{t-j};  Z = tanh, F, O, I = sigmoid
        c_t = f_t * c_{t-1} + i_t * z_t        (i_t = 1 - f_t for f- and fo-pooling)
        h_t = o_t * c_t (fo, ifo),  h_t = c_t (f)

    Args:
      hidden: H.
      width: k, the convolution width (1 = no look-back, as in a plain gated linear layer).
      pooling: ``"f"``, ``"fo"`` or ``"ifo"``.
      recurrence: ``"associative"`` or ``"sequential"`` for the whole-sequence path;
        ``None``: the backend's default, resolved when the cell is built. ``step`` is
        always sequential.
      dtype: the dtype of the computation (params, inputs and state are cast to it);
        None: as the params and inputs promote.
      param_dtype: the dtype of the params ``init`` makes.
      kernel_init: initialiser of ``w`` (``(key, shape, dtype) -> array``); ``conv_lecun_normal``.
      bias_init: initialiser of ``b``; zeros.
    """
    check_hidden(hidden)
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}")
    if recurrence not in RECURRENCES:
        raise ValueError(f"recurrence must be one of {RECURRENCES}, got {recurrence!r}")
    gates = POOLINGS[pooling]
    size = len(gates) * hidden

    def init(key, input_dim):
        w = initialise(kernel_init, key, (width, input_dim, size), param_dtype)
        return {"w": w, "b": initialise(bias_init, jax.random.fold_in(key, 1), (size,), param_dtype)}

    def initial_state(params):
        state_dtype = dtype or params["w"].dtype
        return jnp.zeros((hidden,), state_dtype), jnp.zeros((width - 1, size), state_dtype)

    def project(params, xs):
        """``xs: [T, D]`` -> ``[T, width, G*H]``: x_t's term in the convolution at t + j."""
        params, xs = cast((params, xs), dtype)
        return jnp.einsum("td,jdg->tjg", xs, params["w"])

    def gate_values(pre):
        parts = dict(zip(gates, jnp.split(pre, len(gates), axis=-1)))
        f = jax.nn.sigmoid(parts["f"])
        i = jax.nn.sigmoid(parts["i"]) if "i" in parts else 1.0 - f
        o = jax.nn.sigmoid(parts["o"]) if "o" in parts else None
        return f, i * jnp.tanh(parts["z"]), o

    def output(c, o):
        return c if o is None else o * c

    def step(params, state, u):
        params, (c, pending) = cast((params, state), dtype)
        pre = params["b"] + u[0] + (pending[0] if width > 1 else 0.0)
        f, iz, o = gate_values(pre)
        c = f * c + iz
        if width > 1:
            pending = jnp.concatenate([pending[1:], jnp.zeros((1, size), pending.dtype)]) + u[1:]
        return (c, pending), output(c, o)

    def sequence(params, state, xs, length):
        """Past ``length`` the inputs are zero (they add nothing to ``pending``) and the
        recurrence is ``c_t = 1 * c_{t-1} + 0``, so ``c`` stays and the scan keeps its shape."""
        c0, pending = cast(initial_state(params) if state is None else state, dtype)
        steps = xs.shape[0]
        live = None if length is None else jnp.arange(steps) < length
        us = project(params, xs if live is None else jnp.where(live[:, None], xs, 0.0))
        padded = jnp.pad(us, ((width - 1, width - 1), (0, 0), (0, 0)))
        # conv[s] for s = 0..T+k-2: what the chunk's inputs add at step s (later steps spill into `pending`)
        conv = sum(padded[width - 1 - j : width - 1 - j + steps + width - 1, j] for j in range(width))
        conv = conv.at[: width - 1].add(pending)
        f, iz, o = gate_values(conv[:steps] + cast(params["b"], dtype))
        if live is None:
            cs = linear_recurrence(f, iz, c0, recurrence)
            return (cs[-1], conv[steps:]), output(cs, o)
        f, iz = jnp.where(live[:, None], f, 1.0), jnp.where(live[:, None], iz, 0.0)
        cs = linear_recurrence(f, iz, c0, recurrence)
        ys = jnp.where(live[:, None], output(cs, o), 0.0)
        last = cs[-1] if steps else c0
        return (last, jax.lax.dynamic_slice_in_dim(conv, length, width - 1)), ys

    return Cell(f"qrnn-{pooling}-k{width}({hidden}, {recurrence})", hidden, init, initial_state, project, step,
                sequence, input_dim=lambda params: params["w"].shape[1])
