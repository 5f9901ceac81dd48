"""Counting languages: a^n b^n, a^n b^n c^n (n >= 1), and a^n b^n Sigma* (Merrill 2020).

The first two need one and two counters; a^n b^n Sigma* (Sigma = {a, b}) is
a^n b^n followed by any string, so a counter must be compared once and then
may be forgotten.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.tasks.language import Language, prefix_counts


def _blocks(n: int, counts: tuple[int, ...]) -> str:
    return "".join(symbol * (n + d) for symbol, d in zip("abc", counts))


def _block_sample(num_blocks: int):
    """Sampler of ``a^n b^n`` (``num_blocks`` = 2) or ``a^n b^n c^n`` (3)."""

    def sample(key, n_lo, n_hi, max_len):
        n = jax.random.randint(key, (), n_lo, n_hi + 1)
        positions = jnp.arange(max_len)
        length = num_blocks * n
        tokens = jnp.where(positions < length, positions // n, num_blocks)
        return tokens.astype(jnp.int32), length.astype(jnp.int32)

    return sample


def anbn() -> Language:
    """``{a^n b^n : n >= 1}``."""

    def is_member(s: str) -> bool:
        n = len(s) // 2
        return n >= 1 and s == "a" * n + "b" * n

    def next_symbol_sets(tokens):
        na, nb = prefix_counts(tokens, 0), prefix_counts(tokens, 1)
        return jnp.stack([nb == 0, (na > 0) & (nb < na), (nb > 0) & (nb == na)], axis=-1)

    def probes(n):
        return _blocks(n, (0, 0)), (_blocks(n, (0, -1)), _blocks(n, (0, 1)))

    return Language("anbn", "ab", _block_sample(2), lambda n: 2 * n, is_member, next_symbol_sets, probes)


def anbncn() -> Language:
    """``{a^n b^n c^n : n >= 1}``."""

    def is_member(s: str) -> bool:
        n = len(s) // 3
        return n >= 1 and s == "a" * n + "b" * n + "c" * n

    def next_symbol_sets(tokens):
        na, nb, nc = (prefix_counts(tokens, k) for k in range(3))
        return jnp.stack(
            [
                (nb == 0) & (nc == 0),
                (na > 0) & (nc == 0) & (nb < na),
                (na > 0) & (nb == na) & (nc < na),
                (na > 0) & (nc == na),
            ],
            axis=-1,
        )

    def probes(n):
        near = ((0, 0, -1), (0, 0, 1), (0, -1, 0), (0, 1, 0))
        return _blocks(n, (0, 0, 0)), tuple(_blocks(n, d) for d in near)

    return Language("anbncn", "abc", _block_sample(3), lambda n: 3 * n, is_member, next_symbol_sets, probes)


def anbn_sigma_star(max_suffix: int = 16) -> Language:
    """``{a^n b^n w : n >= 1, w in {a, b}*}``; samples have ``|w|`` uniform in ``[0, max_suffix]``."""
    if max_suffix < 0:
        raise ValueError(f"max_suffix must be >= 0, got {max_suffix}")

    def sample(key, n_lo, n_hi, max_len):
        k_n, k_len, k_sym = jax.random.split(key, 3)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        length = 2 * n + jax.random.randint(k_len, (), 0, max_suffix + 1)
        positions = jnp.arange(max_len)
        suffix = jax.random.randint(k_sym, (max_len,), 0, 2)
        tokens = jnp.where(positions < n, 0, jnp.where(positions < 2 * n, 1, suffix))
        tokens = jnp.where(positions < length, tokens, 2)
        return tokens.astype(jnp.int32), length.astype(jnp.int32)

    def is_member(s: str) -> bool:
        k = len(s) - len(s.lstrip("a"))
        return k >= 1 and s[k : 2 * k] == "b" * k and set(s) <= {"a", "b"}

    def next_symbol_sets(tokens):
        nb = prefix_counts(tokens, 1)
        leading_as = prefix_counts(jnp.where(nb[:-1] == 0, tokens, -1), 0)
        complete = (leading_as > 0) & (nb >= leading_as)
        return jnp.stack([(nb == 0) | complete, leading_as > 0, complete], axis=-1)

    def probes(n):
        short = _blocks(n, (0, -1))
        return _blocks(n, (0, 0)), (short, short + "a")

    return Language(
        "anbn_sigma_star", "ab", sample, lambda n: 2 * n + max_suffix, is_member, next_symbol_sets, probes
    )
