"""Counting languages against brute-force enumeration; sampler and prediction formulation."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnjax.tasks import (
    accepts,
    anbn,
    anbn_sigma_star,
    anbn_sigma_star_prefixes,
    anbncn,
    marked_reversal,
    next_symbol_accuracy,
    prediction_example,
)

LANGUAGES = [anbn(), anbncn(), anbn_sigma_star(max_suffix=3), marked_reversal("ab")]
COUNTING = LANGUAGES[:3]
MAX_LEN = 9


def _by_definition(language, s: str) -> bool:
    """Membership straight from the set-builder definition, by trying every n."""
    for n in range(1, len(s) + 1):
        if language.name == "anbn" and s == "a" * n + "b" * n:
            return True
        if language.name == "anbncn" and s == "a" * n + "b" * n + "c" * n:
            return True
        if language.name == "anbn_sigma_star" and s.startswith("a" * n + "b" * n) and set(s) <= {"a", "b"}:
            if not s[n:].startswith("a"):  # n must be the whole leading run of a's
                return True
        if language.name == "marked_reversal":
            w = s[:n]
            if "$" not in w and s == w + "$" + w[::-1]:
                return True
    return False


def _size(language, s: str) -> int:
    """The n a member was sampled with."""
    return len(s) // 2 if language.name == "marked_reversal" else len(s) - len(s.lstrip("a"))


def _all_strings(alphabet, max_len):
    for length in range(max_len + 1):
        for chars in itertools.product(alphabet, repeat=length):
            yield "".join(chars)


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.name)
def test_membership_oracle_agrees_with_enumeration(language):
    for s in _all_strings(language.alphabet, MAX_LEN):
        assert language.is_member(s) == _by_definition(language, s), s


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.name)
def test_next_symbol_sets_agree_with_enumeration(language):
    members = [s for s in _all_strings(language.alphabet, MAX_LEN + 3) if language.is_member(s)]
    eos = language.eos
    prefixes = {m[:t] for m in members for t in range(len(m) + 1) if t <= 3}
    for prefix in prefixes:
        expected = np.zeros(language.vocab_size, bool)
        for m in members:
            if m == prefix:
                expected[eos] = True
            elif m.startswith(prefix):
                expected[language.alphabet.index(m[len(prefix)])] = True
        sets = np.asarray(language.next_symbol_sets(jnp.asarray(language.encode(prefix, 8))))
        np.testing.assert_array_equal(sets[len(prefix)], expected, err_msg=repr(prefix))


@functools.cache
def _sampler(language):
    """One compiled batch sampler per language, padded for n <= 11."""
    max_len = language.max_length(11) + 2
    return jax.jit(jax.vmap(lambda k, lo, hi: language.sample(k, lo, hi, max_len), (0, None, None)))


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.name)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_lo=st.integers(1, 6), width=st.integers(0, 5))
def test_sampler_gives_members_in_range(language, seed, n_lo, width):
    n_hi = n_lo + width
    tokens, lengths = _sampler(language)(jax.random.split(jax.random.key(seed), 16), n_lo, n_hi)
    for t, length in zip(np.asarray(tokens), np.asarray(lengths)):
        s = language.decode(t, length)
        assert language.is_member(s), s
        assert n_lo <= _size(language, s) <= n_hi
        assert np.all(t[length:] == language.eos)
        sets = np.asarray(language.next_symbol_sets(jnp.asarray(t)))
        targets = list(t[:length]) + [language.eos]
        assert all(sets[i, targets[i]] for i in range(length + 1)), s


def test_prediction_example_shifts_by_one():
    language = anbn()
    inputs, targets, mask = prediction_example(jnp.asarray(language.encode("aabb", 6)), 4, language.eos)
    np.testing.assert_array_equal(inputs, [2, 0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(targets, [0, 0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(mask, [1, 1, 1, 1, 1, 0, 0])


def _oracle_log_probs(language, inputs):
    """Uniform over the true next-symbol set: the ideal recogniser."""
    sets = language.next_symbol_sets(inputs[1:])
    return jnp.log(sets / jnp.maximum(sets.sum(-1, keepdims=True), 1))


@pytest.mark.parametrize("language", COUNTING, ids=lambda language: language.name)
@pytest.mark.parametrize("n", [1, 2, 7])
def test_ideal_recogniser_accepts_members_and_rejects_near_misses(language, n):
    member, near_misses = language.probes(n)
    assert language.is_member(member) and not any(language.is_member(s) for s in near_misses)
    for s, expected in [(member, True)] + [(s, False) for s in near_misses]:
        inputs, targets, mask = prediction_example(jnp.asarray(language.encode(s, 40)), len(s), language.eos)
        log_probs = _oracle_log_probs(language, inputs)
        assert bool(accepts(log_probs, targets, mask, 0.005)) == expected, s
        if expected:
            sets = language.next_symbol_sets(inputs[1:])
            assert float(next_symbol_accuracy(log_probs, sets, mask, 0.005)) == 1.0


def test_threshold_decides_acceptance():
    targets, mask = jnp.array([0, 0]), jnp.array([True, True])
    log_probs = jnp.log(jnp.array([[0.9, 0.1], [0.01, 0.99]]))
    assert bool(accepts(log_probs, targets, mask, 0.005))
    assert not bool(accepts(log_probs, targets, mask, 0.05))
    assert bool(accepts(log_probs, targets, jnp.array([True, False]), 0.05)), "masked position counted"


def test_encode_rejects_foreign_symbols():
    with pytest.raises(ValueError, match=r"symbols \['c'\] are not in the alphabet"):
        anbn().encode("abc")
    with pytest.raises(ValueError, match="max_suffix must be >= 0"):
        anbn_sigma_star(max_suffix=-1)


def test_prefix_tags_agree_with_membership_of_every_prefix():
    task, language = anbn_sigma_star_prefixes(), anbn_sigma_star()
    strings = list(_all_strings("ab", 10))
    width = 10
    tokens = np.array([[0 if c == "a" else 1 for c in s.ljust(width, "a")] for s in strings], np.int32)
    labels = np.asarray(jax.jit(jax.vmap(task.labels))(tokens))
    for s, row in zip(strings, labels):
        for t in range(len(s)):
            assert row[t] == language.is_member(s[: t + 1]), (s, t)


def test_tagging_sampler_mixes_positive_and_negative_prefixes():
    task = anbn_sigma_star_prefixes()
    tokens = jax.jit(jax.vmap(task.sample, (0, None)), static_argnums=1)(jax.random.split(jax.random.key(0), 512), 64)
    assert tokens.shape == (512, 64) and set(np.unique(tokens)) <= {0, 1}
    final = np.asarray(jax.vmap(task.labels)(tokens))[:, -1]
    assert 0.3 < final.mean() < 0.7, "about half the strings should end inside the language"


def test_marked_reversal_rejects_bad_alphabets():
    with pytest.raises(ValueError, match="without '\\$'"):
        marked_reversal("a$")
