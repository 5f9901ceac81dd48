"""The four deterministic context-free tasks of Delétang et al. (ICLR 2023), "Neural Networks and the
Chomsky Hierarchy".

Each builder returns a ``TapeTask``: the model reads the n input tokens, then ``output_length(n)``
blank tokens, and the answer is read on the blanks (``rnnjax.tasks.output_tape``).

stack_manipulation
    Input: a stack given bottom to top, then actions. Tokens ``0``, ``1`` stack symbols; ``2`` POP,
    ``3`` PUSH 0, ``4`` PUSH 1 (``input_size = 5``). A POP on an empty stack does nothing.
    Answer (``output_length(n) = n + 1``, ``output_size = 3``): the final stack top to bottom, then the
    termination token ``2``, then ``0`` up to n + 1 tokens. Example: ``0 1 1 0 PUSH1 POP POP`` ->
    ``1 1 0 2 0 0 0 0``.
    Sampling: n = 1 is a one-symbol stack (uniform) and no action; for n >= 2 the stack length k is uniform
    in ``1 .. n-1``, its symbols uniform in ``{0, 1}``, and the n - k actions uniform in ``{2, 3, 4}``.

reverse_string
    Input: a binary string, tokens ``0``, ``1`` (``input_size = 2``), each uniform.
    Answer: the string reversed (``output_length(n) = n``, ``output_size = 2``).

modular_arithmetic_brackets (``modulus``, default 5; the published task uses multiplication)
    Input: an expression with brackets. Tokens: ``0 .. modulus-1`` residues; ``modulus`` ``+``,
    ``modulus+1`` ``-``, ``modulus+2`` ``*``, ``modulus+3`` ``(``, ``modulus+4`` ``)``; ``modulus+5`` is
    ``x`` of the public alphabet and never occurs (``input_size = modulus + 6`` as published).
    Answer: the value modulo ``modulus`` (``output_length = 1``, ``output_size = modulus``).
    Sampling (the published recursive grammar): an expression of length L is ``d`` (L = 1), ``-d``
    (L = 2), ``(d)`` (L = 3), ``(-d)`` (L = 4), or for L >= 5 ``(A op B)`` with the length of A uniform in
    ``1 .. L-4``, B of length ``L - 3 - |A|``, and op uniform in ``{+, -, *}``; residues uniform.
    Example (mod 5): ``(3*(4+-2))`` -> ``1``.

solve_equation (``modulus``, default 5)
    Input: ``E = v`` where E is a bracket expression over ``+`` and ``-`` in which one residue is
    replaced by the unknown ``x``, and v is the value of E with that residue. Tokens: ``0 .. modulus-1``
    residues; ``modulus`` ``+``, ``modulus+1`` ``-``, ``modulus+2`` ``(``, ``modulus+3`` ``)``,
    ``modulus+4`` ``x``, ``modulus+5`` ``=`` (``input_size = modulus + 6``).
    Answer: the residue replaced by ``x`` (``output_length = 1``, ``output_size = modulus``). As x occurs
    once with coefficient +-1, this is the unique solution. Example (mod 5): ``(x+3)=1`` -> ``3``.
    Sampling (published): E of length n - 2 from the grammar above without ``*``; a position is drawn
    uniformly in E and x replaces the first residue at or after it (cyclically), so residues after long
    runs of operators and brackets are more likely. n = 1, 2 admit no equation: as in the public code,
    the input is all ``0`` and the answer ``0``.

Sampling is jit-able: the bracket grammar is expanded depth-first in one ``lax.scan`` that emits one token
a step. Its carry holds a stack of pending items (a sub-expression still to expand, with its length, or a
literal token still to emit); expanding ``(A op B)`` emits ``(`` and pushes ``)``, B, op, A. This is the
published recursive distribution exactly (the length of A is drawn from 32 random bits modulo ``L - 4``,
a bias below 2^-22). The same scan evaluates the emitted tokens on a second stack in its carry (residues,
``(`` marks and operators; ``)`` reduces the top), every value reduced modulo ``modulus``.

Deviations from the public code (google-deepmind/neural_networks_chomsky_hierarchy):

- stack_manipulation: the public accuracy counts only the outputs up to the termination token (its loss
  all n + 1); here loss and accuracy both score the outputs through the termination token
  (``TapeTask.scored``). The targets are the published ones.
- Residues are single tokens, so any ``modulus >= 2`` works (the public string encoding needs
  ``modulus <= 10``).
- The public samplers of the two expression tasks are Python recursion with numpy's global random state,
  not jit-able; these are jit-able with the same distribution (above). The published lengths all exist:
  every L >= 1 has an expression, every n >= 3 an equation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnjax.tasks.chomsky.regular import evaluate_python
from rnnjax.tasks.output_tape import TapeTask, through_first

POP, PUSH0, PUSH1, END = 2, 3, 4, 2


def _one(n):
    """``output_length`` of a task with a single answer token (Python or traced n)."""
    return 1


def stack_manipulation() -> TapeTask:
    """Execute POP / PUSH 0 / PUSH 1 on a given stack; output the final stack top to bottom, then END."""

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[:n+1]``.

        The actions are run by a ``lax.scan`` whose carry is a stack ``int32[max_len + 1]`` and its height.
        """
        k_size, k_stack, k_action = jax.random.split(key, 3)
        p = jnp.arange(max_len)
        stack_length = jax.random.randint(k_size, (), 1, jnp.maximum(n, 2))  # n = 1: 1; else 1 .. n-1
        bits = jax.random.randint(k_stack, (max_len,), 0, 2, dtype=jnp.int32)
        actions = jax.random.randint(k_action, (max_len,), POP, PUSH1 + 1, dtype=jnp.int32)
        x = jnp.where(p < stack_length, bits, actions).astype(jnp.int32)

        def step(carry, inputs):
            stack, height = carry
            i, token = inputs
            active = i < n
            push = active & (token != POP)
            value = jnp.where(token < POP, token, token - PUSH0)
            stack = stack.at[jnp.where(push, height, max_len)].set(value)  # slot max_len: scratch
            height = jnp.where(push, height + 1, jnp.where(active & (token == POP), jnp.maximum(height - 1, 0), height))
            return (stack, height), None

        (stack, height), _ = jax.lax.scan(step, (jnp.zeros(max_len + 1, jnp.int32), jnp.int32(0)), (p, x))
        y = jnp.where(p < height, stack[jnp.clip(height - 1 - p, 0, max_len - 1)], jnp.where(p == height, END, 0))
        return x, y.astype(jnp.int32)

    def reference(x: list[int]) -> list[int]:
        tokens = [int(t) for t in x]
        cut = next((i for i, t in enumerate(tokens) if t >= POP), len(tokens))
        stack = tokens[:cut]
        for action in tokens[cut:]:
            if action == POP:
                if stack:
                    stack.pop()
            elif action in (PUSH0, PUSH1):
                stack.append(action - PUSH0)
            else:
                raise ValueError(f"stack symbol {action} after the first action in {tokens}")
        answer = stack[::-1] + [END]
        return answer + [0] * (len(tokens) + 1 - len(answer))

    return TapeTask("stack_manipulation", 5, 3, lambda n: n + 1, make, reference, through_first(2))


def reverse_string() -> TapeTask:
    """A binary string, reversed."""

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[:n]``."""
        x = jax.random.randint(key, (max_len,), 0, 2, dtype=jnp.int32)
        return x, x[jnp.clip(n - 1 - jnp.arange(max_len), 0, max_len - 1)]

    def reference(x: list[int]) -> list[int]:
        return [int(t) for t in x][::-1]

    return TapeTask("reverse_string", 2, 2, lambda n: n, make, reference)


def _expression(key, length, max_len: int, modulus: int, plus: int, minus: int, times: int | None,
                open_: int, close: int):
    """A random bracket expression of ``length`` tokens (traced, ``1 <= length <= max_len``) from the
    published grammar (module docstring), and its value.

    Returns ``(tokens: int32[max_len], value: int32[])``; ``tokens[length:]`` are 0. ``times=None``: the
    operators are ``+`` and ``-`` only.
    """
    binary = jnp.array([plus, minus] + ([] if times is None else [times]), jnp.int32)
    k_digit, k_op, k_split = jax.random.split(key, 3)
    digits = jax.random.randint(k_digit, (max_len,), 0, modulus, dtype=jnp.int32)
    ops = binary[jax.random.randint(k_op, (max_len,), 0, binary.shape[0])]
    splits = jax.random.bits(k_split, (max_len,), jnp.uint32)
    # Pending items <= tokens still to emit <= max_len, a push writes 4 slots, the evaluation stack holds
    # 4 unused slots and at most max_len entries; writes that are not meant to happen go to the scratch
    # slots at the end (no read-modify-write, so XLA updates the stacks in place).
    capacity = max_len + 8
    scratch = capacity - 4

    def literal(token):
        """A pending token to emit, as a stack item (sub-expressions are their length, >= 1)."""
        return -1 - token

    short_pushes = ([0, 0, 0, 0], [1, 0, 0, 0], [literal(close), 1, 0, 0], [literal(close), 1, literal(minus), 0])

    def step(carry, inputs):
        pending, top_index, work, height, negate, after_operand = carry
        digit, op, split = inputs
        active = top_index > 0

        # Generation: pop one item, emit one token, push what remains of the item.
        base = jnp.maximum(top_index - 1, 0)
        item = pending[base]
        size = jnp.maximum(item, 1)
        left = 1 + (split % jnp.maximum(size - 4, 1).astype(jnp.uint32)).astype(jnp.int32)
        is_literal = item < 0
        token = jnp.select([is_literal, item == 1, item == 2], [-1 - item, digit, jnp.int32(minus)], open_)
        # Pushed bottom first, so the next item to expand is on top: d; -d: [d]; (d): [")", d];
        # (-d): [")", d, "-"]; (A op B): [")", B, op, A].
        short = [is_literal | (item == 1), item == 2, item == 3, item == 4]
        pushes = jnp.select(short, [jnp.array(v, jnp.int32) for v in short_pushes],
                            jnp.stack([jnp.int32(literal(close)), size - 3 - left, literal(op), left]))
        count = jnp.select(short, [jnp.int32(c) for c in range(4)], 4)
        pending = jax.lax.dynamic_update_slice(pending, pushes, (jnp.where(active, base, scratch),))
        top_index = jnp.where(active, base + count, top_index)

        # Evaluation of the emitted token on one stack of values, "(" marks and operators (above 4 unused
        # slots): "(", an operator or a residue is pushed; ")" replaces the top "( a op b" by its value, or
        # "( v" by v. A unary minus negates the next residue.
        is_digit = token < modulus
        unary = (token == minus) & ~after_operand
        is_close = token == close
        _, a, operator, b = (jax.lax.dynamic_slice(work, (height - 4,), (4,))[i] for i in range(4))
        bracketed = operator == open_  # the top is "( v"
        result = jnp.select([operator == plus, operator == minus], [a + b, a - b], a * b) % modulus
        value = jnp.where(is_digit, jnp.where(negate, -token, token) % modulus,
                          jnp.where(is_close, jnp.where(bracketed, b, result), token))
        slot = jnp.where(is_close, jnp.where(bracketed, height - 2, height - 4), height)
        write = active & ~unary
        work = work.at[jnp.where(write, slot, scratch)].set(value)
        height = jnp.where(write, slot + 1, height)
        negate = jnp.where(active, unary, negate)
        after_operand = jnp.where(active, is_digit | is_close, after_operand)
        return (pending, top_index, work, height, negate, after_operand), jnp.where(active, token, 0)

    def stack():
        return jnp.zeros(capacity, jnp.int32)

    no = jnp.bool_(False)
    carry = (stack().at[0].set(length), jnp.int32(1), stack(), jnp.int32(4), no, no)
    carry, tokens = jax.lax.scan(step, carry, (digits, ops, splits))
    return tokens.astype(jnp.int32), carry[2][4]


def _python_symbols(tokens: list[int], modulus: int, names: dict[int, str]) -> list:
    """Token ids -> symbols for ``evaluate_python`` (residues stay ints)."""
    symbols = []
    for t in tokens:
        if t < modulus:
            symbols.append(int(t))
        elif t in names:
            symbols.append(names[t])
        else:
            raise ValueError(f"token {t} is not part of an expression")
    return symbols


def modular_arithmetic_brackets(modulus: int = 5) -> TapeTask:
    """The value modulo ``modulus`` of a bracketed expression over ``+ - *`` (unary minus on residues).

    Tokens: residues ``0..modulus-1``; ``+ - * ( )`` = ``modulus .. modulus+4``; ``modulus+5`` unused.
    """
    if modulus < 2:
        raise ValueError(f"modular_arithmetic_brackets needs modulus >= 2, got {modulus}")
    plus, minus, times, open_, close = (modulus + i for i in range(5))

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[0]``."""
        x, value = _expression(key, n, max_len, modulus, plus, minus, times, open_, close)
        return x, jnp.zeros(max_len, jnp.int32).at[0].set(value)

    names = {plus: "+", minus: "-", times: "*", open_: "(", close: ")"}

    def reference(x: list[int]) -> list[int]:
        return [evaluate_python(_python_symbols([int(t) for t in x], modulus, names), modulus)]

    return TapeTask("modular_arithmetic_brackets", modulus + 6, modulus, _one, make, reference)


def solve_equation(modulus: int = 5) -> TapeTask:
    """Solve ``E(x) = v`` modulo ``modulus``: E a bracketed ``+ -`` expression in which x occurs once.

    Tokens: residues ``0..modulus-1``; ``+ - ( ) x =`` = ``modulus .. modulus+5``.
    """
    if modulus < 2:
        raise ValueError(f"solve_equation needs modulus >= 2, got {modulus}")
    plus, minus, open_, close, unknown, equals = (modulus + i for i in range(6))

    def make(key, n, max_len: int):
        """``(key, n, max_len) -> (x: int32[max_len], y: int32[max_len])``, answer in ``y[0]``.

        n < 3: ``x = 0``, ``y = 0`` (published). Otherwise E has ``n - 2`` tokens, then ``=`` and v.
        """
        k_expression, k_position = jax.random.split(key)
        length = jnp.maximum(n - 2, 1)
        tokens, value = _expression(k_expression, length, max_len, modulus, plus, minus, None, open_, close)
        p = jnp.arange(max_len)
        start = jax.random.randint(k_position, (), 0, length)
        distance = jnp.where((p < length) & (tokens < modulus), (p - start) % length, max_len)
        chosen = jnp.argmin(distance)
        x = jnp.where(p == chosen, unknown, tokens)
        x = jnp.where(p == length, equals, jnp.where(p == length + 1, value, x))
        small = n < 3
        x = jnp.where(small, 0, x).astype(jnp.int32)
        answer = jnp.where(small, 0, tokens[chosen])
        return x, jnp.zeros(max_len, jnp.int32).at[0].set(answer)

    names = {plus: "+", minus: "-", open_: "(", close: ")"}

    def reference(x: list[int]) -> list[int]:
        tokens = [int(t) for t in x]
        if len(tokens) < 3:
            return [0]
        if tokens[-2] != equals or tokens.count(unknown) != 1 or not 0 <= tokens[-1] < modulus:
            raise ValueError(f"not an equation E(x) = v: {tokens}")
        side = tokens[:-2]
        solutions = [c for c in range(modulus)
                     if evaluate_python(_python_symbols([c if t == unknown else t for t in side], modulus, names),
                                        modulus) == tokens[-1]]
        if len(solutions) != 1:
            raise ValueError(f"{tokens} has solutions {solutions}")
        return solutions

    return TapeTask("solve_equation", modulus + 6, modulus, _one, make, reference)


DCF = {
    "stack_manipulation": stack_manipulation,
    "reverse_string": reverse_string,
    "modular_arithmetic_brackets": modular_arithmetic_brackets,
    "solve_equation": solve_equation,
}
