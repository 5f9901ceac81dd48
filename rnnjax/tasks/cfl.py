"""Context-free language modelling tasks of DuSell & Chiang, sampled from PCFGs.

A string of length ℓ is drawn by choosing ℓ uniformly in a range and then
sampling from the PCFG conditioned on that length (inside weights over lengths
only). The true probability of a string is

    p(w) = p(ℓ) · p_G(w) / P_G(length ℓ)

where p_G(w) sums over all derivations of w (inside algorithm over the string:
padded reversal and the hardest CFL are ambiguous). The cross-entropy
difference of a model on w is its per-symbol cross-entropy (EOS included)
minus ``-log p(w) / (ℓ + 1)``, the per-symbol lower bound.

Training samples come from a fixed pool drawn on first use (jit-able sampling
picks pool entries with length in the bucket).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.tasks.base import (
    EvalSet,
    Evaluation,
    Example,
    Predictor,
    Task,
    cached,
    masked_mean,
    require_positive,
    token_nll,
)
from rnnjax.tasks.prediction import prediction_example


@dataclasses.dataclass(frozen=True)
class PCFG:
    """Rules ``A -> rhs`` with probabilities; in ``rhs`` upper-case letters are
    nonterminals, anything else a terminal symbol; ``"S"`` starts. Chains of
    same-span derivations (``A =>+ A`` through unit or ε rules) are not allowed."""

    rules: dict[str, tuple[tuple[float, str], ...]]

    def __post_init__(self):
        for lhs, options in self.rules.items():
            if not math.isclose(sum(p for p, _ in options), 1.0):
                raise ValueError(f"rules of {lhs!r} must sum to 1, got {sum(p for p, _ in options)}")
        self.schedule  # rejects same-span cycles

    @functools.cached_property
    def schedule(self) -> tuple[tuple, ...]:
        """The order in which one span (or length) is filled: ``(A,)`` sums A's rules,
        ``(A, r, k)`` fills symbols k.. of A's r-th rule; each item comes after the
        items it reads on the same span: (c,) when c is read with a nullable rest, and
        (A, r, k + 1) when symbol k is a nullable nonterminal."""
        nullable: set[str] = set()
        while True:
            more = {a for a, options in self.rules.items()
                    if any(all(c in nullable for c in rhs) for _, rhs in options)}
            if more == nullable:
                break
            nullable = more
        needs: dict[tuple, set[tuple]] = {}
        for a, options in self.rules.items():
            needs[(a,)] = {(a, r, 0) for r, (_, rhs) in enumerate(options) if rhs}
            for r, (_, rhs) in enumerate(options):
                for k, c in enumerate(rhs):
                    needs[a, r, k] = {(a, r, k + 1)} if c in nullable and k + 1 < len(rhs) else set()
                    if c.isupper() and all(x in nullable for x in rhs[k + 1 :]):
                        needs[a, r, k].add((c,))
        order: list[tuple] = []
        done: set[tuple] = set()
        while len(order) < len(needs):
            ready = [item for item in needs if item not in done and needs[item] <= done]
            if not ready:
                raise ValueError(f"same-span derivation cycle among {sorted(i[0] for i in set(needs) - done)}")
            order += ready
            done.update(ready)
        return tuple(order)

    @property
    def terminals(self) -> str:
        symbols = {c for options in self.rules.values() for _, rhs in options for c in rhs if not c.isupper()}
        return "".join(sorted(symbols))

    def _tables(self, shape) -> dict[tuple[str, int, int], np.ndarray]:
        """Zero tables for symbols k.. of every rule (k < len(rhs)); the empty
        suffix k = len(rhs) is one on the empty span/length."""
        empty = np.zeros(shape)
        empty[..., 0, :] = 1.0
        return {(a, r, k): empty if k == len(rhs) else np.zeros(shape) for a, options in self.rules.items()
                for r, (_, rhs) in enumerate(options) for k in range(len(rhs) + 1)}

    def inside(self, longest: int) -> tuple[dict[str, np.ndarray], dict[tuple[str, int, int], np.ndarray]]:
        """Inside weights over lengths 0..longest: ``beta[A][l]``, the probability
        that A derives some string of length l, and ``suffix[A, r, k][l]``, the same
        for symbols k.. of A's r-th rule (the span inside of a string whose every
        position matches every terminal)."""
        beta, suffix = self._span_inside(None, longest)
        return {a: t[0, :, 0] for a, t in beta.items()}, {key: t[0, :, 0] for key, t in suffix.items()}

    def sample(self, rng: np.random.Generator, length: int, tables=None) -> str:
        """A string of exactly ``length`` drawn from the grammar conditioned on its length.
        ``tables``: ``inside(L)`` for some L >= length (computed when not given)."""
        beta, suffix = tables or self.inside(length)
        if beta["S"][length] == 0:
            raise ValueError(f"the grammar derives no string of length {length}")
        return self._expand("S", length, beta, suffix, rng)

    def _expand(self, a: str, length: int, beta, suffix, rng) -> str:
        options = self.rules[a]
        weights = np.array([p * suffix[a, r, 0][length] for r, (p, _) in enumerate(options)])
        r = int(rng.choice(len(options), p=weights / weights.sum()))
        rhs = options[r][1]
        out, remaining = [], length
        for k, c in enumerate(rhs):
            if not c.isupper():
                out.append(c)
                remaining -= 1
                continue
            split = beta[c][: remaining + 1] * suffix[a, r, k + 1][remaining::-1]
            m = int(rng.choice(remaining + 1, p=split / split.sum()))
            out.append(self._expand(c, m, beta, suffix, rng))
            remaining -= m
        return "".join(out)

    def log_probability(self, strings: list[str], chunk: int = 64) -> np.ndarray:
        """``log p_G(w)`` summed over every derivation (inside algorithm over spans),
        per string: ``float[N]``. Each matched terminal is scaled by the alphabet
        size (and unscaled at the end) so that long strings do not underflow."""
        codes = {c: i for i, c in enumerate(self.terminals)}
        scale = float(len(codes))
        out = np.empty(len(strings))
        order = np.argsort([len(s) for s in strings], kind="stable")
        for start in range(0, len(strings), chunk):
            rows = order[start : start + chunk]
            n = max(len(strings[i]) for i in rows)
            tokens = np.full((len(rows), n), -1)
            for row, i in enumerate(rows):
                tokens[row, : len(strings[i])] = [codes.get(c, -2) for c in strings[i]]
            table = self._span_inside(tokens, n, codes, scale)[0]["S"]
            lengths = np.array([len(strings[i]) for i in rows])
            with np.errstate(divide="ignore"):
                out[rows] = np.log(table[np.arange(len(rows)), lengths, 0]) - lengths * math.log(scale)
        return out

    def _span_inside(self, tokens: np.ndarray | None, n: int, codes: dict[str, int] | None = None,
                     scale: float = 1.0) -> tuple[dict, dict]:
        """``beta[A][b, l, i]``: probability (times scale^l) that A derives
        ``tokens[b, i : i + l]``, and ``suffix[A, r, k]`` the same for symbols k.. of
        A's r-th rule; tables are indexed by span length, then start. ``tokens``
        None: one string of length n in which every terminal matches everywhere."""
        batch = 1 if tokens is None else tokens.shape[0]
        beta = {a: np.zeros((batch, n + 1, n + 1)) for a in self.rules}
        suffix = self._tables((batch, n + 1, n + 1))
        for length in range(n + 1):
            i = np.arange(n - length + 1)
            a = np.arange(length + 1)[:, None]
            for item in self.schedule:
                if len(item) == 1:
                    beta[item[0]][:, length, i] = sum(p * suffix[item[0], r, 0][:, length, i]
                                                      for r, (p, _) in enumerate(self.rules[item[0]]))
                    continue
                lhs, r, k = item
                nxt, c = suffix[lhs, r, k + 1], self.rules[lhs][r][1][k]
                if c.isupper():
                    suffix[item][:, length, i] = (beta[c][:, : length + 1, : n - length + 1]
                                                  * nxt[:, length - a, i + a]).sum(axis=1)
                elif length:
                    match = 1.0 if tokens is None else tokens[:, i] == codes[c]
                    suffix[item][:, length, i] = match * scale * nxt[:, length - 1, i + 1]
        return beta, suffix


def _continue(mean: float) -> float:
    """Probability of one more repetition that gives a geometric count of mean ``mean``."""
    return mean / (mean + 1)


def _reversal(middle: tuple[tuple[float, str], ...], **extra) -> PCFG:
    c = _continue(60)  # mean length of w: 60
    return PCFG({"S": ((c / 2, "0S0"), (c / 2, "1S1"), *((p * (1 - c), rhs) for p, rhs in middle)), **extra})


def _hardest_cfl() -> PCFG:
    """Greibach's hardest CFL: blocks ``x , y , z ;`` whose y parts, joined, form a
    Dyck-2 word after ``$``; decoys x, z may contain commas, so the y of each block
    must be guessed (DuSell & Chiang 2020, appendix; their default parameters)."""
    c, u, v, q, t = _continue(0.5), _continue(0.5), _continue(1), 0.25, _continue(40)
    return PCFG({
        "S": ((1.0, "R$QDL;"),),
        "L": ((1.0, "M,U"),), "M": ((c, ",VM"), (1 - c, "")),  # the end of a block: , z
        "R": ((1.0, "U,N"),), "N": ((c, "NV,"), (1 - c, "")),  # the start of a block: x ,
        "U": ((u, "WU"), (1 - u, "")), "V": ((v, "WV"), (1 - v, "W")),
        "W": tuple((0.2, x) for x in "()[]$"),
        "Q": ((q, "L;R"), (1 - q, "")),  # a block boundary inside the Dyck word
        "D": ((0.5, "DQT"), (0.5, "T")),
        "T": ((t / 2, "(QDQ)"), (t / 2, "[QDQ]"), ((1 - t) / 2, "(Q)"), ((1 - t) / 2, "[Q]")),
    })


GRAMMARS = {
    "marked_reversal": (_reversal(((1.0, "#"),)), "01#"),
    "unmarked_reversal": (_reversal(((1.0, ""),)), "01"),
    # w a^p w^R with the padding a one of w's symbols (so ambiguous), mean padding 30
    "padded_reversal": (_reversal(((0.5, "A"), (0.5, "B")), A=((_continue(30), "0A"), (1 / 31, "")),
                                  B=((_continue(30), "1B"), (1 / 31, ""))), "01"),
    "dyck2": (PCFG({"S": ((0.5, "ST"), (0.5, "T")),  # mean 1 split, mean nesting depth 40
                    "T": ((39 / 80, "(S)"), (39 / 80, "[S]"), (1 / 80, "()"), (1 / 80, "[]"))}), "()[]"),
    "hardest_cfl": (_hardest_cfl(), "()[],;$"),
}

@dataclasses.dataclass(frozen=True)
class Corpus:
    """Strings of one grammar of ``GRAMMARS``: a training pool with lengths uniform in
    ``train`` and a test set with lengths uniform in ``test`` (drawn with ``seed``)."""

    tokens: np.ndarray
    """``int[pool, longest]`` training strings, EOS-padded"""
    lengths: np.ndarray
    test_tokens: np.ndarray
    test_lengths: np.ndarray
    test_lower_bounds: np.ndarray
    """``-log p(w) / (ℓ + 1)`` per test string (nats per symbol)"""


@functools.lru_cache(maxsize=8)
def draw_corpus(name: str, train: tuple[int, int], test: tuple[int, int], pool: int = 4096, test_size: int = 512,
                seed: int = 0) -> Corpus:
    """Draws the pool and the test set of grammar ``name`` (seconds; tens at the paper's lengths).
    Cached: the programs of one experiment (one per model) share their task's corpus."""
    if name not in GRAMMARS:
        raise ValueError(f"no CFL grammar {name!r}; available: {sorted(GRAMMARS)}")
    grammar, alphabet = GRAMMARS[name]
    longest = max(train[1], test[1])
    tables = grammar.inside(longest)
    beta = tables[0]["S"]
    rng = np.random.default_rng(seed)

    def draw(lo, hi, count):
        if not any(beta[n] > 0 for n in range(lo, hi + 1)):
            raise ValueError(f"the {name} grammar derives no string of length {lo}..{hi}")
        lengths = [int(x) for x in rng.integers(lo, hi + 1, size=4 * count) if beta[x] > 0][:count]
        strings = [grammar.sample(rng, n, tables) for n in lengths]
        tokens = np.full((count, longest), len(alphabet), np.int32)
        for row, s in enumerate(strings):
            tokens[row, : len(s)] = [alphabet.index(c) for c in s]
        return tokens, np.array(lengths, np.int32), strings

    train_tokens, train_lengths, _ = draw(*train, pool)
    test_tokens, test_lengths, test_strings = draw(*test, test_size)
    possible = sum(beta[n] > 0 for n in range(test[0], test[1] + 1))
    log_p = grammar.log_probability(test_strings) - np.log(beta[test_lengths]) - math.log(possible)
    return Corpus(train_tokens, train_lengths, test_tokens, test_lengths, -log_p / (test_lengths + 1))


def language_model(grammar: str, n_min: int, n_max: int, eval_n_max: int, *, pool_size: int = 4096,
                   eval_samples: int = 512) -> Task:
    """Language modelling of ``grammar`` (``GRAMMARS``) against its true distribution:
    trained on ``pool_size`` strings of length ``[n_min, n_max]``, evaluated by the
    cross-entropy difference on ``eval_samples`` strings of length ``[n_min, eval_n_max]``
    (the corpus is drawn with seed 0 on first use)."""
    require_positive(pool_size=pool_size, eval_samples=eval_samples)
    if grammar not in GRAMMARS:
        raise ValueError(f"no CFL grammar {grammar!r}; available: {sorted(GRAMMARS)}")
    pcfg, alphabet = GRAMMARS[grammar]
    eos, longest = len(alphabet), max(n_max, eval_n_max)
    corpus = cached(lambda: draw_corpus(grammar, (n_min, n_max), (n_min, eval_n_max), pool_size, eval_samples, seed=0))

    def sample(key, n_lo, n_hi, max_len) -> Example:
        pool_tokens, pool_lengths = jnp.asarray(corpus().tokens), jnp.asarray(corpus().lengths)
        ok = (pool_lengths >= n_lo) & (pool_lengths <= n_hi)
        i = jax.random.categorical(key, jnp.where(ok, 0.0, -jnp.inf))
        row = pool_tokens[i, : min(max_len, longest)]
        tokens = jnp.full((max_len,), eos, jnp.int32).at[: row.shape[0]].set(row)
        inputs, targets, mask = prediction_example(tokens, pool_lengths[i], eos)
        return {"inputs": inputs, "targets": targets, "mask": mask}

    def loss(logits, batch):
        return masked_mean(token_nll(logits, batch["targets"]), batch["mask"]), {}

    @cached
    def sets():
        c = corpus()
        positions = np.arange(longest + 1)[None]
        targets = np.where(positions < c.test_lengths[:, None], np.concatenate(
            [c.test_tokens, np.full((len(c.test_tokens), 1), eos, np.int32)], 1), eos)
        examples = {"inputs": np.concatenate([np.full((len(c.test_tokens), 1), eos, np.int32), c.test_tokens], 1),
                    "targets": targets.astype(np.int32), "mask": positions <= c.test_lengths[:, None],
                    "n": c.test_lengths}
        return (EvalSet("test", examples, c.test_lengths + 1),)

    def score(model: Predictor, example: Example):
        nll = token_nll(model.logits(example["inputs"]), example["targets"])
        return {"cross_entropy": jnp.sum(nll * example["mask"]) / (example["n"] + 1)}

    def summarise(scores):
        bounds = corpus().test_lower_bounds
        return {"cross_entropy_difference": float(np.mean(scores["test"]["cross_entropy"] - bounds)),
                "lower_bound": float(bounds.mean())}

    evaluation = Evaluation(sets, score, summarise, ("cross_entropy_difference", "lower_bound"), longest + 1,
                            f"cross-entropy above the true distribution on {eval_samples} strings of length "
                            f"{n_min}..{eval_n_max}")
    return Task(f"cfl_{grammar}", len(alphabet) + 1, len(alphabet) + 1, (n_min, n_max), lambda n: n, sample, loss,
                evaluation, definition=pcfg)
