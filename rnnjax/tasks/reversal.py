"""Marked reversal (palindromes with a centre marker): ``w $ w^R``, w in Sigma^n, n >= 1."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.tasks.language import Language

MARKER = "$"


def marked_reversal(alphabet: str = "ab") -> Language:
    """``{w $ reverse(w) : w in alphabet^+}``; samples have w uniform over ``alphabet^n``."""
    if len(alphabet) < 1 or MARKER in alphabet or len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet must be distinct symbols without {MARKER!r}, got {alphabet!r}")
    k = len(alphabet)
    marker, eos = k, k + 1

    def sample(key, n_lo, n_hi, max_len):
        k_n, k_w = jax.random.split(key)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        positions = jnp.arange(max_len)
        w = jax.random.randint(k_w, (max_len,), 0, k)
        mirrored = w[jnp.clip(2 * n - positions, 0, max_len - 1)]
        tokens = jnp.where(positions < n, w, jnp.where(positions == n, marker, mirrored))
        tokens = jnp.where(positions < 2 * n + 1, tokens, eos)
        return tokens.astype(jnp.int32), (2 * n + 1).astype(jnp.int32)

    def is_member(s: str) -> bool:
        n = len(s) // 2
        w = s[:n]
        return n >= 1 and len(s) == 2 * n + 1 and s[n] == MARKER and set(w) <= set(alphabet) and s[n + 1 :] == w[::-1]

    def next_symbol_sets(tokens):
        length = tokens.shape[0]
        t = jnp.arange(length + 1)
        is_marker = tokens == marker
        centre = jnp.where(is_marker.any(), jnp.argmax(is_marker), length + 1)
        before = t <= centre  # the prefix tokens[:t] holds no marker yet
        read_after = t - centre - 1  # symbols read after the marker
        expected = tokens[jnp.clip(centre - 1 - read_after, 0, length - 1)]
        symbols = jnp.arange(k)[None, :]
        in_second_half = (~before & (read_after < centre))[:, None]
        allowed = jnp.where(before[:, None], True, in_second_half & (symbols == expected[:, None]))
        marker_ok = before & (t >= 1)
        eos_ok = ~before & (read_after == centre)
        return jnp.concatenate([allowed, marker_ok[:, None], eos_ok[:, None]], axis=-1)

    return Language(
        "marked_reversal", alphabet + MARKER, sample, lambda n: 2 * n + 1, is_member, next_symbol_sets, None
    )
