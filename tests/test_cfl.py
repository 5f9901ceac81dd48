"""PCFG tasks: inside over lengths and over spans, length-conditioned sampling, lower bounds."""

import collections
import functools
import itertools
import math

import numpy as np
import pytest

from rnnjax.tasks.cfl import GRAMMARS, PCFG, draw_corpus


def topdown_probability(grammar: PCFG, w: str) -> float:
    """Probability that S derives w, by memoised recursion over (symbols, span);
    a symbol sequence only takes spans at least its shortest derivation long."""
    shortest = {a: math.inf for a in grammar.rules}
    for _ in grammar.rules:
        for a, options in grammar.rules.items():
            shortest[a] = min(sum(shortest[c] if c.isupper() else 1 for c in rhs) for _, rhs in options)

    def least(alpha):
        return sum(shortest[c] if c.isupper() else 1 for c in alpha)

    @functools.lru_cache(maxsize=None)
    def derive(alpha: str, i: int, j: int) -> float:
        if not alpha:
            return float(i == j)
        head, rest = alpha[0], alpha[1:]
        if not head.isupper():
            return derive(rest, i + 1, j) if i < j and w[i] == head else 0.0
        return sum(inside(head, i, m) * derive(rest, m, j) for m in range(i + shortest[head], j - least(rest) + 1))

    @functools.lru_cache(maxsize=None)
    def inside(a: str, i: int, j: int) -> float:
        return sum(p * derive(rhs, i, j) for p, rhs in grammar.rules[a])

    return inside("S", 0, len(w))


@pytest.mark.parametrize("name", [n for n in GRAMMARS if n != "hardest_cfl"])
def test_string_probabilities_of_a_length_sum_to_its_inside_weight(name):
    grammar, alphabet = GRAMMARS[name]
    beta, _ = grammar.inside(6)
    for n in range(7):
        words = ["".join(w) for w in itertools.product(alphabet, repeat=n)]
        np.testing.assert_allclose(np.exp(grammar.log_probability(words)).sum(), beta["S"][n], rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_inside_over_spans_equals_topdown_recursion(name):
    grammar, _ = GRAMMARS[name]
    rng = np.random.default_rng(1)
    tables = grammar.inside(24)
    lengths = [n for n in range(12, 25) if tables[0]["S"][n] > 0][::4]
    words = [grammar.sample(rng, n, tables) for n in lengths]
    expected = [math.log(topdown_probability(grammar, w)) for w in words]
    np.testing.assert_allclose(grammar.log_probability(words), expected, rtol=1e-10)


def test_ambiguous_and_unambiguous_strings_by_hand():
    c, g = 60 / 61, 30 / 31
    marked, _ = GRAMMARS["marked_reversal"]
    assert marked.log_probability(["01#10"])[0] == pytest.approx(2 * math.log(c / 2) + math.log(1 - c))
    padded, _ = GRAMMARS["padded_reversal"]  # 0000 = A(0000) = 0 A(00) 0 = 00 A() 00 = 00 B() 00
    stop = (1 - c) / 2
    p = stop * g**4 * (1 - g) + (c / 2) * stop * g**2 * (1 - g) + 2 * (c / 2) ** 2 * stop * (1 - g)
    assert padded.log_probability(["0000"])[0] == pytest.approx(math.log(p))
    hardest, _ = GRAMMARS["hardest_cfl"]
    assert np.isfinite(hardest.log_probability([",$(),;", ",$[,;,[,$,;,]],;"])).all()
    assert np.isneginf(hardest.log_probability([",$(],;", "$(),;", ",$(),"])).all()


@pytest.mark.parametrize("name, length", [("padded_reversal", 6), ("dyck2", 8), ("hardest_cfl", 8)])
def test_length_conditioned_sampling_matches_string_probabilities(name, length):
    grammar, _ = GRAMMARS[name]
    tables = grammar.inside(length)
    rng = np.random.default_rng(0)
    draws = 3000
    counts = collections.Counter(grammar.sample(rng, length, tables) for _ in range(draws))
    words = list(counts)
    expected = np.exp(grammar.log_probability(words)) / tables[0]["S"][length]
    assert expected.sum() > 0.99, "the samples should cover the support"
    observed = np.array([counts[w] for w in words]) / draws
    assert np.abs(observed - expected).max() < 0.03
    assert all(len(w) == length for w in words)


def test_grammars_are_checked():
    with pytest.raises(ValueError, match="sum to 1"):
        PCFG({"S": ((0.5, "a"),)})
    with pytest.raises(ValueError, match="cycle"):
        PCFG({"S": ((0.5, "A"), (0.5, "a")), "A": ((0.5, "S"), (0.5, "b"))})
    with pytest.raises(ValueError, match="no string of length 3"):
        GRAMMARS["dyck2"][0].sample(np.random.default_rng(0), 3)


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_task_test_set_and_lower_bounds(name):
    corpus = draw_corpus(name, train=(8, 12), test=(8, 16), pool=64, test_size=32)
    grammar, alphabet = GRAMMARS[name]
    lengths = corpus.test_lengths
    assert ((8 <= lengths) & (lengths <= 16)).all()
    strings = ["".join(alphabet[t] for t in row[:n]) for row, n in zip(corpus.test_tokens, lengths)]
    assert all(np.isfinite(grammar.log_probability([s])[0]) for s in strings)
    assert (corpus.test_tokens[np.arange(len(lengths)), np.minimum(lengths, corpus.test_tokens.shape[1] - 1)]
            == len(alphabet))[lengths < corpus.test_tokens.shape[1]].all()
    bounds = corpus.test_lower_bounds
    assert np.isfinite(bounds).all() and (bounds > 0).all()
    beta = grammar.inside(16)[0]["S"]
    possible = sum(beta[n] > 0 for n in range(8, 17))
    i = 0
    true = grammar.log_probability([strings[i]])[0] - math.log(beta[lengths[i]]) - math.log(possible)
    assert bounds[i] == pytest.approx(-true / (lengths[i] + 1))
