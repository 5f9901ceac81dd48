"""Languages, and the token-prediction formulation of recognition (Weiss et al. 2018).

Token ids: symbol ``alphabet[i]`` is ``i``; ``eos = len(alphabet)`` marks the end of
a string on output, the start on input, and pads token arrays. A string
``s_1..s_L`` becomes

    inputs  = [eos, s_1, ..., s_L]      targets = [s_1, ..., s_L, eos]

and the model's output at position t is a distribution over the symbol that
follows the prefix ``s_1..s_t``. A string is *accepted* iff every target along
it, EOS included, has probability above a threshold.
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
        bad = set(s) - set(self.alphabet)
        if bad:
            raise ValueError(f"symbols {sorted(bad)} are not in the alphabet {self.alphabet!r}")
        out = np.full((length,), self.eos, np.int32)
        out[: len(s)] = [self.alphabet.index(c) for c in s]
        return out

    def decode(self, tokens, length: int) -> str:
        return "".join(self.alphabet[int(t)] for t in np.asarray(tokens)[:length])


def prediction_example(tokens: Array, length: Array, eos: int) -> tuple[Array, Array, Array]:
    """``tokens: int[L]`` (eos-padded), ``length: int[]`` -> ``inputs, targets: int[L+1]``
    and ``mask: bool[L+1]`` (true on the ``length + 1`` predicted positions)."""
    start = jnp.full((1,), eos, tokens.dtype)
    inputs = jnp.concatenate([start, tokens])
    positions = jnp.arange(tokens.shape[0] + 1)
    targets = jnp.where(positions < length, jnp.concatenate([tokens, start]), eos)
    return inputs, targets, positions <= length


def accepts(log_probs: Array, targets: Array, mask: Array, threshold: float) -> Array:
    """Weiss et al. 2018 acceptance: every target probability exceeds ``threshold``.

    ``log_probs: [L+1, V]``, ``targets: int[L+1]``, ``mask: bool[L+1]`` -> ``bool[]``.
    """
    target_log_probs = jnp.take_along_axis(log_probs, targets[:, None], axis=-1)[:, 0]
    return jnp.all((target_log_probs > jnp.log(threshold)) | ~mask)


def next_symbol_accuracy(log_probs: Array, sets: Array, mask: Array, threshold: float) -> Array:
    """Fraction of positions where ``{symbols with p > threshold}`` equals the true set.

    ``log_probs: [L+1, V]``, ``sets: bool[L+1, V]``, ``mask: bool[L+1]`` -> ``float[]``.
    """
    correct = jnp.all((log_probs > jnp.log(threshold)) == sets, axis=-1)
    return jnp.sum(correct * mask) / jnp.maximum(jnp.sum(mask), 1)


def prefix_counts(tokens: Array, symbol: int) -> Array:
    """``int[L+1]``: occurrences of ``symbol`` in ``tokens[:t]`` for t = 0..L."""
    hits = (tokens == symbol).astype(jnp.int32)
    return jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(hits)])
