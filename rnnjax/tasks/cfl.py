"""Context-free language modelling tasks of DuSell & Chiang, sampled from PCFGs.

A string of length ℓ is drawn by choosing ℓ uniformly in a range and then
sampling from the PCFG conditioned on that length (inside weights over lengths
only). Every grammar here is unambiguous, so a string's PCFG probability is the
probability of its one derivation, and the true probability of a string is

    p(w) = p(ℓ) · p_G(w) / P_G(length ℓ)

The cross-entropy difference of a model on w is its per-symbol cross-entropy
(EOS included) minus ``-log p(w) / (ℓ + 1)``, the per-symbol lower bound.

Training samples come from a fixed pool drawn at construction (jit-able sampling
picks pool entries with length in the bucket).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.tasks.base import Language


@dataclasses.dataclass(frozen=True)
class PCFG:
    """Rules ``A -> rhs`` with probabilities; in ``rhs`` upper-case letters are
    nonterminals, anything else a terminal symbol; ``"S"`` starts."""

    rules: dict[str, tuple[tuple[float, str], ...]]

    def __post_init__(self):
        for lhs, options in self.rules.items():
            if not math.isclose(sum(p for p, _ in options), 1.0):
                raise ValueError(f"rules of {lhs!r} must sum to 1, got {sum(p for p, _ in options)}")

    def inside(self, longest: int) -> dict[str, np.ndarray]:
        """``beta[A][l]``: probability that A derives some string of length l."""
        beta = {a: np.zeros(longest + 1) for a in self.rules}
        for length in range(longest + 1):
            for _ in range(len(self.rules) + 1):  # unit rules: settle within one length
                for a, options in self.rules.items():
                    beta[a][length] = sum(p * self._rhs_weights(rhs, beta, length)[length] for p, rhs in options)
        return beta

    def _rhs_weights(self, rhs: str, beta, longest: int) -> np.ndarray:
        """Probability that ``rhs`` derives a string of each length 0..longest."""
        out = np.zeros(longest + 1)
        out[0] = 1.0
        for symbol in rhs:
            if symbol.isupper():
                out = np.convolve(out, beta[symbol][: longest + 1])[: longest + 1]
            else:
                out = np.concatenate([[0.0], out[:-1]])
        return out

    def sample(self, rng: np.random.Generator, length: int, beta=None) -> tuple[str, float]:
        """A string of exactly ``length`` drawn from the grammar conditioned on its
        length, with its log probability under the (unconditioned) grammar."""
        beta = beta or self.inside(length)
        if beta["S"][length] == 0:
            raise ValueError(f"the grammar derives no string of length {length}")
        return self._expand("S", length, beta, rng)

    def _expand(self, a: str, length: int, beta, rng) -> tuple[str, float]:
        options = self.rules[a]
        weights = np.array([p * self._rhs_weights(rhs, beta, length)[length] for p, rhs in options])
        k = int(rng.choice(len(options), p=weights / weights.sum()))
        prob, rhs = options[k]
        out, log_p, remaining = [], math.log(prob), length
        for i, symbol in enumerate(rhs):
            if not symbol.isupper():
                out.append(symbol)
                remaining -= 1
                continue
            rest = self._rhs_weights(rhs[i + 1 :], beta, remaining)
            split = np.array([beta[symbol][m] * rest[remaining - m] for m in range(remaining + 1)])
            m = int(rng.choice(remaining + 1, p=split / split.sum()))
            text, lp = self._expand(symbol, m, beta, rng)
            out.append(text)
            log_p += lp
            remaining -= m
        return "".join(out), log_p


GRAMMARS = {
    "marked_reversal": (PCFG({"S": ((0.25, "0S0"), (0.25, "1S1"), (0.5, "#"))}), "01#"),
    "unmarked_reversal": (PCFG({"S": ((0.25, "0S0"), (0.25, "1S1"), (0.5, ""))}), "01"),
    "padded_reversal": (PCFG({"S": ((0.25, "0S0"), (0.25, "1S1"), (0.5, "P")), "P": ((0.5, "aP"), (0.5, ""))}), "01a"),
    "dyck2": (PCFG({"S": ((0.25, "(S)S"), (0.25, "[S]S"), (0.5, ""))}), "()[]"),
}
CFL_TASKS = {f"cfl_{name}": name for name in GRAMMARS}
"""config task name -> grammar name"""


@dataclasses.dataclass(frozen=True, eq=False)
class CFLLanguage(Language):
    """A Language whose sampler draws from a pool of PCFG strings, plus a test set
    (``test_tokens: int[N, L]`` EOS-padded) with per-string lower bounds."""

    test_tokens: np.ndarray
    test_lengths: np.ndarray
    test_lower_bounds: np.ndarray
    """``-log p(w) / (ℓ + 1)`` per test string (nats per symbol)"""


@functools.lru_cache(maxsize=16)
def cfl_task(name: str, train: tuple[int, int] = (40, 80), test: tuple[int, int] = (40, 100),
             pool: int = 4096, test_size: int = 512, seed: int = 0) -> CFLLanguage:
    """The task ``name`` (``GRAMMARS``): a training pool with lengths uniform in
    ``train`` and a test set with lengths uniform in ``test``. Cached: drawing the
    pool takes seconds (tens at the paper's lengths) and a run builds its task
    several times."""
    if name not in GRAMMARS:
        raise ValueError(f"no CFL task {name!r}; available: {sorted(GRAMMARS)}")
    grammar, alphabet = GRAMMARS[name]
    longest = max(train[1], test[1])
    beta = grammar.inside(longest)
    rng = np.random.default_rng(seed)

    def draw(lo, hi, count):
        lengths = [int(x) for x in rng.integers(lo, hi + 1, size=4 * count) if beta["S"][x] > 0][:count]
        strings = [grammar.sample(rng, n, beta) for n in lengths]
        possible = sum(beta["S"][n] > 0 for n in range(lo, hi + 1))
        bounds = [-(lp - math.log(beta["S"][n]) - math.log(possible)) / (n + 1) for n, (_, lp) in zip(lengths, strings)]
        tokens = np.full((count, longest), len(alphabet), np.int32)
        for row, (s, _) in enumerate(strings):
            tokens[row, : len(s)] = [alphabet.index(c) for c in s]
        return tokens, np.array(lengths, np.int32), np.array(bounds)

    train_tokens, train_lengths, _ = draw(*train, pool)
    test_tokens, test_lengths, bounds = draw(*test, test_size)
    pool_tokens, pool_lengths = jnp.asarray(train_tokens), jnp.asarray(train_lengths)

    def sample(key, n_lo, n_hi, max_len):
        ok = (pool_lengths >= n_lo) & (pool_lengths <= n_hi)
        i = jax.random.categorical(key, jnp.where(ok, 0.0, -jnp.inf))
        tokens = jnp.full((max_len,), len(alphabet), jnp.int32)
        row = pool_tokens[i, : min(max_len, longest)]
        return tokens.at[: row.shape[0]].set(row), pool_lengths[i]

    def is_member(s: str) -> bool:
        raise NotImplementedError("CFL tasks are measured by cross-entropy, not membership")

    def next_symbol_sets(tokens):  # every symbol allowed: next-symbol accuracy is not meaningful here
        return jnp.ones((tokens.shape[0] + 1, len(alphabet) + 1), bool)

    return CFLLanguage(
        name, alphabet, sample, lambda n: n, is_member, next_symbol_sets, None, test_tokens, test_lengths, bounds
    )
