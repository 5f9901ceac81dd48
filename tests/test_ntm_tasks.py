"""The Neural Turing Machine tasks (copy, repeat copy, associative recall, priority sort) on an output tape:
sampled answers against plain-Python references of the decoded inputs, samplers under jit/vmap, the size
ranges, the evaluation beyond the training sizes, options, and training through the CLI."""

import json
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.cli import main
from rnnjax.tasks import TASKS, ntm
from rnnjax.train import build
from rnnjax.train.config import TrainConfig, flags

NAMES = ("ntm_copy", "ntm_repeat_copy", "ntm_associative_recall", "ntm_priority_sort")


# Plain-Python references: decode the input tokens (up to the first blank) by their layout, then answer.

def _copy(x, bits=4):
    items = 2**bits
    sequence = []
    for i, t in enumerate(x):
        if t == items:
            assert i == len(x) - 1, "DELIM ends the input"
            break
        assert 0 <= t < items
        sequence.append(t)
    else:
        raise AssertionError("no DELIM")
    return len(sequence), list(sequence)


def _repeat_copy(x, bits=4, max_repeats=3):
    items = 2**bits
    sequence = x[:-1]
    assert all(0 <= t < items for t in sequence)
    count = x[-1] - items + 1
    assert 1 <= count <= max_repeats
    answer = []
    for _ in range(count):
        for t in sequence:
            answer.append(t)
    answer.append(items)  # END
    return len(sequence), answer


def _associative_recall(x, bits=4, item_length=3):
    items = 2**bits
    item_mark, query_mark = items, items + 1
    stored, query, in_query, marks = [], [], False, 0
    for t in x:
        if t == item_mark:
            assert not in_query
            stored.append([])
        elif t == query_mark:
            in_query, marks = True, marks + 1
        elif in_query:
            query.append(t)
        else:
            stored[-1].append(t)
    assert marks == 2 and x[-1] == query_mark and len(query) == item_length
    assert all(len(item) == item_length for item in stored) and len(stored) >= 2
    for i in range(len(stored)):
        if stored[i] == query:
            assert i + 1 < len(stored)
            return len(stored), stored[i + 1]
    raise AssertionError("the query is none of the items")


def _priority_sort(x, bits=4, priorities=8, keep_percent=80):
    items = 2**bits
    assert x[-1] == items + priorities
    pairs = []
    for i in range(0, len(x) - 1, 2):
        assert 0 <= x[i] < items and items <= x[i + 1] < items + priorities
        pairs.append((x[i], x[i + 1] - items))
    m = math.ceil(len(pairs) * keep_percent / 100)
    left, answer = list(range(len(pairs))), []
    for _ in range(m):
        best = left[0]
        for i in left:
            if pairs[i][1] > pairs[best][1]:  # strictly higher: the earlier of equal levels stays
                best = i
        answer.append(pairs[best][0])
        left.remove(best)
    return len(pairs), answer


REFERENCES = {"ntm_copy": _copy, "ntm_repeat_copy": _repeat_copy, "ntm_associative_recall": _associative_recall,
              "ntm_priority_sort": _priority_sort}

# (name, options, training sizes): the defaults, and small alphabets where items repeat and priorities tie
CASES = [
    ("ntm_copy", {}, (1, 10)),
    ("ntm_copy", {"bits": 1}, (3, 7)),
    ("ntm_repeat_copy", {}, (1, 6)),
    ("ntm_repeat_copy", {"bits": 2, "max_repeats": 5}, (2, 5)),
    ("ntm_associative_recall", {}, (2, 6)),
    ("ntm_associative_recall", {"bits": 1, "item_length": 2}, (2, 8)),
    ("ntm_associative_recall", {"bits": 3, "item_length": 1}, (3, 9)),
    ("ntm_priority_sort", {}, (1, 10)),
    ("ntm_priority_sort", {"bits": 2, "priorities": 2, "keep_percent": 100}, (1, 8)),
    ("ntm_priority_sort", {"bits": 3, "priorities": 3, "keep_percent": 50}, (2, 9)),
]


def _ids(case):
    name, options, _ = case
    return name + "".join(f"-{k}{v}" for k, v in options.items())


def _check_example(name, options, task, inputs, targets, mask, n):
    """One sampled example against the reference: input layout, blanks, pad, mask and answer."""
    definition = task.definition
    inputs, targets, mask, n = [int(v) for v in inputs], np.asarray(targets), np.asarray(mask), int(n)
    length = inputs.index(definition.blank)
    x = inputs[:length]
    assert all(0 <= t < definition.input_size for t in x)
    size, answer = REFERENCES[name](x, **options)
    assert size == n and length == definition.length(n)
    m = definition.output_length(n)
    assert inputs[length : length + m] == [definition.blank] * m
    assert all(t == definition.pad for t in inputs[length + m :])
    assert np.flatnonzero(mask).tolist() == list(range(length, length + len(answer)))
    assert targets[mask].tolist() == answer and (targets < task.num_outputs).all()
    full = definition.reference(x)  # the module's own reference, on the whole tape
    assert len(full) == m and full[: len(answer)] == answer
    assert all(t == answer[-1] for t in full[len(answer) :])  # repeat copy: END after END, unscored


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_sampled_answers_equal_the_plain_python_reference(case):
    name, options, (n_lo, n_hi) = case
    task = TASKS[name](n_lo, n_hi, n_hi + 1, **options)
    max_len = task.max_length(n_hi) + 5  # wider than needed: the rest is padding
    keys = jax.random.split(jax.random.key(1), 300)
    batch = jax.jit(jax.vmap(task.sample, (0, None, None, None)), static_argnums=3)(keys, n_lo, n_hi, max_len)
    chex.assert_shape([batch["inputs"], batch["targets"], batch["mask"]], (300, max_len))
    if not options:  # one example alone, under jit with a static max_len, is that example of the batch
        alone = jax.jit(task.sample, static_argnums=3)(keys[5], n_lo, n_hi, max_len)
        chex.assert_trees_all_equal(alone, jax.tree_util.tree_map(lambda v: v[5], batch))
        assert task.input_length(max_len) == max_len
    batch = {k: np.asarray(v) for k, v in batch.items()}
    assert set(batch["n"].tolist()) == set(range(n_lo, n_hi + 1))
    assert batch["inputs"].max() < task.vocab_size
    for inputs, targets, mask, n in zip(batch["inputs"], batch["targets"], batch["mask"], batch["n"]):
        _check_example(name, options, task, inputs, targets, mask, n)


def test_hand_worked_answers():
    copy, repeat = ntm.ntm_copy(bits=2), ntm.ntm_repeat_copy(bits=2, max_repeats=3)
    assert copy.reference([3, 0, 2, 4]) == [3, 0, 2]
    assert repeat.reference([1, 2, 4 + 1]) == [1, 2, 1, 2, 4, 4, 4]  # c = 2, END = 4, 3 * 2 + 1 blanks
    recall = ntm.ntm_associative_recall(bits=2, item_length=2)  # ITEM 4, QUERY 5
    episode = [4, 1, 2, 4, 3, 0, 4, 1, 2, 4, 2, 2, 5, 1, 2, 5]
    assert recall.reference(episode) == [3, 0]  # the item after the FIRST [1, 2]
    assert _associative_recall(episode, bits=2, item_length=2) == (4, [3, 0])
    # levels 1, 2, 1, 0 (tokens 4 + level); DELIM = 7; the two level-1 items keep their order
    pairs = [0, 5, 1, 6, 2, 5, 3, 4, 7]
    assert ntm.ntm_priority_sort(bits=2, priorities=3, keep_percent=100).reference(pairs) == [1, 0, 2, 3]
    assert ntm.ntm_priority_sort(bits=2, priorities=3, keep_percent=50).reference(pairs) == [1, 0]
    assert _priority_sort(pairs, bits=2, priorities=3, keep_percent=75) == (4, [1, 0, 2])
    sort = ntm.ntm_priority_sort()
    assert [sort.output_length(n) for n in (1, 4, 5, 10, 20)] == [1, 4, 4, 8, 16]  # 16 of 20, as the paper


def test_vectors_are_tokens_bit_i_at_2_to_the_i():
    vectors = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(ntm.vector_tokens(vectors), [1, 6, 15])
    tokens = jnp.arange(16)
    np.testing.assert_array_equal(ntm.vector_tokens(ntm.token_vectors(tokens, 4)), tokens)


def test_distributions_reach_every_count_query_and_level():
    def sampled(task, n, key, count):
        return np.asarray(jax.jit(jax.vmap(lambda k: task.sample(k, n, n, task.max_length(n))["inputs"]))(
            jax.random.split(jax.random.key(key), count)))

    task = TASKS["ntm_repeat_copy"](4, 4, 5, max_repeats=4)
    inputs = sampled(task, 4, 2, 400)
    assert set(inputs[:, 4].tolist()) == {16, 17, 18, 19}  # REPEAT_1 .. REPEAT_4
    assert set(inputs[:, :4].ravel().tolist()) == set(range(16))
    recall = TASKS["ntm_associative_recall"](5, 5, 6, bits=3, item_length=1)  # 5 items: ITEM i (2 tokens each)
    episodes = sampled(recall, 5, 3, 400)
    query_at = [[row[1 + 2 * i] for i in range(5)].index(row[11]) for row in episodes]  # first match of the query
    assert set(query_at) == {0, 1, 2, 3}  # the last item is never asked
    sort = TASKS["ntm_priority_sort"](6, 6, 7, priorities=3)
    pairs = sampled(sort, 6, 4, 100)
    assert set(pairs[:, 1:12:2].ravel().tolist()) == {16, 17, 18}


@pytest.mark.parametrize("name", NAMES)
def test_evaluation_covers_every_n_up_to_eval_n_max_beyond_the_training_sizes(name):
    n_min, n_max, eval_n_max = ntm.SIZES[name]
    task = TASKS[name](n_min, n_max, eval_n_max, eval_samples=3)
    (test,) = task.evaluation.sets()
    ns = test.examples["n"]
    assert test.name == "test" and sorted(set(ns.tolist())) == list(range(n_min, eval_n_max + 1))
    assert test.width == task.max_length(eval_n_max) == task.evaluation.longest
    np.testing.assert_array_equal(test.lengths, [task.max_length(int(n)) for n in ns])
    beyond = np.flatnonzero(ns > n_max)
    examples = jax.jit(jax.vmap(test.expand))({k: v[beyond] for k, v in test.examples.items()})
    examples = {k: np.asarray(v) for k, v in examples.items()}
    np.testing.assert_array_equal(examples["n"], ns[beyond])
    for inputs, targets, mask, n in zip(examples["inputs"], examples["targets"], examples["mask"], examples["n"]):
        _check_example(name, {}, task, inputs, targets, mask, n)

    class AnswerKey:  # a predictor whose argmax is the target (or the target shifted by one)
        def __init__(self, example, shift):
            self.example, self.shift = example, shift

        def logits(self, inputs):
            return jax.nn.one_hot((self.example["targets"] + self.shift) % task.num_outputs, task.num_outputs)

    example = jax.tree_util.tree_map(lambda v: jnp.asarray(v[0]), examples)
    right, shifted = jax.jit(lambda ex: [task.evaluation.score(AnswerKey(ex, s), ex)["accuracy"] for s in (0, 1)])(
        example)
    assert float(right) == 1.0 and float(shifted) == 0.0
    accuracy = (ns <= n_max).astype(float)  # right in training, wrong beyond it
    summary = task.evaluation.summarise({"test": {"accuracy": accuracy, "n": ns}})
    assert summary["accuracy_train"] == 1.0 and summary["accuracy_test"] == 0.0
    assert len(summary["accuracy_by_n"]) == eval_n_max - n_min + 1


def test_sizes_below_the_definition_and_bad_options_are_rejected():
    with pytest.raises(ValueError, match="n >= 2: n_min and eval_n_max must be >= 2, got n_min=1"):
        TASKS["ntm_associative_recall"](1, 6, 12)
    bad = [("ntm_copy", {"bits": 0}, "bits"), ("ntm_copy", {"bits": 17}, "bits"),
           ("ntm_repeat_copy", {"max_repeats": 0}, "max_repeats"),
           ("ntm_associative_recall", {"item_length": 0}, "item_length"),
           ("ntm_priority_sort", {"priorities": 0}, "priorities"),
           ("ntm_priority_sort", {"keep_percent": 0}, "keep_percent"),
           ("ntm_priority_sort", {"keep_percent": 101}, "keep_percent")]
    for name, options, flag in bad:
        with pytest.raises(ValueError, match=flag):
            TASKS[name](2, 4, 8, **options)


def test_registered_with_their_options_as_flags_that_clash_with_none():
    defaults = {name: TASKS[name].defaults() for name in NAMES}
    assert defaults == {
        "ntm_copy": {"bits": 4, "eval_samples": 64, "eval_programs": 10},
        "ntm_repeat_copy": {"bits": 4, "max_repeats": 3, "eval_samples": 64, "eval_programs": 10},
        "ntm_associative_recall": {"bits": 4, "item_length": 3, "eval_samples": 64, "eval_programs": 10},
        "ntm_priority_sort": {"bits": 4, "priorities": 8, "keep_percent": 80, "eval_samples": 64,
                              "eval_programs": 10},
    }
    table = flags()
    assert all(table[f].option_of == "task" for f in ("bits", "max_repeats", "item_length", "priorities",
                                                      "keep_percent"))
    sizes = {name: (TASKS[name](2, 4, 8).vocab_size, TASKS[name](2, 4, 8).num_outputs) for name in NAMES}
    # items 16 + markers + BLANK + PAD; outputs: the items (+ END)
    assert sizes == {"ntm_copy": (19, 16), "ntm_repeat_copy": (21, 17), "ntm_associative_recall": (20, 16),
                     "ntm_priority_sort": (27, 16)}
    for name in NAMES:
        task = TASKS[name](2, 4, 8)
        assert task.name == name and not task.causal and task.separator == task.definition.blank
        assert task.pad == task.separator + 1


@pytest.mark.parametrize("name", NAMES)
def test_a_config_builds_the_task_with_its_options(name):
    n_min, n_max, eval_n_max = ntm.SIZES[name]
    parts = build(TrainConfig.of(task=name, n_min=n_min, n_max=n_max, eval_n_max=eval_n_max, bits=3, hidden=4))
    assert parts.task.name == name and parts.task.definition.output_size in (8, 9)
    assert parts.buckets[-1].max_len >= parts.task.max_length(n_max)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_trains_for_a_few_steps_through_the_cli_and_reports_per_n_accuracy(name, tmp_path):
    main(["train", "--task", name, "--n-min", "2", "--n-max", "3", "--eval-n-max", "5", "--steps", "5",
          "--hidden", "4", "--batch-size", "4", "--num-buckets", "1", "--eval-samples", "2", "--bits", "2",
          "--out", str(tmp_path), "--no-progress"])
    (results,) = tmp_path.rglob("results.json")
    result = json.loads(results.read_text())
    smallest = TASKS[name](2, 3, 5).definition.min_size
    assert np.isfinite(result["final_loss"]) and len(result["accuracy_by_n"]) == 5 - smallest + 1  # every n to 5
    assert 0 <= result["accuracy_train"] <= 1 and 0 <= result["accuracy_test"] <= 1
