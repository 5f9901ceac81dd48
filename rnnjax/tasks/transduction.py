"""Transduction tasks of Grefenstette et al. 2015 (learning to transduce with unbounded memory).

One example is one token stream ``source, SEP, target, EOS`` padded with EOS:

    tokens = [s_1 .. s_n, SEP, t_1 .. t_n, EOS, EOS ...]     (2n + 2 tokens + padding)

The model reads ``tokens[:-1]`` and at each position from SEP onwards is trained
to predict the next token (teacher forcing); at test time it decodes greedily,
feeding back its own predictions after SEP, scored by coarse accuracy (the whole
output right) and fine accuracy (the fraction right before the first error).
Every task here keeps the length, ``len(target) == len(source) == n``.

- copy, reversal, bigram flip: sources uniform over ``symbols`` (128 in the paper);
- SVO -> SOV and gender conjugation: sentences ``DET ADJ^a NOUN VERB DET ADJ^b NOUN``
  of a small synthetic grammar (a + b = n - 5). SVO -> SOV moves the verb to the
  end; gender conjugation rewrites each determiner and adjective into the form of
  its noun's gender (noun id mod 3), which is known only once the noun is read.
  The paper's grammars are richer (relative clauses, more word classes); this
  grammar keeps the memory demand of each task (a long-range reordering, and a
  lookahead agreement) with a jit-able sampler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.tasks.base import (
    Array,
    EvalSet,
    Evaluation,
    Example,
    Predictor,
    Task,
    cached,
    masked_classification,
    require_positive,
)


@dataclasses.dataclass(frozen=True)
class Transduction:
    """A string-to-string task with a jit-able sampler.

    Attributes:
      name: registry name.
      vocab_size: number of token ids, ``SEP`` and ``EOS`` included.
      make: ``(key, n, max_len) -> (source, target): int32[max_len]`` for a traced n;
        entries past n are ignored.
      transduce: the task on Python lists of token ids (the reference for tests).
      min_length: the shortest source the task defines.
    """

    name: str
    vocab_size: int
    make: Callable[[Array, Array, int], tuple[Array, Array]]
    transduce: Callable[[list[int]], list[int]]
    min_length: int = 1

    @property
    def separator(self) -> int:
        return self.vocab_size - 2

    @property
    def eos(self) -> int:
        return self.vocab_size - 1

    def max_length(self, n: int) -> int:
        """Tokens of the stream of an n-symbol source."""
        return 2 * n + 2

    def sample(self, key: Array, n_lo, n_hi, max_len: int) -> tuple[Array, Array]:
        """``-> (tokens: int32[max_len], n: int32[])`` with n uniform in ``[n_lo, n_hi]``;
        jit-able with ``max_len`` static, needs ``max_len >= max_length(n_hi)``."""
        k_n, k_make = jax.random.split(key)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        source, target = self.make(k_make, n, max_len)
        p = jnp.arange(max_len)
        target_at = target[jnp.clip(p - n - 1, 0, max_len - 1)]
        tokens = jnp.where(p < n, source, jnp.where(p == n, self.separator, jnp.where(p <= 2 * n, target_at, self.eos)))
        return tokens.astype(jnp.int32), n.astype(jnp.int32)

    def stream(self, source: list[int], max_len: int | None = None) -> np.ndarray:
        """The token stream of a Python source, padded with EOS to ``max_len``."""
        tokens = [*source, self.separator, *self.transduce(list(source)), self.eos]
        max_len = len(tokens) if max_len is None else max_len
        if len(tokens) > max_len:
            raise ValueError(f"a source of length {len(source)} needs max_len >= {len(tokens)}, got {max_len}")
        return np.array(tokens + [self.eos] * (max_len - len(tokens)), np.int32)


def target_mask(n: Array, length: int) -> Array:
    """``bool[length]``: the positions of ``tokens[:-1]`` whose next token is a target
    symbol or the final EOS (positions n .. 2n), for a source of length n."""
    p = jnp.arange(length)
    return (p >= n) & (p <= 2 * n)


def _permutation_task(name: str, symbols: int, index: Callable[[Array, Array], Array]) -> Transduction:
    """Target position i holds source position ``index(n, i)``."""
    if not isinstance(symbols, int) or symbols < 1:
        raise ValueError(f"symbols must be a positive integer, got {symbols!r}")

    def make(key, n, max_len):
        source = jax.random.randint(key, (max_len,), 0, symbols)
        return source, source[jnp.clip(index(n, jnp.arange(max_len)), 0, max_len - 1)]

    def transduce(source):
        n = len(source)
        return [source[int(index(np.int64(n), np.int64(i)))] for i in range(n)]

    return Transduction(name, symbols + 2, make, transduce)


def copy(symbols: int = 128) -> Transduction:
    """``s_1 .. s_n -> s_1 .. s_n``."""
    return _permutation_task("copy", symbols, lambda n, i: i)


def reversal(symbols: int = 128) -> Transduction:
    """``s_1 .. s_n -> s_n .. s_1``."""
    return _permutation_task("reversal", symbols, lambda n, i: n - 1 - i)


def bigram_flip(symbols: int = 128) -> Transduction:
    """``s_1 s_2 s_3 s_4 .. -> s_2 s_1 s_4 s_3 ..``; with n odd the last symbol stays."""
    return _permutation_task("bigram_flip", symbols, lambda n, i: jnp.where((i ^ 1) < n, i ^ 1, i))


@dataclasses.dataclass(frozen=True)
class Lexicon:
    """Token ids of the sentence grammar: two determiners, then nouns, verbs and
    adjectives; gender conjugation adds 3 gendered forms of each determiner and
    adjective (``form = base + 3 * index + gender``)."""

    nouns: int = 40
    verbs: int = 20
    adjectives: int = 40

    @property
    def noun0(self) -> int:
        return 2

    @property
    def verb0(self) -> int:
        return self.noun0 + self.nouns

    @property
    def adjective0(self) -> int:
        return self.verb0 + self.verbs

    @property
    def source_size(self) -> int:
        return self.adjective0 + self.adjectives

    @property
    def gendered0(self) -> int:
        """First gendered form: determiners ``gendered0 + 3 d + g``, then adjectives."""
        return self.source_size

    @property
    def target_size(self) -> int:
        return self.gendered0 + 3 * (2 + self.adjectives)


def _sentence(key, n, max_len, lex: Lexicon):
    """``DET ADJ^a NOUN VERB DET ADJ^b NOUN`` with ``a + b = n - 5``, a uniform:
    ``(tokens: int32[max_len], a)``."""
    k_a, k_det, k_noun, k_verb, k_adj = jax.random.split(key, 5)
    a = jax.random.randint(k_a, (), 0, n - 4)
    p = jnp.arange(max_len)
    det = jax.random.randint(k_det, (max_len,), 0, 2)
    noun = lex.noun0 + jax.random.randint(k_noun, (max_len,), 0, lex.nouns)
    verb = lex.verb0 + jax.random.randint(k_verb, (), 0, lex.verbs)
    adjective = lex.adjective0 + jax.random.randint(k_adj, (max_len,), 0, lex.adjectives)
    tokens = jnp.select(
        [(p == 0) | (p == a + 3), (p == a + 1) | (p == n - 1), p == a + 2],
        [det, noun, jnp.broadcast_to(verb, (max_len,))],
        adjective,
    )
    return tokens.astype(jnp.int32), a


def svo_sov(lexicon: Lexicon = Lexicon()) -> Transduction:
    """``DET ADJ* NOUN VERB DET ADJ* NOUN -> DET ADJ* NOUN DET ADJ* NOUN VERB``."""

    def make(key, n, max_len):
        source, a = _sentence(key, n, max_len, lexicon)
        i = jnp.arange(max_len)
        index = jnp.where(i < a + 2, i, jnp.where(i < n - 1, i + 1, a + 2))
        return source, source[jnp.clip(index, 0, max_len - 1)]

    def transduce(source):
        verb = next(k for k, w in enumerate(source) if lexicon.verb0 <= w < lexicon.adjective0)
        return source[:verb] + source[verb + 1 :] + [source[verb]]

    return Transduction("svo_sov", lexicon.source_size + 2, make, transduce, min_length=5)


def gender_conjugation(lexicon: Lexicon = Lexicon()) -> Transduction:
    """Word by word: each determiner and adjective takes the gender (noun id mod 3)
    of the noun that ends its noun phrase; nouns and verbs are unchanged."""

    def gendered(word, gender):
        is_det = word < lexicon.noun0
        index = jnp.where(is_det, word, 2 + word - lexicon.adjective0)
        inflected = lexicon.gendered0 + 3 * index + gender
        return jnp.where(is_det | (word >= lexicon.adjective0), inflected, word)

    def make(key, n, max_len):
        source, a = _sentence(key, n, max_len, lexicon)
        i = jnp.arange(max_len)
        noun_of = jnp.where(i <= a + 2, source[a + 1], source[jnp.clip(n - 1, 0, max_len - 1)])
        return source, gendered(source, (noun_of - lexicon.noun0) % 3)

    def transduce(source):
        out, pending = [], []
        for w in source:
            if lexicon.noun0 <= w < lexicon.verb0:
                g = (w - lexicon.noun0) % 3
                out += [int(gendered(np.int64(p), g)) for p in pending] + [w]
                pending = []
            elif lexicon.verb0 <= w < lexicon.adjective0:
                out.append(w)
            else:
                pending.append(w)
        return out + pending

    return Transduction("gender_conjugation", lexicon.target_size + 2, make, transduce, min_length=5)


def transduction_scores(predictions: Array, targets: Array, n: Array) -> tuple[Array, Array]:
    """``predictions, targets: int[L]`` (aligned with ``tokens[1:]``), source length
    ``n: int[]`` -> ``(coarse: bool[], fine: float[])``: whether the output (positions
    n..2n) is entirely correct, and the fraction of it correct before the first error."""
    mask = target_mask(n, targets.shape[0])
    ok = (predictions == targets) | ~mask
    return jnp.all(ok), jnp.sum(jnp.cumprod(ok) * mask) / (n + 1)


def transduction(task: Transduction, n_min: int, n_max: int, eval_n_max: int, *, eval_samples: int = 500) -> Task:
    """Teacher-forced training on sources of length ``[n_min, n_max]``; greedy decoding
    scored on ``eval_samples`` sources with n in the training range (``*_train``) and in
    ``(n_max, eval_n_max]`` (``*_test``; Grefenstette et al. train on 8-64, test on 65-128)."""
    require_positive(eval_samples=eval_samples)
    if n_min < task.min_length:
        raise ValueError(f"{task.name} sources have at least {task.min_length} symbols: "
                         f"n_min must be >= {task.min_length}, got {n_min}")
    ranges = {"train": (n_min, n_max), "test": (n_max + 1, eval_n_max)}
    ranges = {name: r for name, r in ranges.items() if r[0] <= r[1]}

    def sample(key, n_lo, n_hi, max_len) -> Example:
        tokens, n = task.sample(key, n_lo, n_hi, max_len)
        return {"inputs": tokens[:-1], "targets": tokens[1:], "mask": target_mask(n, max_len - 1), "n": n}

    @cached
    def sets():
        out = []
        for name, (lo, hi) in ranges.items():
            max_len = task.max_length(hi)
            keys = jax.random.split(jax.random.key(hi), eval_samples)
            tokens, n = jax.vmap(task.sample, (0, None, None, None))(keys, lo, hi, max_len)
            tokens, n = np.asarray(tokens), np.asarray(n)
            forced = np.arange(max_len - 1)[None] <= n[:, None]
            examples = {"inputs": tokens[:, :-1], "targets": tokens[:, 1:], "n": n, "forced": forced}
            out.append(EvalSet(name, examples, 2 * n + 1))
        return tuple(out)

    def score(model: Predictor, example: Example):
        predictions = model.greedy(example["inputs"], example["forced"])
        coarse, fine = transduction_scores(predictions, example["targets"], example["n"])
        return {"coarse": coarse, "fine": fine}

    def summarise(scores):
        return {f"{k}_{name}": float(np.mean(scores[name][k])) for name in ranges for k in ("coarse", "fine")}

    evaluation = Evaluation(sets, score, summarise, tuple(f"{k}_{r}" for r in ranges for k in ("coarse", "fine")),
                            task.max_length(max(hi for _, hi in ranges.values())) - 1,
                            f"greedy decoding of {eval_samples} sources per range {ranges}")
    return Task(task.name, task.vocab_size, task.vocab_size, (n_min, n_max), task.max_length, sample,
                masked_classification, evaluation, ("accuracy",), separator=task.separator, definition=task)
