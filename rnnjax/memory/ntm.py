"""Neural Turing Machine memory (Graves, Wayne & Danihelka 2014, section 3): ``ntm(...)``
and its addressing functions (content, interpolation, shift, sharpening; eqs. 2-9).
``help(ntm)`` has the equations and the choices the paper leaves open."""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from rnnjax.builders import builder
from rnnjax.memory.base import Memory

__all__ = ["INITIAL_VALUE", "NORM_FLOOR", "SHIFTS", "WEIGHT_FLOOR", "NTMState", "address", "circular_shift",
           "content_weights", "cosine_similarity", "head_dim", "interpolate", "ntm", "pick", "read_vectors",
           "sharpen", "write"]

INITIAL_VALUE = 1e-6
"""Every cell of the initial memory: rows of equal nonzero norm, so every slot is
equally similar to any key and cosine similarity is defined."""
NORM_FLOOR = 1e-12
"""Norms in cosine similarity are at least this: a zero key or row gives similarity 0, not NaN."""
WEIGHT_FLOOR = 1e-30
"""Floor of the shifted weights before sharpening (their log): an underflowed weight
gets weight ~0 and finite gradients instead of NaN."""
SHIFTS = (-1, 0, 1)
"""The offsets of the shift distribution, in the order of the shift logits."""


class NTMState(NamedTuple):
    """Attributes:
    memory: ``[N, W]``.
    read_weights: ``[R, N]``, the read heads' weights at the last step.
    write_weights: ``[H, N]``, the write heads' weights at the last step.
    key: hard addressing only: raw PRNG key data (``jax.random.key_data``).
    log_prob: hard addressing only: ``[]``, the log-probability of the picks since ``seed``.
    sampling: hard addressing only: ``int32[]``, 1 after ``seed`` (draw), 0 before (mode).
    """

    memory: jax.Array
    read_weights: jax.Array
    write_weights: jax.Array
    key: jax.Array | None = None
    log_prob: jax.Array | None = None
    sampling: jax.Array | None = None


def cosine_similarity(key: jax.Array, memory: jax.Array) -> jax.Array:
    """``K(k, M_i)`` (eq. 6): ``key: [W], memory: [N, W] -> [N]``; norms floored at ``NORM_FLOOR``."""

    def norm(x):
        return jnp.sqrt(jnp.maximum(jnp.sum(x * x, axis=-1), NORM_FLOOR**2))

    return memory @ key / (norm(memory) * norm(key))


def content_weights(memory: jax.Array, key: jax.Array, beta: jax.Array) -> jax.Array:
    """``w^c = softmax(beta K(key, M))`` (eq. 5): ``memory: [N, W], key: [W], beta: [] -> [N]``."""
    return jax.nn.softmax(beta * cosine_similarity(key, memory))


def interpolate(content: jax.Array, previous: jax.Array, gate: jax.Array) -> jax.Array:
    """``w^g = g w^c + (1 - g) w_{t-1}`` (eq. 7): ``[N], [N], [] -> [N]``."""
    return gate * content + (1.0 - gate) * previous


def circular_shift(weights: jax.Array, shift: jax.Array) -> jax.Array:
    """``w~_i = sum_k s_k w_{(i - k) mod N}`` over the offsets ``SHIFTS`` (eq. 8):
    ``weights: [N], shift: [3] (probabilities of -1, 0, +1) -> [N]``; offset +1 moves
    weight to the next slot."""
    return sum(s * jnp.roll(weights, offset) for s, offset in zip(shift, SHIFTS))


def sharpen(weights: jax.Array, gamma: jax.Array) -> jax.Array:
    """``log w`` for ``w_i = w~_i^gamma / sum_j w~_j^gamma`` (eq. 9), computed as
    ``log_softmax(gamma log w~)``: ``weights: [N], gamma: [] -> [N]`` (log-weights, so a
    hard head has the log-probabilities of its picks exactly)."""
    return jax.nn.log_softmax(gamma * jnp.log(jnp.maximum(weights, WEIGHT_FLOOR)))


def head_dim(width: int) -> int:
    """Raw actions of one head's addressing: key ``[width]``, beta, g, 3 shift logits, gamma."""
    return width + 6


def address(memory: jax.Array, previous: jax.Array, head: jax.Array) -> jax.Array:
    """One head's log-weights ``[N]`` (eqs. 5-9) from ``memory: [N, W]``, its previous
    weights ``previous: [N]`` and its raw actions ``head: [W + 6]`` (key, beta, g, shift
    logits for -1, 0, +1, gamma), with the nonlinearities of ``ntm``'s docstring."""
    width = memory.shape[1]
    key, beta, gate = head[:width], jax.nn.softplus(head[width]), jax.nn.sigmoid(head[width + 1])
    shift, gamma = jax.nn.softmax(head[width + 2 : width + 5]), 1.0 + jax.nn.softplus(head[width + 5])
    return sharpen(circular_shift(interpolate(content_weights(memory, key, beta), previous, gate), shift), gamma)


def write(memory: jax.Array, weights: jax.Array, erase: jax.Array, add: jax.Array) -> jax.Array:
    """``M_i * prod_h (1 - w^h_i e^h) + sum_h w^h_i a^h`` (eqs. 3-4): ``memory: [N, W]``,
    ``weights: [H, N]``, ``erase, add: [H, W]`` (after their nonlinearities) ``-> [N, W]``."""
    for w, e in zip(weights, erase):  # few heads: a static product differentiates cheaply
        memory = memory * (1.0 - w[:, None] * e)
    return memory + weights.T @ add


def read_vectors(memory: jax.Array, weights: jax.Array) -> jax.Array:
    """``r^h = sum_i w^h_i M_i`` (eq. 2) for each head, concatenated: ``[N, W], [H, N] -> [H * W]``."""
    return (weights @ memory).reshape(-1)


def pick(log_weights: jax.Array, noise: jax.Array, sampling: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Hard addressing: one slot per head, drawn from ``softmax(log_weights)`` by the
    Gumbel-max trick (``argmax(log_weights + noise)``, ``noise`` standard Gumbel) if
    ``sampling``, else its mode; ``log_weights, noise: [H, N] -> (one-hot [H, N],
    log-probability of the draws [] (0 for the mode))``."""
    choice = jnp.argmax(jnp.where(sampling > 0, log_weights + noise, log_weights), axis=-1)
    log_prob = jnp.sum(jnp.take_along_axis(log_weights, choice[:, None], axis=-1))
    one_hot = jax.nn.one_hot(choice, log_weights.shape[-1], dtype=log_weights.dtype)
    return one_hot, jnp.where(sampling > 0, log_prob, 0.0)


@builder
def ntm(slots: int = 32, width: int = 8, *, read_heads: int = 1, write_heads: int = 1,
        addressing: Literal["soft", "hard"] = "soft") -> Memory:
    """Neural Turing Machine memory of ``slots`` x ``width`` (Graves et al. 2014).

    Actions: each read head's addressing (``head_dim(width)`` raw numbers), then each
    write head's addressing, erase ``[width]`` and add ``[width]``. Read: the read heads'
    vectors ``[read_heads * width]``. State: ``NTMState``. ``addressing="hard"``: each
    head reads/writes ONE slot drawn from its weights (below).

    A matrix ``M: [N, W]`` of N slots of W numbers, read and written by heads that
    address by content and by location. Each head emits a key k ``[W]``, a key
    strength beta, an interpolation gate g, logits of the shifts (-1, 0, +1) and a
    sharpening exponent gamma; ``update`` applies beta = softplus, g = sigmoid,
    s = softmax, gamma = 1 + softplus and addresses (eqs. 5-9):

        K(k, M_i) = k . M_i / (|k| |M_i|)                       cosine similarity (6)
        w^c_i = softmax_i(beta K(k, M_i))                        content            (5)
        w^g = g w^c + (1 - g) w_{t-1}                            interpolation      (7)
        w~_i = sum_j w^g_j s((i - j) mod N)                      circular shift     (8)
        w_i = w~_i^gamma / sum_j w~_j^gamma                      sharpening         (9)

    A write head also emits an erase vector e = sigmoid ``[W]`` and an add vector
    a = tanh ``[W]``; with several write heads the erasures multiply and the
    additions sum (eqs. 3-4), and a read head reads r = sum_i w_i M_i (eq. 2):

        M_i <- M_i * prod_h (1 - w^h_i e^h) + sum_h w^h_i a^h

    Order within a step: the write heads address the previous memory and write;
    the read heads then address the written memory and read it, so a read sees
    this step's write (as the stack memories and the DNC order them).

    Choices the paper leaves open: the memory starts at ``INITIAL_VALUE`` in every
    cell (not 0, so cosine similarity is defined) and every head starts on slot 0.
    The key is used raw (cosine similarity ignores its scale). The number of slots
    N is a construction argument: the NTM overwrites its slots, so it holds N
    slots whatever the sequence length, and ``init``'s capacity (a number of steps)
    is unused.

    Hard addressing (``addressing="hard"``): each head picks ONE slot per step,
    drawn from the categorical distribution given by its final soft weights w (eq.
    9, after interpolating with the one-hot it used at t - 1), and reads or writes
    with the one-hot of its pick. The state carries a PRNG key and the sum of the
    log-probabilities of the picks (``Memory.seed`` / ``Memory.log_prob``), for
    score-function gradients (``rnnjax.memory.reinforce``). A state that was not
    seeded picks the mode (argmax of w), so evaluation is deterministic.

    Low precision: addressing (cosine similarities, softmaxes, sharpening) is computed
    in at least float32, so a float16 memory keeps its ``INITIAL_VALUE`` rows apart;
    the memory, its weights and reads stay in the state's dtype.
    """
    for name, value in (("slots", slots), ("width", width), ("read_heads", read_heads),
                        ("write_heads", write_heads)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"ntm {name} must be a positive integer, got {value!r}")
    if addressing not in ("soft", "hard"):
        raise ValueError(f"addressing must be 'soft' or 'hard', got {addressing!r}")
    hard, per_head = addressing == "hard", head_dim(width)
    reads_end = read_heads * per_head

    def init(capacity, dtype=jnp.float32):
        del capacity  # N slots whatever the number of steps (docstring)
        memory = jnp.full((slots, width), INITIAL_VALUE, dtype)
        start = lambda heads: jax.nn.one_hot(jnp.zeros((heads,), jnp.int32), slots, dtype=dtype)  # noqa: E731
        state = NTMState(memory, start(read_heads), start(write_heads))
        if not hard:
            return state
        key = jnp.zeros_like(jax.random.key_data(jax.random.key(0)))
        return state._replace(key=key, log_prob=jnp.zeros((), dtype), sampling=jnp.zeros((), jnp.int32))

    def weights(memory, previous, heads, noise, sampling):
        """Each head's weights ``[heads, N]`` in the memory's dtype and the log-probability
        of the picks; addressed in at least float32 (see the docstring)."""
        wide = jnp.promote_types(memory.dtype, jnp.float32)
        log_w = jax.vmap(address, (None, 0, 0))(memory.astype(wide), previous.astype(wide), heads.astype(wide))
        w, log_prob = (jnp.exp(log_w), 0.0) if not hard else pick(log_w, noise, sampling)
        return w.astype(memory.dtype), log_prob

    def update(state, actions):
        reads = actions[:reads_end].reshape(read_heads, per_head)
        writes = actions[reads_end:].reshape(write_heads, per_head + 2 * width)
        key, noise = None, (None, None)
        if hard:  # one draw per step for all heads (a smaller program than one per head)
            key, k_noise = jax.random.split(jax.random.wrap_key_data(state.key))
            gumbel = jax.random.gumbel(k_noise, (write_heads + read_heads, slots), actions.dtype)
            noise = gumbel[:write_heads], gumbel[write_heads:]
        write_w, write_lp = weights(state.memory, state.write_weights, writes[:, :per_head], noise[0], state.sampling)
        erase, add = jax.nn.sigmoid(writes[:, per_head : per_head + width]), jnp.tanh(writes[:, per_head + width :])
        memory = write(state.memory, write_w, erase, add).astype(state.memory.dtype)
        read_w, read_lp = weights(memory, state.read_weights, reads, noise[1], state.sampling)
        new = NTMState(memory, read_w, write_w)
        if not hard:
            return new
        log_prob = (state.log_prob + write_lp + read_lp).astype(state.log_prob.dtype)
        return new._replace(key=jax.random.key_data(key), log_prob=log_prob, sampling=state.sampling)

    def read(state):
        return read_vectors(state.memory, state.read_weights)

    def seed(state, key):
        if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.wrap_key_data(key)
        return state._replace(key=jax.random.key_data(key), log_prob=jnp.zeros_like(state.log_prob),
                              sampling=jnp.ones((), jnp.int32))

    def log_prob(state):
        return state.log_prob

    name = f"ntm({slots}x{width}, {read_heads}r{write_heads}w{', hard' if hard else ''})"
    action_dim = reads_end + write_heads * (per_head + 2 * width)
    return Memory(name, read_heads * width, action_dim, init, update, read,
                  seed=seed if hard else None, log_prob=log_prob if hard else None)
