"""The output-tape and final-class formats: examples, masks, losses and per-n evaluation, against references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.eval import evaluate
from rnnjax.tasks import ClassTask, TapeTask, final_class, output_tape

SYMBOLS = 3


def _reverse() -> TapeTask:
    def make(key, n, max_len):
        x = jax.random.randint(key, (max_len,), 0, SYMBOLS)
        return x, x[jnp.clip(n - 1 - jnp.arange(max_len), 0, max_len - 1)]

    return TapeTask("reverse", SYMBOLS, SYMBOLS, lambda n: n, make, lambda x: x[::-1])


def _parity() -> ClassTask:
    def make(key, n, max_len):
        x = jax.random.randint(key, (max_len,), 0, 2)
        return x, jnp.sum(jnp.where(jnp.arange(max_len) < n, x, 0)) % 2

    return ClassTask("parity", 2, 2, make, lambda x: sum(x) % 2)


class Oracle:
    """A model that computes the task exactly (``solve: inputs -> logits``)."""

    def __init__(self, solve, num_outputs):
        self.solve, self.num_outputs = solve, num_outputs

    def bind(self, params):
        return self

    def logits(self, inputs):
        return self.solve(inputs)

    def init(self, key):
        return {}

    def states(self, params, inputs):
        return jnp.zeros((inputs.shape[0], 1))


def _reverse_logits(inputs):
    n = jnp.sum(inputs < SYMBOLS)
    p = jnp.arange(inputs.shape[0])
    answer = inputs[jnp.clip(2 * n - 1 - p, 0, inputs.shape[0] - 1)]
    return 10.0 * jax.nn.one_hot(answer, SYMBOLS)


def _parity_logits(inputs):
    return 10.0 * jax.nn.one_hot(jnp.cumsum(jnp.where(inputs < 2, inputs, 0)) % 2, 2)


def _batch(task, n_lo, n_hi, count=64):
    max_len = task.max_length(n_hi)
    return jax.vmap(task.sample, (0, None, None, None))(jax.random.split(jax.random.key(0), count), n_lo, n_hi, max_len)


def test_output_tape_examples_hold_the_input_then_blanks_with_the_answer_on_them():
    definition = _reverse()
    task = output_tape(definition, 1, 6, 9)
    assert task.vocab_size == SYMBOLS + 2 and task.max_length(6) == 12 and not task.causal
    batch = {k: np.asarray(v) for k, v in _batch(task, 1, 6).items()}
    assert set(batch["n"]) == set(range(1, 7))
    for inputs, targets, mask, n in zip(batch["inputs"], batch["targets"], batch["mask"], batch["n"]):
        x = list(inputs[:n])
        assert max(x) < SYMBOLS and (inputs[n : 2 * n] == definition.blank).all()
        assert (inputs[2 * n :] == definition.pad).all()
        assert list(np.flatnonzero(mask)) == list(range(n, 2 * n))
        assert list(targets[mask]) == definition.reference(x)


def test_output_tape_loss_and_accuracy_share_the_mask_and_weigh_examples_equally():
    task = output_tape(_reverse(), 1, 6, 9)
    batch = _batch(task, 1, 6)
    perfect = jax.vmap(_reverse_logits)(batch["inputs"])
    loss, metrics = task.loss(perfect, batch)
    assert float(loss) < 1e-3 and float(metrics["accuracy"]) == 1.0
    # right outside the mask only: nothing counts as right
    outside = jnp.where(batch["mask"][..., None], -perfect, perfect)
    assert float(task.loss(outside, batch)[1]["accuracy"]) == 0.0
    # example-weighted: one long example wrong and one short one right give 1/2
    short, long_ = int(np.argmin(batch["n"])), int(np.argmax(batch["n"]))
    pair = jax.tree_util.tree_map(lambda x: x[jnp.array([short, long_])], batch)
    logits = jnp.stack([perfect[short], -perfect[long_]])
    assert float(task.loss(logits, pair)[1]["accuracy"]) == pytest.approx(0.5)


def test_output_tape_evaluation_reports_accuracy_per_n():
    task = output_tape(_reverse(), 1, 4, 9, eval_samples=32)
    (perfect,) = evaluate(task, Oracle(_reverse_logits, SYMBOLS), jnp.zeros((1,)))
    assert perfect["accuracy_by_n"] == [1.0] * 9 and perfect["accuracy_train"] == perfect["accuracy_test"] == 1.0
    (constant,) = evaluate(task, Oracle(lambda x: jnp.zeros((x.shape[0], SYMBOLS)).at[:, 0].set(1.0), SYMBOLS),
                           jnp.zeros((1,)))
    assert constant["accuracy_test"] == pytest.approx(1 / SYMBOLS, abs=0.07)
    assert set(perfect) == set(task.evaluation.metrics)


def test_final_class_reads_one_label_at_the_last_position():
    definition = _parity()
    task = final_class(definition, 1, 8, 12)
    batch = {k: np.asarray(v) for k, v in _batch(task, 1, 8).items()}
    for inputs, targets, mask, n in zip(batch["inputs"], batch["targets"], batch["mask"], batch["n"]):
        assert list(np.flatnonzero(mask)) == [n - 1] and (inputs[n:] == 2).all()
        assert targets[n - 1] == definition.reference(list(inputs[:n]))
    loss, metrics = task.loss(jax.vmap(_parity_logits)(jnp.asarray(batch["inputs"])), batch)
    assert float(metrics["accuracy"]) == 1.0 and float(loss) < 1e-3
    (perfect,) = evaluate(task, Oracle(_parity_logits, 2), jnp.zeros((1,)))
    assert perfect["accuracy_by_n"] == [1.0] * 12
    (always_even,) = evaluate(task, Oracle(lambda x: jnp.zeros((x.shape[0], 2)).at[:, 0].set(1.0), 2),
                              jnp.zeros((1,)))
    assert 0.3 < always_even["accuracy_test"] < 0.7
