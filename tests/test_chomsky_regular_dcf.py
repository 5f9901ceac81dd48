"""The regular and deterministic context-free tasks of Delétang et al. (2023): jit-sampled examples against
the plain-Python references, hand-worked answers, the published sampling distributions, and the output tape.

Every task is compiled once (its output-tape sampler, with n traced per example) and sampled in batches of
``BATCH``; the examples are read back off the tape (input before the blanks, answer on them).
"""

import functools

import jax
import numpy as np
import pytest

from rnnjax.tasks import formatted, output_tape
from rnnjax.tasks.chomsky.dcf import DCF
from rnnjax.tasks.chomsky.regular import REGULAR

BUILDERS = {**REGULAR, **DCF}
BATCH = 256
N_MAX = 500
# n = 1..60 four times each, and 497..500 four times each: 256 examples.
SPREAD = np.array(list(range(1, 61)) * 4 + [497, 498, 499, 500] * 4, np.int32)
M = 5  # the default modulus; token ids below are those of the module docstrings
PLUS, MINUS, TIMES, EMPTY = M, M + 1, M + 2, M + 3  # modular_arithmetic
B_OPEN, B_CLOSE = M + 3, M + 4  # modular_arithmetic_brackets (+ - * as above)
S_OPEN, S_CLOSE, S_X, S_EQ = M + 2, M + 3, M + 4, M + 5  # solve_equation (+ - as above)


@functools.cache
def _task(name):
    """``(definition, output-tape task, draw)``; ``draw(seed, lo, hi)`` samples ``BATCH`` tapes with n
    uniform in ``[lo[i], hi[i]]`` (one compilation per task)."""
    definition = BUILDERS[name]()
    task = formatted(output_tape, BUILDERS[name])(1, 40, 60)
    width = task.max_length(N_MAX)
    sample = jax.jit(jax.vmap(lambda key, lo, hi: task.sample(key, lo, hi, width)))

    def draw(seed, lo, hi=None):
        lo = np.broadcast_to(np.asarray(lo, np.int32), (BATCH,))
        hi = lo if hi is None else np.broadcast_to(np.asarray(hi, np.int32), (BATCH,))
        keys = jax.random.split(jax.random.key(seed), BATCH)
        return {k: np.asarray(v) for k, v in sample(keys, lo, hi).items()}

    return definition, task, draw


def _examples(name, ns, seed=0):
    """``[(x, y)]`` for the given n (one per entry of ``ns``, ``BATCH`` entries), read off the tape."""
    definition, _, draw = _task(name)
    batch = draw(seed, ns)
    out = []
    for inputs, targets, n in zip(batch["inputs"], batch["targets"], batch["n"]):
        m = definition.output_length(int(n))
        out.append((inputs[:n].tolist(), targets[n:n + m].tolist()))
    return out


@pytest.mark.parametrize("name", list(BUILDERS))
def test_sampled_answers_match_the_reference_and_stay_in_the_vocabulary(name):
    definition = BUILDERS[name]()
    examples = _examples(name, SPREAD)
    assert [len(x) for x, _ in examples] == SPREAD.tolist()
    for x, y in examples:
        assert all(0 <= t < definition.input_size for t in x), (name, x)
        assert all(0 <= t < definition.output_size for t in y), (name, y)
        assert y == definition.reference(x), (name, x, y)


HAND = {
    "even_pairs": [([0, 0, 1, 1, 1, 0], [0]), ([0, 1, 0, 1, 0, 0, 1], [1]), ([0, 0, 1, 1], [1]), ([0], [0]),
                   ([1], [0]), ([1, 0], [1]), ([0, 1, 1, 0], [0])],
    "parity_check": [([1, 0, 1, 0, 1, 0, 0], [1]), ([0, 1, 1, 1, 1], [0]), ([0], [0]), ([1], [1]), ([1, 1], [0])],
    "cycle_navigation": [([2, 0, 1, 0, 0], [3]), ([2, 2, 2, 0], [2]), ([0], [4]), ([1], [0]), ([2] * 5, [0]),
                         ([0, 0, 0], [2])],
    "modular_arithmetic": [
        ([1, PLUS, 2, TIMES, 3], [2]),  # 1+2*3 = 7
        ([1, MINUS, 1, MINUS, 1], [4]),  # 1-1-1 = -1
        ([0, TIMES, 1, PLUS, 4, TIMES, 3, MINUS, 2], [0]),  # 0+12-2 = 10
        ([2, TIMES, 3, TIMES, 4], [4]),  # 24
        ([2, MINUS, 3, TIMES, 4], [0]),  # 2-12 = -10
        ([4, MINUS, 4, TIMES, 4], [3]),  # 4-16 = -12
        ([4], [4]),
        ([3, EMPTY], [3]),  # even n: the expression, then the empty symbol
        ([1, PLUS, 2, EMPTY], [3]),
    ],
    "stack_manipulation": [
        ([0, 1, 1, 0, 4, 2, 2], [1, 1, 0, 2, 0, 0, 0, 0]),  # the public docstring's examples
        ([1, 1, 0, 2, 2, 2], [2, 0, 0, 0, 0, 0, 0]),
        ([1], [1, 2]),
        ([0, 2, 2, 3], [0, 2, 0, 0, 0]),  # the second POP meets an empty stack
        ([1, 0, 3, 4], [1, 0, 0, 1, 2]),
    ],
    "reverse_string": [([0, 1, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0]), ([1], [1]), ([1, 0], [0, 1])],
    "modular_arithmetic_brackets": [
        ([B_OPEN, 3, TIMES, B_OPEN, 4, PLUS, MINUS, 2, B_CLOSE, B_CLOSE], [1]),  # (3*(4+-2)) = 6
        ([B_OPEN, MINUS, 3, B_CLOSE], [2]),  # (-3)
        ([MINUS, 4], [1]),
        ([B_OPEN, 2, B_CLOSE], [2]),
        ([3], [3]),
        ([B_OPEN, B_OPEN, 1, MINUS, 2, B_CLOSE, TIMES, B_OPEN, 3, MINUS, 4, B_CLOSE, B_CLOSE], [1]),  # (-1)(-1)
        ([B_OPEN, 2, MINUS, MINUS, 3, B_CLOSE], [0]),  # (2--3) = 5
        ([B_OPEN, MINUS, 4, TIMES, MINUS, 4, B_CLOSE], [1]),  # 16
        ([B_OPEN, B_OPEN, 4, TIMES, 4, B_CLOSE, TIMES, 4, B_CLOSE], [4]),  # 64
    ],
    "solve_equation": [
        ([S_OPEN, S_X, PLUS, 3, S_CLOSE, S_EQ, 1], [3]),  # (x+3)=1
        ([S_X, S_EQ, 4], [4]),
        ([S_OPEN, 2, MINUS, S_X, S_CLOSE, S_EQ, 4], [3]),  # 2-x = 4
        ([MINUS, S_X, S_EQ, 2], [3]),
        ([S_OPEN, MINUS, S_X, S_CLOSE, S_EQ, 1], [4]),
        ([S_OPEN, S_OPEN, S_X, MINUS, 1, S_CLOSE, MINUS, S_OPEN, 2, PLUS, 3, S_CLOSE, S_CLOSE, S_EQ, 0], [1]),
        ([0], [0]),  # n < 3: no equation (published: zeros in, 0 out)
        ([0, 0], [0]),
    ],
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_reference_gives_hand_worked_answers(name):
    definition = BUILDERS[name]()
    for x, y in HAND[name]:
        assert definition.reference(x) == y, (name, x)
        assert len(y) == definition.output_length(len(x))


def test_references_reject_malformed_inputs():
    with pytest.raises(ValueError):
        DCF["modular_arithmetic_brackets"]().reference([B_OPEN, 1, PLUS, 2])
    with pytest.raises(ValueError):
        DCF["solve_equation"]().reference([S_OPEN, 1, PLUS, 2, S_CLOSE, S_EQ, 3])  # no unknown
    with pytest.raises(ValueError):
        DCF["stack_manipulation"]().reference([0, 2, 1])


def test_encodings_are_the_published_ones():
    sizes = {name: (b().input_size, b().output_size) for name, b in BUILDERS.items()}
    assert sizes == {"even_pairs": (2, 2), "parity_check": (2, 2), "cycle_navigation": (3, 5),
                     "modular_arithmetic": (9, 5), "stack_manipulation": (5, 3), "reverse_string": (2, 2),
                     "modular_arithmetic_brackets": (11, 5), "solve_equation": (11, 5)}
    lengths = {name: [b().output_length(n) for n in (1, 7)] for name, b in BUILDERS.items()}
    assert lengths["stack_manipulation"] == [2, 8] and lengths["reverse_string"] == [1, 7]
    assert all(lengths[name] == [1, 1] for name in lengths if name not in ("stack_manipulation", "reverse_string"))
    assert REGULAR["modular_arithmetic"](modulus=7).input_size == 11
    assert DCF["solve_equation"](modulus=7).output_size == 7


@pytest.mark.parametrize("name", list(BUILDERS))
def test_output_tape_batch_masks_exactly_the_outputs(name):
    definition, task, draw = _task(name)
    batch = draw(1, 1, 40)
    n = batch["n"]
    assert n.min() >= 1 and n.max() <= 40 and len(set(n.tolist())) > 10
    for inputs, targets, mask, k in zip(batch["inputs"], batch["targets"], batch["mask"], n):
        m = definition.output_length(int(k))
        answer = list(targets[k:k + m])
        scored = answer.index(2) + 1 if name == "stack_manipulation" else m  # through the end token
        assert np.flatnonzero(mask).tolist() == list(range(k, k + scored))
        assert (inputs[:k] < definition.input_size).all()
        assert (inputs[k:k + m] == task.separator).all() and (inputs[k + m:] == task.pad).all()
    assert task.max_length(40) == 40 + definition.output_length(40)


def _share(values, value):
    return float(np.mean(np.asarray(values) == value))


@pytest.mark.parametrize("name", ["even_pairs", "parity_check"])
def test_binary_labels_are_balanced(name):
    examples = _examples(name, np.arange(BATCH) % 58 + 3)
    assert 0.35 < _share([y[0] for _, y in examples], 1) < 0.65
    assert 0.45 < _share(sum((x for x, _ in examples), []), 1) < 0.55


def test_cycle_navigation_moves_are_uniform_and_every_state_is_reached():
    examples = _examples("cycle_navigation", 20)
    moves = sum((x for x, _ in examples), [])
    assert all(0.3 < _share(moves, t) < 0.37 for t in range(3))
    assert sorted({y[0] for _, y in examples}) == list(range(5))


def test_modular_arithmetic_alternates_residues_and_operators():
    examples = _examples("modular_arithmetic", np.arange(BATCH) % 58 + 3)
    operators = []
    for x, y in examples:
        body = x[:-1] if len(x) % 2 == 0 else x
        assert all(t < M for t in body[::2]) and all(t in (PLUS, MINUS, TIMES) for t in body[1::2]), x
        assert (x[-1] == EMPTY) == (len(x) % 2 == 0) and EMPTY not in body
        operators += body[1::2]
    assert all(0.28 < _share(operators, t) < 0.39 for t in (PLUS, MINUS, TIMES))
    assert sorted({y[0] for _, y in examples}) == list(range(M))


def test_stack_manipulation_gives_a_stack_then_actions():
    examples = _examples("stack_manipulation", 10)
    lengths = set()
    for x, y in examples:
        k = next(i for i, t in enumerate(x) if t >= 2)
        assert 1 <= k <= 9 and all(t >= 2 for t in x[k:]), x
        lengths.add(k)
        end = y.index(2)
        assert all(t == 0 for t in y[end + 1:]) and 2 not in y[:end]
    assert lengths == set(range(1, 10))  # the stack length is uniform in 1 .. n-1
    (x, y), = _examples("stack_manipulation", 1)[:1]
    assert x in ([0], [1]) and y == x + [2]
    actions = sum((x[next(i for i, t in enumerate(x) if t >= 2):] for x, _ in examples), [])
    assert all(0.28 < _share(actions, t) < 0.39 for t in (2, 3, 4))


def test_reverse_string_uses_both_symbols():
    examples = _examples("reverse_string", 30)
    assert 0.45 < _share(sum((x for x, _ in examples), []), 1) < 0.55


def _left_length(x, open_, close):
    """The length of A in a top-level ``(A op B)``."""
    if x[1] != open_:
        return 1 if x[1] < M else 2
    depth = 0
    for i, t in enumerate(x[1:], 1):
        depth += (t == open_) - (t == close)
        if depth == 0:
            return i


def test_bracket_expressions_follow_the_published_grammar():
    small = _examples("modular_arithmetic_brackets", np.arange(BATCH) % 4 + 1)
    forms = {1: lambda x: x[0] < M, 2: lambda x: x[0] == MINUS and x[1] < M,
             3: lambda x: x[0] == B_OPEN and x[1] < M and x[2] == B_CLOSE,
             4: lambda x: x[:2] == [B_OPEN, MINUS] and x[2] < M and x[3] == B_CLOSE}
    assert all(forms[len(x)](x) for x, _ in small)
    six = [x for x, _ in _examples("modular_arithmetic_brackets", 6)]  # (d op -d) or (-d op d)
    assert 0.4 < np.mean([x[1] == MINUS for x in six]) < 0.6
    assert all(x[0] == B_OPEN and x[-1] == B_CLOSE and x[2 + (x[1] == MINUS)] in (PLUS, MINUS, TIMES) for x in six)
    nine = [_left_length(x, B_OPEN, B_CLOSE) for x, _ in _examples("modular_arithmetic_brackets", 9)]
    assert all(np.sum(np.asarray(nine) == a) > 25 for a in range(1, 6))  # |A| uniform in 1 .. n-4
    examples = _examples("modular_arithmetic_brackets", np.arange(BATCH) % 41 + 20, seed=2)
    tokens = sum((x for x, _ in examples), [])
    binary = [x[i] for x, _ in examples for i in range(1, len(x)) if x[i] in (PLUS, TIMES)
              or (x[i] == MINUS and (x[i - 1] < M or x[i - 1] == B_CLOSE))]
    assert all(0.28 < _share(binary, t) < 0.39 for t in (PLUS, MINUS, TIMES))
    assert M + 5 not in tokens  # "x" is in the vocabulary but never sampled
    assert sorted({y[0] for _, y in examples}) == list(range(M))


def test_equations_have_one_unknown_and_the_published_position_rule():
    examples = _examples("solve_equation", np.arange(BATCH) % 58 + 3)
    for x, y in examples:
        assert x.count(S_X) == 1 and x[-2] == S_EQ and x[-1] < M and S_EQ not in x[:-2], x
    binary = [x[i] for x, _ in examples for i in range(1, len(x) - 2) if x[i] == PLUS
              or (x[i] == MINUS and (x[i - 1] < M or x[i - 1] in (S_X, S_CLOSE)))]
    assert 0.42 < _share(binary, PLUS) < 0.58  # operators + and - only (no multiplication), uniform
    assert sorted({y[0] for _, y in examples}) == list(range(M))
    # n = 7: E = (d op d), the position is uniform in 0..4 and moves on to the next residue: x at 1 w.p. 3/5.
    seven = [x for x, _ in _examples("solve_equation", 7)]
    assert 0.5 < np.mean([x[1] == S_X for x in seven]) < 0.7
    assert all(x.index(S_X) in (1, 3) for x in seven)
    for x, y in _examples("solve_equation", np.arange(BATCH) % 2 + 1)[:8]:
        assert x == [0] * len(x) and y == [0]
