"""Stopping rules, data orders, the per-word loss, the fit check, identity-initialised Elman cells, optimisers."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.cells import CELLS
from rnnjax.models import Bound
from rnnjax.tasks import TASKS
from rnnjax.tasks.base import token_nll
from rnnjax.train import TrainConfig, build
from rnnjax.train.build import length_buckets
from rnnjax.train.loop import step_schedule, train, train_population

TINY = TrainConfig.of(
    hidden=4, embedding_dim=2, n_max=6, steps=60, batch_size=8, num_buckets=1, eval_n_max=8, log_every=10
)


def test_a_member_that_meets_the_rule_stops_frozen_and_the_run_ends_early():
    stopped = train(TINY.replace(stop_when="loss", stop_loss=1e3, stop_every=10), progress=False)
    assert stopped.stopped_at == 10
    assert stopped.history[-1]["step"] == 9, "nothing trained after every member stopped"
    assert np.isfinite(stopped.history[-1]["check_score"])
    plain = train(TINY.replace(steps=10), progress=False)
    assert plain.stopped_at is None
    chex.assert_trees_all_close(stopped.params, plain.params, rtol=1e-6)


def test_patience_stops_a_member_whose_score_stalls_while_the_others_train_on():
    cfg = TINY.replace(stop_when="loss", stop_loss=0.0, stop_patience=1, stop_every=10)
    stalled, learning = train_population([cfg.replace(learning_rate=1e-12), cfg.replace(learning_rate=0.05)],
                                         progress=False)
    assert stalled.stopped_at == 20, "the first check improves on -inf, the second does not"
    assert learning.stopped_at is None or learning.stopped_at > 20
    alone = train(cfg.replace(learning_rate=1e-12, steps=20, stop_when="never", stop_patience=0), progress=False)
    chex.assert_trees_all_close(stalled.params, alone.params, rtol=1e-6)
    assert learning.history[-1]["step"] > 20


def test_stopping_config_errors():
    with pytest.raises(ValueError, match="stop_patience needs a stopping rule"):
        TINY.replace(stop_patience=3)
    with pytest.raises(ValueError, match="stop_when must be one of"):
        TINY.replace(stop_when="soon")
    with pytest.raises(ValueError, match="has no fit check and no training accuracy"):
        train(TINY.replace(task="cfl_dyck2", n_min=2, n_max=8, eval_n_max=10, stop_when="fit"), progress=False)


def oracle(language):
    """A Predictor that puts all probability on the true next-symbol sets of ``language``."""

    class Oracle:
        def logits(self, inputs):
            sets = language.next_symbol_sets(inputs[1:])
            return jnp.where(sets, 0.0, -1e4)

    return Oracle()


@pytest.mark.parametrize("task", ["anbn", "anbncn"])
def test_the_fit_check_is_one_for_the_language_and_zero_for_a_uniform_guess(task):
    t = TASKS[task](1, 12, 20)
    assert float(t.fit(oracle(t.definition))) == 1.0

    class Uniform:
        def logits(self, inputs):
            return jnp.zeros((inputs.shape[0], t.num_outputs))

    assert float(t.fit(Uniform())) == 0.0, "a uniform guess accepts every near miss"


def test_the_fit_check_counts_the_training_n_a_model_gets_right():
    t = TASKS["anbn"](1, 10, 20)
    language = t.definition
    right = oracle(language)

    class WrongBeyondFour:  # accepts a^n b^(n+1) for n > 4: p(b) stays high after the b's
        def logits(self, inputs):
            logits = right.logits(inputs)
            b_count = jnp.cumsum(inputs == language.encode("b")[0])
            return jnp.where(((b_count > 4) & (jnp.arange(inputs.shape[0]) > 0))[:, None], 0.0, logits)

    assert float(t.fit(WrongBeyondFour())) == pytest.approx(0.4)


def test_epochs_visit_every_training_n_once_per_epoch_in_its_bucket():
    parts = build(TINY.replace(n_max=20, num_buckets=3))
    buckets = parts.buckets
    rows = step_schedule(buckets, 50, "epochs")
    for epoch in (rows[:20], rows[20:40]):
        assert sorted(epoch[:, 1]) == list(range(1, 21))
    np.testing.assert_array_equal(rows[:, 1], rows[:, 2])
    lengths = list(dict.fromkeys(b.max_len for b in buckets))
    for branch, n, _ in rows:
        (bucket,) = [b for b in buckets if b.n_lo <= n <= b.n_hi]
        assert lengths[branch] == bucket.max_len
    assert not np.array_equal(rows[:20, 1], rows[20:40, 1]), "shuffled per epoch"
    random = step_schedule(buckets, 2000, "random")
    assert {tuple(r) for r in random} == {(lengths.index(b.max_len), b.n_lo, b.n_hi) for b in buckets}


def test_epoch_order_trains_one_n_per_step():
    cfg = TINY.replace(order="epochs", batch_size=1, steps=12, log_every=1)
    result = train(cfg, progress=False)
    assert len(result.history) == 12 and result.diverged_at is None


def test_the_word_loss_sums_each_word_and_averages_over_words():
    word, token = TASKS["anbn"](1, 6, 8, loss_per="word"), TASKS["anbn"](1, 6, 8)
    keys = jax.random.split(jax.random.key(3), 5)
    batch = jax.vmap(lambda k: word.sample(k, 1, 6, 16))(keys)
    logits = jax.random.normal(jax.random.key(4), (*batch["inputs"].shape, word.num_outputs))
    nll = np.asarray(token_nll(logits, batch["targets"])) * np.asarray(batch["mask"])
    np.testing.assert_allclose(word.loss(logits, batch)[0], nll.sum(1).mean(), rtol=1e-5)
    np.testing.assert_allclose(token.loss(logits, batch)[0], nll.sum() / batch["mask"].sum(), rtol=1e-5)


def test_identity_init_makes_the_elman_recurrence_the_identity():
    params = CELLS["elman"](5, activation="relu", identity_init=True).init(jax.random.key(0), 3)
    np.testing.assert_array_equal(params["wh"], np.eye(5))
    np.testing.assert_array_equal(params["b"], np.zeros(5))
    default = CELLS["elman"](5, activation="relu").init(jax.random.key(0), 3)
    assert not np.allclose(default["wh"], np.eye(5))


def test_the_fit_rule_uses_the_tasks_fit_check_on_the_eval_model():
    cfg = TINY.replace(stop_when="fit", stop_every=5, steps=5)
    parts = build(cfg)
    result = train(cfg, progress=False)
    expected = float(parts.task.fit(Bound(parts.eval_model, jax.tree.map(jnp.asarray, result.params))))
    assert result.history[-1]["check_score"] == pytest.approx(expected)
    assert length_buckets(parts.task, 1) == parts.buckets


def test_the_curriculum_grows_the_largest_n_over_half_the_steps():
    buckets = build(TINY.replace(n_min=2, n_max=20, num_buckets=3)).buckets
    rows = step_schedule(buckets, 100, "curriculum")
    lengths = list(dict.fromkeys(b.max_len for b in buckets))
    assert rows[0, 2] == 2 and rows[50, 2] == 20 and rows[-1, 2] == 20
    assert np.all(np.diff(rows[:, 2]) >= 0) and np.all(rows[:, 1] == 2)
    for branch, _, top in rows:
        (bucket,) = [b for b in buckets if b.n_lo <= top <= b.n_hi]
        assert lengths[branch] == bucket.max_len


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_the_other_optimisers_train_and_log_their_learning_rate(optimizer):
    result = train(TINY.replace(optimizer=optimizer, learning_rate=0.02, steps=20), progress=False)
    assert result.diverged_at is None and result.history[-1]["learning_rate"] == pytest.approx(0.02)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
