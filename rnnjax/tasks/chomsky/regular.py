"""The four regular tasks of Delétang et al. (ICLR 2023), "Neural Networks and the Chomsky Hierarchy".

Each builder returns a ``TapeTask``: the model reads the n input tokens, then ``output_length(n)``
blank tokens, and the answer is read on the blanks (``rnnjax.tasks.output_tape``). All four have
one output (``output_length(n) = 1``) and every input string is drawn i.i.d. per token.

even_pairs
    Input: a binary string, tokens ``0`` and ``1`` (``input_size = 2``), each uniform.
    Answer: ``1`` if the number of unequal neighbouring pairs (``01`` or ``10``) is odd, else ``0``
    (``output_size = 2``); equivalently whether the first and last tokens differ. ``n = 1`` has no
    pairs: answer ``0``. Example: ``001110`` has one ``01`` and one ``10`` -> ``0``.

parity_check
    Input: a binary string, tokens ``0`` and ``1`` (``input_size = 2``), each uniform.
    Answer: the number of ``1`` tokens modulo 2 (``output_size = 2``). Example: ``1010100`` -> ``1``.

cycle_navigation
    Input: moves on a cycle of 5 states, tokens ``0`` = step left (-1), ``1`` = stay, ``2`` = step right
    (+1) (``input_size = 3``), each uniform. The walk starts at state 0.
    Answer: the final state, ``sum(token - 1) mod 5`` (``output_size = 5``).
    Example: ``2 0 1 0 0`` (+1 -1 0 -1 -1) -> ``-2 mod 5 = 3``.

modular_arithmetic (``modulus``, default 5)
    Input: an expression without brackets, residues and binary operators alternating,
    ``d op d op ... op d``. Tokens: ``0 .. modulus-1`` the residues, ``modulus`` = ``+``,
    ``modulus+1`` = ``-``, ``modulus+2`` = ``*``, ``modulus+3`` = ``_`` (an empty symbol, see below);
    ``input_size = modulus + 4``. Residues are uniform in ``0 .. modulus-1``, operators uniform in
    ``{+, -, *}``.
    Answer: the value modulo ``modulus`` with the usual precedence (``*`` before ``+`` and ``-``,
    left to right): ``1+2*3 -> 2``, ``1-1-1 -> 4`` (mod 5); ``output_size = modulus``.

Deviations from the public code (google-deepmind/neural_networks_chomsky_hierarchy):

- modular_arithmetic at even n. Such expressions have odd length; the public sampler, asked for an even
  length, silently returns a string one token shorter, so the model never sees an input of length n.
  Here an even-n input is an expression of n - 1 tokens followed by one ``_`` (``modulus+3``), the
  public vocabulary's empty symbol (its evaluator reads a blank as ``+`` in an operator slot and as ``0``
  in a residue slot, so a trailing blank adds nothing). The answer is the value of the n - 1 leading
  tokens; ``n = 2`` is ``d _`` with answer ``d``. Every n >= 1 is thus an input of exactly n tokens,
  and the expression has the public distribution for length n - 1.
- modular_arithmetic: the public sampler keeps its operators in a generator that the first compiled
  length consumes, so sampling a second distinct length fails; here the operators are a fixed tuple.
- modular_arithmetic: the public evaluator multiplies whole runs of factors before reducing, which
  overflows int32 for long runs of ``*`` (e.g. 16 factors of 4); here every product and sum is reduced
  modulo ``modulus`` at each step, so the answer is exact for every n.
- cycle_navigation keeps the public fixed cycle length 5 (no option).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.tasks.output_tape import TapeTask

CYCLE_LENGTH = 5


def _one(n):
    """``output_length`` of a task with a single answer token (Python or traced n)."""
    return 1


def _binary_string(key, max_len: int):
    return jax.random.randint(key, (max_len,), 0, 2, dtype=jnp.int32)


def even_pairs() -> TapeTask:
    """Whether a binary string has an odd number of unequal neighbouring pairs (``01``, ``10``)."""

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[0]``."""
        x = _binary_string(key, max_len)
        inside = jnp.arange(max_len - 1) < n - 1
        unequal = jnp.sum(jnp.where(inside, x[1:] != x[:-1], False))
        return x, jnp.zeros(max_len, jnp.int32).at[0].set(unequal % 2)

    def reference(x: list[int]) -> list[int]:
        pairs = sum(1 for a, b in zip(x, x[1:]) if a != b)
        return [pairs % 2]

    return TapeTask("even_pairs", 2, 2, _one, make, reference)


def parity_check() -> TapeTask:
    """The number of ``1`` in a binary string, modulo 2."""

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[0]``."""
        x = _binary_string(key, max_len)
        ones = jnp.sum(jnp.where(jnp.arange(max_len) < n, x, 0))
        return x, jnp.zeros(max_len, jnp.int32).at[0].set(ones % 2)

    def reference(x: list[int]) -> list[int]:
        return [[int(t) for t in x].count(1) % 2]

    return TapeTask("parity_check", 2, 2, _one, make, reference)


def cycle_navigation() -> TapeTask:
    """The final state of a walk on a 5-cycle from state 0: tokens 0 = left, 1 = stay, 2 = right."""

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[0]``."""
        x = jax.random.randint(key, (max_len,), 0, 3, dtype=jnp.int32)
        moves = jnp.sum(jnp.where(jnp.arange(max_len) < n, x - 1, 0))
        return x, jnp.zeros(max_len, jnp.int32).at[0].set(moves % CYCLE_LENGTH)

    def reference(x: list[int]) -> list[int]:
        position = 0
        for token in x:
            position = (position + {0: -1, 1: 0, 2: 1}[int(token)]) % CYCLE_LENGTH
        return [position]

    return TapeTask("cycle_navigation", 3, CYCLE_LENGTH, _one, make, reference)


def evaluate_python(tokens: list, modulus: int) -> int:
    """The value modulo ``modulus`` of an expression given as Python symbols: ints (residues) and the
    strings ``+ - * ( )``; usual precedence, unary minus, left-associative. Plain Python integers, for
    reference answers (also used by ``rnnjax.tasks.chomsky.dcf``); raises ValueError if malformed."""
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take(expected=None):
        nonlocal position
        symbol = peek()
        if symbol is None or (expected is not None and symbol != expected):
            raise ValueError(f"malformed expression {tokens} at {position}")
        position += 1
        return symbol

    def expression():
        value = product()
        while peek() in ("+", "-"):
            value = value + product() if take() == "+" else value - product()
        return value

    def product():
        value = unary()
        while peek() == "*":
            take()
            value *= unary()
        return value

    def unary():
        if peek() == "-":
            take()
            return -unary()
        if peek() == "(":
            take()
            value = expression()
            take(")")
            return value
        symbol = take()
        if not isinstance(symbol, int):
            raise ValueError(f"malformed expression {tokens} at {position - 1}")
        return symbol

    value = expression()
    if position != len(tokens):
        raise ValueError(f"malformed expression {tokens}: trailing {tokens[position:]}")
    return value % modulus


def modular_arithmetic(modulus: int = 5) -> TapeTask:
    """The value modulo ``modulus`` of ``d op d ... op d`` (ops ``+ - *``, usual precedence).

    Tokens: residues ``0..modulus-1``; ``modulus`` ``+``, ``modulus+1`` ``-``, ``modulus+2`` ``*``,
    ``modulus+3`` the empty symbol ``_`` that ends even-length inputs.
    """
    if modulus < 2:
        raise ValueError(f"modular_arithmetic needs modulus >= 2, got {modulus}")
    plus, minus, times, empty = modulus, modulus + 1, modulus + 2, modulus + 3

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[0]``.

        The expression has ``length = n`` (odd n) or ``n - 1`` tokens (even n, then ``x[n-1] = _``).
        It is evaluated left to right by a ``lax.scan`` whose carry is (sum of finished terms, current
        product, pending operator), all reduced modulo ``modulus``.
        """
        k_residue, k_op = jax.random.split(key)
        p = jnp.arange(max_len)
        residues = jax.random.randint(k_residue, (max_len,), 0, modulus, dtype=jnp.int32)
        ops = jnp.array([plus, minus, times], jnp.int32)[jax.random.randint(k_op, (max_len,), 0, 3)]
        length = n - (1 - n % 2)
        x = jnp.where(p % 2 == 0, residues, ops)
        x = jnp.where(p == length, empty, x).astype(jnp.int32)

        def step(carry, inputs):
            total, term, op = carry
            i, token = inputs
            signed = jnp.where(op == minus, -token, token) % modulus
            new_term = jnp.where(i == 0, token, jnp.where(op == times, term * token % modulus, signed))
            new_total = jnp.where((i > 0) & (op != times), (total + term) % modulus, total)
            digit = (i % 2 == 0) & (i < length)
            total = jnp.where(digit, new_total, total)
            term = jnp.where(digit, new_term, term)
            op = jnp.where((i % 2 == 1) & (i < length), token, op)
            return (total, term, op), None

        zero = jnp.int32(0)
        (total, term, _), _ = jax.lax.scan(step, (zero, zero, jnp.int32(plus)), (p, x))
        return x, jnp.zeros(max_len, jnp.int32).at[0].set((total + term) % modulus)

    symbols = {plus: "+", minus: "-", times: "*"}

    def reference(x: list[int]) -> list[int]:
        tokens = [int(t) for t in x]
        if tokens and tokens[-1] == empty:
            tokens = tokens[:-1]
        return [evaluate_python([symbols.get(t, t) for t in tokens], modulus)]

    return TapeTask("modular_arithmetic", modulus + 4, modulus, _one, make, reference)


REGULAR = {
    "even_pairs": even_pairs,
    "modular_arithmetic": modular_arithmetic,
    "parity_check": parity_check,
    "cycle_navigation": cycle_navigation,
}
