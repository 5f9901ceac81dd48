"""The context-sensitive tasks of Delétang et al. (2023): sampled examples against plain-Python references,
hand-computed answers, the published sampling distributions, exact arithmetic on ~500-bit numbers, and one
output-tape batch per task."""

import functools
import math
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.tasks import formatted, output_tape
from rnnjax.tasks.chomsky import cs

NAMES = sorted(cs.CS)
BATCH = 256  # every sampler call draws this many examples, so each task compiles once
LONGEST = 500
REFERENCE_NS = [*range(1, 61)] * 3 + [100, 200, 250, 251] * 4 + [*range(495, 501)] * 10


@functools.cache
def _task(name):
    return cs.CS[name]()


@functools.cache
def _sampler(name):
    task = _task(name)
    max_len = LONGEST + task.output_length(LONGEST)
    return jax.jit(jax.vmap(lambda key, n: task.make(key, n, max_len)))


def _draw(name, ns, seed=0):
    """``len(ns) == BATCH`` examples: lists ``(x[:n], y[:m])``."""
    assert len(ns) == BATCH
    keys = jax.random.split(jax.random.key(seed), BATCH)
    x, y = map(np.asarray, _sampler(name)(keys, jnp.asarray(ns, jnp.int32)))
    task = _task(name)
    return [([int(v) for v in xi[:n]], [int(v) for v in yi[:task.output_length(n)]]) for xi, yi, n in zip(x, y, ns)]


def test_reference_lengths_fill_one_batch():
    assert len(REFERENCE_NS) == BATCH


@pytest.mark.parametrize("name", NAMES)
def test_sampled_answers_equal_the_reference_for_n_from_1_to_500(name):
    task = _task(name)
    for (x, y), n in zip(_draw(name, REFERENCE_NS), REFERENCE_NS):
        assert len(x) == n and len(y) == task.output_length(n)
        assert all(0 <= v < task.input_size for v in x), (n, x)
        assert all(0 <= v < task.output_size for v in y), (n, y)
        assert y == task.reference(x), (n, x, y)


def test_binary_multiplication_samples_include_products_of_two_long_numbers():
    examples = _draw("binary_multiplication", REFERENCE_NS, seed=1)
    long = [x for x, _ in examples if len(x) >= 495 and min(x.index(2), len(x) - 1 - x.index(2)) >= 200]
    assert long, "no product of two >= 200-bit numbers among the n ~ 500 samples"
    for (x, y), n in zip(examples, REFERENCE_NS):
        assert y == _task("binary_multiplication").reference(x)


def _le(value, digits):
    return [int(c) for c in reversed(f"{value:0{digits}b}")]


def test_addition_and_multiplication_kernels_are_exact_on_extreme_500_bit_numbers():
    rng = random.Random(0)
    bits = 500
    pairs = [(2**250 - 1, 2**250 - 1), (2**249, 2**249 + 1), (1, 1), (0, 2**250 - 1), (2**499 - 1, 1),
             (rng.getrandbits(250), rng.getrandbits(250)), (rng.getrandbits(300), rng.getrandbits(199))]
    a = jnp.asarray([_le(p, bits) for p, _ in pairs], jnp.int32)
    b = jnp.asarray([_le(q, bits) for _, q in pairs], jnp.int32)
    sums = np.asarray(jax.jit(jax.vmap(cs._binary_sum))(a, b))
    products = np.asarray(jax.jit(jax.vmap(cs._binary_product))(a, b))
    for (p, q), s, m in zip(pairs, sums, products):
        assert list(s) == _le(p + q, bits)
        assert list(m) == _le(p * q, bits)


def test_square_root_kernel_is_exact_on_extreme_500_bit_numbers():
    bits = 500
    numbers = [2**500 - 1, (2**250 - 1) ** 2, (2**250 - 1) ** 2 - 1, 2**498, 2**498 - 1, 1, 2, 3, 4, 0,
               random.Random(1).getrandbits(500)]
    pairs = jnp.asarray([[int(c) for c in f"{v:0{bits}b}"] for v in numbers], jnp.int32).reshape(len(numbers), -1, 2)
    roots = np.asarray(jax.jit(jax.vmap(cs._binary_isqrt))(pairs))
    for v, root in zip(numbers, roots):
        assert int("".join(str(int(r)) for r in root), 2) == math.isqrt(v)


HAND = {
    "duplicate_string": [([1, 0, 1], [1, 0, 1, 1, 0, 1]), ([0], [0, 0])],
    "odds_first": [([0, 0, 1, 1, 0, 1, 0, 1], [0, 1, 0, 0, 0, 1, 1, 1]), ([1, 1, 0], [1, 0, 1]), ([1], [1])],
    "missing_duplicate_string": [([0, 1, 1, 0, 0, 2, 1, 0], [1]), ([1, 0, 1, 1, 2, 1, 3], [0]),
                                 ([2, 1, 3], [1]), ([1], [1])],
    # 001 + 01101 = 4 + 22 = 26 = 01011 (LE); 1001 + 000001 = 9 + 32 = 41 = 100101 (LE)
    "binary_addition": [([0, 0, 1, 2, 0, 1, 1, 0, 1], [0, 1, 0, 1, 1, 2, 0, 0, 0, 0]),
                        ([1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1], [1, 0, 0, 1, 0, 1, 2, 0, 0, 0, 0, 0]),
                        ([1, 2, 1], [0, 1, 2, 0]), ([1], [1, 2]), ([0], [0, 2]), ([1, 1], [1, 1, 2]),
                        ([0, 1], [0, 1, 2]), ([0, 0], [0, 2, 0])],
    # 001 * 01101 = 4 * 22 = 88 = 0001101 (LE); 1001 * 000001 = 9 * 32 = 288 = 000001001 (LE)
    "binary_multiplication": [([0, 0, 1, 2, 0, 1, 1, 0, 1], [0, 0, 0, 1, 1, 0, 1, 2, 0]),
                              ([1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0]),
                              ([1, 2, 1], [1, 2, 0]), ([1, 1, 2, 1, 1], [1, 0, 0, 1, 2]),
                              ([1], [2]), ([0], [2]), ([1, 1], [0, 2]), ([0, 1], [0, 2])],
    # 100101 = 37 -> 6 = 110; 111 = 7 -> 2 = 10; 0001 = 1 -> 01; 1 -> 1; 11 = 3 -> 1; 10000 = 16 -> 100
    "compute_sqrt": [([1, 0, 0, 1, 0, 1], [1, 1, 0]), ([1, 1, 1], [1, 0]), ([0, 0, 0, 1], [0, 1]), ([1], [1]),
                     ([1, 1], [1]), ([1, 0, 0, 0, 0], [1, 0, 0])],
    "bucket_sort": [([1, 0, 2, 0, 4, 1, 1, 2], [0, 0, 1, 1, 1, 2, 2, 4]), ([3], [3])],
}


@pytest.mark.parametrize("name", NAMES)
def test_hand_computed_answers(name):
    task = _task(name)
    for x, y in HAND[name]:
        assert len(y) == task.output_length(len(x))
        assert task.reference(x) == y, (x, y)


@pytest.mark.parametrize("name", ["duplicate_string", "odds_first", "bucket_sort"])
def test_strings_are_uniform_over_the_alphabet(name):
    task = _task(name)
    symbols = np.concatenate([x for x, _ in _draw(name, [50] * BATCH, seed=2)])
    frequencies = np.bincount(symbols, minlength=task.input_size) / symbols.size
    assert task.input_size == {"bucket_sort": 5}.get(name, 2)
    np.testing.assert_allclose(frequencies, 1 / task.input_size, atol=0.02)


def test_missing_duplicate_string_layout_and_distribution():
    for n in (10, 11):
        examples = _draw("missing_duplicate_string", [n] * BATCH, seed=3)
        half = n // 2
        holes, answers = [], []
        for x, y in examples:
            assert x.count(2) == 1 and (x[-1] == 3) == (n % 2 == 1) and x.count(3) == n % 2
            hole = x.index(2)
            other = hole + half if hole < half else hole - half
            assert all(x[i] == x[(i + half) % (2 * half)] for i in range(2 * half) if i not in (hole, other))
            holes.append(hole)
            answers.append(y[0])
        counts = np.bincount(holes, minlength=2 * half)
        assert counts.size == 2 * half and counts.min() >= 10, counts  # uniform over 2 * (n // 2): ~25.6 each
        assert 0.4 < np.mean(answers) < 0.6
    assert _draw("missing_duplicate_string", [1] * BATCH)[0] == ([1], [1])


@pytest.mark.parametrize("name", ["binary_addition", "binary_multiplication"])
def test_binary_expressions_follow_the_published_distribution(name):
    n = 10
    lengths, leading_zero = [], []
    for x, _ in _draw(name, [n] * BATCH, seed=4):
        assert x.count(2) == 1
        i = x.index(2)
        a, b = x[:i], x[i + 1:]
        assert any(a) and any(b)  # numbers in [1, 2^len - 1]
        lengths.append(len(a))
        if len(a) >= 4:
            leading_zero.append(a[-1] == 0)  # written with exactly len_a digits
    counts = np.bincount(lengths, minlength=n - 1)[1:]
    assert counts.size == n - 2 and counts.min() >= 12, counts  # len_a uniform in 1..n-2: ~32 each
    assert 0.3 < np.mean(leading_zero) < 0.6
    for short in (1, 2):  # no operator; every string of n digits (the all-ones one too)
        strings = {tuple(x) for x, _ in _draw(name, [short] * BATCH, seed=5)}
        assert strings == {tuple(int(c) for c in f"{v:0{short}b}") for v in range(2**short)}


def test_compute_sqrt_inputs_are_uniform_over_nonzero_numbers():
    assert {tuple(x) for x, _ in _draw("compute_sqrt", [1] * BATCH)} == {(1,)}
    values = [int("".join(map(str, x)), 2) for seed in range(4) for x, _ in _draw("compute_sqrt", [2] * BATCH, seed)]
    np.testing.assert_allclose(np.bincount(values, minlength=4) / len(values), [0, 1 / 3, 1 / 3, 1 / 3], atol=0.06)
    values = [int("".join(map(str, x)), 2) for seed in range(4) for x, _ in _draw("compute_sqrt", [3] * BATCH, seed)]
    np.testing.assert_allclose(np.bincount(values, minlength=8)[1:] / len(values), 1 / 7, atol=0.04)
    assert 0 not in values
    bits = np.array([x for x, _ in _draw("compute_sqrt", [12] * BATCH, seed=7)])
    assert bits.any(axis=1).all()
    np.testing.assert_allclose(bits.mean(axis=0), 0.5, atol=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_output_tape_batches_hold_the_answer_on_exactly_output_length_blanks(name):
    task = formatted(output_tape, cs.CS[name])(1, 40, 60)
    definition = task.definition
    max_len = task.max_length(40)
    keys = jax.random.split(jax.random.key(8), 64)
    batch = jax.jit(jax.vmap(lambda k: task.sample(k, 1, 40, max_len)))(keys)
    batch = {k: np.asarray(v) for k, v in batch.items()}
    assert task.vocab_size == definition.input_size + 2 and task.num_outputs == definition.output_size
    for inputs, targets, mask, n in zip(batch["inputs"], batch["targets"], batch["mask"], batch["n"]):
        m = definition.output_length(int(n))
        answer = definition.reference([int(v) for v in inputs[:n]])
        scored = answer.index(cs.END) + 1 if name.startswith("binary_") else m  # through the first END
        assert 1 <= n <= 40 and np.flatnonzero(mask).tolist() == list(range(n, n + scored))
        assert (inputs[:n] < definition.input_size).all() and (inputs[n:n + m] == definition.blank).all()
        assert (inputs[n + m:] == definition.pad).all()
        assert list(targets[n:n + m]) == answer


def test_options_and_registry():
    assert set(cs.CS) == {"duplicate_string", "missing_duplicate_string", "odds_first", "binary_addition",
                          "binary_multiplication", "compute_sqrt", "bucket_sort"}
    assert all(cs.CS[name]().name == name for name in cs.CS)
    assert cs.bucket_sort(vocab_size=3).input_size == 3 and cs.duplicate_string(vocab_size=4).output_size == 4
    assert [cs.compute_sqrt().output_length(n) for n in (1, 2, 3, 4)] == [1, 1, 2, 2]
    with pytest.raises(ValueError):
        cs.odds_first(vocab_size=0)
