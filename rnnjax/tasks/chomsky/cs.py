"""The seven context-sensitive tasks of Delétang et al. (ICLR 2023), as output-tape definitions.

Every task is a ``TapeTask`` (``rnnjax.tasks.output_tape``): the model reads the input
``x_1..x_n`` and then ``m = output_length(n)`` blanks (token ``input_size``), and the
answer ``y_1..y_m`` is read on the blanks. Token ids below are the published ones
(the public code's one-hot indices). Binary numbers: "LE" is little-endian (least
significant digit first), "BE" big-endian.

duplicate_string(vocab_size=2)
    ``w -> w w``. Input ``w`` uniform over ``{0..vocab_size-1}^n``; output classes the same
    symbols; ``m = 2n``.

missing_duplicate_string
    Input ``u u`` (``u`` uniform over ``{0,1}^(n//2)``) with exactly one position, uniform
    over the ``2 (n//2)`` positions, replaced by the placeholder ``2``; for odd n the
    end-of-string token ``3`` is appended. Answer: the bit that was replaced (classes 0, 1);
    ``m = 1``; ``input_size = 4``. n = 1 cannot hold a duplicated string: as in the public
    code the input is ``[1]`` and the answer ``1`` (the reference answers 1 for an input
    without a placeholder).

odds_first(vocab_size=2)
    ``s_1 s_2 .. s_n -> s_1 s_3 s_5 .. s_2 s_4 ..`` (1-based odd positions first, then the
    even ones); ``m = n``; input uniform over ``{0..vocab_size-1}^n``. Deviation: the public
    code outputs ``s[1::2] + s[::2]`` (0-based odd indices, i.e. s_2 s_4 .. first), which
    contradicts its own docstring (``s_1 s_3 s_5 .. s_2 s_4 s_6 ..``) and examples
    (``00110101 -> 0100 0111``, ``110 -> 10 1``); we follow the stated definition. Both
    orders are the same problem up to relabelling positions.

binary_addition
    Input ``a 2 b``: tokens 0, 1 are bits, 2 is the ``+`` operator; ``a``, ``b`` are LE
    numbers written with exactly ``len_a``, ``len_b`` digits (so they may end in zeros, i.e.
    have leading zeros). Output classes: 0, 1 bits and 2 = END. Answer: ``a + b`` in LE
    without leading zeros, then END, then 0s; ``m = n + 1``. Sampling for n >= 3 (as
    published): ``len_a`` uniform in ``1..n-2``, ``len_b = n - 1 - len_a``, each number
    uniform in ``[1, 2^len - 1]``. A sum has at most ``n - 1`` digits, so END is at an index
    ``<= n - 1`` and at least one padding 0 follows it.
    n <= 2 has no room for ``a 2 b``: the input is one LE number ``a`` of n digits (no
    operator; the missing operand is 0) and the answer ``a`` without leading zeros (zero is
    written ``0``), END, padding. Deviation: the public code draws ``a`` from
    ``np.random.randint(0, 2**n - 1)``, whose exclusive bound never yields the all-ones
    string (n = 1 always gives ``0``); we draw ``a`` uniformly from all ``2^n`` strings.

binary_multiplication
    As binary_addition with 2 the ``*`` operator and answer ``a * b`` (LE, no leading zeros),
    END, 0s; ``m = n`` (a product has at most ``len_a + len_b = n - 1`` digits). Same
    sampling for n >= 3. For n <= 2 (no operator) the public code fixes the answer to
    ``n - 1`` zeros then END (``[2]`` for n = 1, ``[0, 2]`` for n = 2); we keep it and
    define it as the product with the missing factor 0, written as ``0`` where there is room
    (n = 2) and as the empty string for n = 1. Input for n <= 2: uniform over all ``2^n``
    strings (the public code's ``randint`` bound excludes all-ones, as above).

compute_sqrt
    Input: a BE number ``x`` of exactly n digits (tokens 0, 1), uniform over
    ``[1, 2^n - 1]`` (zero excluded, leading zeros allowed), as published. Answer:
    ``floor(sqrt(x))`` in BE, zero-padded to ``m = ceil(n / 2)`` digits (classes 0, 1).

bucket_sort(vocab_size=5)
    ``w -> sorted(w)``; input uniform over ``{0..vocab_size-1}^n``; ``m = n``.

Scored positions. The public training loss is the cross-entropy averaged over EVERY output
position (END's trailing 0s included). binary_addition and binary_multiplication override
``accuracy_mask``: accuracy counts only output positions ``0..e`` where ``e`` is the index
of the first END (2) in the target (END included, the trailing 0s excluded), summed over
the batch and divided by the number of such positions (token-weighted over the batch).
The other five tasks count every output position. Here both binary tasks score (loss and
accuracy alike) the answer through its first END (``TapeTask.scored``), averaged per
example then over the batch.

Arithmetic in ``make`` is exact for any length: addition is a carry scan over bits,
multiplication a schoolbook product of radix-256 digits accumulated by a scan and then a
carry scan, the square root the binary digit-by-digit method (a scan over pairs of input
bits whose remainder is held in radix-2^16 digits). No number is ever held as a whole in
an int32 or float.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from rnnjax.tasks.output_tape import TapeTask, through_first

Array = jax.Array

OPERATOR = 2  # the binary tasks' input token between the two numbers (+ or *)
END = 2  # the binary tasks' output class that ends the number
PLACEHOLDER, PADDING = 2, 3  # missing_duplicate_string's input tokens


def _check_vocab(vocab_size: int) -> None:
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")


def _positions(max_len: int) -> Array:
    return jnp.arange(max_len, dtype=jnp.int32)


def _truncated_geometric(key: Array, lengths: Array) -> Array:
    """``lengths: int[k]`` -> ``int32[k]``: g with ``P(g) = 2^-g / (2 - 2^(1 - length))`` on
    ``0..length-1`` (a geometric count of leading zeros, restarted when it reaches length);
    0 where ``length < 1``.

    Each round reads one 32-bit word per entry: its leading zeros extend the count; a count
    that reaches the length is rejected and restarted. Exact, and every round is cheap.
    """
    def draw(state):
        key, offset, g, done = state
        key, sub = jax.random.split(key)
        word = jax.random.bits(sub, lengths.shape, jnp.uint32)
        count = offset + jax.lax.clz(word).astype(jnp.int32)
        found = ~done & (word != 0) & (count < lengths)
        carry_on = ~done & (word == 0) & (count < lengths)  # 32 zeros: the count goes on
        return key, jnp.where(carry_on, count, 0), jnp.where(found, count, g), done | found

    zeros = jnp.zeros(lengths.shape, jnp.int32)
    state = (key, zeros, zeros, lengths < 1)  # an empty string has no last 1 (g = 0, unused)
    return jax.lax.while_loop(lambda state: ~jnp.all(state[3]), draw, state)[2]


def _random_bits(key: Array, lengths: Array, size: int, nonzero: Array) -> Array:
    """``lengths: int[k]`` -> ``int32[k, size]``: row i has ``lengths[i]`` uniform bits, then 0s;
    where ``nonzero``, each row is uniform over its strings that are not all zeros (needs
    ``lengths >= 1``): its last 1 is at ``h`` with probability ``2^h / (2^length - 1)``
    (``h = length - 1 - g``, g truncated geometric), the bits before h uniform."""
    k_bits, k_last = jax.random.split(key)
    p = _positions(size)
    bits = (jax.random.bits(k_bits, (lengths.shape[0], size), jnp.uint8) & 1).astype(jnp.int32)
    bits = jnp.where(p < lengths[:, None], bits, 0)
    last = (lengths - 1 - _truncated_geometric(k_last, lengths))[:, None]
    return jnp.where(nonzero, jnp.where(p < last, bits, (p == last).astype(jnp.int32)), bits)


def _binary_sum(a: Array, b: Array) -> Array:
    """LE bits ``int[L], int[L] -> int[L]``: ``a + b`` modulo ``2^L`` (a carry scan)."""
    def step(carry, ab):
        total = ab[0] + ab[1] + carry
        return total >> 1, total & 1

    return jax.lax.scan(step, jnp.int32(0), (a.astype(jnp.int32), b.astype(jnp.int32)))[1]


def _to_limbs(bits: Array, width: int) -> Array:
    """LE bits ``int[L]`` -> LE radix-``2^width`` digits ``int32[ceil(L / width)]``."""
    count = -(-bits.shape[0] // width)
    padded = jnp.zeros(count * width, jnp.int32).at[: bits.shape[0]].set(bits.astype(jnp.int32))
    return jnp.sum(padded.reshape(count, width) << jnp.arange(width, dtype=jnp.int32), axis=1)


def _binary_product(a: Array, b: Array) -> Array:
    """LE bits ``int[L], int[L] -> int[L]``: ``a * b`` modulo ``2^L``.

    Schoolbook multiplication in radix 256: a scan over b's digits adds each one times a
    (shifted by its place) into column sums (each at most ``ceil(L/8) * 255^2``, exact in
    int32 for L below ~2 * 10^5), then a carry scan turns the columns into digits.
    """
    length = a.shape[0]
    digits_a, digits_b = _to_limbs(a, 8), _to_limbs(b, 8)
    count = digits_a.shape[0]
    shifted = jnp.concatenate([digits_a, jnp.zeros(count, jnp.int32)])

    def add_partial(state, digit):
        columns, shifted = state
        return (columns + digit * shifted, jnp.concatenate([jnp.zeros(1, jnp.int32), shifted[:-1]])), None

    columns = jax.lax.scan(add_partial, (jnp.zeros(2 * count, jnp.int32), shifted), digits_b)[0][0]

    def carry_step(carry, column):
        total = column + carry
        return total >> 8, total & 255

    digits = jax.lax.scan(carry_step, jnp.int32(0), columns)[1]
    bits = (digits[:, None] >> jnp.arange(8, dtype=jnp.int32)) & 1
    return bits.reshape(-1)[:length]


_RADIX_BITS = 16
_MASK = (1 << _RADIX_BITS) - 1


def _shift_in(value: Array, low: Array, shift: int) -> Array:
    """LE radix-2^16 digits ``int32[R]`` -> ``value * 2^shift + low`` (``0 <= low < 2^shift``)."""
    spill = value[:-1] >> (_RADIX_BITS - shift)
    return ((value << shift) & _MASK) | jnp.concatenate([jnp.reshape(low, (1,)).astype(jnp.int32), spill])


def _at_least(r: Array, t: Array) -> Array:
    """``r >= t`` for LE radix-2^16 digit arrays ``int32[R]`` (the highest differing digit decides)."""
    index = jnp.arange(r.shape[0])
    top = jnp.max(jnp.where(r != t, index, -1))
    at = jnp.maximum(top, 0)
    return (top < 0) | (r[at] > t[at])


def _difference(r: Array, t: Array) -> Array:
    """``r - t`` for LE radix-2^16 digit arrays ``int32[R]`` with ``r >= t``.

    Borrow look-ahead: the borrow into digit i is that out of the highest digit j < i with
    ``r_j != t_j`` (it borrows iff ``r_j < t_j``), none if there is no such digit.
    """
    index = jnp.arange(r.shape[0])
    last = jax.lax.cummax(jnp.where(r != t, index, -1), axis=0)
    before = jnp.concatenate([jnp.full(1, -1, last.dtype), last[:-1]])
    borrow = jnp.where(before >= 0, (r < t)[jnp.maximum(before, 0)], False)
    return (r - t - borrow.astype(jnp.int32)) & _MASK


def _binary_isqrt(pairs: Array) -> Array:
    """``int[S, 2]``: the BE bits of a 2S-bit number, in pairs -> ``bool[S]``, the BE bits of
    its integer square root (digit by digit: one root bit per pair).

    Per pair: ``r <- 4 r + pair``; the next root bit is ``r >= 4 q + 1``, which is then
    subtracted; ``q <- 2 q + bit``. ``q < 2^S`` and ``r <= 2 q``, so S + 4 bits hold both.
    """
    count = pairs.shape[0]
    digits = -(-(count + 4) // _RADIX_BITS)
    zero = jnp.zeros(digits, jnp.int32)

    def step(state, pair):
        r, q = state
        r = _shift_in(r, 2 * pair[0] + pair[1], 2)
        t = _shift_in(q, jnp.int32(1), 2)
        bit = _at_least(r, t)
        r = jnp.where(bit, _difference(r, t), r)
        return (r, _shift_in(q, bit, 1)), bit

    return jax.lax.scan(step, (zero, zero), pairs.astype(jnp.int32))[1]


def _le_value(bits: list[int]) -> int:
    return int("".join(map(str, reversed(bits))) or "0", 2)


def _le_digits(value: int) -> list[int]:
    return [int(c) for c in reversed(f"{value:b}")]


def duplicate_string(vocab_size: int = 2) -> TapeTask:
    """``w -> w w`` over ``vocab_size`` symbols (Delétang et al. use 2).

    ``make``: ``x: int32[max_len]`` with ``x[:n]`` uniform, ``y[:2n] = x[:n] x[:n]``.
    """
    _check_vocab(vocab_size)

    def make(key, n, max_len):
        x = jax.random.randint(key, (max_len,), 0, vocab_size, jnp.int32)
        return x, x[_positions(max_len) % n]

    return TapeTask("duplicate_string", vocab_size, vocab_size, lambda n: 2 * n, make, lambda x: list(x) + list(x))


def missing_duplicate_string() -> TapeTask:
    """``u u`` with one bit replaced by ``2`` (and ``3`` appended for odd n) -> that bit.

    ``make``: ``x: int32[max_len]`` (``x[:n]`` the input), ``y[0]`` the missing bit.
    """

    def make(key, n, max_len):
        k_string, k_hole = jax.random.split(key)
        p = _positions(max_len)
        half = n // 2
        string = jax.random.randint(k_string, (max_len,), 0, 2, jnp.int32)[p % jnp.maximum(half, 1)]
        hole = jax.random.randint(k_hole, (), 0, jnp.maximum(2 * half, 1))
        x = jnp.where(p >= 2 * half, PADDING, jnp.where(p == hole, PLACEHOLDER, string))
        x = jnp.where(n == 1, 1, x)
        answer = jnp.where(n == 1, 1, string[hole])
        return x.astype(jnp.int32), jnp.zeros(max_len, jnp.int32).at[0].set(answer)

    def reference(x):
        core = [s for s in x if s != PADDING]
        if PLACEHOLDER not in core:
            return [1]
        half, hole = len(core) // 2, core.index(PLACEHOLDER)
        return [core[hole + half] if hole < half else core[hole - half]]

    return TapeTask("missing_duplicate_string", 4, 2, lambda n: 1, make, reference)


def odds_first(vocab_size: int = 2) -> TapeTask:
    """``s_1 s_2 .. s_n -> s_1 s_3 .. s_2 s_4 ..`` over ``vocab_size`` symbols.

    ``make``: ``x: int32[max_len]`` with ``x[:n]`` uniform, ``y[:n]`` the reordering.
    """
    _check_vocab(vocab_size)

    def make(key, n, max_len):
        x = jax.random.randint(key, (max_len,), 0, vocab_size, jnp.int32)
        p = _positions(max_len)
        odd = (n + 1) // 2  # how many 1-based odd positions
        source = jnp.where(p < odd, 2 * p, 2 * (p - odd) + 1)
        return x, x[jnp.clip(source, 0, max_len - 1)]

    return TapeTask("odds_first", vocab_size, vocab_size, lambda n: n, make, lambda x: list(x[0::2]) + list(x[1::2]))


def _binary_operands(key: Array, n: Array, max_len: int) -> tuple[Array, Array, Array]:
    """The published operands of an n-token expression ``a 2 b``: ``(len_a, a, b)``, with
    ``a, b: int32[max_len]`` LE bits (0 beyond their lengths); for n <= 2, ``a`` has n
    uniform digits and ``b`` is empty."""
    k_length, k_bits = jax.random.split(key)
    expression = n >= 3
    len_a = jnp.where(expression, jax.random.randint(k_length, (), 1, jnp.maximum(n - 1, 2)), n)
    len_b = jnp.where(expression, n - 1 - len_a, 0)
    a, b = _random_bits(k_bits, jnp.stack([len_a, len_b]), max_len, expression)
    return len_a, a, b


def _expression(len_a: Array, a: Array, b: Array) -> Array:
    """``int32[max_len]``: ``a``'s digits, the operator, ``b``'s digits."""
    p = _positions(a.shape[0])
    return jnp.where(p < len_a, a, jnp.where(p == len_a, OPERATOR, b[jnp.clip(p - len_a - 1, 0, a.shape[0] - 1)]))


def _terminated(bits: Array, digits: Array) -> Array:
    """``bits[:digits]``, then END, then 0s."""
    p = _positions(bits.shape[0])
    return jnp.where(p < digits, bits, jnp.where(p == digits, END, 0)).astype(jnp.int32)


def _significant(bits: Array) -> Array:
    """The number of digits of the LE number ``bits`` without leading zeros (0 for zero)."""
    return jnp.max(jnp.where(bits == 1, _positions(bits.shape[0]), -1)) + 1


def _split_expression(x: list[int]) -> tuple[int, int | None]:
    if OPERATOR not in x:
        return _le_value(x), None
    i = x.index(OPERATOR)
    return _le_value(x[:i]), _le_value(x[i + 1 :])


def binary_addition() -> TapeTask:
    """LE ``a 2 b -> a + b``, END (2), 0s: ``n + 1`` outputs.

    ``make``: ``x: int32[max_len]`` (``x[:n]`` the expression), ``y[:n + 1]`` the sum.
    """

    def make(key, n, max_len):
        len_a, a, b = _binary_operands(key, n, max_len)
        total = _binary_sum(a, b)
        return _expression(len_a, a, b), _terminated(total, jnp.maximum(_significant(total), 1))

    def reference(x):
        a, b = _split_expression(list(x))
        digits = _le_digits(a + (b or 0)) + [END]
        return digits + [0] * (len(x) + 1 - len(digits))

    return TapeTask("binary_addition", 3, 3, lambda n: n + 1, make, reference, through_first(END))


def binary_multiplication() -> TapeTask:
    """LE ``a 2 b -> a * b``, END (2), 0s: ``n`` outputs (n <= 2: ``n - 1`` zeros, END).

    ``make``: ``x: int32[max_len]`` (``x[:n]`` the expression), ``y[:n]`` the product.
    """

    def make(key, n, max_len):
        len_a, a, b = _binary_operands(key, n, max_len)
        product = _binary_product(a, b)
        digits = _significant(product)
        return _expression(len_a, a, b), _terminated(product, jnp.where(digits > 0, digits, n - 1))

    def reference(x):
        a, b = _split_expression(list(x))
        digits = ([0] * (len(x) - 1) if b is None else _le_digits(a * b)) + [END]
        return digits + [0] * (len(x) - len(digits))

    return TapeTask("binary_multiplication", 3, 3, lambda n: n, make, reference, through_first(END))


def compute_sqrt() -> TapeTask:
    """BE ``x -> floor(sqrt(x))``, BE in ``ceil(n / 2)`` digits.

    ``make``: ``x: int32[max_len]`` (``x[:n]`` the number), ``y[:ceil(n / 2)]`` its root.
    """

    def make(key, n, max_len):
        x = _random_bits(key, jnp.reshape(n, (1,)), max_len, jnp.bool_(True))[0]
        pairs = (max_len + 1) // 2
        source = _positions(2 * pairs) - (2 * pairs - n)  # right-align x in 2 * pairs digits
        padded = jnp.where(source >= 0, x[jnp.clip(source, 0, max_len - 1)], 0)
        root = _binary_isqrt(padded.reshape(pairs, 2)).astype(jnp.int32)
        digits = (n + 1) // 2
        return x, root[jnp.clip(_positions(max_len) + pairs - digits, 0, pairs - 1)]

    def reference(x):
        digits = math.ceil(len(x) / 2)
        return [int(c) for c in f"{math.isqrt(int(''.join(map(str, x)), 2)):0{digits}b}"]

    return TapeTask("compute_sqrt", 2, 2, lambda n: (n + 1) // 2, make, reference)


def bucket_sort(vocab_size: int = 5) -> TapeTask:
    """``w -> sorted(w)`` over ``vocab_size`` symbols (Delétang et al. use 5).

    ``make``: ``x: int32[max_len]`` with ``x[:n]`` uniform, ``y[:n]`` sorted.
    """
    _check_vocab(vocab_size)

    def make(key, n, max_len):
        x = jax.random.randint(key, (max_len,), 0, vocab_size, jnp.int32)
        inside = _positions(max_len) < n
        ordered = jnp.sort(jnp.where(inside, x, vocab_size))
        return x, jnp.where(inside, ordered, 0)

    return TapeTask("bucket_sort", vocab_size, vocab_size, lambda n: n, make, lambda x: sorted(x))


CS = {
    "duplicate_string": duplicate_string,
    "missing_duplicate_string": missing_duplicate_string,
    "odds_first": odds_first,
    "binary_addition": binary_addition,
    "binary_multiplication": binary_multiplication,
    "compute_sqrt": compute_sqrt,
    "bucket_sort": bucket_sort,
}
