"""Formal languages as definitions: alphabet, jit-able sampler of members, oracle, next-symbol sets.

Token ids: symbol ``alphabet[i]`` is ``i``; ``eos = len(alphabet)`` ends a string on
output, starts it on input, and pads token arrays (``tasks.prediction`` turns a
language into a next-symbol-prediction task).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Language:
    """A formal language with a jit-able sampler of its members.

    Attributes:
      name: registry name.
      alphabet: one character per symbol.
      sample: ``(key, n_lo, n_hi, max_len) -> (tokens: int32[max_len], length: int32[])``,
        a member with size parameter n uniform in ``[n_lo, n_hi]``, padded with
        ``eos``. Jit-able with ``max_len`` static; needs ``max_len >= max_length(n_hi)``.
      max_length: ``n -> `` longest string ``sample`` can give for parameter n.
      is_member: membership oracle on Python strings.
      next_symbol_sets: ``tokens: int32[L] -> bool[L + 1, vocab_size]``; row t is
        the set of symbols (and EOS) that may follow the prefix ``tokens[:t]``.
        Jit-able; meaningful on prefixes of members.
      probes: ``n -> (member, near_misses)``: the member with parameter n and the
        non-members one symbol away from it that a counter must tell apart
        (counting languages; None for others).
    """

    name: str
    alphabet: str
    sample: Callable[[Array, Array, Array, int], tuple[Array, Array]]
    max_length: Callable[[int], int]
    is_member: Callable[[str], bool]
    next_symbol_sets: Callable[[Array], Array]
    probes: Callable[[int], tuple[str, tuple[str, ...]]] | None

    @property
    def eos(self) -> int:
        return len(self.alphabet)

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + 1

    def encode(self, s: str, length: int | None = None) -> np.ndarray:
        """``s`` as ``int32[length or len(s)]``, padded with ``eos``."""
        length = len(s) if length is None else length
        if len(s) > length:
            raise ValueError(f"string of length {len(s)} does not fit in {length}")
        codes = np.frombuffer(s.encode("utf-32-le"), np.uint32)
        alphabet = np.frombuffer(self.alphabet.encode("utf-32-le"), np.uint32)
        order = np.argsort(alphabet)
        at = np.minimum(np.searchsorted(alphabet[order], codes), len(alphabet) - 1)
        if codes.size and np.any(alphabet[order][at] != codes):
            bad = set(s) - set(self.alphabet)
            raise ValueError(f"symbols {sorted(bad)} are not in the alphabet {self.alphabet!r}")
        out = np.full((length,), self.eos, np.int32)
        out[: len(s)] = order[at]
        return out

    def decode(self, tokens, length: int) -> str:
        return "".join(self.alphabet[int(t)] for t in np.asarray(tokens)[:length])


def prefix_counts(tokens: Array, symbol: int) -> Array:
    """``int[L+1]``: occurrences of ``symbol`` in ``tokens[:t]`` for t = 0..L."""
    hits = (tokens == symbol).astype(jnp.int32)
    return jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(hits)])
