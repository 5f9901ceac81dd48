"""Merrill et al. 2020's prefix task (their public generator and labels) and the qrnn_vs_lstm claims."""

import jax
import numpy as np
import pytest

from rnnjax.tasks import TASKS, anbnw_prefixes


def reference_labels(word: str) -> list[int]:
    """The labelling rule, read one symbol at a time: count the leading a's, then the b's
    after them; the first a after that b-run decides, once, whether the two counts agree."""
    labels, decided, positive, a_count, b_count, in_as = [], False, False, 0, 0, True
    for symbol in word:
        if not decided:
            if in_as and symbol == "a":
                a_count += 1
            elif symbol == "b":
                in_as, b_count = False, b_count + 1
            else:  # an a after the b-run
                decided, positive = True, a_count > 0 and a_count == b_count
        labels.append(int(positive))
    return labels


def test_labels_follow_the_public_rule_on_every_short_word_and_on_samples():
    tagger = anbnw_prefixes()
    label = jax.jit(tagger.labels)
    examples = {"aba": [0, 0, 1], "ab": [0, 0], "abb": [0, 0, 0], "aabba": [0, 0, 0, 0, 1], "abab": [0, 0, 1, 1],
                "aaba": [0, 0, 0, 0], "ba": [0, 0], "bab": [0, 0, 0], "aa": [0, 0]}
    for word, expected in examples.items():
        assert reference_labels(word) == expected, word
    for length in range(2, 9):  # every word over {a, b} up to length 8
        for k in range(2**length):
            word = "".join("ab"[(k >> i) & 1] for i in range(length))
            tokens = np.array(["ab".index(c) for c in word], np.int32)
            assert np.asarray(label(tokens)).tolist() == reference_labels(word), word
    tokens = np.asarray(jax.vmap(tagger.sample, (0, None))(jax.random.split(jax.random.key(0), 200), 64))
    for row in tokens:
        word = "".join("ab"[t] for t in row)
        assert np.asarray(label(row)).tolist() == reference_labels(word)


def test_samples_are_half_balanced_prefixes_and_the_majority_class_is_the_papers():
    """Half the strings start a^n b^n (n uniform in 0..L/2), half are uniform; the majority
    class (0) then covers about 80% of the tokens at every length, as the public plot.py's
    baseline (79.75% at 64 .. 76.37% at 2048)."""
    task = TASKS["anbnw_prefixes"](64, 64, 64, eval_lengths=(64, 256), eval_samples=2000)
    for example_set in task.evaluation.sets():
        tokens, labels = example_set.examples["inputs"], example_set.examples["targets"]
        length = tokens.shape[1]
        positive = labels.mean()
        assert 0.17 < positive < 0.23, (length, positive)
        # strings that ever turn positive: the a^n b^n branch (n > 0, 32 of 33 at length 64) when an a follows,
        # and any string that starts a^k b^k a by chance (probability sum_k 2^-(2k+1) = 1/6):
        # 0.5 (32/33 x 1/2 + 1/33 x 1/6) + 0.5 x 1/6 = 0.328
        ever = labels.max(axis=1).mean()
        assert 0.29 < ever < 0.37, (length, ever)

@pytest.mark.parametrize("length", [64, 2048])
def test_the_evaluation_reports_accuracy_and_majority_per_length(length):
    task = TASKS["anbnw_prefixes"](64, 64, 64, eval_lengths=(length,), eval_samples=4)
    assert f"accuracy_T{length}" in task.evaluation.metrics and f"majority_T{length}" in task.evaluation.metrics
