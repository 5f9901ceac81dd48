"""The algorithmic tasks of "Neural Turing Machines" (Graves, Wayne & Danihelka 2014, §4.1-4.3, 4.5),
as output-tape definitions (``rnnjax.tasks.output_tape``).

The model reads the input, then blanks, and the answer is read on the blanks; no target
is fed back, as in the paper (whose network sees zero input vectors while it answers).

Vectors as tokens. The paper's inputs are random binary vectors of ``bits`` bits; here a
vector ``v`` is the token ``sum_i v_i 2^i`` (``vector_tokens``, ``token_vectors``), one of
the ``2^bits`` item tokens ``0..2^bits-1``, drawn uniformly (each bit a fair coin, as in
the paper). The paper's extra input channels (delimiter, repeat count, priority) become
marker tokens after the items, its extra output channel (the end marker) an extra output
class. The size parameter n is the number of vectors (items) in the input.

ntm_copy(bits=4)
    ``x_1 .. x_n DELIM -> x_1 .. x_n``. DELIM = ``2^bits``; the sampler and reference are the
    ``copy`` transduction's (``rnnjax.tasks.transduction``), whose separator is DELIM. It
    differs from the registered ``copy`` in the format: outputs on blanks instead of
    teacher-forced next-token prediction, and per-n accuracy in evaluation.

ntm_repeat_copy(bits=4, max_repeats=3)
    ``x_1 .. x_n REPEAT_c -> (x_1 .. x_n)^c END``: the count c is uniform in
    ``1..max_repeats`` and is the token ``REPEAT_c = 2^bits + c - 1``; END is output class
    ``2^bits``. The tape has ``max_repeats * n + 1`` blanks; loss and accuracy count the
    answer through END (``through_first(END)``); the target after it is END, not scored.

ntm_associative_recall(bits=4, item_length=3)
    ``ITEM i_1 ITEM i_2 .. ITEM i_n QUERY q QUERY -> i_{j+1}`` with n >= 2 items of
    ``item_length`` tokens each (ITEM = ``2^bits``, QUERY = ``2^bits + 1``). The query is
    ``q = i_j`` with j uniform in ``1..n-1``; the answer is the item after the FIRST
    occurrence of q (items are drawn independently, so an earlier item can equal q).

ntm_priority_sort(bits=4, priorities=8, keep_percent=80)
    ``x_1 p_1 .. x_n p_n DELIM -> the m items of highest priority, highest first``: each item
    is followed by its priority token ``p = 2^bits + level``, level uniform in
    ``0..priorities-1`` (higher sorts first); DELIM = ``2^bits + priorities``;
    ``m = ceil(n * keep_percent / 100)``. Ties are broken by position: of two items of one
    level, the earlier comes first (a stable sort by descending level).

Deviations from the paper: tokens (one-hot inputs, a softmax over the ``2^bits`` items)
instead of bit vectors with a per-bit sigmoid loss; bits 4 instead of the paper's 8 (copy,
repeat copy) and 6 (recall), so the defaults train on a CPU; the repeat count is a token
of its own, not a normalised scalar; priorities are ``priorities`` discrete levels, not
uniform reals in [-1, 1], so ties occur and need the rule above; delimiters are tokens,
not input channels; the evaluation is per-token accuracy for every n (the format's),
where the paper reports bit errors per sequence. ``SIZES`` gives small training ranges.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.tasks.output_tape import TapeTask, through_first
from rnnjax.tasks.transduction import copy

Array = jax.Array

MAX_BITS = 16


def _item_count(bits: int) -> int:
    if not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an integer in 1..{MAX_BITS} (2^bits item tokens), got {bits!r}")
    return 2**bits


def _at_least(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def vector_tokens(vectors: Array) -> Array:
    """``{0,1}[..., bits] -> int32[...]``: the token ``sum_i v_i 2^i`` of each bit vector."""
    vectors = jnp.asarray(vectors, jnp.int32)
    return jnp.sum(vectors << jnp.arange(vectors.shape[-1], dtype=jnp.int32), axis=-1)


def token_vectors(tokens: Array, bits: int) -> Array:
    """``int[...] -> int32[..., bits]``: the bit vector of each item token (bit i = ``(t >> i) & 1``)."""
    return (jnp.asarray(tokens, jnp.int32)[..., None] >> jnp.arange(bits, dtype=jnp.int32)) & 1


def ntm_copy(bits: int = 4) -> TapeTask:
    """NTM copy: ``x_1 .. x_n DELIM -> x_1 .. x_n`` over ``2^bits`` item tokens."""
    source = copy(_item_count(bits))
    delimiter = source.separator

    def make(key, n, max_len):
        x, y = source.make(key, n, max_len)
        return jnp.where(jnp.arange(max_len) < n, x, delimiter), y

    def reference(x):
        if not x or x[-1] != delimiter:
            raise ValueError(f"an ntm_copy input ends with DELIM={delimiter}, got {x}")
        return source.transduce(list(x[:-1]))

    return TapeTask("ntm_copy", delimiter + 1, delimiter, lambda n: n, make, reference,
                    input_length=lambda n: n + 1)


def ntm_repeat_copy(bits: int = 4, max_repeats: int = 3) -> TapeTask:
    """NTM repeat copy: ``x_1 .. x_n REPEAT_c -> (x_1 .. x_n)^c END``, c uniform in ``1..max_repeats``."""
    items = _item_count(bits)
    _at_least("max_repeats", max_repeats, 1)
    end = items

    def output_length(n):
        return max_repeats * n + 1

    def make(key, n, max_len):
        k_x, k_c = jax.random.split(key)
        x = jax.random.randint(k_x, (max_len,), 0, items)
        c = jax.random.randint(k_c, (), 1, max_repeats + 1)
        p = jnp.arange(max_len)
        return jnp.where(p < n, x, items + c - 1), jnp.where(p < c * n, x[p % n], end)

    def reference(x):
        *sequence, count = x
        c = count - items + 1
        if not 1 <= c <= max_repeats or any(not 0 <= v < items for v in sequence):
            raise ValueError(f"an ntm_repeat_copy input is items then one REPEAT token, got {x}")
        answer = sequence * c + [end]
        return answer + [end] * (output_length(len(sequence)) - len(answer))

    return TapeTask("ntm_repeat_copy", items + max_repeats, items + 1, output_length, make, reference,
                    scored=through_first(end), input_length=lambda n: n + 1)


def ntm_associative_recall(bits: int = 4, item_length: int = 3) -> TapeTask:
    """NTM associative recall: ``ITEM i_1 .. ITEM i_n QUERY q QUERY -> the item after q``
    (n >= 2 items of ``item_length`` tokens)."""
    items = _item_count(bits)
    _at_least("item_length", item_length, 1)
    k = item_length
    item_mark, query_mark = items, items + 1

    def make(key, n, max_len):
        k_stored, k_query = jax.random.split(key)
        stored = jax.random.randint(k_stored, (max_len, k), 0, items)  # row j: item j + 1
        j = jax.random.randint(k_query, (), 0, n - 1)
        first = jnp.argmax(jnp.all(stored == stored[j], axis=1))  # <= j: row j matches itself
        p = jnp.arange(max_len)
        block, offset = p // (k + 1), p % (k + 1)
        listed = jnp.where(offset == 0, item_mark, stored[block, jnp.clip(offset - 1, 0, k - 1)])
        s = p - n * (k + 1)
        query = jnp.where((s == 0) | (s == k + 1), query_mark, stored[j, jnp.clip(s - 1, 0, k - 1)])
        return jnp.where(s < 0, listed, query), stored[first + 1][jnp.clip(p, 0, k - 1)]

    def reference(x):
        if len(x) % (k + 1) != 1 or x[-k - 2] != query_mark or x[-1] != query_mark:
            raise ValueError(f"an ntm_associative_recall input ends with QUERY q QUERY, got {x}")
        listed, q = x[: -k - 2], x[-k - 1 : -1]
        chunks = [listed[i : i + k + 1] for i in range(0, len(listed), k + 1)]
        if any(c[0] != item_mark for c in chunks):
            raise ValueError(f"each ntm_associative_recall item starts with ITEM={item_mark}, got {x}")
        stored = [c[1:] for c in chunks]
        at = stored.index(q)
        if at + 1 == len(stored):
            raise ValueError(f"the query of an ntm_associative_recall input is not followed by an item: {x}")
        return stored[at + 1]

    return TapeTask("ntm_associative_recall", items + 2, items, lambda n: k, make, reference,
                    input_length=lambda n: n * (k + 1) + k + 2, min_size=2)


def ntm_priority_sort(bits: int = 4, priorities: int = 8, keep_percent: int = 80) -> TapeTask:
    """NTM priority sort: ``x_1 p_1 .. x_n p_n DELIM -> the ceil(n * keep_percent / 100) items of
    highest priority, highest first, ties by position``."""
    items = _item_count(bits)
    _at_least("priorities", priorities, 1)
    if not isinstance(keep_percent, int) or not 1 <= keep_percent <= 100:
        raise ValueError(f"keep_percent must be an integer in 1..100, got {keep_percent!r}")
    delimiter = items + priorities

    def output_length(n):
        return (n * keep_percent + 99) // 100

    def make(key, n, max_len):
        k_x, k_level = jax.random.split(key)
        x = jax.random.randint(k_x, (max_len,), 0, items)
        level = jax.random.randint(k_level, (max_len,), 0, priorities)
        p = jnp.arange(max_len)
        listed = jnp.where(p % 2 == 0, x[p // 2], items + level[p // 2])
        order = jnp.argsort(jnp.where(p < n, -level, 1), stable=True)
        return jnp.where(p < 2 * n, listed, delimiter), x[order]

    def reference(x):
        if len(x) % 2 != 1 or x[-1] != delimiter:
            raise ValueError(f"an ntm_priority_sort input is (item, priority) pairs then DELIM, got {x}")
        pairs = [(x[i], x[i + 1] - items) for i in range(0, len(x) - 1, 2)]
        ranked = sorted(range(len(pairs)), key=lambda i: (-pairs[i][1], i))
        return [pairs[i][0] for i in ranked[: output_length(len(pairs))]]

    return TapeTask("ntm_priority_sort", delimiter + 1, items, output_length, make, reference,
                    input_length=lambda n: 2 * n + 1)


NTM = {"ntm_copy": ntm_copy, "ntm_repeat_copy": ntm_repeat_copy, "ntm_associative_recall": ntm_associative_recall,
       "ntm_priority_sort": ntm_priority_sort}
"""task name -> definition builder"""

SIZES = {"ntm_copy": (1, 20, 40), "ntm_repeat_copy": (1, 5, 10), "ntm_associative_recall": (2, 6, 12),
         "ntm_priority_sort": (1, 10, 20)}
"""task name -> ``(n_min, n_max, eval_n_max)`` of the ``ntm`` experiment: train on the
paper's ranges where a CPU allows (copy on 1..20 vectors, recall on 2..6 items, §4.1, §4.3),
evaluate up to twice as long; repeat copy (the paper: 1..10 vectors, 1..10 repeats) and
priority sort (20 items) train shorter here."""
