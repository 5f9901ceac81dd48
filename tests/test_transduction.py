"""Transduction tasks, attention, the encoder-decoder, greedy decoding and their metrics."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax import cells, memory
from rnnjax.eval import evaluate
from rnnjax.models import EncoderDecoder, SequenceModel
from rnnjax.tasks import TASKS, target_mask
from rnnjax.tasks.transduction import (
    Lexicon,
    bigram_flip,
    copy,
    gender_conjugation,
    reversal,
    svo_sov,
    transduction_scores,
)

LEX = Lexicon()
THE, A = 0, 1
NOUN = [LEX.noun0 + i for i in range(6)]  # genders 0, 1, 2, 0, 1, 2
VERB = LEX.verb0
ADJ = [LEX.adjective0 + i for i in range(3)]


def _gendered(word, gender):
    index = word if word < LEX.noun0 else 2 + word - LEX.adjective0
    return LEX.gendered0 + 3 * index + gender


def test_reference_transductions_on_hand_written_examples():
    assert copy(10).transduce([3, 1, 4]) == [3, 1, 4]
    assert reversal(10).transduce([3, 1, 4]) == [4, 1, 3]
    assert bigram_flip(10).transduce([1, 2, 3, 4, 5]) == [2, 1, 4, 3, 5]
    sentence = [THE, ADJ[0], NOUN[1], VERB, A, ADJ[1], ADJ[2], NOUN[5]]
    assert svo_sov().transduce(sentence) == [THE, ADJ[0], NOUN[1], A, ADJ[1], ADJ[2], NOUN[5], VERB]
    assert gender_conjugation().transduce(sentence) == [
        _gendered(THE, 1), _gendered(ADJ[0], 1), NOUN[1], VERB,
        _gendered(A, 2), _gendered(ADJ[1], 2), _gendered(ADJ[2], 2), NOUN[5],
    ]


DEFINITIONS = {"copy": copy(7), "reversal": reversal(7), "bigram_flip": bigram_flip(7), "svo_sov": svo_sov(),
               "gender_conjugation": gender_conjugation()}


@pytest.mark.parametrize("name", list(DEFINITIONS))
def test_jit_sampler_agrees_with_the_reference_transduction(name):
    task = DEFINITIONS[name]
    max_len = task.max_length(12) + 3
    sample = jax.jit(jax.vmap(lambda k: task.sample(k, 5, 12, max_len)))
    tokens, n = map(np.asarray, sample(jax.random.split(jax.random.key(0), 200)))
    assert set(n) == set(range(5, 13))
    for t, length in zip(tokens, n):
        np.testing.assert_array_equal(t, task.stream(list(t[:length]), max_len))
        assert t.max() < task.vocab_size and t.min() >= 0


def test_target_mask_covers_target_and_final_eos():
    task = reversal(9)
    tokens, n = task.sample(jax.random.key(3), 4, 4, 12)
    mask = target_mask(n, 11)
    assert int(mask.sum()) == 5
    np.testing.assert_array_equal(tokens[1:][mask], reversal(9).transduce(list(np.asarray(tokens[:4]))) + [task.eos])


def test_stream_rejects_a_too_short_buffer():
    with pytest.raises(ValueError, match="needs max_len >= 8"):
        copy(5).stream([1, 2, 3], max_len=6)


def _reference_attend(params, query, keys, mask):
    keys, query = np.asarray(keys, np.float64), np.asarray(query, np.float64)
    if "w" in params:
        scores = keys @ (np.asarray(params["w"]).T @ query)
    else:
        scores = np.array([np.asarray(params["v"]) @ np.tanh(k @ params["w_k"] + query @ params["w_q"]) for k in keys])
    weights = np.where(mask, np.exp(scores - scores[mask].max()), 0.0)
    return (weights / weights.sum()) @ keys


@pytest.mark.parametrize("score", ["dot", "additive"])
def test_attention_read_equals_reference_and_ignores_masked_keys(score):
    k_p, k_q, k_k = jax.random.split(jax.random.key(1), 3)
    params = memory.init_attention(k_p, score, 5, 3)
    query, keys = jax.random.normal(k_q, (5,)), jax.random.normal(k_k, (6, 3))
    mask = jnp.array([1, 0, 1, 1, 0, 1], bool)
    r = memory.attend(params, query, keys, mask)
    np.testing.assert_allclose(r, _reference_attend(params, query, keys, np.asarray(mask)), rtol=1e-5, atol=1e-6)
    scrambled = keys.at[1].set(100.0).at[4].set(-7.0)
    np.testing.assert_allclose(memory.attend(params, query, scrambled, mask), r, atol=1e-6)


def test_bad_attention_choices_fail_with_the_value():
    with pytest.raises(ValueError, match="score must be 'dot' or 'additive', got 'cosine'"):
        memory.attentive(cells.gru(3), jnp.zeros((2, 2)), jnp.ones(2, bool), score="cosine")
    with pytest.raises(ValueError, match="fusion must be 'early' or 'late', got 'middle'"):
        EncoderDecoder(cells.gru(3), cells.gru(3), 5, 5, 3, fusion="middle")


SEP = 6
MODELS = {
    "lstm+stack": SequenceModel(memory.augment(cells.lstm(8), memory.stack(3), capacity=16), 8, 8, 4),
    "encoder-decoder-late-dot": EncoderDecoder(cells.lstm(8), cells.lstm(8), 8, 8, SEP),
    "encoder-decoder-early-additive": EncoderDecoder(cells.gru(6), cells.lstm(8), 8, 8, SEP, 4, "additive", "early"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_after_the_separator_do_not_see_later_tokens(name):
    model = MODELS[name]
    params = model.init(jax.random.key(0))
    tokens = jnp.array([1, 2, 3, 0, SEP, 3, 0, 2, 1, 7])
    changed = tokens.at[7:].set(jnp.array([5, 5, 5]))
    np.testing.assert_allclose(model.apply(params, tokens)[:7], model.apply(params, changed)[:7], atol=1e-6)
    assert not np.allclose(model.apply(params, tokens)[7:], model.apply(params, changed)[7:])


@pytest.mark.parametrize("name", list(MODELS))
def test_greedy_decoding_feeds_back_its_own_predictions(name):
    model = MODELS[name]
    params = model.init(jax.random.key(2))
    tokens = jnp.array([1, 2, 3, 0, SEP, 0, 0, 0, 0, 0, 0])
    forced = jnp.arange(tokens.shape[0]) <= 4
    predictions = model.greedy(params, tokens, forced)
    fed = jnp.where(forced, tokens, jnp.concatenate([tokens[:1], predictions[:-1]]))
    np.testing.assert_array_equal(jnp.argmax(model.apply(params, fed), -1), predictions)
    teacher_forced = model.greedy(params, tokens, jnp.ones_like(forced))
    np.testing.assert_array_equal(teacher_forced, jnp.argmax(model.apply(params, tokens), -1))


def test_coarse_and_fine_accuracy_against_a_loop():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 6, size=40)
    targets = rng.integers(0, 3, size=(40, 13))
    predictions = np.where(rng.random((40, 13)) < 0.9, targets, rng.integers(0, 3, size=(40, 13)))
    coarse, fine = jax.vmap(transduction_scores)(jnp.asarray(predictions), jnp.asarray(targets), jnp.asarray(n))
    for b in range(40):
        output = range(n[b], 2 * n[b] + 1)
        errors = [p for p in output if predictions[b, p] != targets[b, p]]
        assert bool(coarse[b]) == (not errors)
        correct_prefix = (errors[0] - n[b]) if errors else n[b] + 1
        assert float(fine[b]) == pytest.approx(correct_prefix / (n[b] + 1))
    assert 0 < coarse.mean() < 1


def test_transduction_evaluation_per_member_matches_each_member_alone():
    task = TASKS["copy"](1, 3, 5, symbols=4, eval_samples=64)
    model = SequenceModel(cells.gru(6), task.vocab_size, task.vocab_size, 3)
    members = [model.init(jax.random.key(s)) for s in range(2)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *members)
    together = evaluate(task, model, stacked)
    for m, params in enumerate(members):
        (alone,) = evaluate(task, model, jax.tree_util.tree_map(lambda x: x[None], params))
        assert alone == pytest.approx(together[m], abs=1e-6)
    assert all(0 <= r[f"coarse_{s}"] <= r[f"fine_{s}"] <= 1 for r in together for s in ("train", "test"))


def test_blocked_remat_scan_equals_plain_scan_forward_and_gradient():
    cell = memory.augment(cells.lstm(5), memory.queue(2), capacity=32, remat_block=None)
    blocked = memory.augment(cells.lstm(5), memory.queue(2), capacity=32, remat_block=4)
    params = cell.init(jax.random.key(0), 3)
    xs = jax.random.normal(jax.random.key(1), (23, 3))  # 5 blocks of 4 and a tail of 3

    def loss(c, p):
        return jnp.sum(jnp.sin(cells.scan(c, p, xs)[1]))

    chex.assert_trees_all_close(cells.scan(blocked, params, xs), cells.scan(cell, params, xs), atol=1e-6)
    chex.assert_trees_all_close(jax.grad(loss, 1)(blocked, params), jax.grad(loss, 1)(cell, params), atol=1e-5)
