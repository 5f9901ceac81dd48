"""DFAs against brute force, the reference languages, and extraction from networks built to be known DFAs."""

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax import cells
from rnnjax.automata import DFA, REFERENCE_LANGUAGES, balanced_parentheses, tomita, words
from rnnjax.automata.extraction import Acceptor, dfa_network, lstar, model_acceptor, quantise, standardise
from rnnjax.eval.plots import render_dfa
from rnnjax.models import SequenceModel
from rnnjax.tasks import TASKS


def _random_dfa(rng, states, alphabet="ab"):
    return DFA(alphabet, rng.integers(0, states, (states, len(alphabet))), rng.random(states) < 0.5)


def _nerode_classes(dfa, depth=8):
    """Reachable states told apart by some suffix up to ``depth`` (brute force)."""
    reachable = {dfa.state(w) for w in words(dfa.alphabet, depth)}
    suffixes = list(words(dfa.alphabet, depth))
    return len({tuple(dfa.accepting[dfa.state(s, q)] for s in suffixes) for q in reachable})


@pytest.mark.parametrize("seed", range(20))
def test_minimise_keeps_the_language_and_reaches_the_nerode_size(seed):
    rng = np.random.default_rng(seed)
    dfa = _random_dfa(rng, int(rng.integers(1, 7)))
    small = dfa.minimise()
    assert all(small.accepts(w) == dfa.accepts(w) for w in words("ab", 8))
    assert small.size == _nerode_classes(dfa)
    assert small.minimise().size == small.size


@pytest.mark.parametrize("seed", range(20))
def test_counterexample_is_a_shortest_disagreement(seed):
    rng = np.random.default_rng(100 + seed)
    a, b = _random_dfa(rng, 3), _random_dfa(rng, 3)
    disagreements = [w for w in words("ab", 8) if a.accepts(w) != b.accepts(w)]
    found = a.counterexample(b)
    if found is None:
        assert not disagreements and a.equivalent(b)
    else:
        assert a.accepts(found) != b.accepts(found) and len(found) == len(disagreements[0])


def test_sample_draws_words_of_the_asked_label_and_length():
    rng = np.random.default_rng(0)
    t7 = tomita(7)
    for accept in (True, False):
        for length in (5, 12):  # every word shorter than 5 is in 0*1*0*1*
            w = t7.sample(rng, length, accept)
            assert len(w) == length and t7.accepts(w) == accept
    assert tomita(2).sample(rng, 5, accept=True) is None  # (10)* has no word of odd length
    counts = {}
    for _ in range(2000):
        w = tomita(1).sample(rng, 3, accept=False)
        counts[w] = counts.get(w, 0) + 1
    assert len(counts) == 7 and min(counts.values()) > 200  # uniform over the 7 rejected words


def _runs(w):
    return [(k, len(list(g))) for k, g in itertools.groupby(w)]


TOMITA_PREDICATES = {
    1: lambda w: set(w) <= {"1"},
    2: lambda w: w == "10" * (len(w) // 2),
    3: lambda w: not any(r == "1" and m % 2 and s == "0" and n % 2 for (r, m), (s, n) in zip(_runs(w), _runs(w)[1:])),
    4: lambda w: "000" not in w,
    5: lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0,
    6: lambda w: (w.count("0") - w.count("1")) % 3 == 0,
    7: lambda w: re.fullmatch("0*1*0*1*", w) is not None,
}
MINIMAL_SIZES = {1: 2, 2: 3, 3: 5, 4: 4, 5: 4, 6: 3, 7: 5}


@pytest.mark.parametrize("k", range(1, 8))
def test_tomita_dfas_are_the_minimal_dfas_of_their_definitions(k):
    dfa = tomita(k)
    assert all(dfa.accepts(w) == TOMITA_PREDICATES[k](w) for w in words("01", 11))
    assert dfa.minimise().size == dfa.size == MINIMAL_SIZES[k]


def test_bounded_balanced_parentheses():
    dfa = balanced_parentheses(3)
    for w in words("()", 10):
        depths = list(itertools.accumulate(1 if c == "(" else -1 for c in w))
        assert dfa.accepts(w) == (not depths or (min(depths) >= 0 and max(depths) <= 3 and depths[-1] == 0))
    with pytest.raises(ValueError, match="max_depth must be a positive integer, got 0"):
        balanced_parentheses(0)


@pytest.mark.parametrize("name", list(REFERENCE_LANGUAGES))
def test_extraction_recovers_the_dfa_a_network_was_built_to_run(name):
    target = REFERENCE_LANGUAGES[name]()
    net = dfa_network(target)
    assert all(net.accepts(w) == target.accepts(w) for w in words(target.alphabet, 7))
    by_lstar = lstar(net, time_limit=30)
    assert by_lstar.finished and by_lstar.dfa.equivalent(target) and by_lstar.dfa.size == target.minimise().size
    rng = np.random.default_rng(0)
    sample = ["".join(rng.choice(list(target.alphabet), rng.integers(0, 12))) for _ in range(300)]
    by_quantisation = quantise(net, sample, k=3 * target.size)
    assert by_quantisation.dfa.equivalent(target)


def test_lstar_returns_its_last_hypothesis_when_time_runs_out():
    result = lstar(dfa_network(tomita(5)), time_limit=0.0)
    assert not result.finished and result.dfa.size >= 1


def test_quantisation_with_too_few_clusters_merges_states():
    result = quantise(dfa_network(tomita(3)), list(words("01", 8)), k=2)
    assert result.dfa.size <= 3 and not result.dfa.equivalent(tomita(3))


def test_render_writes_png_and_dot(tmp_path):
    path = render_dfa(tomita(3), tmp_path / "t3.png", "tomita 3")
    assert path.exists() and path.stat().st_size > 1000
    dot = (tmp_path / "t3.dot").read_text()
    assert dot.count("doublecircle") == 3 and "start -> q0" in dot


@pytest.mark.parametrize("name", ["tomita3", "balanced_parentheses"])
def test_regular_tagging_labels_follow_the_dfa(name):
    task, dfa = TASKS[name](16, 16, 16).definition, REFERENCE_LANGUAGES[name]()
    tokens = jax.vmap(lambda k: task.sample(k, 16))(jax.random.split(jax.random.key(0), 64))
    labels = np.asarray(jax.vmap(task.labels)(tokens))
    assert (np.asarray(tokens)[:, 0] == len(dfa.alphabet)).all()
    for t, lab in zip(np.asarray(tokens), labels):
        w = "".join(dfa.alphabet[a] for a in t[1:])
        assert list(lab) == [dfa.accepts(w[:i]) for i in range(len(w) + 1)]
    assert 0.1 < labels.mean() < 0.9


def test_model_acceptor_agrees_with_the_model_on_whole_strings():
    task = TASKS["tomita4"](16, 16, 16).definition
    model = SequenceModel(cells.lstm(6), task.vocab_size, 2, 3)
    params = model.init(jax.random.key(0))
    net = model_acceptor(model, params, "01", start_token=2)
    for w in ["", "0", "0110", "0001", "1111000"]:
        tokens = jnp.array([2] + ["01".index(c) for c in w])
        assert net.accepts(w) == bool(jnp.argmax(model.apply(params, tokens)[-1]) == 1)


@pytest.mark.parametrize("k", [3, 7])
def test_standardised_quantisation_survives_an_unbounded_state_unit(k):
    """A DFA network with one extra unit counting the length by 100s (an LSTM cell's
    unbounded values): raw k-means clusters by length, standardised k-means recovers the DFA."""
    target = tomita(k)
    net = dfa_network(target)

    def start():
        state, y = net.start()
        return (state, jnp.zeros(())), y

    def step(state, symbol):
        inner, count = state
        inner, y = net.step(inner, symbol)
        return (inner, count + 100.0), y

    counting = Acceptor(net.alphabet, start, step, net.accept)
    sample = list(words("01", 8))
    assert not quantise(counting, sample, k=3 * target.size, standardised=False).dfa.equivalent(target)
    assert quantise(counting, sample, k=3 * target.size).dfa.equivalent(target)
    points = np.random.default_rng(0).normal(3.0, 5.0, (50, 3)) * np.array([1.0, 0.0, 10.0])
    scaled = standardise(points)
    np.testing.assert_allclose(scaled.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(0), [1, 0, 1], atol=1e-12)
